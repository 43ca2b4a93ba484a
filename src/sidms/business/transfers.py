"""The transfer-in of a person's insurance relationship from another region (养老保险关系转移接续; issue 8 §8,
R2.2, R6.2): the months contributed elsewhere and the personal account that moves with them.

A transfer is a ledger run like any other (sidms.business.ledger): a ``transfer_in`` run for the month the
transfer arrives, applied for by one person, approved by a second, executed once; its entries are vouched
for by the Merkle root in its audit event and checked by ``sidms audit verify``. Its parameters carry, per
person (``rows``): the insurance, the transferring region (a GB/T 2260 division code outside Weihai), the day
the transfer arrived (``received_on``, in the run's month), the personal-account balance transferred
(个人账户储存额, ``balance``) and the months contributed there with their bases (``months``: a list of
``{"period": "YYYY-MM", "base": "5000.00"}``). The region is kept in the run's parameters (sealed and named by
its audit events); the entries do not repeat it.

The rule, 国办发〔2009〕66号《城镇企业职工基本养老保险关系转移接续暂行办法》(in force 2010-01-01):

* [S] Art. 4(1): the personal account's balance moves in full — one ``transfer_account`` entry credits it to
  the account on the day it arrived (``accounts.balance_as_of``'s rule: by entry date);
* [S] Art. 4(2): the pooled fund moves 12 % of the sum of the contribution bases from 1 January 1998
  (parameter ``transfer.pooled_rate``) — each month from 1998 on records its share as the entry's
  ``unit_amount`` (the unit's contributions are what the pooled fund holds), rounded by ``rounding.amount``;
* [S] the contribution years of each region are added up (缴费年限合并计算) and the accounts too — each month
  is one ``transferred`` entry with its base, shown ○ on the rights record and counted in the months of
  contribution.

Read in secondary copies of the text (notes §"Transfer of records" is [S] too), not the State Council's page.
Not verified, and decided here as marked:

* [U] interest on the transferred balance: it earns interest from the month it arrived, as a month's paid
  credit does (the month product counts it 13 − month months; the annual method takes it as the year's
  principal). No rule on the receiving agency's first-year interest was found;
* [U] months already counted here are refused, not refunded: 66号 has the double-paid months (重复缴费)
  cleared by refunding one side; which side was not verified, so the transfer of such a month is refused
  and the clerk settles it with the transferring agency first (the national audit found double enrolment);
* [U] Art. 5's temporary accounts (临时基本养老保险缴费账户: men from 50, women from 40, moving to a place that
  is not their household registration) are not modelled; neither are transfers within Shandong (provincial
  rules under 省级统筹), nor those of 120 (机关事业, 国发〔2015〕2号, also 12 %), 210 or 310: only the
  enterprise employees' basic pension (110) is transferred by this run.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import in_scope
from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.business import calc
from sidms.business.ledger import Fact, fact, month_bounds, register_apply_check, register_writer
from sidms.business.models import (
    AssessmentRun,
    Death,
    EnrolmentStatus,
    EntryKind,
    LedgerEntry,
    PersonEnrolment,
    RunKind,
    RunStatus,
)
from sidms.business.parameters import value_at
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused
from sidms.parameters.codes import region_codes
from sidms.registry.models import Person

# The insurances a transfer brings in, each with the month from which the pooled fund moves with it.
POOLED_FROM = {"110": "1998-01"}
# The city's own divisions (威海市 371000 and its districts): a transfer comes from another region.
CITY_PREFIX = "3710"
# What counts a month already (the ledger's months of contribution): no month is counted twice.
COUNTED = (EntryKind.ASSESSED, EntryKind.SUPPLEMENTARY, EntryKind.PAID, EntryKind.TRANSFERRED)
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Transfer:
    """One person's transfer, checked."""

    row: int
    person_id: int
    district: str
    insurance: str
    region: str
    received_on: date
    balance: Decimal
    months: tuple[tuple[str, Decimal], ...]  # (period, base), in period order


def _refuse(message: Any, row: int, code: str, **values: Any) -> ChangeRefused:
    return ChangeRefused(message, {"row": row, **values}, code=code)


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or abs(amount) >= Decimal("1e10") or amount != amount.quantize(CENT):
        return None
    return amount


def _months(number: int, raw: Any) -> list[tuple[str, Decimal]]:
    if not isinstance(raw, list) or not raw:
        raise _refuse(_("Row %(row)s: name the months contributed in the other region, each with its base."),
                      number, "transfer_months")  # fmt: skip
    out: list[tuple[str, Decimal]] = []
    for item in raw:
        period = str(item.get("period", "")).strip() if isinstance(item, Mapping) else ""
        base = _money(item.get("base")) if isinstance(item, Mapping) else None
        if not _PERIOD.fullmatch(period):
            raise _refuse(_("Row %(row)s: “%(period)s” is not a month (YYYY-MM)."), number, "transfer_period",
                          period=period or "?")  # fmt: skip
        if base is None or base <= 0:
            raise _refuse(_("Row %(row)s: the base of %(period)s must be an amount above zero, in yuan and fen."),
                          number, "transfer_base", period=period)  # fmt: skip
        out.append((period, base))
    twice = sorted(p for p, n in Counter(p for p, _b in out).items() if n > 1)
    if twice:
        raise _refuse(_("Row %(row)s: the month %(period)s is named twice."), number, "transfer_overlap",
                      period=twice[0])  # fmt: skip
    return sorted(out)


