"""Versioned policy, business-handling and system parameters (issue 8 §1; R2.3, R9.1).

Every figure the business arithmetic of :mod:`sidms.lib.contributions` and :mod:`sidms.lib.pension` takes as
an argument lives here as data: one append-only :class:`~sidms.business.models.ParameterVersion` row per
version, effective from a date, per region where the regions differ ("" = the whole city), with its source
document, its status in ``shared/notes/business-rules.md`` ([V] verified, [S] one secondary source, [U]
uncertain) and whether it was checked against the official notice. Values not checked and not verified are
shown as 示例值（待核对） wherever they appear (:func:`is_example`).

* Reading: :func:`value_at` (``key, at=None, region=None``) gives the value in force on a day, as the table
  stands now or as it stood at an earlier instant (``known_at``); :func:`history` every version.
* Changing: only a city-level system administrator proposes (:func:`parameter_propose`), and a second one
  confirms through ``changes.services.review_decide`` (four eyes, like collection rules); the new version is
  written with its audit event.
* Vouching: each version's keyed digest is recorded in its audit event; :func:`verify_parameters`
  (registered with ``audit.verify.register_check``) names a version altered, inserted or deleted behind the
  system's back.

Rates are fractions (0.16 for 16 %), money in yuan, all as decimal strings in the stored JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.audit.verify import Report, broken
from sidms.business.models import ParameterKind, ParameterVersion
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.seals import reseal
from sidms.changes.services import register_proposal, require_city_level, require_permission
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused
from sidms.core.keys import keyring
from sidms.lib import benefits as lb
from sidms.lib import chain
from sidms.lib import contributions as lc
from sidms.lib import pension as lp
from sidms.parameters.models import Region

ENTITY = "business_parameter"  # the object type of the audit events and the kind of the proposals
ONLY_CITY_ADMIN = _("Only a city-level system administrator may change parameters.")
EXAMPLE_MARK = "示例值（待核对）"
CENT = Decimal("0.01")  # what the ledger's amounts and bases are held to


@dataclass(frozen=True)
class Definition:
    key: str
    kind: str  # ParameterKind
    # money (an amount in yuan, shown ¥7,180.00) | decimal | rate | int | bool | text | rounding | class_rates
    # | tiers | age_months | groups | day | counts | allocation | grade_rates
    type: str
    label: str  # Chinese name, as the pages show it
    # (low, high): the range a security control must stay in whoever changes it (_checked_value)
    bounds: tuple[int, int] | None = None


_DEFS: tuple[tuple[Any, ...], ...] = (
    # policy: contribution rates (fractions of the base)
    ("rate.pension.unit", "policy", "rate", "养老保险单位缴费比例"),
    ("rate.pension.individual", "policy", "rate", "养老保险个人缴费比例"),
    ("rate.pension.account", "policy", "rate", "养老保险个人账户记账比例"),
    ("rate.medical.unit", "policy", "rate", "职工医疗保险（含生育）单位缴费比例"),
    ("rate.medical.individual", "policy", "rate", "职工医疗保险个人缴费比例"),
    ("rate.unemployment.unit", "policy", "rate", "失业保险单位缴费比例"),
    ("rate.unemployment.individual", "policy", "rate", "失业保险个人缴费比例"),
    ("rate.flexible.pension", "policy", "rate", "灵活就业人员养老保险缴费比例"),
    ("rate.flexible.account", "policy", "rate", "灵活就业人员个人账户记账比例"),
    ("work_injury.base_rates", "policy", "class_rates", "工伤保险行业基准费率"),
    ("work_injury.tiers", "policy", "tiers", "工伤保险浮动费率档次"),
    ("base.floor_ratio", "policy", "decimal", "缴费基数下限比例"),
    ("base.ceiling_ratio", "policy", "decimal", "缴费基数上限比例"),
    ("wage.provincial_average_annual", "policy", "money", "上年度全省全口径城镇单位就业人员平均工资（年）"),
    ("account.interest_rate", "policy", "rate", "个人账户记账利率"),
    ("account.interest_method", "policy", "text", "个人账户计息方法"),
    ("account.annual_factor", "policy", "decimal", "年度计算法系数"),
    ("pension.payout_months", "policy", "age_months", "个人账户养老金计发月数"),
    ("pension.accrual_rate", "policy", "rate", "基础养老金计发比例"),
    ("pension.average_monthly_wage", "policy", "money", "养老金计发基数（上年度在岗职工月平均工资）"),
    ("late_fee.daily_rate", "policy", "rate", "滞纳金日费率"),
    ("transfer.pooled_rate", "policy", "rate", "跨统筹区转移统筹基金比例（1998年起各月缴费基数之和）"),
    ("late_fee.cap_at_principal", "policy", "bool", "滞纳金以欠费本金为限"),
    ("rounding.amount", "policy", "rounding", "金额舍入规则"),
    ("retirement.schedules", "policy", "schedules", "法定退休年龄延迟方案"),
    ("rounding.base_limit", "policy", "rounding", "缴费基数上下限舍入规则"),
    ("unemployment.min_contribution_months", "policy", "int", "领取失业保险金最低缴费月数"),
    ("unemployment.duration_months", "policy", "age_months", "失业保险金最长领取月数（按累计缴费年数）"),
    ("unemployment.benefit_ratio", "policy", "rate", "失业保险金占最低工资标准比例"),
    ("wage.minimum_monthly", "policy", "money", "月最低工资标准"),
    ("work_injury.disability_grant_months", "policy", "age_months", "一次性伤残补助金（按伤残等级，月数）"),
    (
        "work_injury.disability_allowance_ratios",
        "policy",
        "grade_rates",
        "伤残津贴（按伤残等级，占本人工资比例）",
    ),
    ("maternity.leave_days", "policy", "counts", "产假天数"),
    ("maternity.month_days", "policy", "decimal", "生育津贴月计发天数"),
    (
        "maternity.same_event_days",
        "business",
        "int",
        "同一生育事件的认定天数（其内的第二笔生育津贴视为重复）",
    ),
    # business handling
    ("declaration.deadline", "business", "day", "年度缴费基数申报截止日"),
    ("payment.allocation", "business", "allocation", "部分缴费的冲抵顺序（先个人/单位部分，险种顺序）"),
    ("contribution.due_day", "business", "int", "当月费款缴纳截止日（次月第几日，0 为当月末）"),
    ("export.approval_rows", "business", "int", "导出需审批的行数阈值"),
    ("workflow.step_days", "business", "int", "待办事项办理时限（自然日，超过即标为已超期）", (1, 60)),
    ("enrolment.exclusive_groups", "business", "groups", "互斥险种组（同一人同组只能有一个有效参保）"),
    ("enrolment.min_employee_age", "business", "int", "职工参保最低年龄"),
    # system; the security controls with the range each must stay in whoever changes it: the idle logout
    # (GB/T 22239-2019 §8.1.4.1b; ASVS 3.3.2 at level 3: at most 15 minutes) and the lock-out after failed
    # sign-ins (§8.1.4.1b; ASVS 2.2.1). Two system administrators could set the idle time to ten years or the
    # failures to a million (each control switched off), or the failures to none (every account locked at its
    # first try, theirs too, with no one left to sign in and undo it) (attack round 9). A session's lifetime
    # however busy it is (ASVS 3.3.2: re-authentication at least every 12 hours) was a Django setting out of the
    # administrators' reach; at least an hour, so that it never falls below the longest idle time.
    ("session.idle_seconds", "system", "int", "会话空闲超时（秒）", (60, 900)),
    ("session.max_hours", "system", "int", "会话最长有效期（小时，自第二因素认证起）", (1, 12)),
    ("lockout.failures", "system", "int", "登录失败锁定次数", (3, 10)),
    ("lockout.minutes", "system", "int", "登录锁定时长（分钟）", (10, 24 * 60)),
)
DEFINITIONS: dict[str, Definition] = {entry[0]: Definition(*entry) for entry in _DEFS}


def _rounding_json(rounding: lc.Rounding) -> dict[str, Any]:
    return {
        "precision": str(rounding.precision),
        "mode": rounding.mode,
        "discard_below": str(rounding.discard_below) if rounding.discard_below is not None else None,
    }


def _seeds() -> list[tuple[str, Any, date, str, str]]:
    """(key, stored value, effective from, status, source) of every seeded version, from the lib's SEED_*
    tables where they have the value, else from the documents named (uncertain ones marked [U])."""
    rates = lc.SEED_CONTRIBUTION_RATES
    out: list[tuple[str, Any, date, str, str]] = []
    rate_dates = {"pension.individual": date(2006, 1, 1), "pension.account": date(2006, 1, 1)}
    for name, seed in rates.items():
        out.append((f"rate.{name}", str(seed.value), rate_dates.get(name, date(2019, 5, 1)), seed.status,
                    seed.source))  # fmt: skip
    out.append((
        "rate.medical.unit", "0.08", date(2019, 5, 1), "U",
        "Weihai unit rate conflicts (8 % vs 9 %, notes §2 'Medical, Weihai rates'); maternity merged into "
        "medical by 国办发〔2019〕10号 [V]. Example value, to be checked against the Weihai notice.",
    ))  # fmt: skip
    out.append((
        "work_injury.base_rates",
        {str(c): str(s.value) for c, s in lc.SEED_WORK_INJURY_BASE_RATES.items()},
        date(2015, 10, 1), "V", lc.SEED_WORK_INJURY_BASE_RATES[1].source,
    ))  # fmt: skip
    out.append((
        "work_injury.tiers",
        {str(c): sorted(s.value) for c, s in lc.SEED_WORK_INJURY_TIERS.items()},
        date(2015, 10, 1), "V", lc.SEED_WORK_INJURY_TIERS[1].source,
    ))  # fmt: skip
    for name in ("floor", "ceiling"):
        seed = lc.SEED_BASE_LIMIT_RATIOS[name]
        out.append((f"base.{name}_ratio", str(seed.value), date(2019, 5, 1), seed.status, seed.source))
    for year, seed in lc.SEED_PROVINCIAL_AVERAGE_WAGE.items():
        out.append(("wage.provincial_average_annual", str(seed.value), date(year + 1, 1, 1), seed.status,
                    seed.source))  # fmt: skip
    for year, seed in lc.SEED_ACCOUNT_INTEREST.items():
        out.append(("account.interest_rate", str(seed.value), date(year, 1, 1), seed.status, seed.source))
    out.append((
        "account.interest_method", "month_product", date(1998, 1, 1), "U",
        "劳办发〔1997〕116号 annex 3 allows both methods (notes §3); which one Shandong uses was not found.",
    ))  # fmt: skip
    af = lc.ANNUAL_METHOD_FACTOR
    out.append(("account.annual_factor", str(af.value), date(1998, 1, 1), af.status, af.source))
    out.append((
        "pension.payout_months", {str(a): s.value for a, s in lp.SEED_PAYOUT_MONTHS.items()},
        date(2006, 1, 1), "V", lp.SEED_PAYOUT_MONTHS[60].source,
    ))  # fmt: skip
    acc = lp.BASIC_PENSION_ACCRUAL
    out.append(("pension.accrual_rate", str(acc.value), date(2006, 1, 1), acc.status, acc.source))
    out.append((
        "pension.average_monthly_wage", "7000", date(2025, 1, 1), "U",
        "Shandong 计发基数 not retrieved (notes §4 '[U]'); example value, to be checked against the notice.",
    ))  # fmt: skip
    out.append((
        "retirement.schedules",
        {
            str(k): {"original_age_years": s.value.original_age_years, "first_cohort": list(s.value.first_cohort),
                     "months_per_step": s.value.months_per_step, "max_delay_months": s.value.max_delay_months}
            for k, s in lp.SEED_RETIREMENT_SCHEDULES.items()
        },
        date(2025, 1, 1), "V", lp.SEED_RETIREMENT_SCHEDULES[lp.RetirementCategory.MALE].source,
    ))  # fmt: skip
    # Unemployment, work-injury and maternity benefits (sidms.lib.benefits; notes §5).
    start = date(2011, 7, 1)  # 社会保险法 in force; the 条例 are older, their tables unchanged since
    for key, stored in (
        ("unemployment.min_contribution_months", lb.SEED_UNEMPLOYMENT_MIN_MONTHS.value),
        ("unemployment.duration_months", {str(k): v for k, v in lb.SEED_UNEMPLOYMENT_DURATION.value.items()}),
        ("unemployment.benefit_ratio", str(lb.SEED_UNEMPLOYMENT_RATIO.value)),
        ("wage.minimum_monthly", str(lb.SEED_MINIMUM_WAGE.value)),
        (
            "work_injury.disability_grant_months",
            {str(k): v for k, v in lb.SEED_DISABILITY_GRANT_MONTHS.value.items()},
        ),
        (
            "work_injury.disability_allowance_ratios",
            {str(k): str(v) for k, v in lb.SEED_DISABILITY_ALLOWANCE_RATIOS.value.items()},
        ),
        ("maternity.leave_days", dict(lb.SEED_MATERNITY_DAYS.value)),
        ("maternity.month_days", str(lb.SEED_MATERNITY_MONTH_DAYS.value)),
    ):
        origin = lb.SEEDS[key]
        out.append((key, stored, start, origin.status, origin.source))
    out.append((
        "maternity.same_event_days", 30, date(2012, 4, 28), "U",
        "No rule found for when two maternity allowances are one birth. 女职工劳动保护特别规定 (2012-04-28) "
        "Art. 7 gives 98 days' leave for a birth and 15–42 for a miscarriage, so a second pregnancy event "
        "within 30 days of the first cannot be a new one (example value, to be checked with the agency).",
    ))  # fmt: skip
    fee = lc.SEED_LATE_FEE_DAILY_RATE
    out.append(("late_fee.daily_rate", str(fee.value), date(2011, 7, 1), fee.status, fee.source))
    out.append((
        "late_fee.cap_at_principal", False, date(2011, 7, 1), "U",
        "Whether 行政强制法 Art. 45 caps social-insurance late fees is disputed (notes §2 'Late-fee cap').",
    ))  # fmt: skip
    for name, rule in lc.SEED_ROUNDING.items():
        out.append(
            (f"rounding.{name}", _rounding_json(rule.value), date(2019, 1, 1), rule.status, rule.source)
        )
    out += [
        ("declaration.deadline", {"month": 7, "day": 31}, date(2019, 1, 1), "U",
         "Local annual base declaration window; Weihai's date not retrieved (example)."),
        ("contribution.due_day", 0, date(2019, 1, 1), "U",
         "Since 2019 the tax bureau collects in the month assessed (当月申报当月缴纳); Weihai notice not "
         "retrieved (example)."),
        ("payment.allocation", {"parts": ["individual", "unit"],
                                "insurances": ["110", "120", "210", "310", "510", "410"]}, date(2019, 1, 1), "U",
         "No rule for allocating a part payment was found (notes §2). Local order: oldest period first, the "
         "individual parts (withheld from wages, 社会保险法 Art. 60) before the unit parts, pension first; the "
         "late fee (Art. 86) only on what stays unpaid. Example, to be checked with the tax bureau."),
        ("transfer.pooled_rate", "0.12", date(2010, 1, 1), "S",
         "国办发〔2009〕66号《城镇企业职工基本养老保险关系转移接续暂行办法》Art. 4(2): the pooled fund (unit "
         "contributions) moves 12 % of the sum of the yearly contribution bases from 1 January 1998, by the "
         "months actually paid in a year paid less than a full year; the personal account's balance moves in "
         "full (Art. 4(1)). Read in secondary copies of the text (yjbys.com, qingl.net), not the State "
         "Council's own page."),
        ("export.approval_rows", 1000, date(2019, 1, 1), "U",
         "REQUIREMENTS §bulk query and export: thresholds with approval; the threshold is local (example)."),
        ("workflow.step_days", 5, date(2019, 1, 1), "U",
         "The regulation asks for timely handling (Art. 3, 9) and sets no time limit; the clerks' convention "
         "(notes/ux-conventions.md: overdue items in red) needs one. Five calendar days a step, example to be "
         "checked with the agency's handling rules (经办规程)."),
        ("enrolment.exclusive_groups", [["110", "120", "170"], ["310", "390"]], date(2011, 7, 1), "S",
         "社会保险法 Art. 10/23 and the 2012 National Audit Office finding of 1.1 million duplicate "
         "enrolments: one pension scheme (110/120/170) and one medical scheme (310/390) per person."),
        ("enrolment.min_employee_age", 16, date(1995, 1, 1), "V",
         "劳动法 Art. 15: employers may not employ minors under 16."),
        ("session.idle_seconds", 900, date(2019, 1, 1), "S",
         "GB/T 22239-2019 (等保 2.0) session timeout; the former SIDMS_SESSION_IDLE_SECONDS default."),
        ("session.max_hours", 12, date(2019, 1, 1), "S",
         "OWASP ASVS 4.0.3 V3.3.2: re-authentication at least every 12 hours, used or idle; the former "
         "SIDMS_SESSION_MAX_HOURS default (attack round 9)."),
        ("lockout.failures", 5, date(2019, 1, 1), "S",
         "GB/T 22239-2019 login-failure handling; the former SIDMS_LOCKOUT_FAILURES default."),
        ("lockout.minutes", 30, date(2019, 1, 1), "S",
         "GB/T 22239-2019 login-failure handling; the former SIDMS_LOCKOUT_MINUTES default."),
    ]  # fmt: skip
    return out


def seeded(key: str) -> Any:
    """The stored value of KEY's latest seeded version: what stands in before the parameters are seeded (an
    empty database during its first migrate), so that such a default is written down once, here."""
    values = [(start, value) for name, value, start, _status, _source in _seeds() if name == key]
    if not values:
        raise MissingParameter(key)
    return max(values, key=lambda item: item[0])[1]


# --------------------------------------------------------------------------------------------------------
# Values


class _Bad(Exception):
    pass


def _dec(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise _Bad from None
    if not result.is_finite() or result < 0:
        raise _Bad
    return result


def decode(type_: str, stored: Any) -> Any:
    """The Python value of a stored JSON value: Decimal, int, bool, str, a Rounding, or a table."""
    if type_ in ("money", "decimal", "rate"):
        return _dec(stored)
    if type_ == "int":
        if isinstance(stored, bool) or not isinstance(stored, int) or stored < 0:
            raise _Bad
        return stored
    if type_ == "bool":
        if not isinstance(stored, bool):
            raise _Bad
        return stored
    if type_ == "text":
        if not isinstance(stored, str) or not stored:
            raise _Bad
        return stored
    if type_ == "rounding":
        below = stored.get("discard_below")
        try:
            return lc.Rounding(_dec(stored["precision"]), str(stored["mode"]),
                               _dec(below) if below is not None else None)  # fmt: skip
        except (lc.InvalidCalculationInput, KeyError, TypeError):
            raise _Bad from None
    if type_ == "class_rates":
        rates = {int(k): _dec(v) for k, v in stored.items()}
        if any(rate > 1 for rate in rates.values()):
            raise _Bad
        return rates
    if type_ == "grade_rates":
        rates = {int(k): _dec(v) for k, v in stored.items()}
        if any(rate > 1 for rate in rates.values()):
            raise _Bad
        return rates
    if type_ == "tiers":
        return {int(k): frozenset(int(t) for t in v) for k, v in stored.items()}
    if type_ == "age_months":
        return {int(k): int(v) for k, v in stored.items()}
    if type_ == "allocation":
        parts, insurances = list(stored["parts"]), [str(code) for code in stored["insurances"]]
        if sorted(parts) != ["individual", "unit"] or len(set(insurances)) != len(insurances):
            raise _Bad
        return {"parts": parts, "insurances": insurances}
    if type_ == "counts":
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in stored.values()):
            raise _Bad
        return {str(k): int(v) for k, v in stored.items()}
    if type_ == "groups":
        # Lists of scheme codes: a text was read letter by letter ("110,120" as the groups 1, 1, 0, …).
        if not isinstance(stored, list) or not all(isinstance(g, list) for g in stored):
            raise _Bad
        return [[str(code) for code in group] for group in stored]
    if type_ == "schedules":
        return {
            lp.RetirementCategory(k): lp.RetirementSchedule(
                int(v["original_age_years"]),
                (int(v["first_cohort"][0]), int(v["first_cohort"][1])),
                int(v["months_per_step"]),
                int(v["max_delay_months"]),
            )
            for k, v in stored.items()
        }
    if type_ == "day":
        month, day = int(stored["month"]), int(stored["day"])
        date(2001, month, day)  # a day of a month (ValueError: month 13, 30 February); 29 February is none
        return (month, day)
    raise _Bad


def _checked_value(key: str, value: Any) -> Any:
    definition = DEFINITIONS.get(key)
    if definition is None:
        raise ChangeRefused(_("There is no parameter %(key)s."), {"key": key}, code="no_parameter")
    bounds = definition.bounds
    if bounds is not None and not (
        isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]
    ):
        raise ChangeRefused(
            _("%(key)s is a security control (GB/T 22239 §8.1.4.1): its value lies between %(low)s and %(high)s."),
            {"key": key, "low": bounds[0], "high": bounds[1]}, code="parameter_bounds",
        )  # fmt: skip
    try:
        decoded = decode(definition.type, value)
        if definition.type == "rate" and decoded > 1:
            raise _Bad
        if definition.type == "rounding" and decoded.precision < CENT:
            # The ledger holds amounts and bases to the fen: a rule to the li (0.001) was accepted, the
            # database rounded each amount again, and verify named every run since as tampered (attack
            # round 8). A power of ten, so a precision of the fen or coarser is a whole number of fen.
            raise _Bad
    except (_Bad, AttributeError, KeyError, TypeError, ValueError):
        raise ChangeRefused(
            _("The value does not fit the parameter %(key)s."), {"key": key}, code="parameter_value"
        ) from None
    return decoded


def version_state(row: ParameterVersion) -> dict[str, Any]:
    """What a version's digest covers: every column but the digest and the row id."""
    return {
        "key": row.key,
        "region": row.region,
        "version": row.version,
        "value": row.value,
        "effective_from": row.effective_from.isoformat(),
        "source": row.source,
        "status": row.status,
        "checked": row.checked,
        "reason": row.reason,
        "created_at": row.created_at.astimezone(UTC).isoformat(),
        "created_by": row.created_by,
    }


