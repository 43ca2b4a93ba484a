"""Contribution bases, monthly contributions, late fees and the personal account (sidms.lib.contributions).

Every expected value is worked out by hand from the parameters written in the test (the arithmetic is in
the comment or the expression), never copied from the function's output.
"""

from __future__ import annotations

import pickle
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidms.lib import contributions as c
from sidms.lib.contributions import (
    BaseLimits,
    Contribution,
    InvalidCalculationInput,
    Rounding,
)
from sidms.lib.errors import StandardError

D = Decimal
FEN = Rounding(D("0.01"), ROUND_HALF_UP)  # 四舍五入到分
YUAN = Rounding(D("1"), ROUND_HALF_UP)  # 四舍五入到元

# Shandong 2018 全口径 average wage, yuan per year (notes §2, [S]); limits 60 % / 300 %.
SHANDONG_2018 = D("65383")
LIMITS_2019 = BaseLimits(D("3269"), D("16346"))


def reason_of(call: object, *args: object, **kwargs: object) -> str:
    assert callable(call)
    with pytest.raises(InvalidCalculationInput) as info:
        call(*args, **kwargs)
    error = info.value
    assert isinstance(error, StandardError)
    assert error.message and error.message_en  # a Chinese and an English sentence
    return error.reason


money = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)
month_credits = st.dictionaries(st.integers(1, 12), money.filter(lambda x: x <= 100_000), max_size=12)


# --- 1. rounding --------------------------------------------------------------------------------------


@pytest.mark.req("R2.3")
@pytest.mark.parametrize(
    ("rounding", "amount", "expected"),
    [
        (Rounding(D("0.01"), ROUND_HALF_UP), D("261.525"), D("261.53")),  # half a fen goes up
        (Rounding(D("0.01"), ROUND_HALF_UP), D("261.524"), D("261.52")),
        (Rounding(D("0.1"), ROUND_HALF_UP), D("261.55"), D("261.6")),  # 四舍五入到角
        (Rounding(D("1"), ROUND_HALF_UP), D("3269.15"), D("3269")),  # Shandong floor
        (Rounding(D("1"), ROUND_HALF_UP), D("16345.75"), D("16346")),  # Shandong ceiling
        (Rounding(D("1"), ROUND_UP), D("12.01"), D("13")),  # 见角分进元: any fraction raises
        (Rounding(D("0.1"), ROUND_UP), D("12.31"), D("12.4")),  # 见分进角
        (Rounding(D("0.1"), ROUND_DOWN), D("12.39"), D("12.3")),  # 舍角以下 keeps the jiao
        (Rounding(D("1"), ROUND_DOWN), D("12.99"), D("12")),  # 舍元以下
        (Rounding(D("0.01"), ROUND_HALF_EVEN), D("0.125"), D("0.12")),  # banker's
        (Rounding(D("0.01"), ROUND_HALF_EVEN), D("0.135"), D("0.14")),
        (Rounding(D("10"), ROUND_HALF_UP), D("125"), D("130")),  # to ten yuan
    ],
)
def test_rounding_modes_and_precisions(rounding: Rounding, amount: Decimal, expected: Decimal) -> None:
    result = rounding.apply(amount)
    assert result == expected
    # Same number of places as the precision asks for (0.01 → 2 places; 1 and 10 → none).
    assert result.as_tuple().exponent == expected.as_tuple().exponent


@pytest.mark.req("R2.3")
def test_jian_jiao_jin_yuan_ignores_a_lone_fen() -> None:
    # 见角进元 (housing-fund arithmetic, [S]): a jiao raises the yuan, a fen alone does not;
    # 见角分进元 raises on either.
    jiao = c.ROUNDING_PRESETS["见角进元"]
    jiao_fen = c.ROUNDING_PRESETS["见角分进元"]
    assert jiao.apply(D("12.10")) == D("13")
    assert jiao.apply(D("12.09")) == D("12")
    assert jiao_fen.apply(D("12.09")) == D("13")
    assert jiao.apply(D("12.00")) == D("12")


@pytest.mark.req("R2.3")
def test_rounding_is_symmetric_for_reversals() -> None:
    # A reversal entry must be exactly the negative of the entry it reverses, in every mode.
    for mode in c.ROUNDING_MODES:
        rule = Rounding(D("0.1"), mode)
        for amount in (D("12.35"), D("12.31"), D("12.39")):
            assert rule.apply(-amount) == -rule.apply(amount)


