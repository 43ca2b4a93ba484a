"""Contributions and the pension personal account: the national formulas as pure functions.

Every parameter that sidms keeps as versioned, effective-dated data (rates, base limits, the late-fee
rate, account interest rates, the rounding rule, average wages) is an *argument* here, never a constant:
the caller reads the parameter version in force and passes it in (DESIGN principle 5, "Rules are data;
standards are pure code"). What this module does own is the arithmetic the national documents fix.

The verified values are offered as ``SEED_*`` tables, each entry a :class:`Seed` carrying its value,
its status in ``shared/notes/business-rules.md`` ([V] verified, [S] one secondary source, [U]
uncertain) and its source, so that a data migration can seed the parameter tables from them. Nothing in
this module reads a seed table by itself.

All money and rates are :class:`~decimal.Decimal` (``int`` is accepted and converted). A ``float`` is
refused, because ``Decimal(0.07)`` is 0.07000000000000000666… and a rate that is almost right makes
amounts that are a cent wrong.

Bad input raises :class:`InvalidCalculationInput` (a :class:`sidms.lib.errors.StandardError`) with a
stable ``reason`` code, a Chinese ``message`` and an English ``message_en``:

========================== ==========================================================================
``not_decimal``            a float, bool, string or other non-Decimal where money or a rate belongs
``not_finite``             ``Decimal("NaN")`` or an infinity
``negative_amount``        a negative wage, base, balance, credit or principal
``rate_out_of_range``      a rate or ratio outside [0, 1] (ratios for base limits: > 0)
``limits_order``           a floor above its ceiling
``base_out_of_range``      a flexible worker's chosen base outside the year's limits
``unknown_industry_class`` a work-injury industry class that is not 1–8 or has no rate
``unknown_tier``           a floating tier the class does not have (class 1 has no 80 % or 50 % tier)
``month_out_of_range``     a credit month outside 1–12
``rounding_precision``     a rounding precision that is not a power of ten between 10⁻⁸ and 100
``rounding_mode``          an unknown rounding mode
``not_a_date``             a date argument that is not a plain :class:`datetime.date`
``unknown_method``         an unknown account-interest method
========================== ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from typing import Generic, Literal, TypeVar

from sidms.lib.errors import StandardError

__all__ = [
    "ANNUAL_METHOD_FACTOR",
    "ROUNDING_MODES",
    "ROUNDING_PRESETS",
    "SEED_ACCOUNT_INTEREST",
    "SEED_BASE_LIMIT_RATIOS",
    "SEED_CONTRIBUTION_RATES",
    "SEED_LATE_FEE_DAILY_RATE",
    "SEED_PROVINCIAL_AVERAGE_WAGE",
    "SEED_ROUNDING",
    "SEED_WORK_INJURY_BASE_RATES",
    "SEED_WORK_INJURY_TIERS",
    "AccountBalance",
    "AccountYear",
    "BaseLimits",
    "ClampedBase",
    "Contribution",
    "InterestMethod",
    "InvalidCalculationInput",
    "LateFee",
    "Rounding",
    "Seed",
    "Status",
    "account_balance_as_of",
    "account_interest_annual",
    "account_interest_month_product",
    "account_year_end",
    "base_limits",
    "base_limits_from_annual",
    "clamp_base",
    "flexible_pension_contribution",
    "late_fee",
    "late_fee_days",
    "monthly_contribution",
    "seed_values",
    "work_injury_contribution",
    "work_injury_rate",
]

T = TypeVar("T")
K = TypeVar("K")

Status = Literal["V", "S", "U"]
"""The status marks of ``shared/notes/business-rules.md``: verified, one secondary source, uncertain."""

_ZERO = Decimal(0)
_ONE = Decimal(1)


class InvalidCalculationInput(StandardError):
    """An argument of a contribution, account or benefit calculation is unusable (see module docs)."""


@dataclass(frozen=True)
class Seed(Generic[T]):
    """A documented starting value for a parameter table: the value, its status mark and its source.

    ``status`` is the mark in ``shared/notes/business-rules.md``; a migration that seeds a parameter
    table from an ``[U]`` entry must say so to the administrator, who confirms it against the notice.
    """

    value: T
    status: Status
    source: str


def seed_values(table: Mapping[K, Seed[T]]) -> dict[K, T]:
    """The bare values of a seed table, e.g. ``seed_values(SEED_ACCOUNT_INTEREST)[2024]``."""
    return {key: seed.value for key, seed in table.items()}


# --- input checks -------------------------------------------------------------------------------------


_Error = type[InvalidCalculationInput]


def _decimal(value: object, what: str, what_en: str, error: _Error = InvalidCalculationInput) -> Decimal:
    """``value`` as a finite Decimal; ``int`` is converted, everything else (float, bool, str) refused.

    ``error`` is the subclass to raise (the pension module raises its own).
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise error(
            "not_decimal",
            f"{what}必须是精确的十进制数（Decimal），不能是 {type(value).__name__}",
            f"{what_en} must be a Decimal (or an int), not {type(value).__name__}",
        )
    result = Decimal(value)
    if not result.is_finite():
        raise error("not_finite", f"{what}不是有限数值", f"{what_en} is not a finite number")
    return result