def version_digest(row: ParameterVersion) -> str:
    return keyring().mac(chain.canonical({"table": "business_parameterversion", "row": version_state(row)}))


def _day(at: date | datetime | None) -> date:
    if at is None:
        return timezone.localdate()
    if isinstance(at, datetime):
        return timezone.localtime(at).date() if timezone.is_aware(at) else at.date()
    return at


# A run reads the same few parameters for every entry: inside ``cached_parameters()`` the versions of every
# key are read once, in one query (a snapshot for the run's transaction), and resolved in Python.
_CACHE: ContextVar[dict[str, list[ParameterVersion]] | None] = ContextVar(
    "sidms_parameter_cache", default=None
)


@contextmanager
def cached_parameters() -> Iterator[None]:
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


def _versions(key: str, known_at: datetime | None) -> list[ParameterVersion]:
    cache = _CACHE.get()
    if cache is not None and known_at is None:
        if not cache:
            # The whole table (a few hundred versions) in one query: a run reads a dozen keys per region.
            cache[""] = []
            for row in ParameterVersion.objects.order_by("pk"):
                cache.setdefault(row.key, []).append(row)
        return cache.get(key, [])
    rows = ParameterVersion.objects.filter(key=key)
    if known_at is not None:
        rows = rows.filter(created_at__lte=known_at)
    return list(rows)