@pytest.mark.req("R2.3")
@pytest.mark.parametrize("precision", [D("0.05"), D("0"), D("-0.01"), D("2"), D("1000"), D("1E-9")])
def test_rounding_refuses_a_precision_that_is_not_a_power_of_ten(precision: Decimal) -> None:
    assert reason_of(Rounding, precision) == "rounding_precision"


@pytest.mark.req("R2.3")
def test_rounding_refuses_unknown_modes_floats_and_a_coarse_discard() -> None:
    assert reason_of(Rounding, D("0.01"), "ROUND_05UP") == "rounding_mode"
    assert reason_of(Rounding, D("0.01"), "四舍五入") == "rounding_mode"
    assert reason_of(Rounding, 0.01) == "not_decimal"
    assert reason_of(Rounding, D("0.1"), ROUND_UP, D("1")) == "rounding_precision"
    assert reason_of(FEN.apply, 1.5) == "not_decimal"
    assert reason_of(FEN.apply, D("NaN")) == "not_finite"


@pytest.mark.req("R2.3")
def test_rounding_accepts_int_precision_and_equal_precisions_compare_equal() -> None:
    assert Rounding(1).apply(D("2.5")) == D("3")
    assert Rounding(D("0.10")) == Rounding(D("0.1"))


@pytest.mark.req("R2.3")
@given(
    amount=st.decimals(min_value=-1_000_000, max_value=1_000_000, places=6),
    mode=st.sampled_from(list(c.ROUNDING_MODES)),
)
def test_rounding_moves_less_than_one_step_and_is_idempotent(amount: Decimal, mode: str) -> None:
    rule = Rounding(D("0.01"), mode)
    once = rule.apply(amount)
    assert abs(once - amount) < D("0.01")
    assert rule.apply(once) == once


# --- 2. base limits and clamping ----------------------------------------------------------------------


@pytest.mark.req("R2.3")
def test_shandong_2019_limits_from_the_annual_average() -> None:
    # 65,383 × 0.6 / 12 = 39,229.8 / 12 = 3,269.15 → 3,269; 65,383 × 3 / 12 = 196,149 / 12 = 16,345.75 → 16,346
    limits = c.base_limits_from_annual(SHANDONG_2018, D("0.6"), D("3"), YUAN)
    assert limits == BaseLimits(D("3269"), D("16346"))


@pytest.mark.req("R2.3")
def test_limits_from_the_unrounded_monthly_average_agree_but_not_from_the_rounded_one() -> None:
    assert c.base_limits(SHANDONG_2018 / 12, D("0.6"), D("3"), YUAN) == LIMITS_2019
    # The published 5,449 is itself rounded: 5,449 × 3 = 16,347, one yuan above the notice.
    assert c.base_limits(D("5449"), D("0.6"), D("3"), YUAN).ceiling == D("16347")


@pytest.mark.req("R2.3")
def test_seed_ratios_reproduce_the_shandong_limits() -> None:
    ratios = c.seed_values(c.SEED_BASE_LIMIT_RATIOS)
    annual = c.SEED_PROVINCIAL_AVERAGE_WAGE[2018]
    assert annual.value == SHANDONG_2018
    assert annual.status == "S"
    limits = c.base_limits_from_annual(annual.value, ratios["floor"], ratios["ceiling"], YUAN)
    assert limits == LIMITS_2019


@pytest.mark.req("R2.3")
def test_base_below_the_floor_is_raised() -> None:
    clamped = c.clamp_base(D("2800.00"), LIMITS_2019)  # 2,800 < 3,269
    assert clamped.base == D("3269")
    assert clamped.declared == D("2800.00")
    assert clamped.raised and not clamped.lowered and clamped.adjusted


@pytest.mark.req("R2.3")
def test_base_above_the_ceiling_is_lowered() -> None:
    clamped = c.clamp_base(D("20000"), LIMITS_2019)  # 20,000 > 16,346
    assert clamped.base == D("16346")
    assert clamped.lowered and not clamped.raised


@pytest.mark.req("R2.3")
def test_base_within_the_limits_is_kept_and_the_limits_themselves_are_inside() -> None:
    assert c.clamp_base(D("5000.50"), LIMITS_2019).base == D("5000.50")
    assert not c.clamp_base(D("3269"), LIMITS_2019).adjusted
    assert not c.clamp_base(D("16346"), LIMITS_2019).adjusted
    assert c.clamp_base(D("0"), LIMITS_2019).raised  # no wage at all: pays on the floor


