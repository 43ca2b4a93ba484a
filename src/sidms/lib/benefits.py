"""Unemployment, work-injury and maternity benefits: the headline rules of ``shared/notes/business-rules.md``
§5 as pure functions of their parameters (issue 8 §7 "Payments").

No figure is hard-wired: every function takes its table or rate as an argument, and the ``SEED_*`` tables
below are the documented starting values the parameter table is seeded from (``sidms.business.parameters``),
each with its status mark ([V] verified, [S] one secondary source, [U] uncertain) and its source.

* Unemployment (失业保险条例): eligible after ≥ 1 year of contributions (Art. 14, [V]); the longest period
  paid grows with the contribution years — 1 to under 5 years 12 months, 5 to under 10 years 18, 10 or more
  24 (Art. 17, [V]); the monthly amount is set by the province below the minimum wage and above 低保 (Art. 18,
  [S]); Shandong's "90 % of the minimum wage" and Weihai's minimum wage are [U].
* Work injury (工伤保险条例): the one-time disability grant (一次性伤残补助金) for grades 1–10 is 27, 25, 23, 21,
  18, 16, 13, 11, 9, 7 months of the injured person's own wage ([V], the 2011 table); grades 1–4 also draw a
  monthly disability allowance (伤残津贴) from the fund of 90, 85, 80, 75 % of the own wage, topped up to the
  local minimum wage (Art. 35; grade 1's 90 % [S] in the notes, the others from reproductions of the text);
  after retirement a basic pension below the allowance is made up by the fund (Art. 35 ¶2).
* Maternity (女职工劳动保护特别规定): 98 days of leave, +15 for a difficult birth, +15 for each additional
  baby; a miscarriage 15 days under 4 months of pregnancy, 42 from 4 months (Art. 7, [V]); the allowance
  (生育津贴) is the employer's previous-year average monthly wage for those days (Art. 8, [V]); the day rate
  divides the monthly wage by a number of days that is local practice ([U]: 30 here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sidms.lib.contributions import InvalidCalculationInput, Rounding, Seed, _amount, _rate
from sidms.lib.money import yuan_exact

__all__ = [
    "SEEDS",
    "SEED_DISABILITY_ALLOWANCE_RATIOS",
    "SEED_DISABILITY_GRANT_MONTHS",
    "SEED_MATERNITY_DAYS",
    "SEED_MATERNITY_MONTH_DAYS",
    "SEED_MINIMUM_WAGE",
    "SEED_UNEMPLOYMENT_DURATION",
    "SEED_UNEMPLOYMENT_MIN_MONTHS",
    "SEED_UNEMPLOYMENT_RATIO",
    "Amount",
    "InvalidCalculationInput",
    "Rounding",
    "disability_allowance",
    "disability_grant",
    "disability_top_up",
    "maternity_allowance",
    "maternity_days",
    "unemployment_benefit",
    "unemployment_months",
]

SEED_UNEMPLOYMENT_MIN_MONTHS = Seed(
    12, "V", "失业保险条例 Art. 14: at least one year of contributions (notes §5 'Unemployment')."
)
SEED_UNEMPLOYMENT_DURATION: Seed[Mapping[int, int]] = Seed(
    {1: 12, 5: 18, 10: 24},
    "V",
    "失业保险条例 Art. 17: 1 to under 5 contribution years → at most 12 months; 5 to under 10 → 18; 10 or "
    "more → 24 (notes §5; m.vobao.com/ask/article/911560538816146173.shtml). Shandong's finer scale [U].",
)
SEED_UNEMPLOYMENT_RATIO = Seed(
    Decimal("0.9"),
    "U",
    "失业保险条例 Art. 18: below the minimum wage, above 低保 [S]; Shandong's 90 % of the minimum wage is "
    "commonly said but not verified (notes §5; 山东省失业保险规定, 省政府令161号). Example value.",
)
SEED_MINIMUM_WAGE = Seed(
    Decimal("2200"),
    "U",
    "Weihai's monthly minimum wage (Shandong class-1 area) was not retrieved; example value, to be checked "
    "against the Shandong notice on minimum wages.",
)
SEED_DISABILITY_GRANT_MONTHS: Seed[Mapping[int, int]] = Seed(
    {1: 27, 2: 25, 3: 23, 4: 21, 5: 18, 6: 16, 7: 13, 8: 11, 9: 9, 10: 7},
    "V",
    "工伤保险条例 (2010 revision) Art. 35–37: one-time disability grant in months of own wage for grades 1–10 "
    "(notes §5 'Work injury'; m.64365.com/ask/16875516.aspx).",
)
SEED_DISABILITY_ALLOWANCE_RATIOS: Seed[Mapping[int, Decimal]] = Seed(
    {1: Decimal("0.90"), 2: Decimal("0.85"), 3: Decimal("0.80"), 4: Decimal("0.75")},
    "S",
    "工伤保险条例 (2010 revision) Art. 35(2): grades 1–4 draw a monthly disability allowance (伤残津贴) from the "
    "fund of 90/85/80/75 % of own wage, topped up by the fund to the local minimum wage; stopped at retirement, "
    "when the basic pension is paid (the fund makes up a lower pension). Grade 1's 90 % is [S] in notes §5 "
    "(fzbb.hnshkx.cn); grades 2–4 from reproductions of the article (law.t8p.cn/articles/6895361997079191552."
    "html; 110ask.com/zhishi/4094961447440124982.html; m.64365.com/ask/4311882.aspx), not the official text. "
    "Grades 5–6 are paid by the employer (Art. 36), 7–10 none (Art. 37). Paid from the month after the "
    "appraisal's conclusion (local practice, not retrieved for Shandong).",
)
SEED_MATERNITY_DAYS: Seed[Mapping[str, int]] = Seed(
    {"standard": 98, "difficult": 15, "extra_baby": 15, "miscarriage_early": 15, "miscarriage_late": 42},
    "V",
    "女职工劳动保护特别规定 Art. 7: 98 days; +15 difficult birth; +15 per additional baby; miscarriage 15 days "
    "(under 4 months) or 42 days (4 months or more) (notes §5 'Maternity'). Shandong's extension [U].",
)
SEED_MATERNITY_MONTH_DAYS = Seed(
    Decimal("30"),
    "U",
    "女职工劳动保护特别规定 Art. 8 pays the employer's previous-year average monthly wage [V]; the day rate's "
    "divisor (30 days) is local practice, not retrieved for Shandong. Example value.",
)


SEEDS: Mapping[str, Seed[Any]] = {
    "unemployment.min_contribution_months": SEED_UNEMPLOYMENT_MIN_MONTHS,
    "unemployment.duration_months": SEED_UNEMPLOYMENT_DURATION,
    "unemployment.benefit_ratio": SEED_UNEMPLOYMENT_RATIO,
    "wage.minimum_monthly": SEED_MINIMUM_WAGE,
    "work_injury.disability_grant_months": SEED_DISABILITY_GRANT_MONTHS,
    "work_injury.disability_allowance_ratios": SEED_DISABILITY_ALLOWANCE_RATIOS,
    "maternity.leave_days": SEED_MATERNITY_DAYS,
    "maternity.month_days": SEED_MATERNITY_MONTH_DAYS,
}
"""The seeds by the parameter key they start."""


def _bad(code: str, zh: str, en: str) -> InvalidCalculationInput:
    return InvalidCalculationInput(code, zh, en)


@dataclass(frozen=True)
class Amount:
    """A benefit amount and the figures it came from, for the entitlement's ``basis``."""

    amount: Decimal
    basis: str


