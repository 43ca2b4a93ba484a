"""Attack round 8 on the due date of contributions (``contribution.due_day``: the day of the following
month by which a month's contributions are paid, 0 for the month's own last day).

Two city-level administrators set it to 30 (次月30日前). February has no 30th: ``date.replace(day=30)``
raised ValueError, and the arrears page, every payment of a January and the late fees behind them were
server errors. The 30th of a month that has none is its last day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from sidms.business import calc
from sidms.business.accounts import arrears
from sidms.business.ledger import run_through
from sidms.business.models import EntryKind, LedgerEntry
from sidms.business.parameters import parameter_propose
from sidms.changes.services import review_decide

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.3"), pytest.mark.req("R2.2")]


@pytest.fixture
def due_on_the_30th(city_admin: Any, second_admin: Any) -> None:
    held = parameter_propose(actor=city_admin, key="contribution.due_day", value=30, effective_from=date(2025, 1, 1),
                             source="威海市税务局通知（测试）", reason="次月30日前缴纳")  # fmt: skip
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)


def test_the_30th_of_february_is_its_last_day(due_on_the_30th: None) -> None:
    assert calc.due_date("2025-01") == date(2025, 2, 28)
    assert calc.due_date("2025-03") == date(2025, 4, 30)
    assert calc.due_date("2028-01") == date(2028, 2, 29)


def test_arrears_and_a_late_payment_of_january_with_the_due_day_30(
    due_on_the_30th: None, insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    unit = insured["unit"]
    run_through(huancui_clerk, approver, "assessment", "2025-01")
    owed = sum(
        (
            e.unit_amount + e.individual_amount
            for e in LedgerEntry.objects.filter(kind=EntryKind.ASSESSED, unit=unit)
        ),
        Decimal(0),
    )
    [debt] = [a for a in arrears(date(2025, 3, 31)) if a.unit_id == unit.pk]
    assert debt.principal == owed and debt.fee > 0
    assert signed_in(huancui_clerk).get("/business/arrears/", {"cut_off": "2025-03-31"}).status_code == 200
    rows = [{"unit_id": unit.pk, "period": "2025-01", "amount": f"{owed:.2f}", "paid_on": "2025-03-02"}]
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows})
    fees = LedgerEntry.objects.filter(kind=EntryKind.LATE_FEE)
    assert fees.exists()  # 2 days after 28 February
