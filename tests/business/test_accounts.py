"""Payments from the tax bureau's extracts matched to assessed entries, arrears per unit with the late fee to
any date, and personal accounts: credits from paid contributions, the year-end interest run, the balance as
of any date from the ledger (issue 8 §5–§6, R2.2, R6.2)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from sidms.business.accounts import account_years, arrears, balance_as_of
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry
from sidms.business.parameters import value_at
from sidms.core.errors import ChangeRefused

pytestmark = pytest.mark.django_db


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def due(**where: Any) -> Decimal:
    rows = LedgerEntry.objects.filter(kind="assessed", **where)
    return sum((e.unit_amount + e.individual_amount for e in rows), Decimal(0))


@pytest.fixture
def assessed(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> dict[str, Any]:
    for month in ("2025-01", "2025-02", "2025-03"):
        run_through(huancui_clerk, approver, "assessment", month)
    return insured


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.2")
def test_payments_are_matched_and_arrears_carry_the_late_fee_to_any_date(
    assessed: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit, flexible = assessed["unit"], assessed["flexible"]
    unit_jan = due(unit=unit, period="2025-01")
    flex_jan = due(person=flexible, period="2025-01")
    rows = [
        {"unit_id": unit.pk, "period": "2025-01", "amount": f"{unit_jan:.2f}", "paid_on": "2025-01-31"},
        {"person_id": flexible.pk, "period": "2025-01", "amount": f"{flex_jan:.2f}", "paid_on": "2025-03-17"},
    ]
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows}, reason="税务缴费明细")
    paid = LedgerEntry.objects.filter(kind="paid")
    assert paid.count() == 5 and all(e.settles_id is not None for e in paid)
    # The flexible worker paid 45 days late (1 February – 17 March): 1,000 × 0.05 % × 45 = 22.50.
    fee = LedgerEntry.objects.get(kind="late_fee")
    rate = value_at("late_fee.daily_rate", date(2025, 3, 17))
    assert fee.individual_amount == fen(flex_jan * rate * 45) == Decimal("22.50")
    # The unit has not paid February or March: on 15 May, 76 and 45 days of arrears.
    [owed] = [a for a in arrears(date(2025, 5, 15)) if a.unit_id == unit.pk]
    feb, mar = due(unit=unit, period="2025-02"), due(unit=unit, period="2025-03")
    assert owed.periods == {"2025-02": feb, "2025-03": mar}
    # Shown to the cent on every engine (SQLite adds DECIMAL columns as floats).
    assert all(amount.as_tuple().exponent == -2 for amount in owed.periods.values())
    assert owed.fees == {"2025-02": fen(feb * rate * 76), "2025-03": fen(mar * rate * 45)}
    # On 31 March only February is due and late (31 days); the flexible worker owes February and March too.
    [early] = [a for a in arrears(date(2025, 3, 31)) if a.unit_id == unit.pk]
    assert early.periods == {"2025-02": feb} and early.fees == {"2025-02": fen(feb * rate * 31)}


@pytest.mark.req("R6.2")
def test_a_payment_that_does_not_match_is_refused_whole(
    assessed: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    # More than is outstanding (a part payment is matched: tests/business/test_part_payments.py).
    over = due(unit=assessed["unit"], period="2025-01") + Decimal("0.01")
    rows = [
        {
            "unit_id": assessed["unit"].pk,
            "period": "2025-01",
            "amount": f"{over:.2f}",
            "paid_on": "2025-01-31",
        }
    ]
    with pytest.raises(ChangeRefused) as refused:
        run_through(huancui_clerk, approver, "payment", "2025-01", params={"rows": rows})
    assert refused.value.code == "payment_unmatched"
    assert not LedgerEntry.objects.filter(kind="paid").exists()


@pytest.mark.req("R2.2")
def test_account_credits_interest_and_the_balance_as_of_any_date(
    assessed: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit, employee = assessed["unit"], assessed["employee"]
    for period, paid_on in (("2025-01", "2025-01-31"), ("2025-02", "2025-02-28")):
        rows = [{"unit_id": unit.pk, "period": period, "amount": f"{due(unit=unit, period=period):.2f}",
                 "paid_on": paid_on}]  # fmt: skip
        run_through(huancui_clerk, approver, "payment", period, params={"rows": rows})
    credit = Decimal("489.88")  # 8 % of 6,123.45, to the account
    assert balance_as_of(employee.pk, date(2025, 1, 30)) == 0
    assert balance_as_of(employee.pk, date(2025, 1, 31)) == credit
    assert balance_as_of(employee.pk, date(2025, 12, 30)) == 2 * credit  # March assessed but not paid
    run_through(huancui_clerk, approver, "interest", "2025")
    # Month-product method (the parameter): January earns 12 months, February 11, at 1.50 %.
    r = value_at("account.interest_rate", date(2025, 12, 31))
    interest = fen(credit * (12 + 11) * r / 12)
    assert interest == Decimal("14.08")  # 489.88 × 23 × 0.015 / 12 = 14.08405
    assert balance_as_of(employee.pk, date(2025, 12, 31)) == 2 * credit + interest
    assert account_years(employee.pk)[-1].interest == interest
    with pytest.raises(ChangeRefused):
        run_through(huancui_clerk, approver, "interest", "2025")
