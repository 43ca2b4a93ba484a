"""The business arithmetic with the parameters in force: :mod:`sidms.lib.contributions` and
:mod:`sidms.lib.pension` fed from the parameter table (never from their seed tables directly)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sidms.business.parameters import value_at
from sidms.lib import contributions as lc


def rounding(at: date, region: str | None = None) -> lc.Rounding:
    result: lc.Rounding = value_at("rounding.amount", at, region)
    return result


def limits_for(year: int, region: str | None = None) -> lc.BaseLimits:
    """The year's base limits: the previous year's provincial average wage (parameter in force on 1 January
    of YEAR) × the floor and ceiling ratios, ÷ 12, rounded by the base-limit rule (国办发〔2019〕13号)."""
    day = date(year, 1, 1)
    return lc.base_limits_from_annual(
        value_at("wage.provincial_average_annual", day, region),
        value_at("base.floor_ratio", day, region),
        value_at("base.ceiling_ratio", day, region),
        value_at("rounding.base_limit", day, region),
    )


def clamp(wage: Decimal, year: int, region: str | None = None) -> lc.ClampedBase:
    return lc.clamp_base(wage, limits_for(year, region))