@pytest.mark.req("R2.3")
def test_bad_wages_and_limits_are_refused() -> None:
    assert reason_of(c.clamp_base, D("-1"), LIMITS_2019) == "negative_amount"
    assert reason_of(c.clamp_base, 5000.0, LIMITS_2019) == "not_decimal"
    assert reason_of(BaseLimits, D("5000"), D("4000")) == "limits_order"
    assert reason_of(c.base_limits, D("-5000"), D("0.6"), D("3"), YUAN) == "negative_amount"
    assert reason_of(c.base_limits, D("5000"), D("3"), D("0.6"), YUAN) == "limits_order"
    assert reason_of(c.base_limits, D("5000"), D("0"), D("3"), YUAN) == "rate_out_of_range"


@pytest.mark.req("R2.3")
@given(
    declared=money,
    floor=st.decimals(min_value=0, max_value=50_000, places=0),
    width=st.decimals(min_value=0, max_value=100_000, places=0),
)
def test_clamped_base_is_always_within_the_limits(declared: Decimal, floor: Decimal, width: Decimal) -> None:
    limits = BaseLimits(floor, floor + width)
    clamped = c.clamp_base(declared, limits)
    assert limits.floor <= clamped.base <= limits.ceiling
    assert clamped.raised == (declared < limits.floor)
    assert clamped.lowered == (declared > limits.ceiling)
    if not clamped.adjusted:
        assert clamped.base == declared


# --- 3. monthly contributions -------------------------------------------------------------------------

BASE = D("6000.00")


@pytest.mark.req("R2.2")
def test_employee_pension_16_and_8_percent_with_8_to_the_account() -> None:
    got = c.monthly_contribution(
        BASE, unit_rate=D("0.16"), individual_rate=D("0.08"), account_rate=D("0.08"), rounding=FEN
    )
    # 6,000 × 16 % = 960.00; 6,000 × 8 % = 480.00, all of it to the account
    assert got == Contribution(D("960.00"), D("480.00"), D("480.00"))
    assert got.total == D("1440.00")


@pytest.mark.req("R2.2")
def test_employee_pension_rounds_each_amount_to_the_fen() -> None:
    got = c.monthly_contribution(
        D("3269.15"), unit_rate=D("0.16"), individual_rate=D("0.08"), account_rate=D("0.08"), rounding=FEN
    )
    # 3,269.15 × 0.16 = 523.064 → 523.06; × 0.08 = 261.532 → 261.53
    assert got == Contribution(D("523.06"), D("261.53"), D("261.53"))


@pytest.mark.req("R2.2")
def test_employee_medical_with_the_unit_rate_as_a_parameter() -> None:
    weihai_unit_rate = D("0.09")  # [U]: 8 % or 9 %, the parameter decides
    got = c.monthly_contribution(BASE, unit_rate=weihai_unit_rate, individual_rate=D("0.02"), rounding=FEN)
    # 6,000 × 9 % = 540.00; 6,000 × 2 % = 120.00; nothing to the pension account
    assert got == Contribution(D("540.00"), D("120.00"), D("0.00"))


@pytest.mark.req("R2.2")
def test_employee_unemployment_0_7_and_0_3_percent() -> None:
    got = c.monthly_contribution(D("5448.58"), unit_rate=D("0.007"), individual_rate=D("0.003"), rounding=FEN)
    # 5,448.58 × 0.007 = 38.14006 → 38.14; × 0.003 = 16.34574 → 16.35
    assert got == Contribution(D("38.14"), D("16.35"), D("0.00"))


@pytest.mark.req("R2.2")
def test_work_injury_class_3_at_the_120_percent_tier() -> None:
    base_rates = c.seed_values(c.SEED_WORK_INJURY_BASE_RATES)
    assert base_rates[3] == D("0.007")  # class 3 base rate 0.7 % (人社部发〔2015〕71号)
    rate = c.work_injury_rate(3, 120, base_rates=base_rates)
    assert rate == D("0.007") * 120 / 100  # 0.84 %
    got = c.work_injury_contribution(BASE, 3, 120, base_rates=base_rates, rounding=FEN)
    # 6,000 × 0.0084 = 50.40, unit only
    assert got == Contribution(D("50.40"), D("0.00"), D("0.00"))


@pytest.mark.req("R2.2")
@pytest.mark.parametrize(
    ("industry_class", "tier", "allowed"),
    [
        (1, 100, True),
        (1, 120, True),
        (1, 150, True),
        (1, 80, False),  # class 1 never floats down
        (1, 50, False),
        (5, 50, True),
        (5, 80, True),
        (8, 150, True),
        (2, 110, False),
        (4, 200, False),
    ],
)
def test_work_injury_tiers(industry_class: int, tier: int, allowed: bool) -> None:
    base_rates = c.seed_values(c.SEED_WORK_INJURY_BASE_RATES)
    if allowed:
        assert c.work_injury_rate(industry_class, tier, base_rates=base_rates) == (
            base_rates[industry_class] * tier / 100
        )
    else:
        assert reason_of(c.work_injury_rate, industry_class, tier, base_rates=base_rates) == "unknown_tier"


