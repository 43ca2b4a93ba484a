"""Benefits (issue 8 §7, R2.2): the basic pension from the statutory retirement month, monthly payments as
ledger entries, suspension after twelve months without certification, no payment after death and the
overpayments made before a death was registered."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from sidms.business.benefits import certify, grant_pension, overpayments, suspended
from sidms.business.ledger import run_through
from sidms.business.models import Entitlement, LedgerEntry
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Person
from tests.business.conftest import approved

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.2")
def test_a_pension_is_granted_from_the_statutory_month_and_paid_monthly(
    retiree: Any, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    outcome = grant_pension(
        actor=huancui_clerk, person=retiree, category="male", index=Decimal("1.2"), months=366
    )
    assert not Entitlement.objects.exists()  # held for a second person's review
    granted = approved(outcome, city_reviewer)
    assert granted.start_date == date(2025, 2, 1)
    # No account in the ledger here: basic pension (7,000 + 8,400) / 2 × 30.5 × 1 % = 2,348.50 only.
    assert granted.monthly_amount == "2348.50" and "基础养老金 ¥2,348.50 + " in granted.basis
    run_through(huancui_clerk, approver, "pension", "2025-01")
    assert not LedgerEntry.objects.filter(kind="benefit").exists()  # before the retirement month
    run_through(huancui_clerk, approver, "pension", "2025-02")
    paid = LedgerEntry.objects.get(kind="benefit", period="2025-02")
    assert paid.individual_amount == Decimal("2348.50") and paid.person_id == retiree.pk
    with pytest.raises(ChangeRefused):
        grant_pension(actor=huancui_clerk, person=retiree, category="male", index=Decimal("1"), months=100)


@pytest.mark.req("R2.2")
def test_payments_stop_at_death_and_overpayments_are_listed(
    retiree: Any, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    approved(grant_pension(actor=huancui_clerk, person=retiree, category="male", index=Decimal("1.2"),
                           months=366), city_reviewer)  # fmt: skip
    for month in ("2025-02", "2025-03", "2025-04"):
        run_through(huancui_clerk, approver, "pension", month)
    # The death on 10 March is registered only in May: April was paid to a dead person.
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": retiree.pk, "date_of_death": "2025-03-10", "source": "民政殡葬信息"})  # fmt: skip
    assert [(o.period, o.amount) for o in overpayments()] == [("2025-04", Decimal("2348.50"))]
    # A page lists its viewer's persons only, and the database does the filtering.
    assert [o.period for o in overpayments(Person.objects.filter(pk=retiree.pk))] == ["2025-04"]
    assert overpayments(Person.objects.exclude(pk=retiree.pk)) == []
    run_through(huancui_clerk, approver, "pension", "2025-05")
    assert not LedgerEntry.objects.filter(kind="benefit", period="2025-05").exists()


@pytest.mark.req("R2.2")
def test_an_uncertified_pension_is_suspended_after_twelve_months(
    retiree: Any, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    granted = approved(
        grant_pension(actor=huancui_clerk, person=retiree, category="male", index=Decimal("1.2"), months=366),
        city_reviewer,
    )
    run_through(huancui_clerk, approver, "pension", "2026-02")  # 12 months after February 2025: still paid
    assert LedgerEntry.objects.filter(kind="benefit", period="2026-02").exists()
    run_through(huancui_clerk, approver, "pension", "2026-03")  # 13 months: suspended
    assert not LedgerEntry.objects.filter(kind="benefit", period="2026-03").exists()
    assert [e.pk for e in suspended("2026-03")] == [granted.pk]
    assert suspended("2026-02") == []  # the database's lapse test agrees with the run's at the boundary
    assert [e.pk for e in suspended("2026-03", Person.objects.filter(pk=retiree.pk))] == [granted.pk]
    assert suspended("2026-03", Person.objects.exclude(pk=retiree.pk)) == []
    # The certification is applied at once (it grants no money), but never dated ahead of today.
    with pytest.raises(ChangeRefused) as ahead:
        certify(actor=huancui_clerk, entitlement=Entitlement.objects.get(pk=granted.pk), on=date(2099, 1, 1))
    assert ahead.value.code == "certified_future"
    certify(actor=huancui_clerk, entitlement=Entitlement.objects.get(pk=granted.pk), on=date(2026, 3, 20))
    run_through(huancui_clerk, approver, "pension", "2026-04")
    assert LedgerEntry.objects.filter(kind="benefit", period="2026-04").exists()
