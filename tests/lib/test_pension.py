"""Retirement dates, minimum years, the basic pension and the small benefit tables (sidms.lib.pension).

Retirement examples are checked against the reform's rule by hand: delay = (birth-month offset from the
first cohort) // step + 1, capped; retirement month = birth month + original age + delay. The annexed
tables of the reform list the same ages and months.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidms.lib.contributions import InvalidCalculationInput, Rounding, seed_values
from sidms.lib.errors import StandardError
from sidms.lib.pension import (
    SEED_DISABILITY_GRANT_MONTHS,
    SEED_MATERNITY_LEAVE_DAYS,
    SEED_PAYOUT_MONTHS,
    SEED_RETIREMENT_SCHEDULES,
    SEED_UNEMPLOYMENT_DURATION,
    InvalidPensionInput,
    RetirementCategory,
    RetirementSchedule,
    average_contribution_index,
    basic_pension,
    disability_grant_months,
    maternity_leave_days,
    minimum_contribution_months,
    minimum_contribution_years,
    miscarriage_leave_days,
    pension_entitled,
    statutory_retirement,
    unemployment_benefit_months,
)

D = Decimal
FEN = Rounding(D("0.01"), ROUND_HALF_UP)
MALE = RetirementCategory.MALE
F55 = RetirementCategory.FEMALE_55
F50 = RetirementCategory.FEMALE_50


def reason_of(call: object, *args: object, **kwargs: object) -> str:
    assert callable(call)
    with pytest.raises(InvalidPensionInput) as info:
        call(*args, **kwargs)
    error = info.value
    assert isinstance(error, InvalidCalculationInput) and isinstance(error, StandardError)
    assert error.message and error.message_en
    return error.reason


# --- 6. statutory retirement --------------------------------------------------------------------------


@pytest.mark.req("B6")
@pytest.mark.parametrize(
    ("birth", "category", "age", "month", "delay"),
    [
        # Men, first cohort 1965-01, one month per 4 birth months, at most 36.
        # 1965-01: offset 0 → 0 // 4 + 1 = 1 month → 60 y 1 m; 1965-01 + 721 months = 2025-02
        (date(1965, 1, 15), MALE, (60, 1), (2025, 2), 1),
        # 1965-04: offset 3 → 1 month → 2025-05; 1965-05: offset 4 → 2 months → 60 y 2 m → 2025-07
        (date(1965, 4, 1), MALE, (60, 1), (2025, 5), 1),
        (date(1965, 5, 1), MALE, (60, 2), (2025, 7), 2),
        # 1976-08: offset 11×12+7 = 139 → 139 // 4 + 1 = 35 → 62 y 11 m → 2039-07
        (date(1976, 8, 10), MALE, (62, 11), (2039, 7), 35),
        # 1976-09: offset 140 → 36, the cap → 63 → 2039-09
        (date(1976, 9, 10), MALE, (63, 0), (2039, 9), 36),
        # 1977-06: offset 149 → 38, capped at 36 → 63 → 1977-06 + 63 y = 2040-06
        (date(1977, 6, 3), MALE, (63, 0), (2040, 6), 36),
        # Women of original age 55, first cohort 1970-01, one month per 4.
        # 1970-01: offset 0 → 1 → 55 y 1 m → 2025-02
        (date(1970, 1, 1), F55, (55, 1), (2025, 2), 1),
        # 1971-03: offset 14 → 14 // 4 + 1 = 4 → 55 y 4 m → 1971-03 + 664 months = 2026-07
        (date(1971, 3, 20), F55, (55, 4), (2026, 7), 4),
        # 1981-09: offset 11×12+8 = 140 → 36 → 58 → 2039-09
        (date(1981, 9, 1), F55, (58, 0), (2039, 9), 36),
        # Women of original age 50, first cohort 1975-01, one month per 2, at most 60.
        # 1975-01: offset 0 → 1 → 50 y 1 m → 2025-02
        (date(1975, 1, 1), F50, (50, 1), (2025, 2), 1),
        # 1976-07: offset 18 → 18 // 2 + 1 = 10 → 50 y 10 m → 1976-07 + 610 months = 2027-05
        (date(1976, 7, 15), F50, (50, 10), (2027, 5), 10),
        # 1984-10: offset 117 → 59 → 54 y 11 m → 2039-09; 1984-11: offset 118 → 60 → 55 → 2039-11
        (date(1984, 10, 1), F50, (54, 11), (2039, 9), 59),
        (date(1984, 11, 1), F50, (55, 0), (2039, 11), 60),
        # Unaffected: born before each first cohort, the old age applies.
        (date(1964, 12, 31), MALE, (60, 0), (2024, 12), 0),
        (date(1969, 12, 1), F55, (55, 0), (2024, 12), 0),
        (date(1974, 12, 1), F50, (50, 0), (2024, 12), 0),
        (date(1950, 6, 1), MALE, (60, 0), (2010, 6), 0),
    ],
)
def test_retirement_age_and_month(
    birth: date,
    category: RetirementCategory,
    age: tuple[int, int],
    month: tuple[int, int],
    delay: int,
) -> None:
    got = statutory_retirement(birth, category)
    assert (got.age_years, got.age_months) == age
    assert (got.retirement_year, got.retirement_month) == month
    assert got.delay_months == delay
    assert got.age_in_months == got.original_age_years * 12 + delay
    assert got.category is category


@pytest.mark.req("B6")
def test_retirement_date_is_the_day_the_new_age_is_reached() -> None:
    assert statutory_retirement(date(1977, 6, 3), MALE).retirement_date == date(2040, 6, 3)
    assert statutory_retirement(date(1964, 12, 31), MALE).retirement_date == date(2024, 12, 31)
    # Born on the 31st, the month reached has 28 days: the last day of that month.
    assert statutory_retirement(date(1965, 1, 31), MALE).retirement_date == date(2025, 2, 28)
    # Born on 29 February, reaching the age in a common-year February.
    assert statutory_retirement(date(1972, 2, 29), F50).retirement_date == date(2022, 2, 28)
    # … and in a leap-year February it is the 29th.
    assert statutory_retirement(date(1964, 2, 29), MALE).retirement_date == date(2024, 2, 29)


@pytest.mark.req("B6")
def test_the_day_of_birth_does_not_change_the_cohort() -> None:
    first = statutory_retirement(date(1971, 3, 1), F55)
    last = statutory_retirement(date(1971, 3, 31), F55)
    assert (first.retirement_year, first.retirement_month) == (last.retirement_year, last.retirement_month)
    assert first.delay_months == last.delay_months


@pytest.mark.req("B6")
def test_category_may_be_given_as_its_code_and_bad_input_is_refused() -> None:
    assert statutory_retirement(date(1977, 6, 3), "male").age_years == 63
    assert reason_of(statutory_retirement, date(1977, 6, 3), "female") == "unknown_category"
    assert reason_of(statutory_retirement, datetime(1977, 6, 3), MALE) == "not_a_date"
    assert reason_of(statutory_retirement, "1977-06-03", MALE) == "not_a_date"


@pytest.mark.req("B6")
def test_a_schedule_can_be_passed_in() -> None:
    # A hypothetical schedule: from 1990-01, one month per month of birth, at most 12.
    custom = RetirementSchedule(60, (1990, 1), 1, 12)
    got = statutory_retirement(date(1990, 3, 1), MALE, schedule=custom)
    # offset 2 → 2 // 1 + 1 = 3 → 60 y 3 m → 1990-03 + 723 months = 2050-06
    assert (got.age_years, got.age_months, got.retirement_year, got.retirement_month) == (60, 3, 2050, 6)


@pytest.mark.req("B6")
def test_seed_schedules_match_the_reform() -> None:
    schedules = seed_values(SEED_RETIREMENT_SCHEDULES)
    assert schedules[MALE] == RetirementSchedule(60, (1965, 1), 4, 36)  # 60 + 36 months = 63
    assert schedules[F55] == RetirementSchedule(55, (1970, 1), 4, 36)  # 55 + 36 months = 58
    assert schedules[F50] == RetirementSchedule(50, (1975, 1), 2, 60)  # 50 + 60 months = 55
    assert all(seed.status == "V" and seed.source for seed in SEED_RETIREMENT_SCHEDULES.values())


births = st.dates(min_value=date(1940, 1, 1), max_value=date(2010, 12, 31))


@pytest.mark.req("B6")
@given(a=births, b=births, category=st.sampled_from(list(RetirementCategory)))
def test_retirement_age_and_date_never_decrease_with_later_birth(
    a: date, b: date, category: RetirementCategory
) -> None:
    early, late = sorted((a, b))
    first = statutory_retirement(early, category)
    second = statutory_retirement(late, category)
    assert first.age_in_months <= second.age_in_months
    assert first.retirement_date <= second.retirement_date
    target = {MALE: 63, F55: 58, F50: 55}[category] * 12
    assert first.original_age_years * 12 <= first.age_in_months <= target
    assert (first.retirement_year, first.retirement_month) == (
        first.retirement_date.year,
        first.retirement_date.month,
    )


# --- 7. minimum contribution years --------------------------------------------------------------------


@pytest.mark.req("B6")
@pytest.mark.parametrize(
    ("year", "years"),
    [
        (2011, D("15")),
        (2025, D("15")),
        (2029, D("15")),
        (2030, D("15.5")),  # 15 + 1 × 0.5
        (2031, D("16")),  # 15 + 2 × 0.5
        (2035, D("18")),  # 15 + 6 × 0.5
        (2038, D("19.5")),  # 15 + 9 × 0.5
        (2039, D("20")),  # 15 + 10 × 0.5
        (2045, D("20")),  # stays at 20
    ],
)
def test_minimum_contribution_years(year: int, years: Decimal) -> None:
    assert minimum_contribution_years(year) == years
    assert minimum_contribution_months(year) == years * 12


@pytest.mark.req("B6")
def test_entitlement_at_the_minimum() -> None:
    assert not pension_entitled(179, 2029)
    assert pension_entitled(180, 2029)
    assert not pension_entitled(185, 2030)  # 15.5 years = 186 months
    assert pension_entitled(186, 2030)
    assert pension_entitled(240, 2039)
    assert not pension_entitled(239, 2045)
    assert reason_of(pension_entitled, -1, 2030) == "not_an_integer"


# --- 8. basic pension ---------------------------------------------------------------------------------

PAYOUT = seed_values(SEED_PAYOUT_MONTHS)


@pytest.mark.req("B6")
def test_basic_pension_for_a_documented_case() -> None:
    got = basic_pension(
        average_monthly_wage=D("7000"),
        contribution_index=D("1.2"),
        contribution_months=30 * 12 + 6,  # 30 years 6 months
        account_balance=D("150000"),
        age_at_retirement=60,
        payout_months=PAYOUT,
        rounding=FEN,
        transitional_pension=D("300.00"),
    )
    # indexed wage = 7,000 × 1.2 = 8,400.00
    # basic = (7,000 + 8,400) / 2 × 30.5 × 1 % = 7,700 × 0.305 = 2,348.50
    # account = 150,000 / 139 = 1,079.1366… → 1,079.14
    assert got.indexed_wage == D("8400.00")
    assert got.contribution_years == D("30.5")
    assert got.basic_pension == D("2348.50")
    assert got.payout_months == 139
    assert got.account_pension == D("1079.14")
    assert got.transitional_pension == D("300.00")
    assert got.total == D("2348.50") + D("1079.14") + D("300.00") == D("3727.64")


@pytest.mark.req("B6")
def test_basic_pension_at_63_uses_117_months_and_counts_years_to_the_month() -> None:
    got = basic_pension(
        average_monthly_wage=D("7506"),
        contribution_index=D("0.8"),
        contribution_months=25 * 12 + 1,  # 25 years 1 month
        account_balance=D("98765.43"),
        age_at_retirement=63,
        payout_months=PAYOUT,
        rounding=FEN,
    )
    # indexed = 7,506 × 0.8 = 6,004.80
    # basic = (7,506 + 6,004.80) / 2 × 301/12 × 1 % = 6,755.40 × 301 / 1,200 = 2,033,375.4 / 1,200
    #       = 1,694.4795 → 1,694.48
    # account = 98,765.43 / 117 = 844.1490… → 844.15
    assert got.indexed_wage == D("6004.80")
    assert got.basic_pension == D("1694.48")
    assert got.payout_months == 117
    assert got.account_pension == D("844.15")
    assert got.total == D("1694.48") + D("844.15")


@pytest.mark.req("B6")
def test_basic_pension_refuses_bad_input() -> None:
    ok = {
        "average_monthly_wage": D("7000"),
        "contribution_index": D("1"),
        "contribution_months": 180,
        "account_balance": D("1000"),
        "age_at_retirement": 60,
        "payout_months": PAYOUT,
        "rounding": FEN,
    }
    assert reason_of(basic_pension, **{**ok, "age_at_retirement": 39}) == "unknown_age"
    assert reason_of(basic_pension, **{**ok, "average_monthly_wage": D("-1")}) == "negative_amount"
    assert reason_of(basic_pension, **{**ok, "contribution_months": -5}) == "not_an_integer"
    assert reason_of(basic_pension, **{**ok, "contribution_months": 180.5}) == "not_an_integer"
    assert reason_of(basic_pension, **{**ok, "account_balance": 1000.0}) == "not_decimal"
    assert reason_of(basic_pension, **{**ok, "payout_months": {60: 0}}) == "not_an_integer"


@pytest.mark.req("B6")
def test_average_contribution_index() -> None:
    # 12 months at 6,000 against 5,000 (index 1.2) and 12 months at 3,000 against 6,000 (index 0.5):
    # (12 × 1.2 + 12 × 0.5) / 24 = (14.4 + 6) / 24 = 0.85
    months = [(D("6000"), D("5000"))] * 12 + [(D("3000"), D("6000"))] * 12
    assert average_contribution_index(months) == D("0.85")
    # 4,000 / 5,000 = 0.8 and 9,000 / 6,000 = 1.5 → (0.8 + 1.5) / 2 = 1.15
    assert average_contribution_index([(D("4000"), D("5000")), (D("9000"), D("6000"))]) == D("1.15")
    # 1,000 / 3,000 = 0.3333…; to 4 places on request
    one_third = average_contribution_index([(D("1000"), D("3000"))], rounding=Rounding(D("0.0001")))
    assert one_third == D("0.3333")


@pytest.mark.req("B6")
def test_average_contribution_index_refuses_bad_input() -> None:
    assert reason_of(average_contribution_index, []) == "empty"
    assert reason_of(average_contribution_index, [(D("1000"), D("0"))]) == "zero_wage"
    assert reason_of(average_contribution_index, [(D("-1"), D("5000"))]) == "negative_amount"


@pytest.mark.req("B6")
def test_payout_months_seed_table() -> None:
    assert len(PAYOUT) == 31  # ages 40 to 70
    assert (PAYOUT[40], PAYOUT[50], PAYOUT[55], PAYOUT[60], PAYOUT[63], PAYOUT[70]) == (
        233,
        195,
        170,
        139,
        117,
        56,
    )
    ages = sorted(PAYOUT)
    assert all(PAYOUT[a] > PAYOUT[b] for a, b in itertools.pairwise(ages))
    assert all(seed.status == "V" for seed in SEED_PAYOUT_MONTHS.values())
    assert "207" in SEED_PAYOUT_MONTHS[47].source  # the minority variant is recorded


@pytest.mark.req("B6")
@given(
    index=st.decimals(min_value=D("0.6"), max_value=D("3"), places=4),
    months=st.integers(0, 600),
    age=st.sampled_from(sorted(PAYOUT)),
)
def test_pension_grows_with_years_and_the_parts_add_up(index: Decimal, months: int, age: int) -> None:
    def run(m: int) -> Decimal:
        got = basic_pension(
            average_monthly_wage=D("7000"),
            contribution_index=index,
            contribution_months=m,
            account_balance=D("100000"),
            age_at_retirement=age,
            payout_months=PAYOUT,
            rounding=FEN,
        )
        assert got.total == got.basic_pension + got.account_pension + got.transitional_pension
        return got.basic_pension

    assert run(months) <= run(months + 1)


# --- 9. other benefits --------------------------------------------------------------------------------


@pytest.mark.req("R2.2")
@pytest.mark.parametrize(
    ("months", "benefit"),
    [(0, 0), (11, 0), (12, 12), (59, 12), (60, 18), (119, 18), (120, 24), (480, 24)],
)
def test_unemployment_benefit_months(months: int, benefit: int) -> None:
    # 1–<5 years → 12, 5–<10 → 18, ≥10 → 24; under a year nothing
    assert unemployment_benefit_months(months) == benefit


@pytest.mark.req("R2.2")
def test_unemployment_local_scale_and_bad_input() -> None:
    local = ((12, 3), (24, 6), (60, 18), (120, 24))  # a locality subdividing the first band
    assert unemployment_benefit_months(30, scale=local) == 6
    assert SEED_UNEMPLOYMENT_DURATION.status == "V"
    assert reason_of(unemployment_benefit_months, -1) == "not_an_integer"


@pytest.mark.req("R2.2")
def test_disability_grant_months_by_grade() -> None:
    assert [disability_grant_months(g) for g in range(1, 11)] == [27, 25, 23, 21, 18, 16, 13, 11, 9, 7]
    for grade in (0, 11, True):
        assert reason_of(disability_grant_months, grade) == "unknown_grade"
    assert SEED_DISABILITY_GRANT_MONTHS[1].status == "V"


@pytest.mark.req("R2.2")
def test_maternity_leave_days() -> None:
    assert maternity_leave_days() == 98
    assert maternity_leave_days(difficult_birth=True) == 98 + 15
    assert maternity_leave_days(babies=2) == 98 + 15
    assert maternity_leave_days(babies=3, difficult_birth=True) == 98 + 15 + 2 * 15
    assert maternity_leave_days(extra_days=60) == 98 + 60  # a provincial extension, passed in
    assert miscarriage_leave_days(0) == 15
    assert miscarriage_leave_days(3) == 15  # under 4 months
    assert miscarriage_leave_days(4) == 42  # 4 months or more
    assert reason_of(maternity_leave_days, babies=0) == "not_an_integer"
    assert reason_of(miscarriage_leave_days, -1) == "not_an_integer"
    assert all(seed.status == "V" for seed in SEED_MATERNITY_LEAVE_DAYS.values())
