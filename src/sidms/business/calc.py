"""The business arithmetic with the parameters in force: :mod:`sidms.lib.contributions` and
:mod:`sidms.lib.pension` fed from the parameter table (never from their seed tables directly)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sidms.business.parameters import value_at
from sidms.lib import contributions as lc
from sidms.lib import pension as lp


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


def due_date(period: str, region: str | None = None) -> date:
    """The last day allowed for paying PERIOD's contributions: the period's last day when the parameter
    ``contribution.due_day`` is 0, else that day of the following month (its last day if it has no such
    day)."""
    first = date.fromisoformat(f"{period}-01")
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    day: int = value_at("contribution.due_day", first, region)
    if day == 0:
        return date.fromordinal(nxt.toordinal() - 1)
    # The 30th of a February is its last day: replace(day=30) was a ValueError, and with it the arrears page
    # and every late payment of a January (attack round 8).
    after = date(nxt.year + nxt.month // 12, nxt.month % 12 + 1, 1)
    return nxt.replace(day=min(day, (after - nxt).days))


def late_fee(principal: Decimal, period: str, as_of: date, region: str | None = None) -> lc.LateFee:
    """The late fee on PRINCIPAL of PERIOD unpaid until AS_OF (社会保险法 Art. 86: 0.05 % a day from the day
    of arrears), with the rate, cap and rounding in force on AS_OF."""
    return lc.late_fee(
        principal, due_date(period, region), as_of,
        daily_rate=value_at("late_fee.daily_rate", as_of, region), rounding=rounding(as_of, region),
        cap_at_principal=value_at("late_fee.cap_at_principal", as_of, region),
    )  # fmt: skip


def account_year_end(
    previous: Decimal, credits: dict[int, Decimal], year: int, region: str | None = None,
    method: str | None = None,
) -> lc.AccountYear:  # fmt: skip
    """The year-end settlement of a personal account at YEAR's published rate, by the method the parameter
    ``account.interest_method`` names (or METHOD), 劳办发〔1997〕116号 annex 3."""
    return account_settlement(year, region, method)(previous, credits)


def account_settlement(
    year: int, region: str | None = None, method: str | None = None
) -> Callable[[Decimal, dict[int, Decimal]], lc.AccountYear]:
    """:func:`account_year_end` with YEAR's parameters (rate, method, rounding, annual factor) read once:
    the year-end interest run settles every account of a region with the same ones."""
    end = date(year, 12, 31)
    rate = value_at("account.interest_rate", end, region)
    how = method or value_at("account.interest_method", end, region)
    rule = rounding(end, region)
    if how == "annual":
        factor = value_at("account.annual_factor", end, region)
        return lambda previous, credits: lc.account_interest_annual(
            previous, credits, rate, rule, factor=factor
        )
    return lambda previous, credits: lc.account_year_end(
        previous, credits, rate, rule, method="month_product"
    )


def account_settlement_sums(
    year: int, region: str | None = None, method: str | None = None
) -> Callable[[Decimal, Decimal, Decimal], lc.AccountYear]:
    """:func:`account_settlement` taking the year's sums (previous balance, principal, month product: see
    ``lc.account_settlement_from_sums``) instead of the credits month by month."""
    end = date(year, 12, 31)
    rate = value_at("account.interest_rate", end, region)
    how: lc.InterestMethod = (
        "annual"
        if (method or value_at("account.interest_method", end, region)) == "annual"
        else "month_product"
    )
    rule = rounding(end, region)
    factor = (
        value_at("account.annual_factor", end, region) if how == "annual" else lc.ANNUAL_METHOD_FACTOR.value
    )
    return lambda previous, principal, product: lc.account_settlement_from_sums(
        previous, principal, product, rate, rule, method=how, factor=factor
    )


def retirement(birth: date, category: str) -> lp.Retirement:
    """The statutory retirement age and month under the 2025 reform, from the schedules in the parameter
    table (seeded from the reform's Art. 1, [V])."""
    kind = lp.RetirementCategory(category)
    schedules = value_at("retirement.schedules", date(2025, 1, 1))
    return lp.statutory_retirement(birth, kind, schedule=schedules[kind])


def pension(
    *, index: Decimal, months: int, balance: Decimal, age: int, at: date, region: str | None = None,
    transitional: Decimal = Decimal(0),
) -> lp.PensionBreakdown:  # fmt: skip
    """The basic pension of 国发〔2005〕38号 at AT: the average wage (计发基数), the 计发月数 table, the
    accrual rate and the rounding from the parameter table; the provincial transitional pension passed in."""
    return lp.basic_pension(
        average_monthly_wage=value_at("pension.average_monthly_wage", at, region), contribution_index=index,
        contribution_months=months, account_balance=balance, age_at_retirement=age,
        payout_months=value_at("pension.payout_months", at, region), rounding=rounding(at, region),
        transitional_pension=transitional, accrual_rate=value_at("pension.accrual_rate", at, region),
    )  # fmt: skip