def check_transfer(caller: Caller | None, period: str, params: Mapping[str, Any]) -> list[Transfer]:
    """PARAMS' rows checked against the registry and the ledger as they are now; the first fault refused with
    its row number. CALLER (at the application) must hold each person in its data scope; the execution
    checks again without it (what was recorded in between counts)."""
    rows = params.get("rows") if isinstance(params, Mapping) else None
    if not isinstance(rows, list) or not rows:
        raise ChangeRefused(
            _("A transfer names at least one person's transfer (rows)."), code="transfer_rows"
        )
    first, last = month_bounds(period)
    today = timezone.localdate()
    out: list[Transfer] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise _refuse(_("Row %(row)s of the transfer is not a transfer."), number, "transfer_rows")
        try:
            person = Person.objects.filter(pk=int(row.get("person_id"))).first()  # type: ignore[arg-type]
        except (TypeError, ValueError):
            person = None
        if person is not None and caller is not None and not in_scope(caller.staff, str(person.district_id)):
            # Another district's person is transferred in by that district: refused as one that does not exist.
            audit_record("access.denied", actor=caller, outcome=Outcome.DENIED, object_type="transfer_row",
                         object_id=number, detail={"reason": "out_of_scope"})  # fmt: skip
            person = None
        if person is None:
            raise _refuse(_("Row %(row)s: there is no such person."), number, "transfer_person")
        insurance = str(row.get("insurance", "")).strip()
        if insurance not in POOLED_FROM:
            raise _refuse(_("Row %(row)s: only the enterprise employees' basic pension (110) is transferred in "
                            "(国办发〔2009〕66号)."), number, "transfer_insurance")  # fmt: skip
        enrolled = PersonEnrolment.objects.filter(person=person, insurance=insurance).exclude(
            status=EnrolmentStatus.TERMINATED
        )
        if not enrolled.exists():
            raise _refuse(_("Row %(row)s: the person is not enrolled in %(insurance)s in Weihai; enrol the person "
                            "first, then transfer the insurance in."), number, "transfer_not_enrolled",
                          insurance=insurance)  # fmt: skip
        region = str(row.get("region", "")).strip()
        if not re.fullmatch(r"\d{6}", region) or region not in region_codes():
            raise _refuse(_("Row %(row)s: “%(region)s” is not a known division code (GB/T 2260)."), number,
                          "transfer_region", region=region or "?")  # fmt: skip
        if region.startswith(CITY_PREFIX):
            raise _refuse(_("Row %(row)s: %(region)s is in Weihai; a transfer comes from another region."),
                          number, "transfer_region", region=region)  # fmt: skip
        try:
            received_on = date.fromisoformat(str(row.get("received_on", "")))
        except ValueError:
            received_on = None
        if received_on is None or not first <= received_on <= min(last, today):
            raise _refuse(_("Row %(row)s: the day the transfer arrived must be a day of %(period)s, not after "
                            "today."), number, "transfer_received", period=period)  # fmt: skip
        balance = _money(row.get("balance", ""))
        if balance is None or balance < 0:
            raise _refuse(_("Row %(row)s: the account balance transferred must be an amount of zero or more, in "
                            "yuan and fen."), number, "transfer_balance")  # fmt: skip
        months = _months(number, row.get("months"))
        if months[-1][0] > period:
            raise _refuse(_("Row %(row)s: the month %(month)s lies after the transfer (%(period)s); months to "
                            "come are not transferred."), number, "transfer_future", month=months[-1][0],
                          period=period)  # fmt: skip
        if person.birth_date is not None:
            age = int(value_at("enrolment.min_employee_age", received_on, person.district_id))
            earliest = f"{person.birth_date.year + age:04d}-{person.birth_date.month:02d}"
            if months[0][0] < earliest:
                raise _refuse(_("Row %(row)s: the month %(month)s lies before the person turned %(age)s."),
                              number, "transfer_age", month=months[0][0], age=age)  # fmt: skip
        died = (
            Death.objects.filter(person_id=person.pk)
            .order_by("date_of_death")
            .values_list("date_of_death", flat=True)
            .first()
        )
        if died is not None and months[-1][0] > f"{died.year:04d}-{died.month:02d}":
            # No month is worked after a death (an enrolment after it is refused too, business.enrolment).
            after = next(p for p, _b in months if p > f"{died.year:04d}-{died.month:02d}")
            raise _refuse(_("Row %(row)s: the month %(month)s lies after the person's death."), number,
                          "transfer_after_death", month=after)  # fmt: skip
        out.append(Transfer(number, person.pk, str(person.district_id), insurance, region, received_on, balance,
                            tuple(months)))  # fmt: skip
    _check_counted_once(out)
    _check_year_open(out, period)
    return out