def unemployment_months(contribution_months: int, duration: Mapping[int, int]) -> int:
    """The longest period (months) unemployment benefit is paid after CONTRIBUTION_MONTHS of contributions:
    the DURATION entry of the largest whole-years threshold reached (0 below the smallest)."""
    if (
        isinstance(contribution_months, bool)
        or not isinstance(contribution_months, int)
        or contribution_months < 0
    ):
        raise _bad("months", "缴费月数必须是非负整数", "contribution months must be a non-negative int")
    years = contribution_months // 12
    reached = [threshold for threshold in duration if threshold <= years]
    return duration[max(reached)] if reached else 0


def unemployment_benefit(minimum_wage: Decimal, ratio: Decimal, rounding: Rounding) -> Amount:
    """The monthly unemployment benefit: RATIO of the minimum wage (失业保险条例 Art. 18: below it)."""
    wage = _amount(minimum_wage, "最低工资标准", "minimum wage")
    share = _rate(ratio, "失业保险金占最低工资比例", "ratio to the minimum wage")
    if share >= 1:
        raise _bad("ratio", "失业保险金须低于最低工资标准", "the benefit must be below the minimum wage")
    amount = rounding.apply(wage * share)
    return Amount(amount, f"最低工资标准 {yuan_exact(wage)} × {share} = {yuan_exact(amount)}")


