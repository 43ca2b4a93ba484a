"""Unemployment, work-injury and maternity benefits (issue 8 §7 "Payments", R2.2): recorded as entitlements
through the pipeline from the parameter table (notes §5), paid by the monthly benefit run as ledger entries
(monthly ones for their months, one-time ones once), never for a month after the death. Each worked example
is computed by hand here from the parameter table."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from sidms.business.benefits import grant_disability_grant, grant_maternity, grant_unemployment
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry
from sidms.business.parameters import EXAMPLE_MARK, value_at
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from sidms.lib import benefits as lb
from tests.business.conftest import approved, laid_off, pay_months

pytestmark = pytest.mark.django_db


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _benefits(person: Any, insurance: str) -> list[tuple[str, Decimal]]:
    rows = LedgerEntry.objects.filter(
        kind__in=("benefit", "benefit_once"), person=person, insurance=insurance
    ).order_by("period")
    return [(e.period, e.individual_amount) for e in rows]


@pytest.mark.req("R2.2")
def test_unemployment_benefit_from_paid_months_at_the_parameter_ratio_stops_at_death(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    employee = insured["employee"]
    pay_months(insured, huancui_clerk, approver, 12)
    with pytest.raises(ChangeRefused) as employed:  # still insured: the employment has not ended
        grant_unemployment(actor=huancui_clerk, person=employee, start=date(2025, 12, 15))
    assert employed.value.code == "still_insured"
    laid_off(huancui_clerk, employee, "2025-12-01")
    # From December 2025 only January–November count: 11 paid months, below the 12 of 条例 Art. 14.
    with pytest.raises(ChangeRefused) as short:
        grant_unemployment(actor=huancui_clerk, person=employee, start=date(2025, 12, 15))
    assert short.value.code == "minimum_months"
    outcome = grant_unemployment(actor=huancui_clerk, person=employee, start=date(2026, 1, 15))
    granted = approved(outcome, city_reviewer)
    # 12 paid months = 1 year: at most 12 months (Art. 17), January–December 2026.
    assert value_at("unemployment.duration_months", date(2026, 1, 15)) == {1: 12, 5: 18, 10: 24}
    assert (granted.start_date, granted.end_date) == (date(2026, 1, 1), date(2026, 12, 31))
    # The minimum wage × the ratio, both example values: 2,200 × 0.9 = 1,980.00.
    wage = value_at("wage.minimum_monthly", date(2026, 1, 15))
    ratio = value_at("unemployment.benefit_ratio", date(2026, 1, 15))
    assert fen(wage * ratio) == Decimal("1980.00") == Decimal(granted.monthly_amount)
    assert EXAMPLE_MARK in granted.basis and "wage.minimum_monthly" in granted.basis
    for period in ("2026-01", "2026-02"):
        run_through(huancui_clerk, approver, "pension", period)
    assert _benefits(employee, "210") == [("2026-01", Decimal("1980.00")), ("2026-02", Decimal("1980.00"))]
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": employee.pk, "date_of_death": "2026-02-10", "source": "公安户籍注销"})  # fmt: skip
    run_through(huancui_clerk, approver, "pension", "2026-03")
    assert len(_benefits(employee, "210")) == 2  # no payment for a month that begins after the death


@pytest.mark.req("R2.2")
def test_a_work_injury_disability_grant_is_paid_once_even_when_granted_after_its_month(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    employee = insured["employee"]
    run_through(huancui_clerk, approver, "pension", "2025-06")  # June's run before the grant was recorded
    grade, wage = 5, Decimal("6123.45")
    outcome = grant_disability_grant(
        actor=huancui_clerk,
        person=employee,
        on=date(2025, 6, 10),
        grade=grade,
        own_wage=wage,
        injured=date(2025, 3, 3),
    )
    # Grade 5: 18 months of own wage (工伤保险条例, [V]): 6,123.45 × 18 = 110,222.10.
    months = value_at("work_injury.disability_grant_months", date(2025, 6, 10))[grade]
    expected = fen(wage * months)
    assert months == 18 and expected == Decimal("110222.10")
    granted = approved(outcome, city_reviewer)
    assert Decimal(granted.monthly_amount) == expected and EXAMPLE_MARK not in granted.basis
    for period in ("2025-07", "2025-08"):
        run_through(huancui_clerk, approver, "pension", period)
    assert _benefits(employee, "410") == [("2025-07", expected)]  # paid once, in the next run
    with pytest.raises(lb.InvalidCalculationInput):
        grant_disability_grant(
            actor=huancui_clerk,
            person=employee,
            on=date(2025, 6, 10),
            grade=11,
            own_wage=wage,
            injured=date(2025, 3, 3),
        )


@pytest.mark.req("R2.2")
def test_maternity_allowance_for_the_leave_days_at_the_unit_average_wage(
    make_person: Any, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    from tests.changes.conftest import id_number

    mother = make_person(
        id_number=id_number("37100219900303002"), name="孙母亲", birth_date="1990-03-03", sex="2"
    )
    table = value_at("maternity.leave_days", date(2025, 4, 8))
    # Twins, difficult birth: 98 + 15 + 15 = 128 days (女职工劳动保护特别规定 Art. 7).
    days = table["standard"] + table["difficult"] + table["extra_baby"]
    assert days == 128
    outcome = grant_maternity(
        actor=huancui_clerk, person=mother, birth=date(2025, 4, 8), unit_average_wage=Decimal("7500"),
        babies=2, difficult=True,
    )  # fmt: skip
    # 7,500 ÷ 30 (example divisor) × 128 = 32,000.00.
    divisor = value_at("maternity.month_days", date(2025, 4, 8))
    expected = fen(Decimal("7500") / divisor * days)
    assert expected == Decimal("32000.00")
    granted = approved(outcome, city_reviewer)
    assert Decimal(granted.monthly_amount) == expected and "maternity.month_days" in granted.basis
    # A miscarriage at 3 months, months later: 15 days, 7,500 ÷ 30 × 15 = 3,750.00 (a second entitlement).
    later = grant_maternity(
        actor=huancui_clerk, person=mother, birth=date(2025, 12, 2), unit_average_wage=Decimal("7500"),
        miscarriage_months=3,
    )  # fmt: skip
    assert Decimal(approved(later, city_reviewer).monthly_amount) == Decimal("3750.00")
    for period in ("2025-04", "2025-05", "2025-12"):
        run_through(huancui_clerk, approver, "pension", period)
    assert _benefits(mother, "510") == [("2025-04", expected), ("2025-12", Decimal("3750.00"))]
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": mother.pk, "date_of_death": "2026-01-10", "source": "公安户籍注销"})  # fmt: skip
    with pytest.raises(ChangeRefused) as dead:
        grant_maternity(
            actor=huancui_clerk, person=mother, birth=date(2026, 2, 1), unit_average_wage=Decimal(1)
        )
    assert dead.value.code == "dead"


@pytest.mark.req("R2.2")
def test_the_benefit_rules_as_pure_functions_of_their_tables() -> None:
    duration = lb.SEED_UNEMPLOYMENT_DURATION.value
    assert [lb.unemployment_months(m, duration) for m in (11, 12, 59, 60, 119, 120, 400)] == [
        0, 12, 12, 18, 18, 24, 24,
    ]  # fmt: skip
    days = lb.SEED_MATERNITY_DAYS.value
    assert lb.maternity_days(days) == 98
    assert lb.maternity_days(days, babies=3) == 128
    assert lb.maternity_days(days, miscarriage_months=4) == 42
    with pytest.raises(lb.InvalidCalculationInput):
        lb.unemployment_benefit(Decimal(2200), Decimal(1), lb.Rounding(Decimal("0.01")))
