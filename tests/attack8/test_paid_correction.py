"""Attack round 8 on a correction of a month already paid (issue 8 §4–§6): the unit declared too low a base,
paid January in full, and the base is corrected upwards (补缴).

The correction reversed the paid entry and wrote the corrected one in full, and the payment stayed on the
reversed entry: the arrears showed the whole corrected amount (1,680.00 of the employee's pension instead of
the 210.37 it adds), and once the unit paid them the personal account held 1,049.88 for the month instead of
560.00. Now the payments move to the corrected entry, which is owed and credited only what it adds; a
correction below what was paid (a refund) is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from sidms.business.accounts import arrears, balance_as_of
from sidms.business.ledger import run_through
from sidms.business.models import EntryKind, LedgerEntry
from sidms.business.rights import rights_record
from sidms.changes.verify import verify_store
from sidms.core.errors import ChangeRefused
from sidms.lib import statement as st

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.2"), pytest.mark.req("B5")]
END = date(2025, 12, 31)


def _owed(entries: Any) -> Decimal:
    return sum((e.unit_amount + e.individual_amount for e in entries), Decimal(0))


def _pay(clerk: Any, approver: Any, payer: dict[str, Any], amount: Decimal, day: str) -> None:
    rows = [{**payer, "period": "2025-01", "amount": f"{amount:.2f}", "paid_on": day}]
    run_through(clerk, approver, "payment", day[:7], params={"rows": rows})


def _debt(unit_id: int | None) -> Decimal:
    return sum((a.principal for a in arrears(date(2025, 6, 30)) if a.unit_id == unit_id), Decimal(0))


@pytest.fixture
def january_paid(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> dict[str, Any]:
    unit, flexible = insured["unit"], insured["flexible"]
    run_through(huancui_clerk, approver, "assessment", "2025-01")
    assessed = LedgerEntry.objects.filter(kind=EntryKind.ASSESSED)
    _pay(huancui_clerk, approver, {"unit_id": unit.pk}, _owed(assessed.filter(unit=unit)), "2025-01-20")
    _pay(
        huancui_clerk,
        approver,
        {"person_id": flexible.pk},
        _owed(assessed.filter(person=flexible)),
        "2025-01-20",
    )
    assert _debt(unit.pk) == _debt(None) == 0
    return insured


def test_an_employees_paid_month_corrected_upwards_owes_and_credits_only_the_difference(
    january_paid: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit, employee = january_paid["unit"], january_paid["employee"]
    entry = LedgerEntry.objects.get(person=employee, insurance="110", kind=EntryKind.ASSESSED)
    assert (entry.unit_amount, entry.individual_amount) == (Decimal("979.75"), Decimal("489.88"))  # 6,123.45
    run_through(huancui_clerk, approver, "correction", "2025-03", params={"entry": entry.pk, "base": "7000"})
    # 7,000 × 16 % = 1,120.00 and × 8 % = 560.00: the correction adds 140.25 + 70.12.
    assert _debt(unit.pk) == Decimal("210.37")
    record = rights_record(employee, date(2025, 3, 31))
    pension = record.years[0].row(st.Insurance.PENSION)
    assert pension is not None and pension.months[0].mark == st.Mark.ARREARS
    assert next(s for s in record.summaries if s.insurance is st.Insurance.PENSION).months_total == 0
    _pay(huancui_clerk, approver, {"unit_id": unit.pk}, Decimal("210.37"), "2025-04-10")
    assert _debt(unit.pk) == 0
    assert balance_as_of(employee.pk, END) == Decimal("560.00")
    record = rights_record(employee, date(2025, 4, 30))
    pension = record.years[0].row(st.Insurance.PENSION)
    assert pension is not None and pension.months[0].mark == st.Mark.PAID and pension.months[0].base == 7000
    assert next(s for s in record.summaries if s.insurance is st.Insurance.PENSION).months_total == 1
    assert verify_store().ok


def test_a_flexible_workers_paid_month_corrected_twice_credits_the_account_once(
    january_paid: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """20 % of the base, 8 % of it to the account: the credit is not the individual part."""
    flexible = january_paid["flexible"]
    entry = LedgerEntry.objects.get(person=flexible, kind=EntryKind.ASSESSED)
    assert (entry.individual_amount, entry.account_credit) == (Decimal("1000.00"), Decimal("400.00"))
    run = run_through(
        huancui_clerk, approver, "correction", "2025-03", params={"entry": entry.pk, "base": "6000"}
    )
    assert _debt(None) == Decimal("200.00")
    _pay(huancui_clerk, approver, {"person_id": flexible.pk}, Decimal("200.00"), "2025-03-20")
    assert balance_as_of(flexible.pk, END) == Decimal("480.00")
    again = LedgerEntry.objects.get(run=run, kind=EntryKind.SUPPLEMENTARY)
    run_through(huancui_clerk, approver, "correction", "2025-04", params={"entry": again.pk, "base": "6500"})
    assert _debt(None) == Decimal("100.00")
    _pay(huancui_clerk, approver, {"person_id": flexible.pk}, Decimal("100.00"), "2025-04-20")
    assert _debt(None) == 0 and balance_as_of(flexible.pk, END) == Decimal("520.00")  # 6,500 × 8 %
    assert verify_store().ok


def test_a_paid_month_corrected_below_what_was_paid_is_refused(
    january_paid: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    entry = LedgerEntry.objects.get(person=january_paid["employee"], insurance="110", kind=EntryKind.ASSESSED)
    with pytest.raises(ChangeRefused) as refused:
        run_through(
            huancui_clerk, approver, "correction", "2025-03", params={"entry": entry.pk, "base": "5000"}
        )
    assert refused.value.code == "correction_overpaid"
    assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()