def disability_grant(grade: int, own_wage: Decimal, months: Mapping[int, int], rounding: Rounding) -> Amount:
    """The one-time disability grant for GRADE (1–10): MONTHS[grade] × the person's own monthly wage."""
    if grade not in months:
        raise _bad("grade", "伤残等级应为 1 至 10 级", "the disability grade must be 1 to 10")
    wage = _amount(own_wage, "本人工资", "own wage")
    amount = rounding.apply(wage * months[grade])
    return Amount(
        amount,
        f"{grade}级伤残：本人工资 {yuan_exact(wage)} × {months[grade]} 个月 = {yuan_exact(amount)}",
    )


def disability_allowance(
    grade: int, own_wage: Decimal, ratios: Mapping[int, Decimal], minimum_wage: Decimal, rounding: Rounding
) -> Amount:
    """The monthly disability allowance (伤残津贴, Art. 35) for GRADE: RATIOS[grade] × the person's own
    monthly wage, rounded, and at least the local MINIMUM_WAGE (the fund makes up the difference). Only the
    grades in RATIOS (1–4) draw it from the fund."""
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 10:
        raise _bad("grade", "伤残等级应为 1 至 10 级", "the disability grade must be 1 to 10")
    if grade not in ratios:
        raise _bad("grade", "伤残津贴仅由工伤保险基金向一至四级伤残按月支付",
                   "the fund pays a monthly disability allowance for grades 1 to 4 only")  # fmt: skip
    wage = _amount(own_wage, "本人工资", "own wage")
    share = _rate(ratios[grade], "伤残津贴比例", "allowance ratio")
    floor = _amount(minimum_wage, "最低工资标准", "minimum wage")
    computed = rounding.apply(wage * share)
    if computed >= floor:
        return Amount(
            computed,
            f"{grade}级伤残：本人工资 {yuan_exact(wage)} × {share} = {yuan_exact(computed)}",
        )
    amount = rounding.apply(floor)
    return Amount(
        amount,
        f"{grade}级伤残：本人工资 {yuan_exact(wage)} × {share} = {yuan_exact(computed)}，低于最低工资标准，补足至 {yuan_exact(amount)}",
    )


def disability_top_up(allowance: Decimal, pension: Decimal, rounding: Rounding) -> Amount:
    """The monthly top-up after retirement (工伤保险条例 (国务院令第586号修订) Art. 35 ¶2, grades 1–4): when the
    basic pension is below the disability allowance paid until retirement, the fund pays the difference."""
    drawn = _amount(allowance, "伤残津贴", "disability allowance")
    paid = _amount(pension, "基本养老金", "basic pension")
    if paid >= drawn:
        raise _bad("top_up", "基本养老金不低于伤残津贴，无差额可补",
                   "the basic pension is not below the disability allowance: nothing to make up")  # fmt: skip
    amount = rounding.apply(drawn - paid)
    return Amount(
        amount,
        f"伤残津贴 {yuan_exact(drawn)} − 基本养老金 {yuan_exact(paid)} = {yuan_exact(amount)}",
    )


def maternity_days(
    days: Mapping[str, int],
    *,
    babies: int = 1,
    difficult: bool = False,
    miscarriage_months: int | None = None,
) -> int:
    """Days of maternity leave (Art. 7): a birth of BABIES, DIFFICULT or not; or a miscarriage after
    MISCARRIAGE_MONTHS months of pregnancy."""
    if miscarriage_months is not None:
        if miscarriage_months < 0:
            raise _bad("months", "怀孕月数不能为负数", "months of pregnancy must not be negative")
        return days["miscarriage_late"] if miscarriage_months >= 4 else days["miscarriage_early"]
    if babies < 1:
        raise _bad("babies", "生育子女数至少为 1", "at least one baby")
    return days["standard"] + (days["difficult"] if difficult else 0) + days["extra_baby"] * (babies - 1)


def maternity_allowance(
    average_monthly_wage: Decimal, days: int, month_days: Decimal, rounding: Rounding
) -> Amount:
    """The maternity allowance (Art. 8): the employer's previous-year average monthly wage ÷ MONTH_DAYS ×
    DAYS of leave, rounded once at the end."""
    wage = _amount(average_monthly_wage, "用人单位上年度职工月平均工资", "employer's average monthly wage")
    divisor = _amount(month_days, "月计薪天数", "days per month")
    if divisor == 0 or days < 0:
        raise _bad("days", "天数必须为正", "days must be positive")
    amount = rounding.apply(wage / divisor * days)
    return Amount(
        amount,
        f"单位上年度职工月平均工资 {yuan_exact(wage)} ÷ {divisor} × {days} 天 = {yuan_exact(amount)}",
    )
