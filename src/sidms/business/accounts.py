"""Payments, arrears and personal accounts (issue 8 §5–§6; R2.2).

* **Payments.** Since 2019 the tax bureau collects the contributions (国税地税征管体制改革方案, 2018) and its
  payment extracts reach the agency by the collaboration channel, as ``payment`` runs matched to the
  assessed entries in full or in part (sidms.business.payments).
* **Arrears** per unit: the live assessed entries (not reversed) that no payment settles, and what is left
  of those paid in part, with the late fee to any date on what is unpaid.
* **Personal accounts.** Monthly credits are the account part of *paid* contributions; the year-end interest
  is an ``interest`` run at that year's published rate by the method the parameter names (劳办发〔1997〕116号
  annex 3); the balance as of any date is the sum of those ledger entries up to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Case, F, Q, QuerySet, Sum, Value, When
from django.utils.translation import gettext_lazy as _

from sidms.business import calc
from sidms.business.ledger import register_writer
from sidms.business.models import AssessmentRun, EntryKind, LedgerEntry
from sidms.business.parameters import cached_parameters
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Person

PENSION = ("110", "120")
ZERO = Decimal(0)
CENT = Decimal("0.01")


def _cents(total: Decimal | int | float | None) -> Decimal:
    """A SQL sum of amounts, to the cent. SQLite stores DECIMAL columns with REAL affinity and Django does not
    quantize an aggregate (only a plain column), so a SUM comes back as e.g. 1234.5600000000002; every
    addend is whole cents and the float error is far below half a cent, so quantizing restores the exact
    sum (PostgreSQL's numeric sum is exact already and unchanged by it)."""
    return Decimal(total or 0).quantize(CENT)


def live_assessed() -> QuerySet[LedgerEntry]:
    """Assessed and supplementary entries that no reversal has cancelled."""
    return LedgerEntry.objects.filter(kind__in=[EntryKind.ASSESSED, EntryKind.SUPPLEMENTARY]).exclude(
        corrections__kind=EntryKind.REVERSAL
    )


def outstanding() -> QuerySet[LedgerEntry]:
    """Live assessed entries that no payment settles."""
    return live_assessed().exclude(settlements__kind=EntryKind.PAID)


# --------------------------------------------------------------------------------------------------------
# Arrears


@dataclass
class UnitArrears:
    unit_id: int | None  # None: flexible workers, who pay for themselves
    periods: dict[str, Decimal] = field(default_factory=dict)  # period -> principal
    fees: dict[str, Decimal] = field(default_factory=dict)  # period -> late fee to the date asked

    @property
    def principal(self) -> Decimal:
        return sum(self.periods.values(), ZERO)

    @property
    def fee(self) -> Decimal:
        return sum(self.fees.values(), ZERO)


def arrears(as_of: date, unit_id: int | None = None) -> list[UnitArrears]:
    """Per unit, the contributions outstanding on AS_OF for periods already due, and the late fee on each
    period's principal to AS_OF (each period has its own due date)."""
    with cached_parameters():
        return _arrears(as_of, unit_id)


def _arrears(as_of: date, unit_id: int | None) -> list[UnitArrears]:
    rows = outstanding()
    if unit_id is not None:
        rows = rows.filter(unit_id=unit_id)
    grouped = rows.values("unit_id", "period", "person__district_id").annotate(
        unit=Sum("unit_amount"), individual=Sum("individual_amount")
    )
    owed: dict[tuple[int | None, str, str], Decimal] = defaultdict(lambda: ZERO)
    for g in grouped.order_by("unit_id", "period"):
        owed[(g["unit_id"], g["period"], g["person__district_id"])] += _cents(g["unit"]) + _cents(
            g["individual"]
        )
    from sidms.business.payments import remainders  # payments builds on this module

    for d in remainders(unit_id):  # entries paid in part: what is left of them
        owed[(d.entry.unit_id, d.entry.period, d.entry.person.district_id)] += d.total
    out: dict[int | None, UnitArrears] = {}
    for (unit, period, region), principal in sorted(
        owed.items(), key=lambda kv: (kv[0][0] is not None, kv[0][0] or 0, kv[0][1])
    ):
        if calc.due_date(period, region) >= as_of:
            continue
        item = out.setdefault(unit, UnitArrears(unit))
        item.periods[period] = item.periods.get(period, ZERO) + principal
        item.fees[period] = item.fees.get(period, ZERO) + calc.late_fee(principal, period, as_of, region).fee
    return list(out.values())


# --------------------------------------------------------------------------------------------------------
# Personal accounts


def _credited() -> Q:
    return Q(insurance__in=PENSION) & (Q(kind=EntryKind.PAID) | Q(kind=EntryKind.INTEREST))


def balance_as_of(person_id: int, day: date) -> Decimal:
    """The personal-account balance on DAY: paid credits and settled interest recorded up to it."""
    total = LedgerEntry.objects.filter(_credited(), person_id=person_id, entry_date__lte=day).aggregate(
        s=Sum("account_credit")
    )["s"]
    return _cents(total)


@dataclass(frozen=True)
class AccountYear:
    year: int
    principal: Decimal
    interest: Decimal
    balance: Decimal  # at the year's end (or today for the current year)


def account_years(person_id: int) -> list[AccountYear]:
    """Principal and interest per year from the ledger (the rights record's account table)."""
    by_year: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for period, kind, credit in LedgerEntry.objects.filter(_credited(), person_id=person_id).values_list(
        "period", "kind", "account_credit"
    ):
        by_year[int(period[:4])][1 if kind == EntryKind.INTEREST else 0] += credit
    out, running = [], ZERO
    for year in sorted(by_year):
        principal, interest = by_year[year]
        running += principal + interest
        out.append(AccountYear(year, principal, interest, running))
    return out


def _interest(run: AssessmentRun) -> Iterable[LedgerEntry]:
    year = int(run.period)
    start, end = f"{year}-01", f"{year}-12"
    previous: dict[int, Decimal] = defaultdict(lambda: ZERO)
    credits: dict[int, dict[int, Decimal]] = defaultdict(dict)
    # One row per person and month of YEAR and kind, and one per person and kind for every earlier period
    # (the previous balance): the grouping is done by the database. The ORM compiles the query and a raw
    # cursor reads it, skipping Django's per-value converters (most of the run's time); each sum is taken
    # to the cent by _cents, as the ORM's value would be.
    grouped = (
        LedgerEntry.objects.filter(_credited(), period__lte=end)
        .annotate(p=Case(When(period__lt=start, then=Value("")), default=F("period")))
        .values_list("person_id", "p", "kind")
        .annotate(s=Sum("account_credit"))
        .order_by()
    )
    sql, params = grouped.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # Raw SQL puts the annotations after the plain columns; take each by its name.
        at = {column[0]: i for i, column in enumerate(cursor.description)}
        pick = [at["person_id"], at["p"], at["kind"], at["s"]]
        rows = [tuple(row[i] for i in pick) for row in cursor.fetchall()]
    for person_id, period, kind, total in rows:
        amount = _cents(total)
        if period < start:
            previous[person_id] += amount
        elif kind == EntryKind.PAID:
            month = int(period[5:7])
            credits[person_id][month] = credits[person_id].get(month, ZERO) + amount
        else:
            raise ChangeRefused(
                _("Interest for %(year)s has already been settled."), {"year": year}, code="twice"
            )
    people = sorted(set(previous) | set(credits))
    # A large run reads every person's district in one pass rather than binding an IN list of every id
    # (SQLite caps a statement's parameters).
    persons = Person.objects.filter(pk__in=people) if len(people) <= 5000 else Person.objects.all()
    regions = dict(persons.values_list("pk", "district_id").iterator(chunk_size=20000)) if people else {}
    settle: dict[str | None, Callable[[Decimal, dict[int, Decimal]], Any]] = {}
    for person_id in people:
        region = regions.get(person_id)
        if region not in settle:
            settle[region] = calc.account_settlement(year, region)
        settled = settle[region](previous[person_id], credits[person_id])
        yield LedgerEntry(
            period=end, person_id=person_id, unit_id=None, insurance="110", kind=EntryKind.INTEREST,
            account_credit=settled.interest, entry_date=date(year, 12, 31),
        )  # fmt: skip


register_writer("interest", _interest)

__all__ = ["UnitArrears", "account_years", "arrears", "balance_as_of", "live_assessed", "outstanding"]