def _amount(value: object, what: str, what_en: str, error: _Error = InvalidCalculationInput) -> Decimal:
    """A non-negative money amount (wage, base, balance, credit, principal)."""
    result = _decimal(value, what, what_en, error)
    if result < 0:
        raise error("negative_amount", f"{what}不能为负数", f"{what_en} must not be negative")
    return result


def _rate(value: object, what: str, what_en: str, error: _Error = InvalidCalculationInput) -> Decimal:
    """A rate written as a fraction (0.08 for 8 %), within [0, 1]."""
    result = _decimal(value, what, what_en, error)
    if not _ZERO <= result <= _ONE:
        raise error(
            "rate_out_of_range",
            f"{what}应在 0 到 1 之间（以小数表示，如 8% 写作 0.08）",
            f"{what_en} must be between 0 and 1 (a fraction: 8 % is 0.08)",
        )
    return result


def _plain_date(value: object, what: str, what_en: str) -> date:
    # datetime is a subclass of date, but subtracting a datetime from a date raises TypeError and a
    # time of day has no meaning for day counts.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidCalculationInput(
            "not_a_date", f"{what}必须是日期", f"{what_en} must be a date (without a time)"
        )
    return value


def _month(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
        raise InvalidCalculationInput(
            "month_out_of_range",
            f"月份应为 1 到 12 的整数，实际为 {value!r}",
            f"a month must be an integer from 1 to 12, got {value!r}",
        )
    return value


# --- 1. rounding --------------------------------------------------------------------------------------

ROUNDING_MODES: Mapping[str, str] = {
    ROUND_HALF_UP: "四舍五入",
    ROUND_UP: "见零进整（有尾数即进位，如见分进角、见角分进元）",
    ROUND_DOWN: "舍去尾数（如舍角以下、舍元以下）",
    ROUND_HALF_EVEN: "四舍六入五成双（银行家舍入）",
}
"""The modes a :class:`Rounding` accepts (the :mod:`decimal` constants) with their Chinese names.

``ROUND_UP`` and ``ROUND_DOWN`` act on the magnitude, so a reversal (a negative amount) rounds to exactly
the negative of the original entry.
"""

_MIN_EXPONENT = -8
_MAX_EXPONENT = 2


@dataclass(frozen=True)
class Rounding:
    """A rounding rule as a value: round to a multiple of ``precision`` by ``mode``.

    ``precision`` is a power of ten (``Decimal("0.01")`` to the fen, ``"0.1"`` to the jiao, ``"1"`` to
    the yuan). ``mode`` is one of :data:`ROUNDING_MODES`. ``discard_below`` (optional, a power of ten
    finer than ``precision``) first truncates digits below it, which is how 见角进元 differs from
    见角分进元: with ``Rounding(Decimal(1), ROUND_UP, discard_below=Decimal("0.1"))`` a jiao raises
    the yuan but a fen alone does not (12.10 → 13, 12.09 → 12).

    No official rounding rule for social-insurance amounts was found: **[U]** (notes §2 "Rounding").
    Published contribution examples are to the fen; the Shandong 2019 base limits are whole yuan,
    nearest yuan. The named presets in :data:`ROUNDING_PRESETS` follow the precision options of a
    housing-fund system (``yuelaotou/zhengxin`` ``syscommon/arithmetic``, **[S]**).
    """

    precision: Decimal
    mode: str = ROUND_HALF_UP
    discard_below: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", _check_step(self.precision, "舍入精度", "rounding precision"))
        if self.mode not in ROUNDING_MODES:
            raise InvalidCalculationInput(
                "rounding_mode",
                f"未知的舍入方式 {self.mode!r}",
                f"unknown rounding mode {self.mode!r}; use one of {sorted(ROUNDING_MODES)}",
            )
        if self.discard_below is not None:
            below = _check_step(self.discard_below, "截尾精度", "discard_below")
            object.__setattr__(self, "discard_below", below)
            if below >= self.precision:
                raise InvalidCalculationInput(
                    "rounding_precision",
                    "截尾精度必须细于舍入精度",
                    "discard_below must be finer than the precision",
                )

    def apply(self, amount: Decimal) -> Decimal:
        """Round ``amount``; the result has exactly the precision's number of decimal places."""
        value = _decimal(amount, "金额", "amount")
        if self.discard_below is not None:
            value = _to_step(value, self.discard_below, ROUND_DOWN)
        return _to_step(value, self.precision, self.mode)


def _check_step(step: object, what: str, what_en: str) -> Decimal:
    value = _decimal(step, what, what_en)
    normal = value.normalize()
    sign, digits, exponent = normal.as_tuple()
    if (
        sign
        or digits != (1,)
        or not isinstance(exponent, int)
        or not _MIN_EXPONENT <= exponent <= _MAX_EXPONENT
    ):
        raise InvalidCalculationInput(
            "rounding_precision",
            f"{what}必须是 10 的整数次幂（如 0.01、0.1、1），实际为 {value}",
            f"{what_en} must be a power of ten such as 0.01, 0.1 or 1, got {value}",
        )
    return value


_QUANTA: dict[Decimal, tuple[int, Decimal]] = {}


def _to_step(value: Decimal, step: Decimal, mode: str) -> Decimal:
    known = _QUANTA.get(step)
    if known is None:
        exponent = step.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        known = _QUANTA[step] = (exponent, Decimal(1).scaleb(min(exponent, 0)))
    exponent, quantum = known
    if exponent <= 0:
        # A step of 1, 0.1, 0.01 …: rounding to it is quantizing to it in the same mode (one operation; a
        # ledger run rounds three amounts per entry). Same result as the general form below.
        return value.quantize(quantum, rounding=mode)
    rounded = (value / step).to_integral_value(rounding=mode) * step
    return rounded.quantize(quantum)


ROUNDING_PRESETS: Mapping[str, Rounding] = {
    "四舍五入到分": Rounding(Decimal("0.01"), ROUND_HALF_UP),
    "四舍五入到角": Rounding(Decimal("0.1"), ROUND_HALF_UP),
    "四舍五入到元": Rounding(Decimal("1"), ROUND_HALF_UP),
    "见分进角": Rounding(Decimal("0.1"), ROUND_UP),
    "见角进元": Rounding(Decimal("1"), ROUND_UP, discard_below=Decimal("0.1")),
    "见角分进元": Rounding(Decimal("1"), ROUND_UP),
    "舍角以下": Rounding(Decimal("0.1"), ROUND_DOWN),
    "舍元以下": Rounding(Decimal("1"), ROUND_DOWN),
}
"""Named rounding rules as housing-fund systems label them (**[S]**, see :class:`Rounding`).

舍角以下 keeps the jiao and drops the fen (12.39 → 12.3); 舍元以下 drops jiao and fen (12.39 → 12).
"""

SEED_ROUNDING: Mapping[str, Seed[Rounding]] = {
    "amount": Seed(
        ROUNDING_PRESETS["四舍五入到分"],
        "U",
        "No official rule found (notes §2 'Rounding'); published contribution examples are to the fen.",
    ),
    "base_limit": Seed(
        ROUNDING_PRESETS["四舍五入到元"],
        "U",
        "Derived from the Shandong 2019 limits 3,269 / 16,346 (65,383/12×0.6 = 3,269.15; ×3 = "
        "16,345.75), Qingdao notice via plnmw hzovlztoap [S]; notes §2.",
    ),
}


# --- 2. contribution base -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseLimits:
    """The year's lower and upper limit of the monthly contribution base (缴费基数下限/上限)."""

    floor: Decimal
    ceiling: Decimal

    def __post_init__(self) -> None:
        floor = _amount(self.floor, "缴费基数下限", "base floor")
        ceiling = _amount(self.ceiling, "缴费基数上限", "base ceiling")
        if floor > ceiling:
            raise InvalidCalculationInput(
                "limits_order",
                f"缴费基数下限 {floor} 高于上限 {ceiling}",
                f"the base floor {floor} is above the ceiling {ceiling}",
            )
        # Store Decimals even when ints were passed (frozen, hence object.__setattr__).
        object.__setattr__(self, "floor", floor)
        object.__setattr__(self, "ceiling", ceiling)

    def contains(self, base: Decimal) -> bool:
        return self.floor <= base <= self.ceiling


SEED_BASE_LIMIT_RATIOS: Mapping[str, Seed[Decimal]] = {
    "floor": Seed(
        Decimal("0.6"),
        "V",
        "国办发〔2019〕13号 降低社会保险费率综合方案: 60 % of the provincial 全口径城镇单位就业人员"
        "平均工资 of the previous year (notes §2 'Base limits').",
    ),
    "ceiling": Seed(
        Decimal("3"),
        "V",
        "国办发〔2019〕13号: 300 % of the same average (notes §2 'Base limits').",
    ),
}

SEED_PROVINCIAL_AVERAGE_WAGE: Mapping[int, Seed[Decimal]] = {
    2018: Seed(
        Decimal("65383"),
        "S",
        "Shandong 2018 全口径城镇单位就业人员平均工资, yuan per YEAR (5,449/month), basis of the limits "
        "from 2019 (Qingdao notice via plnmw hzovlztoap; notes §2 'Shandong figures'). Later years are "
        "[U] in the notes and deliberately not seeded.",
    ),
}
"""Provincial average wages by the year they were earned, in yuan per year (not per month)."""


def _ratios(floor_ratio: Decimal, ceiling_ratio: Decimal) -> tuple[Decimal, Decimal]:
    low = _decimal(floor_ratio, "下限比例", "floor ratio")
    high = _decimal(ceiling_ratio, "上限比例", "ceiling ratio")
    if low <= 0 or high <= 0:
        raise InvalidCalculationInput(
            "rate_out_of_range",
            "缴费基数上下限比例必须大于 0",
            "the floor and ceiling ratios must be positive",
        )
    if low > high:
        raise InvalidCalculationInput(
            "limits_order",
            f"下限比例 {low} 高于上限比例 {high}",
            f"the floor ratio {low} is above the ceiling ratio {high}",
        )
    return low, high


def base_limits(
    average_monthly_wage: Decimal,
    floor_ratio: Decimal,
    ceiling_ratio: Decimal,
    rounding: Rounding,
) -> BaseLimits:
    """The monthly base limits: average monthly wage × ratio, each rounded by ``rounding``.

    Source: 国办发〔2019〕13号, limits are 60 % and 300 % of the provincial 全口径城镇单位就业人员平均
    工资 of the previous year **[V]**; the rounding of the limits is **[U]** (notes §2).

    Pass the *unrounded* monthly average. Shandong 2018: 65,383 / 12 = 5,448.58…; × 3 = 16,345.75 →
    16,346, whereas the published monthly figure 5,449 × 3 = 16,347 is one yuan off. When the average
    is published per year, prefer :func:`base_limits_from_annual`, which divides last.
    """
    wage = _amount(average_monthly_wage, "月平均工资", "average monthly wage")
    low, high = _ratios(floor_ratio, ceiling_ratio)
    return BaseLimits(rounding.apply(wage * low), rounding.apply(wage * high))


def base_limits_from_annual(
    average_annual_wage: Decimal,
    floor_ratio: Decimal,
    ceiling_ratio: Decimal,
    rounding: Rounding,
) -> BaseLimits:
    """As :func:`base_limits` from an annual average: annual × ratio ÷ 12, dividing last (exact until the
    single division, so a limit that falls on a rounding half is rounded as the notice rounds it).

    Shandong 2018 (notes §2, **[S]**): 65,383 × 0.6 ÷ 12 = 3,269.15 → 3,269; 65,383 × 3 ÷ 12 =
    16,345.75 → 16,346 (nearest yuan).
    """
    wage = _amount(average_annual_wage, "年平均工资", "average annual wage")
    low, high = _ratios(floor_ratio, ceiling_ratio)
    return BaseLimits(rounding.apply(wage * low / 12), rounding.apply(wage * high / 12))


@dataclass(frozen=True)
class ClampedBase:
    """The contribution base after applying the year's limits, and what happened to the declared wage."""

    base: Decimal
    declared: Decimal
    raised: bool  # declared wage below the floor: the base is the floor (按下限缴纳)
    lowered: bool  # declared wage above the ceiling: the base is the ceiling (按上限缴纳)

    @property
    def adjusted(self) -> bool:
        return self.raised or self.lowered


def clamp_base(declared_wage: Decimal, limits: BaseLimits) -> ClampedBase:
    """The monthly contribution base for a declared wage (normally last year's average monthly wage).

    Below the floor the base is the floor, above the ceiling it is the ceiling, otherwise the declared
    wage itself (国办发〔2019〕13号, notes §2 'Base limits', **[V]**). The declared wage is not rounded:
    round it beforehand if the local rule declares whole yuan. A declared wage of 0 (no wage) is raised
    to the floor.
    """
    declared = _amount(declared_wage, "申报工资", "declared wage")
    floor, ceiling = limits.floor, limits.ceiling
    if declared < floor:
        return ClampedBase(base=floor, declared=declared, raised=True, lowered=False)
    if declared > ceiling:
        return ClampedBase(base=ceiling, declared=declared, raised=False, lowered=True)
    return ClampedBase(base=declared, declared=declared, raised=False, lowered=False)


# --- 3. monthly contributions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """One month's contribution for one person and one insurance, each amount already rounded.

    ``account_credit`` is the part credited to the personal pension account (already included in the
    individual amount for employees; part of the individual's 20 % for flexible workers).
    """

    unit_amount: Decimal
    individual_amount: Decimal
    account_credit: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_amount + self.individual_amount


SEED_CONTRIBUTION_RATES: Mapping[str, Seed[Decimal]] = {
    "pension.unit": Seed(
        Decimal("0.16"),
        "V",
        "国办发〔2019〕13号 from 2019-05-01 (national); Shandong/Weihai at 16 % is [S] (notes §2).",
    ),
    "pension.individual": Seed(
        Decimal("0.08"), "V", "国发〔2005〕38号 from 2006-01-01 (notes §2 'Pension, individual')."
    ),
    "pension.account": Seed(
        Decimal("0.08"),
        "V",
        "国发〔2005〕38号: the individual's 8 % is credited in full to the personal account (notes §3).",
    ),
    "unemployment.unit": Seed(
        Decimal("0.007"),
        "S",
        "Shandong split seen for Qingdao (isslerlaw oddelzeqrs); total 1 % is [V] national; Weihai "
        "pages conflict [U] (notes §2 'Unemployment').",
    ),
    "unemployment.individual": Seed(Decimal("0.003"), "S", "As unemployment.unit (notes §2 'Unemployment')."),
    "medical.individual": Seed(
        Decimal("0.02"),
        "S",
        "Weihai pages (seridoat); notes §2 'Medical, Weihai rates'. The Weihai unit rate conflicts "
        "(8 % vs 9 %, [U]) and is deliberately not seeded; individuals pay no maternity premium "
        "(国办发〔2019〕10号, [V]).",
    ),
    "flexible.pension": Seed(
        Decimal("0.20"),
        "V",
        "灵活就业人员: 20 % of the chosen base, paid by the individual alone (notes §2 'Flexible "
        "employment'; several sources agree).",
    ),
    "flexible.account": Seed(
        Decimal("0.08"), "V", "Of the flexible worker's 20 %, 8 % goes to the personal account (notes §2)."
    ),
}
"""Contribution rates as fractions, keyed ``insurance.party``."""


def monthly_contribution(
    base: Decimal,
    *,
    unit_rate: Decimal,
    individual_rate: Decimal,
    rounding: Rounding,
    account_rate: Decimal = _ZERO,
) -> Contribution:
    """Base × rate for the unit and for the individual, and base × account rate to the personal account.

    Pension for enterprise employees: unit 16 %, individual 8 %, account 8 % (国办发〔2019〕13号,
    国发〔2005〕38号, **[V]**). Medical: the unit rate is a local parameter (Weihai 8 % or 9 %, **[U]**),
    individual 2 % (**[S]**), account 0 here. Unemployment: Shandong 0.7 % / 0.3 % (**[S]**). Each
    amount is rounded separately by ``rounding`` (rule **[U]**, notes §2 'Rounding').

    ``base`` is the clamped base (see :func:`clamp_base`); rates are fractions in [0, 1].
    """
    amount = _amount(base, "缴费基数", "contribution base")
    unit = _rate(unit_rate, "单位费率", "unit rate")
    individual = _rate(individual_rate, "个人费率", "individual rate")
    account = _rate(account_rate, "记账比例", "account rate")
    if account > unit + individual:
        raise InvalidCalculationInput(
            "rate_out_of_range",
            "划入个人账户的比例不能高于单位与个人费率之和",
            "the account rate cannot exceed the unit and individual rates together",
        )
    return Contribution(
        unit_amount=rounding.apply(amount * unit),
        individual_amount=rounding.apply(amount * individual),
        account_credit=rounding.apply(amount * account),
    )


SEED_WORK_INJURY_BASE_RATES: Mapping[int, Seed[Decimal]] = {
    industry_class: Seed(
        Decimal(rate),
        "V",
        "人社部发〔2015〕71号 (from 2015-10-01), national base rate of industry risk class "
        f"{industry_class} (GB/T 4754-2011); notes §2 'Work injury'.",
    )
    for industry_class, rate in enumerate(
        ("0.002", "0.004", "0.007", "0.009", "0.011", "0.013", "0.016", "0.019"), start=1
    )
}
"""National work-injury base rates (基准费率) by industry risk class 1–8, as fractions of the base."""

_CLASS_1_TIERS = frozenset({100, 120, 150})
_OTHER_TIERS = frozenset({50, 80, 100, 120, 150})

SEED_WORK_INJURY_TIERS: Mapping[int, Seed[frozenset[int]]] = {
    industry_class: Seed(
        _CLASS_1_TIERS if industry_class == 1 else _OTHER_TIERS,
        "V",
        "人社部发〔2015〕71号: class 1 has three tiers (base rate, up to 120 % or 150 %); classes 2–8 "
        "have five (also down to 80 % or 50 %). Notes §2 'Work injury'.",
    )
    for industry_class in range(1, 9)
}
"""The floating tiers (浮动档次) each industry class may be placed in, as percent of the base rate."""


def work_injury_rate(
    industry_class: int,
    tier_percent: int,
    *,
    base_rates: Mapping[int, Decimal],
    tiers: Mapping[int, frozenset[int]] | None = None,
) -> Decimal:
    """The unit's work-injury rate: the class's base rate × the unit's floating tier.

    人社部发〔2015〕71号 **[V]**: classes 1–8; class 1 may float to 120 % or 150 %, classes 2–8 also down
    to 80 % or 50 %. ``tiers`` defaults to those national tiers (:data:`SEED_WORK_INJURY_TIERS`); a tier
    the class does not have is refused (``unknown_tier``), e.g. 80 % for class 1. ``tier_percent`` is
    an integer percent (120 for 120 %).
    """
    allowed = tiers if tiers is not None else seed_values(SEED_WORK_INJURY_TIERS)
    if (
        isinstance(industry_class, bool)
        or not isinstance(industry_class, int)
        or not 1 <= industry_class <= 8
        or industry_class not in base_rates
        or industry_class not in allowed
    ):
        raise InvalidCalculationInput(
            "unknown_industry_class",
            f"工伤保险行业风险类别应为 1 到 8 且已设定基准费率，实际为 {industry_class!r}",
            f"the work-injury industry class must be 1 to 8 with a base rate, got {industry_class!r}",
        )
    if isinstance(tier_percent, bool) or tier_percent not in allowed[industry_class]:
        shown = "、".join(f"{t}%" for t in sorted(allowed[industry_class]))
        raise InvalidCalculationInput(
            "unknown_tier",
            f"第 {industry_class} 类行业没有 {tier_percent!r}% 的浮动档次（可选：{shown}）",
            f"industry class {industry_class} has no {tier_percent!r} % tier "
            f"(allowed: {sorted(allowed[industry_class])})",
        )
    base_rate = _rate(base_rates[industry_class], "工伤基准费率", "work-injury base rate")
    return _rate(base_rate * tier_percent / 100, "工伤费率", "work-injury rate")


def work_injury_contribution(
    base: Decimal,
    industry_class: int,
    tier_percent: int,
    *,
    base_rates: Mapping[int, Decimal],
    rounding: Rounding,
    tiers: Mapping[int, frozenset[int]] | None = None,
) -> Contribution:
    """Work-injury contribution for one person's base: unit only, nothing from the individual or to an
    account. Employees pay no work-injury premium (工伤保险条例 Art. 10; the notes record it from the
    Henan 权益记录单 "work-injury insurance has no individual contribution", §6, **[S]**). The rate is
    :func:`work_injury_rate` (人社部发〔2015〕71号, **[V]**)."""
    rate = work_injury_rate(industry_class, tier_percent, base_rates=base_rates, tiers=tiers)
    return monthly_contribution(base, unit_rate=rate, individual_rate=_ZERO, rounding=rounding)


def flexible_pension_contribution(
    chosen_base: Decimal,
    *,
    limits: BaseLimits,
    rate: Decimal,
    account_rate: Decimal,
    rounding: Rounding,
) -> Contribution:
    """A flexible worker's (灵活就业人员) monthly pension contribution: ``rate`` (20 %) of the chosen base
    paid by the individual alone, ``account_rate`` (8 %) of it to the personal account (notes §2
    'Flexible employment', **[V]**).

    The flexible worker *chooses* a base within the year's 60 %–300 % limits, so a base outside them is
    refused (``base_out_of_range``) rather than silently clamped.
    """
    base = _amount(chosen_base, "缴费基数", "chosen base")
    if not limits.contains(base):
        raise InvalidCalculationInput(
            "base_out_of_range",
            f"灵活就业人员选择的缴费基数 {base} 不在 {limits.floor} 至 {limits.ceiling} 之间",
            f"the chosen base {base} is outside the limits {limits.floor} to {limits.ceiling}",
        )
    total = _rate(rate, "缴费比例", "rate")
    account = _rate(account_rate, "记账比例", "account rate")
    if account > total:
        raise InvalidCalculationInput(
            "rate_out_of_range",
            "划入个人账户的比例不能高于缴费比例",
            "the account rate cannot exceed the contribution rate",
        )
    return Contribution(
        unit_amount=rounding.apply(_ZERO),
        individual_amount=rounding.apply(base * total),
        account_credit=rounding.apply(base * account),
    )


# --- 4. late fees -------------------------------------------------------------------------------------

SEED_LATE_FEE_DAILY_RATE: Seed[Decimal] = Seed(
    Decimal("0.0005"),
    "V",
    "社会保险法 Art. 86: 自欠缴之日起，按日加收万分之五的滞纳金 (notes §2 'Late fee').",
)


@dataclass(frozen=True)
class LateFee:
    """A late fee (滞纳金) on one arrears amount."""

    principal: Decimal
    days: int
    uncapped_fee: Decimal  # principal × daily rate × days, rounded
    fee: Decimal  # what is due: the uncapped fee, or the principal when capped
    capped: bool


def late_fee_days(due_date: date, as_of: date, *, include_end_day: bool = True) -> int:
    """Days of arrears between the last day allowed for payment (``due_date``) and ``as_of``.

    社会保险法 Art. 86 counts "from the day of arrears" (自欠缴之日起) **[V]** but says nothing about
    the end. Convention here: the first day of arrears is the day *after* the due date, and ``as_of``
    (normally the payment date) counts as a day of arrears, so ``days = as_of − due_date`` and paying
    on the due date costs nothing. This is the rule the tax-collection law's implementing regulation
    (税收征收管理法实施细则 Art. 75: 缴纳期限届满次日起至实际缴纳之日止) sets for tax arrears, which
    since 2019 is who collects social insurance; secondary explanations of Art. 86 say the same
    (law.idocdown.com/app/articles/blogs/detail/5302; nctoro.com/tag_shebaozhinajin) — **[S]**.

    Some localities stop the day before payment (Beijing 2011: 至申报补缴成功的前一日止,
    xiangrikui.com/shehuibaoxian/baijiazhengming/20120203/184056.html, **[S]**); pass
    ``include_end_day=False`` for that (one day fewer). ``as_of`` on or before the due date gives 0.
    """
    due = _plain_date(due_date, "缴费期限", "due date")
    end = _plain_date(as_of, "计算截止日期", "as-of date")
    days = (end - due).days - (0 if include_end_day else 1)
    return max(days, 0)


def late_fee(
    principal: Decimal,
    due_date: date,
    as_of: date,
    *,
    daily_rate: Decimal,
    rounding: Rounding,
    cap_at_principal: bool = False,
    include_end_day: bool = True,
) -> LateFee:
    """The late fee on ``principal`` unpaid since the day after ``due_date``: principal × daily rate ×
    days (社会保险法 Art. 86, 0.05 % a day, **[V]**; day counting as :func:`late_fee_days`, **[S]**).

    Simple interest on the principal only; compute each arrears month separately, since each has its
    own due date. ``cap_at_principal`` limits the fee to the principal as the 行政强制法 Art. 45 cap on
    加处罚款/滞纳金 would; whether that cap applies to social-insurance late fees is disputed: **[U]**
    (notes §2 'Late-fee cap'), so it is off unless the parameter says otherwise.
    """
    amount = _amount(principal, "欠缴金额", "principal")
    rate = _rate(daily_rate, "滞纳金日费率", "daily late-fee rate")
    days = late_fee_days(due_date, as_of, include_end_day=include_end_day)
    uncapped = rounding.apply(amount * rate * days)
    capped = cap_at_principal and uncapped > amount
    return LateFee(
        principal=amount,
        days=days,
        uncapped_fee=uncapped,
        fee=rounding.apply(amount) if capped else uncapped,
        capped=capped,
    )


# --- 5. personal account interest ---------------------------------------------------------------------

_ACCOUNT_INTEREST_ROWS: tuple[tuple[int, str, Status, str], ...] = (
    (2016, "0.0831", "V", "several independent pension calculators agree"),
    (2017, "0.0712", "V", "several independent pension calculators agree"),
    (2018, "0.0829", "V", "several independent pension calculators agree"),
    (2019, "0.0761", "V", "several independent pension calculators agree"),
    (2020, "0.0604", "V", "several independent pension calculators agree"),
    (2021, "0.0669", "V", "majority of calculators (one says 5.35 %)"),
    (2022, "0.0612", "V", "majority of calculators (two say 3.97 %, one corrected 3.97→6.12)"),
    (2023, "0.0397", "V", "several independent pension calculators agree"),
    (2024, "0.0262", "V", "unanimous in the calculators found"),
    (2025, "0.0150", "S", "several calculators, no primary notice seen"),
)

SEED_ACCOUNT_INTEREST: Mapping[int, Seed[Decimal]] = {
    year: Seed(
        Decimal(rate),
        status,
        "National 记账利率 set yearly by MOHRSS and MOF; " + note + " (notes §3; the official "
        "人社厅/财办 notices were not retrieved).",
    )
    for year, rate, status, note in _ACCOUNT_INTEREST_ROWS
}
"""The national personal-account interest rate (记账利率) by year, as a fraction."""

ANNUAL_METHOD_FACTOR: Seed[Decimal] = Seed(
    Decimal("1.083"),
    "S",
    "劳办发〔1997〕116号 annex 3, 年度计算法: this year's credits × (1 + r × 1.083 × ½); the document "
    "is [V], the formula text [S] (notes §3). 1.083 ≈ 13/12: for 12 equal credits the month-product "
    "interest is r × 78/144 = r × 13/12 × ½ of the credits.",
)

InterestMethod = Literal["annual", "month_product"]
"""年度计算法 (``"annual"``) or 月积数法 (``"month_product"``), both of 劳办发〔1997〕116号."""


@dataclass(frozen=True)
class AccountYear:
    """The personal account's year-end settlement (年终结息).

    ``interest = interest_on_balance + interest_on_credits`` and ``new_balance = previous_balance +
    principal + interest`` hold exactly: each interest component is rounded on its own and the total is
    their sum, so the figures printed on a 权益记录单 add up.
    """

    method: InterestMethod
    previous_balance: Decimal  # 截止上年末累计储存额
    principal: Decimal  # 本年账户记入本金: the sum of this year's monthly credits
    interest_on_balance: Decimal  # previous balance × r
    interest_on_credits: Decimal  # interest earned by this year's credits
    interest: Decimal  # 本年账户记入利息
    new_balance: Decimal  # 累计储存额 at year end


def _credits(credits: Mapping[int, Decimal]) -> dict[int, Decimal]:
    return {
        _month(month): _amount(credit, f"{month} 月记账额", f"credit of month {month}")
        for month, credit in credits.items()
    }


def _settle(
    method: InterestMethod,
    previous_balance: Decimal,
    principal: Decimal,
    balance_interest: Decimal,
    credit_interest: Decimal,
    rounding: Rounding,
) -> AccountYear:
    on_balance = rounding.apply(balance_interest)
    on_credits = rounding.apply(credit_interest)
    interest = on_balance + on_credits
    return AccountYear(
        method=method,
        previous_balance=previous_balance,
        principal=principal,
        interest_on_balance=on_balance,
        interest_on_credits=on_credits,
        interest=interest,
        new_balance=previous_balance + principal + interest,
    )


def account_interest_annual(
    previous_balance: Decimal,
    credits: Mapping[int, Decimal],
    rate: Decimal,
    rounding: Rounding,
    *,
    factor: Decimal = ANNUAL_METHOD_FACTOR.value,
) -> AccountYear:
    """Year-end settlement by the annual method (年度计算法) of 劳办发〔1997〕116号 annex 3.

    new balance = previous balance × (1 + r) + this year's credits × (1 + r × 1.083 × ½)

    The document is **[V]**, the formula **[S]** (notes §3; pages that put ×1.083 outside the bracket
    are arithmetically inconsistent and not followed). ``credits`` maps month (1–12) → amount credited
    for that month; missing months credit nothing. The months do not matter to this method (it assumes
    an even spread); use :func:`account_interest_month_product` when they should.
    """
    previous = _amount(previous_balance, "上年末累计储存额", "previous year-end balance")
    by_month = _credits(credits)
    principal = sum(by_month.values(), _ZERO)
    return account_settlement_from_sums(
        previous, principal, _ZERO, rate, rounding, method="annual", factor=factor
    )


def account_interest_month_product(
    previous_balance: Decimal,
    credits: Mapping[int, Decimal],
    rate: Decimal,
    rounding: Rounding,
) -> AccountYear:
    """Year-end settlement by the month-product method (月积数法) of 劳办发〔1997〕116号 annex 3.

    this year's interest = Σ credit of month n × (12 − n + 1) × r / 12, so January's credit earns 12
    months and December's one; new balance = previous balance × (1 + r) + credits + that interest.
    Document **[V]**, formula **[S]** (notes §3).

    For 12 equal credits c the credit interest is c × 78 × r / 12 = 12c × r × (13/12) × ½, which is the
    annual method with 13/12 = 1.0833… instead of 1.083: the two differ by 12c × r × 0.000333… / 2.
    """
    previous = _amount(previous_balance, "上年末累计储存额", "previous year-end balance")
    by_month = _credits(credits)
    principal = sum(by_month.values(), _ZERO)
    month_product = sum((credit * (12 - month + 1) for month, credit in by_month.items()), _ZERO)
    return account_settlement_from_sums(
        previous, principal, month_product, rate, rounding, method="month_product"
    )


def account_settlement_from_sums(
    previous_balance: Decimal,
    principal: Decimal,
    month_product: Decimal,
    rate: Decimal,
    rounding: Rounding,
    *,
    method: InterestMethod,
    factor: Decimal = ANNUAL_METHOD_FACTOR.value,
) -> AccountYear:
    """The year-end settlement of :func:`account_interest_annual` or :func:`account_interest_month_product`
    from the year's sums rather than the credits month by month: PRINCIPAL = Σ credit, MONTH_PRODUCT =
    Σ credit of month n × (12 − n + 1) (the 月积数; unused by the annual method). Both methods end here, so
    a year-end run that lets the database sum a million accounts' credits settles each account by the same
    formula as the worked examples."""
    previous = _amount(previous_balance, "上年末累计储存额", "previous year-end balance")
    paid = _amount(principal, "本年记账额", "the year's credits")
    product = _amount(month_product, "本年月积数", "the year's month product")
    r = _rate(rate, "记账利率", "account interest rate")
    if method == "annual":
        k = _decimal(factor, "年度计算法系数", "annual-method factor")
        return _settle("annual", previous, paid, previous * r, paid * r * k / 2, rounding)
    if method == "month_product":
        return _settle("month_product", previous, paid, previous * r, product * r / 12, rounding)
    raise InvalidCalculationInput(
        "unknown_method",
        f"未知的个人账户计息方法 {method!r}（年度计算法 annual / 月积数法 month_product）",
        f"unknown account interest method {method!r} (annual or month_product)",
    )


def account_year_end(
    previous_balance: Decimal,
    credits: Mapping[int, Decimal],
    rate: Decimal,
    rounding: Rounding,
    *,
    method: InterestMethod,
) -> AccountYear:
    """Year-end settlement by the method the parameter names (``"annual"`` or ``"month_product"``)."""
    if method == "annual":
        return account_interest_annual(previous_balance, credits, rate, rounding)
    if method == "month_product":
        return account_interest_month_product(previous_balance, credits, rate, rounding)
    raise InvalidCalculationInput(
        "unknown_method",
        f"未知的个人账户计息方法 {method!r}（年度计算法 annual / 月积数法 month_product）",
        f"unknown account interest method {method!r} (annual or month_product)",
    )


@dataclass(frozen=True)
class AccountBalance:
    """The personal account as of a day within the year, before year-end interest."""

    as_of: date
    previous_balance: Decimal
    principal_to_date: Decimal  # credits of months 1 … as_of.month
    balance: Decimal  # previous_balance + principal_to_date; no interest of the current year


def account_balance_as_of(
    previous_balance: Decimal, credits: Mapping[int, Decimal], as_of: date
) -> AccountBalance:
    """The balance on ``as_of``: last year-end balance plus this year's credits for months up to and
    including ``as_of.month``, **without** any interest for the current year.

    Under 劳办发〔1997〕116号 interest is settled once a year at year end (年终结息), by either method
    above (**[S]**, notes §3), so until then the account shows principal only; this is how the
    annual 权益记录单 separates 本年记入本金 from 本年记入利息. Interest for part of a year when an
    account is closed mid-year (retirement, death, transfer) is settled by local rules that were not
    retrieved (**[U]**) and is not computed here.

    ``credits`` holds the credits actually posted for the year of ``as_of``; a credit for a month after
    ``as_of`` (an advance payment) is left out.
    """
    day = _plain_date(as_of, "查询日期", "as-of date")
    previous = _amount(previous_balance, "上年末累计储存额", "previous year-end balance")
    by_month = _credits(credits)
    to_date = sum((c for month, c in by_month.items() if month <= day.month), _ZERO)
    return AccountBalance(
        as_of=day, previous_balance=previous, principal_to_date=to_date, balance=previous + to_date
    )