def version_at(
    key: str,
    at: date | datetime | None = None,
    region: str | None = None,
    *,
    known_at: datetime | None = None,
) -> ParameterVersion | None:
    """The version of KEY in force on AT (default today) for REGION (its own version, else the city-wide
    one), as the table stood at KNOWN_AT (default now): the latest version effective on or before AT."""
    day = _day(at)
    rows = [r for r in _versions(key, known_at) if r.effective_from <= day]
    for wanted in [region, ""] if region else [""]:
        candidates = [r for r in rows if r.region == wanted]
        if candidates:
            return max(candidates, key=lambda r: (r.effective_from, r.version))
    return None


# Sent after a new version of a parameter is committed (key=, region=): caches of parameter values clear.
parameter_changed = Signal()


class MissingParameter(LookupError):
    """No version of a parameter is in force on the day asked (a configuration gap, not a user error)."""


def value_at(
    key: str,
    at: date | datetime | None = None,
    region: str | None = None,
    *,
    known_at: datetime | None = None,
) -> Any:
    """The value of parameter KEY in force on AT for REGION, decoded (Decimal, int, Rounding, a table …).

    This is the one function other apps read parameters by, e.g. ``value_at("export.approval_rows")``.
    Raises :class:`MissingParameter` when no version is in force then."""
    row = version_at(key, at, region, known_at=known_at)
    if row is None:
        raise MissingParameter(f"no version of {key} in force on {_day(at)}")
    return decode(DEFINITIONS[key].type, row.value)


