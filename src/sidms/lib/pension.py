"""Retirement, the basic pension and the headline benefit rules: national rules as pure functions.

Covers the statutory retirement date under the 2025 reform, the minimum contribution years, the basic
pension of 国发〔2005〕38号, and the short tables of the unemployment, work-injury and maternity rules.
Like :mod:`sidms.lib.contributions`, every figure that sidms keeps as effective-dated parameter data
(average wages, the 计发月数 table, the transitional pension, the rounding rule) is an argument; the
national tables are offered as documented ``SEED_*`` tables (:class:`~sidms.lib.contributions.Seed`,
with the status marks of ``shared/notes/business-rules.md``) and used as defaults only where the rule is
a statute rather than a parameter (retirement schedules, grant months, leave days).

Bad input raises :class:`InvalidPensionInput` (a :class:`sidms.lib.errors.StandardError`, via
:class:`~sidms.lib.contributions.InvalidCalculationInput`) with ``reason`` one of those of the
contributions module or: ``unknown_category``, ``not_an_integer`` (a count of months, years, babies
that is not a non-negative integer), ``unknown_age`` (no 计发月数 for that age), ``unknown_grade`` (a
disability grade outside 1–10), ``empty`` (an average index over no months), ``zero_wage`` (an average
wage of 0 as a divisor).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sidms.lib.contributions import (
    InvalidCalculationInput,
    Rounding,
    Seed,
    _amount,
    _rate,
    seed_values,
)

__all__ = [
    "BASIC_PENSION_ACCRUAL",
    "SEED_DISABILITY_GRANT_MONTHS",
    "SEED_MATERNITY_LEAVE_DAYS",
    "SEED_PAYOUT_MONTHS",
    "SEED_RETIREMENT_SCHEDULES",
    "SEED_UNEMPLOYMENT_DURATION",
    "InvalidPensionInput",
    "PensionBreakdown",
    "Retirement",
    "RetirementCategory",
    "RetirementSchedule",
    "average_contribution_index",
    "basic_pension",
    "disability_grant_months",
    "maternity_leave_days",
    "minimum_contribution_months",
    "minimum_contribution_years",
    "miscarriage_leave_days",
    "pension_entitled",
    "statutory_retirement",
    "unemployment_benefit_months",
]

_ZERO = Decimal(0)

_REFORM = "《国务院关于渐进式延迟法定退休年龄的办法》 (in force 2025-01-01), Art. 1; notes §4 '2025 reform'"


class InvalidPensionInput(InvalidCalculationInput):
    """An argument of a retirement, pension or benefit calculation is unusable (see module docs)."""


_E = InvalidPensionInput


def _count(value: object, what: str, what_en: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidPensionInput(
            "not_an_integer",
            f"{what}应为不小于 {minimum} 的整数，实际为 {value!r}",
            f"{what_en} must be an integer of at least {minimum}, got {value!r}",
        )
    return value


# --- 6. statutory retirement age (2025 reform) --------------------------------------------------------


class RetirementCategory(StrEnum):
    """Who the reform's Art. 1 schedules apply to, by the *original* statutory retirement age."""

    MALE = "male"  # 男职工, originally 60
    FEMALE_55 = "female_55"  # 原法定退休年龄为五十五周岁的女职工 (e.g. 女干部)
    FEMALE_50 = "female_50"  # 原法定退休年龄为五十周岁的女职工 (e.g. 女工人)


