"""Overpayments after a late-recorded re-employment (issue 8 §7 "Deaths" and 失业保险条例 Art. 15, R2.2): an
unemployment benefit paid for a month on whose first day the person turns out — the enrolment recorded
later, dated back — to have been insured under 210 again is money to recover, listed on 待遇发放核查 next
to the payments after a death, in the viewer's district only, and the view is audited. Amounts are
computed by hand from the parameter table."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from sidms.audit.models import AuditEvent
from sidms.business.benefits import reemployed_overpayments
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry, PersonEnrolment
from sidms.business.parameters import value_at
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.registry.models import Person
from tests.business.conftest import unemployed

pytestmark = pytest.mark.django_db


@pytest.fixture
def drawing(insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any) -> Any:
    """The employee, laid off at the end of 2025 after twelve paid months, drawing unemployment benefit from
    January 2026, paid by the runs of January to April."""
    employee = insured["employee"]
    unemployed(insured, huancui_clerk, approver, city_reviewer)
    for period in ("2026-01", "2026-02", "2026-03", "2026-04"):
        run_through(huancui_clerk, approver, "pension", period)
    return employee


def _reemployed(clerk: Any, person: Any, since: str) -> None:
    """Recorded now: the person's unemployment insurance paid again from SINCE (a back-dated re-opening)."""
    enrolment = PersonEnrolment.objects.get(person=person, insurance="210")
    submit_change(actor=clerk, channel=Channel.WINDOW, entity="person_enrolment", record=enrolment,
                  values={"status": "paying", "status_date": since, "reason": "重新就业，补登记"})  # fmt: skip


@pytest.mark.req("R2.2")
def test_months_paid_while_insured_again_on_their_first_day_are_overpayments(
    drawing: Any, huancui_clerk: Any, approver: Any
) -> None:
    # 2,200 × 0.9 (example values) = 1,980.00 a month, January to April.
    monthly = value_at("wage.minimum_monthly", date(2026, 1, 1)) * value_at("unemployment.benefit_ratio")
    assert monthly == Decimal("1980.00")
    paid = LedgerEntry.objects.filter(kind="benefit", person=drawing, insurance="210")
    assert sorted(paid.values_list("period", flat=True)) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert reemployed_overpayments() == []
    # Recorded only in May: re-employed from 15 February. February's first day was not yet insured (paid
    # rightly); March and April were paid to a person insured on their first day: 2 × 1,980.00 to recover.
    _reemployed(huancui_clerk, drawing, "2026-02-15")
    got = [(r.person_id, r.period, r.amount, r.insured_since) for r in reemployed_overpayments()]
    assert got == [
        (drawing.pk, "2026-03", Decimal("1980.00"), date(2026, 2, 15)),
        (drawing.pk, "2026-04", Decimal("1980.00"), date(2026, 2, 15)),
    ]
    assert reemployed_overpayments(Person.objects.filter(district_id="371083")) == []  # another district's
    run_through(huancui_clerk, approver, "pension", "2026-05")  # and the run pays no more
    assert paid.count() == 4


@pytest.mark.req("R2.2")
def test_a_month_after_a_death_is_listed_as_paid_after_death_not_twice(
    drawing: Any, huancui_clerk: Any
) -> None:
    _reemployed(huancui_clerk, drawing, "2026-02-15")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": drawing.pk, "date_of_death": "2026-03-20", "source": "公安户籍注销"})  # fmt: skip
    assert [r.period for r in reemployed_overpayments()] == ["2026-03"]  # April is after the death


@pytest.mark.req("R2.2")
@pytest.mark.req("R10.3")
def test_the_checks_page_lists_them_in_scope_with_a_total_and_audits_who_was_shown(
    drawing: Any, huancui_clerk: Any, rushan_clerk: Any, signed_in: Any
) -> None:
    _reemployed(huancui_clerk, drawing, "2026-02-15")
    with translation.override("zh-hans"):
        text = signed_in(huancui_clerk).get("/business/benefits/").content.decode()
    part = text.split("重新就业参保后多发的失业保险金（应追回）")[1].split("因未认证暂停发放")[0]
    assert drawing.person_no in part and "王**" in part and "王建国" not in text
    assert "2026-02-15" in part and "2026-03" in part and "2026-04" in part and "¥3,960.00" in part
    event = json.loads(AuditEvent.objects.get(action="read.benefit_checks").payload)["detail"]
    assert event["reemployed"] == [drawing.person_no] and event["shown"] == [drawing.person_no]
    with translation.override("zh-hans"):
        other = signed_in(rushan_clerk).get("/business/benefits/").content.decode()
    assert drawing.person_no not in other
    assert (
        json.loads(AuditEvent.objects.filter(action="read.benefit_checks").order_by("seq").last().payload)[
            "detail"
        ]["reemployed"]
        == []
    )