def is_example(row: ParameterVersion) -> bool:
    """Shown as 示例值（待核对）: not verified in the notes and not checked against the official notice."""
    return not row.checked and row.status != "V"


def history(key: str, region: str | None = None) -> list[ParameterVersion]:
    rows = ParameterVersion.objects.filter(key=key)
    if region is not None:
        rows = rows.filter(region=region)
    return list(rows.order_by("region", "version"))


def parameter_table(at: date | datetime | None = None) -> list[tuple[Definition, ParameterVersion | None]]:
    """Every parameter with its city-wide version in force on AT (the parameter page)."""
    return [(d, version_at(d.key, at)) for d in DEFINITIONS.values()]


# --------------------------------------------------------------------------------------------------------
# Writing: seed, propose, confirm


def _add_version(
    key: str, region: str, value: Any, *, effective_from: date, source: str, status: str, checked: bool,
    reason: str, actor: Caller, reference: str,
) -> ParameterVersion:  # fmt: skip
    with transaction.atomic():
        previous = (
            ParameterVersion.objects.select_for_update()
            .filter(key=key, region=region)
            .order_by("-version")
            .first()
        )
        row = ParameterVersion(
            key=key, region=region, version=(previous.version + 1) if previous else 1, value=value,
            effective_from=effective_from, source=source, status=status, checked=checked, reason=reason,
            created_at=timezone.now(), created_by=actor.name,
        )  # fmt: skip
        row.digest = version_digest(row)
        row.save(force_insert=True)
        audit_record(
            "parameters.version", actor=actor, object_type=ENTITY, object_id=f"{key}@{region}",
            detail={"id": row.pk, "version": row.version, "digest": row.digest, "reference": reference},
        )  # fmt: skip
        # Caches clear now and again once the version is committed (a request in between may have re-read the old
        # value); clearing a cache is always safe, so a rolled-back change costs only a re-read.
        parameter_changed.send(sender=ParameterVersion, key=key, region=region)
        transaction.on_commit(lambda: parameter_changed.send(sender=ParameterVersion, key=key, region=region))
    return row