@pytest.mark.req("R2.2")
def test_work_injury_refuses_unknown_classes() -> None:
    base_rates = c.seed_values(c.SEED_WORK_INJURY_BASE_RATES)
    for industry_class in (0, 9, -1, True):
        assert (
            reason_of(c.work_injury_rate, industry_class, 100, base_rates=base_rates)
            == "unknown_industry_class"
        )
    # A class without a configured rate is as unknown as class 9.
    assert reason_of(c.work_injury_rate, 2, 100, base_rates={1: D("0.002")}) == "unknown_industry_class"


@pytest.mark.req("R2.2")
def test_work_injury_seed_tables_match_the_notes() -> None:
    rates = c.seed_values(c.SEED_WORK_INJURY_BASE_RATES)
    percent = [D("0.2"), D("0.4"), D("0.7"), D("0.9"), D("1.1"), D("1.3"), D("1.6"), D("1.9")]
    assert [rates[k] * 100 for k in range(1, 9)] == percent
    tiers = c.seed_values(c.SEED_WORK_INJURY_TIERS)
    assert tiers[1] == {100, 120, 150}
    assert all(tiers[k] == {50, 80, 100, 120, 150} for k in range(2, 9))
    assert all(seed.status == "V" for seed in c.SEED_WORK_INJURY_BASE_RATES.values())


@pytest.mark.req("R2.2")
def test_flexible_worker_pays_20_percent_alone_8_to_the_account() -> None:
    got = c.flexible_pension_contribution(
        D("4000"), limits=LIMITS_2019, rate=D("0.20"), account_rate=D("0.08"), rounding=FEN
    )
    # 4,000 × 20 % = 800.00, all by the individual; 4,000 × 8 % = 320.00 to the account
    assert got == Contribution(D("0.00"), D("800.00"), D("320.00"))


@pytest.mark.req("R2.2")
def test_flexible_worker_at_the_floor() -> None:
    got = c.flexible_pension_contribution(
        LIMITS_2019.floor, limits=LIMITS_2019, rate=D("0.20"), account_rate=D("0.08"), rounding=FEN
    )
    # 3,269 × 0.20 = 653.80; 3,269 × 0.08 = 261.52
    assert got == Contribution(D("0.00"), D("653.80"), D("261.52"))


@pytest.mark.req("R2.2")
def test_flexible_worker_base_outside_the_limits_is_refused_not_clamped() -> None:
    for base in (D("3268.99"), D("16346.01")):
        assert (
            reason_of(
                c.flexible_pension_contribution,
                base,
                limits=LIMITS_2019,
                rate=D("0.20"),
                account_rate=D("0.08"),
                rounding=FEN,
            )
            == "base_out_of_range"
        )


@pytest.mark.req("R2.2")
def test_contribution_refuses_bad_rates_and_bases() -> None:
    ok = {"unit_rate": D("0.16"), "individual_rate": D("0.08"), "rounding": FEN}
    assert reason_of(c.monthly_contribution, D("-1"), **ok) == "negative_amount"
    assert reason_of(c.monthly_contribution, BASE, **{**ok, "unit_rate": D("16")}) == "rate_out_of_range"
    assert reason_of(c.monthly_contribution, BASE, **{**ok, "unit_rate": D("-0.01")}) == "rate_out_of_range"
    assert reason_of(c.monthly_contribution, BASE, **{**ok, "unit_rate": 0.16}) == "not_decimal"
    assert reason_of(c.monthly_contribution, BASE, **{**ok, "account_rate": D("0.5")}) == "rate_out_of_range"


@pytest.mark.req("R2.2")
def test_seed_rates_are_the_notes_values_with_their_marks() -> None:
    rates = c.SEED_CONTRIBUTION_RATES
    assert (rates["pension.unit"].value, rates["pension.unit"].status) == (D("0.16"), "V")
    assert (rates["pension.individual"].value, rates["pension.individual"].status) == (D("0.08"), "V")
    assert (rates["unemployment.unit"].value, rates["unemployment.unit"].status) == (D("0.007"), "S")
    assert (rates["medical.individual"].value, rates["medical.individual"].status) == (D("0.02"), "S")
    assert "medical.unit" not in rates  # conflicting [U] value deliberately not seeded
    assert all(seed.source for seed in rates.values())


