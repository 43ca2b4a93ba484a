"""A tax-bureau payment that covers only part of what a unit owes for a period (issue 8 §5, R2.2, R6.2): it is
allocated in the documented order (oldest period first; the individual parts, withheld from wages, before
the unit parts; pension first, then by the parameter's insurance order), the rest stays in arrears, and the
late fee runs on the remaining part only. Figures computed by hand from the parameter table."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from sidms.business.accounts import arrears, balance_as_of
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry
from sidms.business.parameters import value_at
from sidms.business.payments import remainders
from sidms.business.rights import rights_record
from sidms.core.errors import ChangeRefused
from sidms.lib import statement as st

pytestmark = pytest.mark.django_db


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def parts(unit: Any, period: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Insurance -> (unit part, individual part) assessed for the unit's one employee in PERIOD."""
    rows = LedgerEntry.objects.filter(kind="assessed", unit=unit, period=period)
    return {e.insurance: (e.unit_amount, e.individual_amount) for e in rows}


def january_marks(person: Any, day: date) -> dict[st.Insurance, st.Mark]:
    """The rights record's mark for January 2025 of each insurance, as the statement shows it on DAY."""
    [year] = [y for y in rights_record(person, day).years if y.year == 2025]
    return {row.insurance: row.months[0].mark for row in year.insurances}


def paid(unit: Any, period: str) -> dict[str, tuple[Decimal, Decimal]]:
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for e in LedgerEntry.objects.filter(kind="paid", unit=unit, period=period):
        u, i = out.get(e.insurance, (Decimal(0), Decimal(0)))
        out[e.insurance] = (u + e.unit_amount, i + e.individual_amount)
    return out


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.2")
def test_a_part_payment_is_allocated_in_order_and_the_late_fee_runs_on_the_rest_only(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit, employee = insured["unit"], insured["employee"]
    run_through(huancui_clerk, approver, "assessment", "2025-01")
    owed = parts(unit, "2025-01")
    # Base 6,123.45: pension 16 % / 8 %, medical 8 % / 2 %, unemployment 0.7 % / 0.3 %, work injury class 3
    # (0.7 %) at 120 % = 0.84 %, unit only.
    assert owed == {
        "110": (Decimal("979.75"), Decimal("489.88")), "310": (Decimal("489.88"), Decimal("122.47")),
        "210": (Decimal("42.86"), Decimal("18.37")), "410": (Decimal("51.44"), Decimal("0.00")),
    }  # fmt: skip
    total = sum((u + i for u, i in owed.values()), Decimal(0))
    assert total == Decimal("2194.65")
    rule = value_at("payment.allocation", date(2025, 3, 17))
    assert rule == {"parts": ["individual", "unit"], "insurances": ["110", "120", "210", "310", "510", "410"]}
    # 1,000.00 paid on 17 March, 45 days late: the individual parts first (489.88 + 18.37 + 122.47 = 630.72),
    # then the unit's pension part with the remaining 369.28.
    rows = [{"unit_id": unit.pk, "period": "2025-01", "amount": "1000.00", "paid_on": "2025-03-17"}]
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows})
    assert paid(unit, "2025-01") == {
        "110": (Decimal("369.28"), Decimal("489.88")), "210": (Decimal("0.00"), Decimal("18.37")),
        "310": (Decimal("0.00"), Decimal("122.47")),
    }  # fmt: skip
    rate = value_at("late_fee.daily_rate", date(2025, 3, 17))
    fees = sorted(e.unit_amount for e in LedgerEntry.objects.filter(kind="late_fee"))
    # On what was paid, entry by entry: 859.16, 18.37, 122.47 × 0.05 % × 45.
    assert fees == sorted([fen(Decimal("859.16") * rate * 45), fen(Decimal("18.37") * rate * 45),
                           fen(Decimal("122.47") * rate * 45)]) == [Decimal("0.41"), Decimal("2.76"), Decimal("19.33")]  # fmt: skip
    # The employee's account is credited with the whole individual pension part.
    assert balance_as_of(employee.pk, date(2025, 3, 17)) == Decimal("489.88")
    # The rights record still shows the month in arrears (△) for every insurance, the part-paid ones too.
    assert set(january_marks(employee, date(2025, 3, 31)).values()) == {st.Mark.ARREARS}
    # The rest stays in arrears: 2,194.65 − 1,000.00 = 1,194.65; on 15 May (104 days after 31 January) the
    # late fee is on that remaining part only.
    left = Decimal("1194.65")
    # Of it, what is left on the entries paid in part (the work-injury entry, untouched, is simply unpaid).
    assert sorted((d.entry.insurance, d.unit, d.individual) for d in remainders(unit.pk)) == [
        ("110", Decimal("610.47"), Decimal("0.00")), ("210", Decimal("42.86"), Decimal("0.00")),
        ("310", Decimal("489.88"), Decimal("0.00")),
    ]  # fmt: skip
    [owing] = [a for a in arrears(date(2025, 5, 15)) if a.unit_id == unit.pk]
    assert owing.periods == {"2025-01": left}
    assert owing.fees == {"2025-01": fen(left * rate * 104)} == {"2025-01": Decimal("62.12")}
    # Paying more than is left is refused (the whole extract); paying exactly the rest settles the period.
    over = [{"unit_id": unit.pk, "period": "2025-01", "amount": "1194.66", "paid_on": "2025-05-15"}]
    with pytest.raises(ChangeRefused) as refused:
        run_through(huancui_clerk, approver, "payment", "2025-05", params={"rows": over})
    assert refused.value.code == "payment_unmatched"
    rest = [{"unit_id": unit.pk, "period": "2025-01", "amount": "1194.65", "paid_on": "2025-05-15"}]
    run_through(huancui_clerk, approver, "payment", "2025-05", params={"rows": rest})
    assert paid(unit, "2025-01") == owed
    assert remainders(unit.pk) == [] and not [a for a in arrears(date(2025, 6, 1)) if a.unit_id == unit.pk]
    assert balance_as_of(employee.pk, date(2025, 6, 1)) == Decimal("489.88")  # credited once
    # Paid in full: ● for every insurance; as of a day before the second payment, still △.
    assert set(january_marks(employee, date(2025, 6, 1)).values()) == {st.Mark.PAID}
    assert set(january_marks(employee, date(2025, 5, 14)).values()) == {st.Mark.ARREARS}