def seed_parameters() -> int:
    """Seed every parameter that has no version yet from the documented seeds, each version with its audit
    event (run after migrate). Returns how many versions were written."""
    caller = Caller("system:seed", request_id="")
    added = 0
    with transaction.atomic():
        present = set(ParameterVersion.objects.values_list("key", flat=True).distinct())
        for key, value, effective, status, source in _seeds():
            if key in present:
                continue
            _checked_value(key, value)
            _add_version(
                key, "", value, effective_from=effective, source=source[:500], status=status,
                checked=status == "V", reason="初始参数（issue 8）", actor=caller, reference="seed",
            )  # fmt: skip
            added += 1
    return added


def parameter_propose(
    *,
    actor: Any,
    key: str,
    value: Any,
    effective_from: date,
    source: str,
    reason: str,
    region: str = "",
    status: str = "V",
    checked: bool = False,
) -> ChangeRequest:
    """Propose a new version of KEY (for REGION). A second city-level administrator confirms it through
    ``review_decide``; only then is the version written."""
    caller = Caller.of(actor)
    require_permission(caller, "rules.edit", ONLY_CITY_ADMIN)
    require_city_level(caller, ONLY_CITY_ADMIN)
    _checked_value(key, value)
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the change."), code="reason_required")
    if not source.strip():
        raise ChangeRefused(_("Name the document the value comes from."), code="source_required")
    if status not in ("V", "S", "U"):
        raise ChangeRefused(_("Unknown source status."), code="status")
    # What the version's columns hold, checked here: a region of seven characters or a source of 600 was
    # held, and its confirmation was a server error on PostgreSQL; a region that is no district of the
    # city wrote a version no one reads (attack round 8).
    if region and not Region.objects.filter(code=region, is_district=True).exists():
        raise ChangeRefused(
            _("%(region)s is not a district of the city; leave the region empty for the whole city."),
            {"region": region[:20]}, code="region",
        )  # fmt: skip
    limit = ParameterVersion._meta.get_field("source").max_length or 0
    if len(source.strip()) > limit or len(reason.strip()) > limit:
        raise ChangeRefused(
            _("The source and the reason are at most %(limit)s characters each."),
            {"limit": limit},
            code="length",
        )
    label = f"{key}@{region}"
    if ChangeRequest.objects.filter(entity=ENTITY, record_label=label, status=ReviewStatus.PENDING).exists():
        raise ChangeRefused(
            _("A change of this parameter already waits for confirmation; decide it first."), code="pending"
        )
    current = version_at(key, effective_from, region or None)
    proposal = {
        "value": value, "effective_from": effective_from.isoformat(), "source": source.strip(),
        "status": status, "checked": bool(checked), "reason": reason.strip(), "region": region,
    }  # fmt: skip
    with transaction.atomic():
        held = ChangeRequest.objects.create(
            entity=ENTITY, record_id=None, record_label=label, district_id=settings.SIDMS_CITY_DISTRICT,
            base_version=current.version if current else 0,
            proposed={"parameter": [current.value if current else None, proposal]},
            channel=Channel.MAINTENANCE, submitted_by=caller.staff, submitted_at=timezone.now(),
            decider_post="city_admin",
        )  # fmt: skip
        reseal(held)
        audit_record(
            "parameters.propose", actor=caller, object_type="change_request", object_id=held.pk,
            detail={"parameter": label, "step": held.step, "seal": held.seal},
        )  # fmt: skip
    return held