@pytest.mark.req("R2.2")
@given(base=money, unit=rates, individual=rates)
def test_contribution_amounts_are_within_a_fen_of_the_exact_products(
    base: Decimal, unit: Decimal, individual: Decimal
) -> None:
    got = c.monthly_contribution(base, unit_rate=unit, individual_rate=individual, rounding=FEN)
    assert abs(got.unit_amount - base * unit) <= D("0.005")
    assert abs(got.individual_amount - base * individual) <= D("0.005")
    assert got.unit_amount >= 0 and got.individual_amount >= 0


# --- 4. late fees -------------------------------------------------------------------------------------


@pytest.mark.req("R2.2")
def test_late_fee_for_45_days() -> None:
    # Due 2025-03-15; paid 2025-04-29: days 16–31 March (16) + 1–29 April (29) = 45 days.
    fee = c.late_fee(
        D("12345.67"), date(2025, 3, 15), date(2025, 4, 29), daily_rate=D("0.0005"), rounding=FEN
    )
    assert fee.days == 16 + 29 == 45
    # 12,345.67 × 0.0005 × 45 = 6.172835 × 45 = 277.777575 → 277.78
    assert fee.fee == D("277.78")
    assert fee.uncapped_fee == fee.fee
    assert not fee.capped


@pytest.mark.req("R2.2")
def test_late_fee_day_counting_convention() -> None:
    due = date(2025, 1, 15)
    assert c.late_fee_days(due, date(2025, 1, 15)) == 0  # paid on the due date
    assert c.late_fee_days(due, date(2025, 1, 10)) == 0  # paid early
    assert c.late_fee_days(due, date(2025, 1, 16)) == 1  # the day after the due date is the first day
    # Across February of a common year: 16–31 Jan (16) + 28 + 1–15 Mar (15) = 59.
    assert c.late_fee_days(due, date(2025, 3, 15)) == 16 + 28 + 15
    # Leap year: 16–31 Jan (16) + 29 + 15 = 60.
    assert c.late_fee_days(date(2024, 1, 15), date(2024, 3, 15)) == 16 + 29 + 15
    # The "until the day before payment" local variant counts one day fewer.
    assert c.late_fee_days(due, date(2025, 1, 16), include_end_day=False) == 0
    assert c.late_fee_days(due, date(2025, 3, 15), include_end_day=False) == 58


@pytest.mark.req("R2.2")
def test_late_fee_cap_at_principal_is_optional() -> None:
    # 1,000 × 0.0005 × 2,500 days = 1,250.00 > 1,000.00
    due, paid = date(2018, 1, 15), date.fromordinal(date(2018, 1, 15).toordinal() + 2500)
    uncapped = c.late_fee(D("1000.00"), due, paid, daily_rate=D("0.0005"), rounding=FEN)
    assert uncapped.days == 2500
    assert uncapped.fee == D("1250.00") and not uncapped.capped
    capped = c.late_fee(D("1000.00"), due, paid, daily_rate=D("0.0005"), rounding=FEN, cap_at_principal=True)
    assert capped.fee == D("1000.00") and capped.capped
    assert capped.uncapped_fee == D("1250.00")
    # Below the cap the flag changes nothing: 1,000 × 0.0005 × 45 = 22.50
    short = c.late_fee(
        D("1000.00"),
        due,
        date(2018, 3, 1),
        daily_rate=D("0.0005"),
        rounding=FEN,
        cap_at_principal=True,
    )
    assert (short.days, short.fee, short.capped) == (45, D("22.50"), False)


@pytest.mark.req("R2.2")
def test_late_fee_refuses_bad_input() -> None:
    due = date(2025, 1, 15)
    kwargs = {"daily_rate": D("0.0005"), "rounding": FEN}
    assert reason_of(c.late_fee, D("-1"), due, date(2025, 2, 1), **kwargs) == "negative_amount"
    assert reason_of(c.late_fee, D("1"), due, datetime(2025, 2, 1, 9), **kwargs) == "not_a_date"
    assert reason_of(c.late_fee, D("1"), "2025-01-15", date(2025, 2, 1), **kwargs) == "not_a_date"
    assert (
        reason_of(c.late_fee, D("1"), due, date(2025, 2, 1), daily_rate=D("5"), rounding=FEN)
        == "rate_out_of_range"
    )


