"""One payment extract naming many payers (issue 8 §5, R2.2, R6.2): the run reads what each payer owes for the
extract's periods set-wise (payments._outstanding_by_payer, PAYERS_PER_QUERY payers a query) and matches
every row against it — two rows of one unit and period share what is left, a row paid after the due date
carries its late fee, one paid by then none. Figures by hand from the assessed entries and the parameters."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from sidms.business import payments
from sidms.business.accounts import balance_as_of, outstanding
from sidms.business.bases import declare_base
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry
from sidms.business.parameters import value_at
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def assessed(period: str, **where: Any) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(kind="assessed", period=period, **where).order_by("pk"))


def total(entries: list[LedgerEntry], *, unit: bool = True, individual: bool = True) -> Decimal:
    return sum(
        ((e.unit_amount if unit else 0) + (e.individual_amount if individual else 0) for e in entries),
        Decimal(0),
    )


@pytest.fixture
def two_units(
    insured: dict[str, Any], huancui_clerk: Any, make_unit: Any, make_person: Any
) -> dict[str, Any]:
    """The insured fixture plus a second unit of 环翠区 with one employee in pension (base 5,000)."""

    def submit(entity: str, values: dict[str, Any]) -> Any:
        return submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity=entity, values=values).record

    unit = make_unit(unit_no="U3710020002", name="威海渔具有限公司", district="371002")
    worker = make_person(id_number=id_number("37100219820303005"), name="孙海", birth_date="1982-03-03")
    submit(
        "unit_enrolment",
        {"unit_id": unit.pk, "insurance": "110", "status": "paying", "start_date": "2020-01-01"},
    )
    submit("employment", {"person_id": worker.pk, "unit_id": unit.pk, "start_date": "2021-01-01"})
    submit("person_enrolment", {"person_id": worker.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
                                "status": "paying", "start_date": "2021-01-01"})  # fmt: skip
    declare_base(actor=huancui_clerk, person=worker, unit=unit, year=2025, wage=Decimal("5000"))
    return {**insured, "unit2": unit, "worker": worker}


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.2")
def test_one_extract_pays_many_payers_in_parts_on_time_and_late(
    two_units: dict[str, Any], huancui_clerk: Any, approver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One payer per read, so the extract's payers are read across several queries.
    monkeypatch.setattr(payments, "PAYERS_PER_QUERY", 1)
    unit, unit2, flexible, employee = (
        two_units["unit"],
        two_units["unit2"],
        two_units["flexible"],
        two_units["employee"],
    )
    for period in ("2025-01", "2025-02"):
        run_through(huancui_clerk, approver, "assessment", period)
    jan, jan2, feb2 = (
        assessed("2025-01", unit=unit),
        assessed("2025-01", unit=unit2),
        assessed("2025-02", unit=unit2),
    )
    flex = assessed("2025-01", person=flexible, unit__isnull=True)
    individual_parts = total(jan, unit=False)
    rows = [
        # The unit pays its employee's withheld parts on time, and the rest 20 days late in a second row.
        {"unit_id": unit.pk, "period": "2025-01", "amount": f"{individual_parts:.2f}", "paid_on": "2025-01-31"},
        {"unit_id": unit2.pk, "period": "2025-01", "amount": f"{total(jan2):.2f}", "paid_on": "2025-01-25"},
        {"person_id": flexible.pk, "period": "2025-01", "amount": f"{total(flex):.2f}", "paid_on": "2025-03-17"},
        {"unit_id": unit.pk, "period": "2025-01", "amount": f"{total(jan, individual=False):.2f}",
         "paid_on": "2025-02-20"},
        {"unit_id": unit2.pk, "period": "2025-02", "amount": f"{total(feb2):.2f}", "paid_on": "2025-02-28"},
    ]  # fmt: skip
    run = run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows})

    # Everything of January and unit2's February is paid: nothing outstanding, nothing left in part.
    assert not outstanding("2025-01").exists() and not outstanding("2025-02").filter(unit=unit2).exists()
    assert payments.remainders() == []
    # Each assessed entry of the unit is paid in two entries (individual part, then unit part) but work
    # injury, which has no individual part; they add up to the assessed amounts.
    for e in jan:
        paid = list(LedgerEntry.objects.filter(kind="paid", settles_id=e.pk).order_by("pk"))
        assert [(p.unit_amount, p.individual_amount) for p in paid] == (
            [(e.unit_amount, Decimal("0.00"))] if e.individual_amount == 0
            else [(Decimal("0.00"), e.individual_amount), (e.unit_amount, Decimal("0.00"))]
        )  # fmt: skip
    # Late fees: the unit parts paid 20 days after the due date (31 January), each entry's own fee; the
    # flexible worker's 45 days (1 February – 17 March); none for the rows paid by the due date.
    rate = value_at("late_fee.daily_rate", date(2025, 2, 20))
    fees = {f.settles_id: f for f in LedgerEntry.objects.filter(kind="late_fee")}
    assert {pk: f.unit_amount for pk, f in fees.items() if f.unit_id == unit.pk} == {
        e.pk: fen(e.unit_amount * rate * 20) for e in jan
    }
    [flex_fee] = [f for f in fees.values() if f.unit_id is None]
    assert flex_fee.individual_amount == fen(total(flex) * rate * 45) == Decimal("22.50")
    assert not [f for f in fees.values() if f.unit_id == unit2.pk]
    # Paid entries 3 + 4 (unit), 1 (unit2), 1 (flexible), 1 (unit2, February); late fees 4 + 1.
    assert run.entries == LedgerEntry.objects.filter(run_id=run.pk).count() == 3 + 4 + 1 + 1 + 1 + 4 + 1
    # The employee's pension credit came with the individual part paid on 31 January.
    [pension] = [e for e in jan if e.insurance == "110"]
    assert balance_as_of(employee.pk, date(2025, 1, 31)) == pension.account_credit


@pytest.mark.req("R6.2")
def test_a_second_row_of_one_payer_is_matched_against_what_the_first_left(
    two_units: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit2 = two_units["unit2"]
    run_through(huancui_clerk, approver, "assessment", "2025-01")
    owed = total(assessed("2025-01", unit=unit2))
    rows = [
        {"unit_id": unit2.pk, "period": "2025-01", "amount": f"{owed:.2f}", "paid_on": "2025-01-25"},
        {"unit_id": unit2.pk, "period": "2025-01", "amount": "0.01", "paid_on": "2025-01-26"},
    ]
    with pytest.raises(ChangeRefused) as refused:
        run_through(huancui_clerk, approver, "payment", "2025-01", params={"rows": rows})
    assert refused.value.code == "payment_unmatched"
    assert not LedgerEntry.objects.filter(kind="paid").exists()