@dataclass(frozen=True)
class RetirementSchedule:
    """One delay schedule of the 2025 reform.

    People born before ``first_cohort`` (year, month) keep ``original_age_years``. From that birth
    month on, every ``months_per_step`` birth months add one month, the first cohort already getting one
    month, up to ``max_delay_months``.
    """

    original_age_years: int
    first_cohort: tuple[int, int]
    months_per_step: int
    max_delay_months: int

    def delay_months(self, birth: date) -> int:
        """Months of delay for someone born in ``birth``'s month (the day of birth does not matter)."""
        start_year, start_month = self.first_cohort
        offset = (birth.year - start_year) * 12 + (birth.month - start_month)
        if offset < 0:
            return 0
        return min(offset // self.months_per_step + 1, self.max_delay_months)


SEED_RETIREMENT_SCHEDULES: Mapping[RetirementCategory, Seed[RetirementSchedule]] = {
    RetirementCategory.MALE: Seed(
        RetirementSchedule(60, (1965, 1), 4, 36),
        "V",
        _REFORM + ": men 60 → 63, one month per 4 birth months from 1965-01.",
    ),
    RetirementCategory.FEMALE_55: Seed(
        RetirementSchedule(55, (1970, 1), 4, 36),
        "V",
        _REFORM + ": women of original age 55 → 58, one month per 4 birth months from 1970-01.",
    ),
    RetirementCategory.FEMALE_50: Seed(
        RetirementSchedule(50, (1975, 1), 2, 60),
        "V",
        _REFORM + ": women of original age 50 → 55, one month per 2 birth months from 1975-01.",
    ),
}


@dataclass(frozen=True)
class Retirement:
    """A person's statutory retirement age and when they reach it."""

    category: RetirementCategory
    birth_date: date
    original_age_years: int
    delay_months: int
    age_years: int  # the new retirement age: age_years years and age_months months
    age_months: int  # 0–11
    retirement_year: int  # the month in which the person reaches the new age …
    retirement_month: int  # … (the 改革后退休时间 of the reform's annexed tables)
    retirement_date: date  # the day they reach it (see statutory_retirement)

    @property
    def age_in_months(self) -> int:
        return self.age_years * 12 + self.age_months


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def statutory_retirement(
    birth_date: date,
    category: RetirementCategory | str,
    *,
    schedule: RetirementSchedule | None = None,
) -> Retirement:
    """The statutory retirement age and month under the 2025 reform (**[V]**, notes §4).

    Men 60 → 63 and women of original age 55 → 58 by one month per 4 birth months (cohorts from 1965-01
    and 1970-01, at most 36 months); women of original age 50 → 55 by one month per 2 birth months (from
    1975-01, at most 60 months). Anyone born earlier keeps the old age. ``schedule`` overrides the
    national schedule of the category (:data:`SEED_RETIREMENT_SCHEDULES`).

    Derivation of the month: the new age is original age + delay months; the **retirement month** is
    the birth month plus that many months, i.e. the calendar month in which the person reaches the new
    age. This reproduces the reform's annexed tables (men born 1965-01 → 60 years 1 month → 2025-02;
    born 1976-09 or later → 63 → e.g. 2039-09). The **retirement date** is the day of that month with
    the birth day's number, or the month's last day when the month is shorter (born on the 31st, or
    on 29 February in a common year). The sources state ages and months only; agencies process
    retirements by month and the pension's first month is a local rule (**[U]**), so callers should use
    the month and treat the date as "reaches the age on".
    """
    if not isinstance(birth_date, date) or isinstance(birth_date, datetime):
        raise InvalidPensionInput(
            "not_a_date", "出生日期必须是日期", "the birth date must be a date (without a time)"
        )
    try:
        kind = RetirementCategory(category)
    except ValueError:
        raise InvalidPensionInput(
            "unknown_category",
            f"未知的退休人员类别 {category!r}（male / female_55 / female_50）",
            f"unknown retirement category {category!r} (male, female_55 or female_50)",
        ) from None
    rule = schedule if schedule is not None else SEED_RETIREMENT_SCHEDULES[kind].value
    delay = rule.delay_months(birth_date)
    total = rule.original_age_years * 12 + delay
    reached = _add_months(birth_date, total)
    return Retirement(
        category=kind,
        birth_date=birth_date,
        original_age_years=rule.original_age_years,
        delay_months=delay,
        age_years=total // 12,
        age_months=total % 12,
        retirement_year=reached.year,
        retirement_month=reached.month,
        retirement_date=reached,
    )


# --- 7. minimum contribution years --------------------------------------------------------------------


def minimum_contribution_months(retirement_year: int) -> int:
    """Minimum contribution months for a monthly pension, by the year of retirement.

    180 (15 years, 社会保险法 Art. 16, **[V]**) for retirements up to 2029; from 2030-01-01 the minimum
    rises by 6 months a year, 186 in 2030 … 240 (20 years) from 2039 on (reform Art. 2, **[V]**, notes §4).
    """
    year = _count(retirement_year, "退休年份", "retirement year", minimum=1)
    return min(180 + 6 * max(year - 2029, 0), 240)


def minimum_contribution_years(retirement_year: int) -> Decimal:
    """:func:`minimum_contribution_months` in years (15, 15.5, … 20)."""
    return Decimal(minimum_contribution_months(retirement_year)) / 12


def pension_entitled(contribution_months: int, retirement_year: int) -> bool:
    """Whether the contribution months (deemed years included) reach the minimum for the retirement
    year (国发〔2005〕38号 and the reform Art. 2, **[V]**). Those short of it may contribute longer or in
    a lump sum under the reform; that is a business decision, not computed here."""
    months = _count(contribution_months, "缴费月数", "contribution months")
    return months >= minimum_contribution_months(retirement_year)


# --- 8. basic pension (国发〔2005〕38号) ----------------------------------------------------------------

BASIC_PENSION_ACCRUAL: Seed[Decimal] = Seed(
    Decimal("0.01"),
    "V",
    "国发〔2005〕38号: 1 % of the mean of the average wage and the indexed wage per contribution year "
    "(notes §4 '基础养老金').",
)

SEED_PAYOUT_MONTHS: Mapping[int, Seed[int]] = {
    age: Seed(
        months,
        "V",
        "国发〔2005〕38号 annex, 个人账户养老金计发月数表; four independent repositories agree (notes §4)"
        + ("; one minority variant gives 207 for age 47, check the official annex" if age == 47 else "")
        + ("; one minority variant differs for ages 66–70" if 66 <= age <= 70 else "")
        + ".",
    )
    for age, months in zip(
        range(40, 71),
        (
            *(233, 230, 226, 223, 220, 216, 212, 208, 204, 199),  # 40–49
            *(195, 190, 185, 180, 175, 170, 164, 158, 152, 145),  # 50–59
            *(139, 132, 125, 117, 109, 101, 93, 84, 75, 65),  # 60–69
            56,  # 70
        ),
        strict=True,
    )
}
"""计发月数 by the age in whole years reached in the month of retirement."""


def average_contribution_index(
    months: Iterable[tuple[Decimal, Decimal]], *, rounding: Rounding | None = None
) -> Decimal:
    """本人平均缴费指数: the mean over contribution months of (own monthly base ÷ the average monthly
    wage that month is indexed against, i.e. the previous year's provincial average).

    ``months`` yields ``(base, average_monthly_wage)`` pairs, one per contribution month (deemed months
    carry the base the local rule assigns). Source: 78911.com.cn/YangLaoBaoXian/694957-5.html, **[S]**
    (notes §4); whether Shandong indexes against a different 计发基数 is **[U]**. The result is the exact
    quotient unless ``rounding`` is given (e.g. ``Rounding(Decimal("0.0001"))``; the official precision
    of the index was not found, **[U]**).
    """
    total = _ZERO
    count = 0
    for base, average in months:
        own = _amount(base, "缴费基数", "monthly base", _E)
        wage = _amount(average, "社会平均工资", "average monthly wage", _E)
        if wage == 0:
            raise InvalidPensionInput(
                "zero_wage",
                "用于计算缴费指数的平均工资不能为 0",
                "the average wage a month is indexed against cannot be 0",
            )
        total += own / wage
        count += 1
    if count == 0:
        raise InvalidPensionInput(
            "empty", "没有缴费月份，无法计算平均缴费指数", "no contribution months to average"
        )
    index = total / count
    return rounding.apply(index) if rounding is not None else index


@dataclass(frozen=True)
class PensionBreakdown:
    """A monthly basic pension and its parts (each part rounded; ``total`` is their sum)."""

    average_monthly_wage: Decimal  # 上年度在岗职工月平均工资 (or the local 计发基数)
    contribution_index: Decimal  # 本人平均缴费指数
    indexed_wage: Decimal  # 指数化月平均缴费工资, rounded
    contribution_months: int  # including deemed months
    basic_pension: Decimal  # 基础养老金
    account_balance: Decimal
    payout_months: int  # 计发月数
    account_pension: Decimal  # 个人账户养老金
    transitional_pension: Decimal  # 过渡性养老金 (provincial formula, computed by the caller)
    total: Decimal

    @property
    def contribution_years(self) -> Decimal:
        return Decimal(self.contribution_months) / 12


def basic_pension(
    *,
    average_monthly_wage: Decimal,
    contribution_index: Decimal,
    contribution_months: int,
    account_balance: Decimal,
    age_at_retirement: int,
    payout_months: Mapping[int, int],
    rounding: Rounding,
    transitional_pension: Decimal = _ZERO,
    accrual_rate: Decimal = BASIC_PENSION_ACCRUAL.value,
) -> PensionBreakdown:
    """The monthly basic pension of 国发〔2005〕38号 (**[V]**, notes §4):

    * 指数化月平均缴费工资 = average monthly wage × average contribution index (**[S]**), rounded;
    * 基础养老金 = (average monthly wage + indexed wage) / 2 × contribution years × 1 %, the years
      counted to the month (``contribution_months / 12``; computed as … × months × 1 % / 24, dividing
      last);
    * 个人账户养老金 = account balance ÷ 计发月数 of ``age_at_retirement`` (the age in whole years
      reached in the month of retirement) from ``payout_months`` (seed: :data:`SEED_PAYOUT_MONTHS`);
    * 过渡性养老金 is a provincial formula (Shandong's coefficient **[U]**) passed in already computed.

    Each part is rounded by ``rounding`` and the total is their sum. Entitlement (minimum years, see
    :func:`pension_entitled`) is not checked here.
    """
    wage = _amount(average_monthly_wage, "上年度在岗职工月平均工资", "average monthly wage", _E)
    index = _amount(contribution_index, "平均缴费指数", "average contribution index", _E)
    months = _count(contribution_months, "缴费月数", "contribution months")
    balance = _amount(account_balance, "个人账户储存额", "account balance", _E)
    transitional = _amount(transitional_pension, "过渡性养老金", "transitional pension", _E)
    accrual = _rate(accrual_rate, "计发比例", "accrual rate", _E)
    age = _count(age_at_retirement, "退休年龄", "age at retirement")
    if age not in payout_months:
        raise InvalidPensionInput(
            "unknown_age",
            f"计发月数表中没有 {age} 岁",
            f"the payout-months table has no entry for age {age}",
        )
    divisor = _count(payout_months[age], "计发月数", "payout months", minimum=1)
    indexed = rounding.apply(wage * index)
    basic = rounding.apply((wage + indexed) * months * accrual / 24)
    account = rounding.apply(balance / divisor)
    transitional = rounding.apply(transitional)
    return PensionBreakdown(
        average_monthly_wage=wage,
        contribution_index=index,
        indexed_wage=indexed,
        contribution_months=months,
        basic_pension=basic,
        account_balance=balance,
        payout_months=divisor,
        account_pension=account,
        transitional_pension=transitional,
        total=basic + account + transitional,
    )


# --- 9. other benefits --------------------------------------------------------------------------------

SEED_UNEMPLOYMENT_DURATION: Seed[tuple[tuple[int, int], ...]] = Seed(
    ((12, 12), (60, 18), (120, 24)),
    "V",
    "失业保险条例 Art. 17: contributions of 1 to under 5 years → at most 12 months, 5 to under 10 → 18, "
    "10 or more → 24 (notes §5). Pairs are (minimum contribution months, benefit months). Shandong's "
    "finer local scale is [U].",
)


def unemployment_benefit_months(
    contribution_months: int, *, scale: tuple[tuple[int, int], ...] | None = None
) -> int:
    """The longest period of unemployment benefit for the cumulative contribution months.

    失业保险条例 Art. 17 (**[V]**, notes §5): 1–<5 years → 12 months, 5–<10 → 18, ≥10 → 24; under one
    year gives 0 (Art. 14 requires a year of contributions). ``scale`` replaces the national steps with
    a local one, as ``(minimum contribution months, benefit months)`` pairs.
    """
    months = _count(contribution_months, "累计缴费月数", "contribution months")
    steps = scale if scale is not None else SEED_UNEMPLOYMENT_DURATION.value
    entitled = [benefit for minimum, benefit in steps if months >= minimum]
    return max(entitled, default=0)


SEED_DISABILITY_GRANT_MONTHS: Mapping[int, Seed[int]] = {
    grade: Seed(
        months,
        "V",
        "工伤保险条例 (2010 revision) Art. 35–37, 一次性伤残补助金 in months of own wage (notes §5; the "
        "older 24/22/20… table is pre-2011 and not used).",
    )
    for grade, months in zip(range(1, 11), (27, 25, 23, 21, 18, 16, 13, 11, 9, 7), strict=True)
}


def disability_grant_months(grade: int, *, table: Mapping[int, int] | None = None) -> int:
    """Months of own wage paid as the one-time disability grant (一次性伤残补助金) for a disability grade
    1–10: 27, 25, 23, 21, 18, 16, 13, 11, 9, 7 (工伤保险条例 Art. 35–37, **[V]**, notes §5)."""
    months = table if table is not None else seed_values(SEED_DISABILITY_GRANT_MONTHS)
    if isinstance(grade, bool) or not isinstance(grade, int) or grade not in months:
        raise InvalidPensionInput(
            "unknown_grade",
            f"伤残等级应为 1 到 10 级，实际为 {grade!r}",
            f"a disability grade is 1 to 10, got {grade!r}",
        )
    return months[grade]


SEED_MATERNITY_LEAVE_DAYS: Mapping[str, Seed[int]] = {
    key: Seed(days, "V", "女职工劳动保护特别规定 Art. 7 (notes §5 'Maternity'). " + note)
    for key, days, note in (
        ("birth", 98, "98 days, up to 15 of them before the birth."),
        ("difficult_birth", 15, "+15 days for a difficult birth (难产)."),
        ("per_extra_baby", 15, "+15 days for each additional baby of a multiple birth."),
        ("miscarriage_under_4_months", 15, "15 days for a miscarriage before 4 months of pregnancy."),
        ("miscarriage_from_4_months", 42, "42 days for a miscarriage at 4 months or later."),
    )
}
"""National maternity-leave days; Shandong's extension days are [U] and come in as ``extra_days``."""


def maternity_leave_days(*, babies: int = 1, difficult_birth: bool = False, extra_days: int = 0) -> int:
    """Maternity leave for a birth: 98 days, +15 for a difficult birth, +15 per additional baby
    (女职工劳动保护特别规定 Art. 7, **[V]**, notes §5). ``extra_days`` adds a provincial extension
    (Shandong's is **[U]**)."""
    count = _count(babies, "婴儿数", "number of babies", minimum=1)
    extra = _count(extra_days, "地方延长产假天数", "extra days")
    days = seed_values(SEED_MATERNITY_LEAVE_DAYS)
    return (
        days["birth"]
        + (days["difficult_birth"] if difficult_birth else 0)
        + days["per_extra_baby"] * (count - 1)
        + extra
    )


def miscarriage_leave_days(completed_months_of_pregnancy: int) -> int:
    """Leave after a miscarriage: 15 days if the pregnancy had not completed 4 months, 42 days from 4
    months on (女职工劳动保护特别规定 Art. 7, **[V]**, notes §5)."""
    months = _count(completed_months_of_pregnancy, "怀孕月数", "completed months of pregnancy")
    days = seed_values(SEED_MATERNITY_LEAVE_DAYS)
    return days["miscarriage_under_4_months"] if months < 4 else days["miscarriage_from_4_months"]