@pytest.mark.req("R2.2")
def test_late_fee_seed_rate_is_five_in_ten_thousand() -> None:
    assert c.SEED_LATE_FEE_DAILY_RATE.value == D(5) / 10_000
    assert c.SEED_LATE_FEE_DAILY_RATE.status == "V"


@pytest.mark.req("R2.2")
@given(principal=money, extra=st.integers(0, 3650), more=st.integers(0, 365))
def test_late_fee_grows_with_the_days(principal: Decimal, extra: int, more: int) -> None:
    due = date(2020, 1, 15)
    a = c.late_fee(
        principal, due, date.fromordinal(due.toordinal() + extra), daily_rate=D("0.0005"), rounding=FEN
    )
    b = c.late_fee(
        principal, due, date.fromordinal(due.toordinal() + extra + more), daily_rate=D("0.0005"), rounding=FEN
    )
    assert a.days == extra and b.days == extra + more
    assert D(0) <= a.fee <= b.fee


# --- 5. personal account ------------------------------------------------------------------------------

R_2024 = D("0.0262")  # 2024 记账利率 (notes §3, [V])
EQUAL = {month: D("800.00") for month in range(1, 13)}  # 8 % of a 10,000 base every month
UNEQUAL = {month: D("1000.00") if month <= 6 else D("1200.00") for month in range(1, 13)}


@pytest.mark.req("R2.2")
def test_annual_method_with_equal_credits() -> None:
    year = c.account_interest_annual(D("100000.00"), EQUAL, R_2024, FEN)
    # principal = 12 × 800 = 9,600.00
    # on the balance: 100,000 × 0.0262 = 2,620.00
    # on the credits: 9,600 × 0.0262 × 1.083 / 2 = 251.52 × 0.5415 = 136.19808 → 136.20
    assert year.method == "annual"
    assert year.principal == D("9600.00")
    assert year.interest_on_balance == D("2620.00")
    assert year.interest_on_credits == D("136.20")
    assert year.interest == D("2620.00") + D("136.20") == D("2756.20")
    assert year.new_balance == D("100000.00") + D("9600.00") + D("2756.20") == D("112356.20")


@pytest.mark.req("R2.2")
def test_month_product_method_with_equal_credits() -> None:
    year = c.account_interest_month_product(D("100000.00"), EQUAL, R_2024, FEN)
    # month products: 800 × (12 + 11 + … + 1) = 800 × 78 = 62,400
    # on the credits: 62,400 × 0.0262 / 12 = 1,634.88 / 12 = 136.24
    assert 800 * sum(12 - n + 1 for n in range(1, 13)) == 62_400
    assert year.method == "month_product"
    assert year.interest_on_balance == D("2620.00")
    assert year.interest_on_credits == D("136.24")
    assert year.interest == D("2756.24")
    assert year.new_balance == D("112356.24")


@pytest.mark.req("R2.2")
def test_the_settlement_from_the_years_sums_is_the_worked_example() -> None:
    # What the year-end run gets from the database for the example above: the sums, not the months.
    year = c.account_settlement_from_sums(
        D("100000.00"), D("9600.00"), D("62400.00"), R_2024, FEN, method="month_product"
    )
    assert (year.interest_on_credits, year.interest, year.new_balance) == (
        D("136.24"), D("2756.24"), D("112356.24"),
    )  # fmt: skip
    annual = c.account_settlement_from_sums(D("100000.00"), D("9600.00"), D(0), R_2024, FEN, method="annual")
    assert annual == c.account_interest_annual(D("100000.00"), EQUAL, R_2024, FEN)
    with pytest.raises(c.InvalidCalculationInput):
        c.account_settlement_from_sums(D(0), D(0), D("-1"), R_2024, FEN, method="month_product")


@given(st.dictionaries(st.integers(1, 12), st.integers(0, 500_000).map(lambda f: D(f) / 100), max_size=12))
@pytest.mark.req("R2.2")
def test_the_settlement_from_sums_equals_the_month_by_month_one(credits: dict[int, Decimal]) -> None:
    principal = sum(credits.values(), D(0))
    product = sum((v * (13 - m) for m, v in credits.items()), D(0))
    methods: tuple[c.InterestMethod, ...] = ("annual", "month_product")
    for method in methods:
        assert c.account_settlement_from_sums(
            D("1234.56"), principal, product, R_2024, FEN, method=method
        ) == c.account_year_end(D("1234.56"), credits, R_2024, FEN, method=method)


