"""Worked examples of issue 8, each computed by hand here from the parameter table (not from the lib's seed
tables): the late fee for 45 days, a year's account interest by both methods, a basic pension for a
documented case, and statutory retirement under the 2025 reform. (Bases, an employee's contributions for
every insurance and a flexible worker's pension are worked through in test_bases and test_ledger.)"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from sidms.business import calc
from sidms.business.parameters import value_at

pytestmark = pytest.mark.django_db


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.mark.req("R2.3")
def test_late_fee_for_45_days() -> None:
    # March 2025 is due by 31 March (due day 0: the period's last day); paid on 15 May: 45 days of arrears
    # (1–30 April and 1–15 May).
    assert calc.due_date("2025-03") == date(2025, 3, 31)
    got = calc.late_fee(Decimal("1000.00"), "2025-03", date(2025, 5, 15))
    assert got.days == 45
    daily = value_at("late_fee.daily_rate", date(2025, 5, 15))
    assert daily == Decimal("0.0005")
    assert got.fee == fen(Decimal("1000.00") * daily * 45) == Decimal("22.50")


@pytest.mark.req("R2.3")
def test_a_years_account_interest_by_both_methods() -> None:
    previous = Decimal("10000.00")
    credits = {month: Decimal("400.00") for month in range(1, 13)}
    r = value_at("account.interest_rate", date(2024, 12, 31))
    assert r == Decimal("0.0262")
    # Annual method: balance × r + credits × r × 1.083 / 2.
    annual = calc.account_year_end(previous, credits, 2024, method="annual")
    k = value_at("account.annual_factor", date(2024, 12, 31))
    assert annual.interest_on_balance == fen(previous * r) == Decimal("262.00")
    assert annual.interest_on_credits == fen(Decimal(4800) * r * k / 2) == Decimal("68.10")  # 68.09904
    assert annual.new_balance == Decimal("10000.00") + Decimal(4800) + Decimal("330.10")
    # Month-product method: Σ credit × (13 − month) × r / 12 = 400 × 78 × 0.0262 / 12 = 68.12.
    monthly = calc.account_year_end(previous, credits, 2024, method="month_product")
    assert monthly.interest_on_credits == fen(Decimal(400 * 78) * r / 12) == Decimal("68.12")
    assert monthly.new_balance == Decimal("15130.12")
    # Without a method named, the parameter decides (seeded: the month-product method).
    assert value_at("account.interest_method", date(2024, 12, 31)) == "month_product"
    assert calc.account_year_end(previous, credits, 2024) == monthly


@pytest.mark.req("R2.3")
def test_a_basic_pension_for_a_documented_case() -> None:
    # 国发〔2005〕38号: 30 years 6 months at an average index of 1.2, an account of 150,000, retiring at 60 in
    # 2025 with a 计发基数 of 7,000 (example value of the table) and a transitional pension of 300.
    at = date(2025, 6, 1)
    wage = value_at("pension.average_monthly_wage", at)
    months_at_60 = value_at("pension.payout_months", at)[60]
    accrual = value_at("pension.accrual_rate", at)
    assert (wage, months_at_60, accrual) == (Decimal("7000"), 139, Decimal("0.01"))
    got = calc.pension(index=Decimal("1.2"), months=366, balance=Decimal("150000"), age=60, at=at,
                       transitional=Decimal("300.00"))  # fmt: skip
    indexed = fen(wage * Decimal("1.2"))  # 8,400.00
    assert got.indexed_wage == indexed
    assert got.basic_pension == fen((wage + indexed) / 2 * 366 * accrual / 12) == Decimal("2348.50")
    assert got.account_pension == fen(Decimal(150000) / months_at_60) == Decimal("1079.14")
    assert got.total == Decimal("3727.64")


def _by_hand(birth: date, category: str) -> tuple[int, int, int, int]:
    """(age years, age months, year, month) from the schedule in the parameter table."""
    s = value_at("retirement.schedules", date(2025, 1, 1))[calc.lp.RetirementCategory(category)]
    offset = (birth.year - s.first_cohort[0]) * 12 + (birth.month - s.first_cohort[1])
    delay = 0 if offset < 0 else min(offset // s.months_per_step + 1, s.max_delay_months)
    total = s.original_age_years * 12 + delay
    reached = birth.year * 12 + birth.month - 1 + total
    return total // 12, total % 12, reached // 12, reached % 12 + 1


@pytest.mark.req("R2.3")
@pytest.mark.parametrize(
    ("birth", "category", "expected"),
    [
        (date(1965, 1, 15), "male", (60, 1, 2025, 2)),  # the first cohort: one month
        (date(1977, 6, 10), "male", (63, 0, 2040, 6)),  # past the 36-month cap: 63
        (date(1972, 5, 1), "female_55", (55, 8, 2028, 1)),  # 28 months after 1970-01: 28 // 4 + 1 = 8
        (date(1980, 1, 1), "female_50", (52, 7, 2032, 8)),  # 60 months after 1975-01: 60 // 2 + 1 = 31
    ],
)
def test_statutory_retirement_under_the_2025_reform(
    birth: date, category: str, expected: tuple[int, int, int, int]
) -> None:
    got = calc.retirement(birth, category)
    assert _by_hand(birth, category) == expected
    assert (got.age_years, got.age_months, got.retirement_year, got.retirement_month) == expected