def _group(insurance: str, day: date) -> list[str]:
    groups = value_at("enrolment.exclusive_groups", day)
    return list(next((g for g in groups if insurance in g), [insurance]))


def _check_counted_once(transfers: list[Transfer]) -> None:
    """No month is counted twice: not one assessed, paid or transferred in before for the person in a scheme
    of the same exclusive group (110/120/170: one pension per month), nor twice in this run."""
    seen: dict[tuple[int, str], set[str]] = defaultdict(set)
    for t in transfers:
        group = _group(t.insurance, t.received_on)
        mine = seen[(t.person_id, ",".join(sorted(group)))]
        periods = {p for p, _b in t.months}
        # The person's entries between the first and the last month: the ledger's history index.
        counted = (
            LedgerEntry.objects.filter(person_id=t.person_id, insurance__in=group, kind__in=COUNTED,
                                       period__gte=t.months[0][0], period__lte=t.months[-1][0])
            .values_list("period", flat=True)
        )  # fmt: skip
        clash = sorted((periods & set(counted)) | (periods & mine))
        if clash:
            raise _refuse(_("Row %(row)s: the month %(month)s is already counted here (assessed, paid or "
                            "transferred in before); a month is counted once."), t.row, "transfer_overlap",
                          month=clash[0])  # fmt: skip
        mine |= periods


def _check_year_open(transfers: list[Transfer], period: str) -> None:
    """A balance arriving in a year whose interest is settled would never earn that year's interest: the
    transfer is recorded in an open year (the run's month is the current one or an earlier one of it)."""
    year = period[:4]
    settled = AssessmentRun.objects.filter(kind=RunKind.INTEREST, period=year).exclude(
        status=RunStatus.REJECTED
    )
    if any(t.balance > 0 for t in transfers) and settled.exists():
        raise ChangeRefused(
            _("The account interest of %(year)s is settled already; record the transfer in the month it is "
              "entered, in an open year."), {"year": year}, code="transfer_year_settled",
        )  # fmt: skip


def _apply_check(caller: Caller, period: str, params: Mapping[str, Any]) -> None:
    check_transfer(caller, period, params)


def _transfer(run: AssessmentRun) -> Iterable[Fact]:
    for t in check_transfer(None, run.period, run.params):
        rate = Decimal(str(value_at("transfer.pooled_rate", t.received_on, t.district)))
        rounding = calc.rounding(t.received_on, t.district)
        for period, base in t.months:
            pooled = period >= POOLED_FROM[t.insurance]
            yield fact(
                period=period, person_id=t.person_id, insurance=t.insurance, kind=EntryKind.TRANSFERRED, base=base,
                unit_rate=rate if pooled else None, unit_amount=rounding.apply(base * rate) if pooled else Decimal(0),
                entry_date=t.received_on,
            )  # fmt: skip
        if t.balance > 0:
            yield fact(period=run.period, person_id=t.person_id, insurance=t.insurance,
                       kind=EntryKind.TRANSFER_ACCOUNT, account_credit=t.balance, entry_date=t.received_on)  # fmt: skip


def parse_months(text: str) -> list[dict[str, str]]:
    """Months as the window types them, one line each: ``2023-07 5000.00`` or a range with one base,
    ``2023-07..2024-06 5000.00`` (also ``～``/``~``). Returns the run's ``months`` list; a line it cannot read
    is refused naming it."""
    out: list[dict[str, str]] = []
    for line in (text or "").splitlines():
        words = line.replace("～", "..").replace("~", "..").replace("，", " ").replace(",", " ").split()
        if not words:
            continue
        span = words[0].split("..")
        if len(words) != 2 or len(span) > 2 or not all(_PERIOD.fullmatch(p) for p in span):
            raise ChangeRefused(_("Cannot read the line “%(line)s”: write a month or a range of months and a base, "
                                  "e.g. 2023-07..2024-06 5000.00."), {"line": line.strip()[:60]},
                                code="transfer_months")  # fmt: skip
        start, end = span[0], span[-1]
        y, m = int(start[:4]), int(start[5:])
        while f"{y:04d}-{m:02d}" <= end:
            out.append({"period": f"{y:04d}-{m:02d}", "base": words[1]})
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
            if len(out) > 1200:  # a working life is some 500 months
                raise ChangeRefused(_("Too many months."), code="transfer_months")
    return out


register_apply_check(RunKind.TRANSFER_IN, _apply_check)
register_writer(RunKind.TRANSFER_IN, _transfer)

__all__ = ["Transfer", "check_transfer", "parse_months"]