def apply_parameter_proposal(held: ChangeRequest, actor: Caller) -> None:
    """Called by review_decide when a second city-level administrator confirms a proposal."""
    require_city_level(actor, ONLY_CITY_ADMIN)
    key, region = held.record_label.split("@", 1)
    p = held.proposed["parameter"][1]
    _add_version(
        key, region, p["value"], effective_from=date.fromisoformat(p["effective_from"]), source=p["source"],
        status=p["status"], checked=p["checked"], reason=p["reason"], actor=actor, reference=f"CR{held.pk}",
    )  # fmt: skip


register_proposal(ENTITY, apply_parameter_proposal)


# --------------------------------------------------------------------------------------------------------
# Verification


def _claims() -> dict[int, tuple[str, int]]:
    """Version id -> (digest, event seq) of every parameter version the audit chain vouches for."""
    out: dict[int, tuple[str, int]] = {}
    events = AuditEvent.objects.filter(object_type=ENTITY, action="parameters.version")
    for seq, payload in events.order_by("seq").values_list("seq", "payload").iterator(chunk_size=2000):
        detail = json.loads(payload).get("detail", {})
        out[int(detail["id"])] = (str(detail["digest"]), int(seq))
    return out


def verify_parameters(report: Report, latest: Mapping[str, Any]) -> None:
    """Every parameter version matches its digest and the audit event that vouched for it; every vouched
    version is still there; each parameter's versions run 1..n without a gap."""
    claims = _claims()
    numbers: dict[tuple[str, str], list[int]] = {}
    for row in ParameterVersion.objects.order_by("pk").iterator(chunk_size=2000):
        where = f"参数 {row.key}（{row.region or '全市'}）第 {row.version} 版 / parameter {row}"
        claim = claims.pop(row.pk, None)
        if row.digest != version_digest(row) or (claim is not None and claim[0] != row.digest):
            raise broken("parameter", where, "参数版本的内容与其校验值或审计记录不符：有人绕过系统修改了它",
                         "the parameter version differs from its digest or audit event: changed outside the system")  # fmt: skip
        if claim is None:
            raise broken("parameter", where, "没有审计事件记载该参数版本：它不是经由系统写入的",
                         "no audit event records this parameter version: it was not written by the system")  # fmt: skip
        numbers.setdefault((row.key, row.region), []).append(row.version)
    if claims:
        pk, (_digest, seq) = sorted(claims.items())[0]
        raise broken("parameter", f"参数版本 #{pk}（审计事件 #{seq}） / parameter version #{pk}",
                     "审计事件记载的参数版本已不存在：有人删除了它",
                     "a parameter version the audit chain vouches for is missing: deleted")  # fmt: skip
    for (key, region), versions in numbers.items():
        if sorted(versions) != list(range(1, len(versions) + 1)):
            raise broken("parameter", f"参数 {key}（{region or '全市'}） / parameter {key}@{region}",
                         "参数的版本不连续", "the parameter's versions have a gap")  # fmt: skip
    report.rows["parameter"] = sum(len(v) for v in numbers.values())


__all__ = [
    "DEFINITIONS",
    "EXAMPLE_MARK",
    "Definition",
    "MissingParameter",
    "ParameterKind",
    "history",
    "is_example",
    "parameter_propose",
    "parameter_table",
    "seed_parameters",
    "value_at",
    "verify_parameters",
    "version_at",
]