@pytest.mark.req("R2.2")
def test_the_methods_agree_for_equal_credits_because_78_over_144_is_about_1_083_over_2() -> None:
    assert Fraction(78, 144) == Fraction(13, 12) / 2  # 0.541666…, exactly
    assert abs(D(78) / 144 - D("1.083") / 2) < D("0.0002")
    annual = c.account_interest_annual(D("100000.00"), EQUAL, R_2024, FEN)
    monthly = c.account_interest_month_product(D("100000.00"), EQUAL, R_2024, FEN)
    # Exact gap: 9,600 × 0.0262 × (13/12 − 1.083) / 2 = 251.52 × 0.000333… / 2 ≈ 0.0419, plus two
    # half-fen roundings at most.
    gap = D(9600) * R_2024 * (D(13) / 12 - D("1.083")) / 2
    assert abs(monthly.interest - annual.interest) <= gap + D("0.01")
    assert monthly.interest - annual.interest == D("0.04")


@pytest.mark.req("R2.2")
def test_unequal_credits_the_month_product_method_sees_when_money_arrived() -> None:
    monthly = c.account_interest_month_product(D("50000.00"), UNEQUAL, D("0.0397"), FEN)
    # months 1–6: 1,000 × (12+11+10+9+8+7 = 57) = 57,000; months 7–12: 1,200 × (6+5+4+3+2+1 = 21) = 25,200
    # credits: 82,200 × 0.0397 / 12 = 3,263.34 / 12 = 271.945 → 271.95
    # balance: 50,000 × 0.0397 = 1,985.00
    assert monthly.principal == 6 * D("1000.00") + 6 * D("1200.00") == D("13200.00")
    assert monthly.interest_on_credits == D("271.95")
    assert monthly.interest == D("1985.00") + D("271.95") == D("2256.95")
    assert monthly.new_balance == D("50000.00") + D("13200.00") + D("2256.95") == D("65456.95")
    annual = c.account_interest_annual(D("50000.00"), UNEQUAL, D("0.0397"), FEN)
    # credits: 13,200 × 0.0397 × 1.083 / 2 = 524.04 × 0.5415 = 283.76766 → 283.77 (more: it assumes an
    # even spread, but more money came late in the year)
    assert annual.interest_on_credits == D("283.77")
    assert annual.interest == D("2268.77")


@pytest.mark.req("R2.2")
def test_a_single_december_credit_earns_one_month() -> None:
    year = c.account_interest_month_product(D("0"), {12: D("1200.00")}, D("0.0600"), FEN)
    # 1,200 × (12 − 12 + 1) × 0.06 / 12 = 6.00
    assert year.interest == D("6.00")
    january = c.account_interest_month_product(D("0"), {1: D("1200.00")}, D("0.0600"), FEN)
    # 1,200 × 12 × 0.06 / 12 = 72.00, a full year
    assert january.interest == D("72.00")


@pytest.mark.req("R2.2")
def test_year_end_dispatches_on_the_method_parameter() -> None:
    assert c.account_year_end(D("0"), EQUAL, R_2024, FEN, method="annual") == c.account_interest_annual(
        D("0"), EQUAL, R_2024, FEN
    )
    assert c.account_year_end(
        D("0"), EQUAL, R_2024, FEN, method="month_product"
    ) == c.account_interest_month_product(D("0"), EQUAL, R_2024, FEN)
    assert reason_of(c.account_year_end, D("0"), EQUAL, R_2024, FEN, method="daily") == "unknown_method"


@pytest.mark.req("R2.2")
def test_account_refuses_bad_months_credits_and_rates() -> None:
    for bad in (0, 13, -1):
        assert reason_of(c.account_interest_month_product, D("0"), {bad: D("1")}, R_2024, FEN) == (
            "month_out_of_range"
        )
    assert reason_of(c.account_interest_annual, D("0"), {1: D("-5")}, R_2024, FEN) == "negative_amount"
    assert reason_of(c.account_interest_annual, D("-1"), {}, R_2024, FEN) == "negative_amount"
    assert reason_of(c.account_interest_annual, D("0"), {}, D("-0.01"), FEN) == "rate_out_of_range"
    assert reason_of(c.account_interest_annual, D("0"), {}, 0.0262, FEN) == "not_decimal"


@pytest.mark.req("R2.2")
def test_balance_as_of_mid_year_counts_principal_only() -> None:
    as_of = c.account_balance_as_of(D("100000.00"), UNEQUAL, date(2025, 8, 20))
    # months 1–8: 6 × 1,000 + 2 × 1,200 = 8,400.00; no interest before the year-end settlement
    assert as_of.principal_to_date == D("8400.00")
    assert as_of.balance == D("108400.00")
    # A credit for a later month (paid in advance) is not yet counted.
    early = c.account_balance_as_of(D("0"), {1: D("800"), 11: D("800")}, date(2025, 1, 31))
    assert early.balance == D("800")
    assert reason_of(c.account_balance_as_of, D("0"), {}, datetime(2025, 1, 1)) == "not_a_date"