@pytest.mark.req("R2.2")
def test_a_payment_without_a_period_pays_the_oldest_period_first(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit = insured["unit"]
    for period in ("2025-01", "2025-02"):
        run_through(huancui_clerk, approver, "assessment", period)
    # 3,000.00 with no period on 28 February: January's 2,194.65 in full, then 805.35 of February —
    # its individual parts (630.72) and 174.63 of its unit pension part.
    # Paid as two rows of one extract (2,000.00 then 1,000.00): the second continues where the first stopped.
    rows = [{"unit_id": unit.pk, "amount": "2000.00", "paid_on": "2025-02-28"},
            {"unit_id": unit.pk, "amount": "1000.00", "paid_on": "2025-02-28"}]  # fmt: skip
    run_through(huancui_clerk, approver, "payment", "2025-02", params={"rows": rows})
    assert paid(unit, "2025-01") == parts(unit, "2025-01")
    assert paid(unit, "2025-02") == {
        "110": (Decimal("174.63"), Decimal("489.88")), "210": (Decimal("0.00"), Decimal("18.37")),
        "310": (Decimal("0.00"), Decimal("122.47")),
    }  # fmt: skip
    # February's rest, 2,194.65 − 805.35 = 1,389.30, is 31 days late on 31 March.
    rate = value_at("late_fee.daily_rate", date(2025, 3, 31))
    [owing] = [a for a in arrears(date(2025, 3, 31)) if a.unit_id == unit.pk]
    assert owing.periods == {"2025-02": Decimal("1389.30")}
    assert owing.fees == {"2025-02": fen(Decimal("1389.30") * rate * 31)} == {"2025-02": Decimal("21.53")}