@pytest.mark.req("R2.2")
def test_seed_interest_rates_and_their_marks() -> None:
    rates = c.SEED_ACCOUNT_INTEREST
    assert rates[2016].value == D("0.0831")
    assert rates[2022].value == D("0.0612")
    assert rates[2024].value == D("0.0262")
    assert (rates[2025].value, rates[2025].status) == (D("0.0150"), "S")
    assert all(rates[y].status == "V" for y in range(2016, 2025))
    assert c.ANNUAL_METHOD_FACTOR.value == D("1.083")


@pytest.mark.req("R2.2")
@given(previous=money, credits=month_credits, rate=rates.filter(lambda r: r <= D("0.2")))
def test_interest_is_never_negative_and_the_figures_add_up(
    previous: Decimal, credits: dict[int, Decimal], rate: Decimal
) -> None:
    for year in (
        c.account_interest_annual(previous, credits, rate, FEN),
        c.account_interest_month_product(previous, credits, rate, FEN),
    ):
        assert year.interest >= 0
        assert year.interest == year.interest_on_balance + year.interest_on_credits
        assert year.new_balance == previous + sum(credits.values(), D(0)) + year.interest
    # The month-product credit interest never exceeds a full year on every credit.
    monthly = c.account_interest_month_product(D(0), credits, rate, FEN)
    assert monthly.interest <= FEN.apply(sum(credits.values(), D(0)) * rate) + D("0.01")


@pytest.mark.req("R2.2")
@given(credit=money.filter(lambda x: x <= 50_000), rate=rates.filter(lambda r: r <= D("0.2")))
def test_equal_credits_the_two_methods_differ_by_at_most_the_13_12_gap(
    credit: Decimal, rate: Decimal
) -> None:
    credits = dict.fromkeys(range(1, 13), credit)
    annual = c.account_interest_annual(D(0), credits, rate, FEN)
    monthly = c.account_interest_month_product(D(0), credits, rate, FEN)
    gap = 12 * credit * rate * (D(13) / 12 - D("1.083")) / 2
    assert D(0) <= gap
    assert abs(monthly.interest - annual.interest) <= gap + D("0.01")


# --- errors and seeds ---------------------------------------------------------------------------------


@pytest.mark.req("R2.2")
def test_errors_are_standard_errors_that_pickle() -> None:
    with pytest.raises(InvalidCalculationInput) as info:
        c.clamp_base(D("-3"), LIMITS_2019)
    error = info.value
    assert isinstance(error, ValueError)
    assert str(error) == error.message
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.reason, copy.message, copy.message_en) == (error.reason, error.message, error.message_en)


@pytest.mark.req("R2.3")
def test_every_seed_has_a_status_and_a_source() -> None:
    tables = [
        c.SEED_ROUNDING,
        c.SEED_BASE_LIMIT_RATIOS,
        c.SEED_PROVINCIAL_AVERAGE_WAGE,
        c.SEED_CONTRIBUTION_RATES,
        c.SEED_WORK_INJURY_BASE_RATES,
        c.SEED_WORK_INJURY_TIERS,
        c.SEED_ACCOUNT_INTEREST,
    ]
    seeds = [seed for table in tables for seed in table.values()]
    seeds += [c.SEED_LATE_FEE_DAILY_RATE, c.ANNUAL_METHOD_FACTOR]
    assert all(seed.status in {"V", "S", "U"} and seed.source for seed in seeds)
    assert c.SEED_ROUNDING["amount"].status == "U"  # no official rounding rule found


@given(
    st.integers(-(10**12), 10**12).map(lambda n: D(n) / 10000),
    st.sampled_from([D("1"), D("0.1"), D("0.01"), D("10"), D("100")]),
    st.sampled_from(sorted(c.ROUNDING_MODES)),
)
@pytest.mark.req("R2.3")
def test_rounding_to_a_step_by_quantize_is_the_general_form(value: Decimal, step: Decimal, mode: str) -> None:
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    general = ((value / step).to_integral_value(rounding=mode) * step).quantize(D(1).scaleb(min(exponent, 0)))
    assert c._to_step(value, step, mode) == general
    assert str(c._to_step(value, step, mode)) == str(general)
