"""Payments, arrears and personal accounts (issue 8 §5–§6; R2.2).

* **Payments.** Since 2019 the tax bureau collects the contributions (国税地税征管体制改革方案, 2018) and its
  payment extracts reach the agency by the collaboration channel, as ``payment`` runs matched to the
  assessed entries in full or in part (sidms.business.payments).
* **Arrears** per unit: the live assessed entries (not reversed) that no payment settles, and what is left
  of those paid in part, with the late fee to any date on what is unpaid.
* **Personal accounts.** Monthly credits are the account part of *paid* contributions, and a balance
  transferred in from another region is credited on the day it arrived (sidms.business.transfers); the
  year-end interest is an ``interest`` run at that year's published rate by the method the parameter names
  (劳办发〔1997〕116号 annex 3); the balance as of any date is the sum of those ledger entries up to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from sidms.business import calc
from sidms.business.ledger import Fact, districts_read, register_writer, vouched_values
from sidms.business.models import AssessmentRun, EntryKind, LedgerEntry
from sidms.business.parameters import cached_parameters
from sidms.changes.inputs import RunInputs
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


def live_assessed(period: str | None = None) -> QuerySet[LedgerEntry]:
    """Assessed and supplementary entries that no reversal has cancelled (of PERIOD if given).

    A reversal carries the period of the entry it reverses, and a payment that of the entry it settles
    (ledger._correct, payments._pay): with PERIOD, the subqueries read that period alone, which on
    PostgreSQL is one partition of the ledger (sidms.business.partitions) rather than every one of them."""
    rows = LedgerEntry.objects.filter(kind__in=[EntryKind.ASSESSED, EntryKind.SUPPLEMENTARY])
    reversals = LedgerEntry.objects.filter(kind=EntryKind.REVERSAL, corrects_id=OuterRef("pk"))
    if period is not None:
        rows, reversals = rows.filter(period=period), reversals.filter(period=period)
    return rows.filter(~Exists(reversals.order_by()))


def outstanding(period: str | None = None) -> QuerySet[LedgerEntry]:
    """Live assessed entries that no payment settles (of PERIOD if given: see live_assessed)."""
    payments = LedgerEntry.objects.filter(kind=EntryKind.PAID, settles_id=OuterRef("pk"))
    if period is not None:
        payments = payments.filter(period=period)
    return live_assessed(period).filter(~Exists(payments.order_by()))


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


def arrears(as_of: date, unit_id: int | None = None, *, actor: Any = None) -> list[UnitArrears]:
    """Per unit, the contributions outstanding on AS_OF for periods already due, and the late fee on each
    period's principal to AS_OF (each period has its own due date). Each entry summed matches its keyed
    digest: one that does not is left out, its integrity alert recorded as ACTOR's."""
    with cached_parameters():
        return _arrears(as_of, unit_id, actor)


def _arrears(as_of: date, unit_id: int | None, actor: Any) -> list[UnitArrears]:
    rows = outstanding()
    if unit_id is not None:
        rows = rows.filter(unit_id=unit_id)
    # Summed here, entry by entry, rather than by the database: each entry summed is checked against its
    # keyed digest as it is read (ledger.vouched_values). A copy of another person's assessment inserted in
    # SQL raised the unit's arrears on the page until the nightly verification (attack round 15).
    owed: dict[tuple[int | None, str, str], Decimal] = defaultdict(lambda: ZERO)
    for unit, period, region, unit_amount, individual_amount in vouched_values(
        rows.order_by("pk"),
        ("unit", "period", "person__district", "unit_amount", "individual_amount"),
        actor=actor,
    ):
        owed[(unit, period, region)] += unit_amount + individual_amount
    from sidms.business.payments import remainders  # payments builds on this module

    for d in remainders(unit_id, actor=actor):  # entries paid in part: what is left of them
        owed[(d.entry.unit_id, d.entry.period, d.entry.district_id)] += d.total
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


# What the personal account holds: the account part of paid contributions, a balance transferred in from
# another region (sidms.business.transfers, 国办发〔2009〕66号 Art. 4(1)) — the year's principal, by period —
# and the settled interest.
PRINCIPAL = (EntryKind.PAID, EntryKind.TRANSFER_ACCOUNT)


def _credited() -> Q:
    return Q(insurance__in=PENSION) & Q(kind__in=(*PRINCIPAL, EntryKind.INTEREST))


def balance_as_of(person_id: int, day: date) -> Decimal:
    """The personal-account balance on DAY: paid credits, balances transferred in and settled interest
    recorded up to it (by entry date)."""
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


def _interest(run: AssessmentRun) -> Iterable[Fact]:
    year = int(run.period)
    start, end = f"{year}-01", f"{year}-12"
    # One row per person, summed by the database (as the bench's INSERT … SELECT does): the balance before
    # YEAR, YEAR's paid credits, their month product Σ credit × (13 − month) (月积数) and the number of
    # interest entries already in YEAR. Each sum is whole cents (an integer weight times whole cents), so
    # _cents restores SQLite's float sum exactly; lc.account_settlement_from_sums applies the method.
    # A balance transferred in (PRINCIPAL's second kind) is principal of its period's month, as a paid
    # credit is: it earns interest from the month it arrived ([U], sidms.business.transfers).
    month = "CAST(SUBSTR(period, 6, 2) AS INTEGER)"
    this_year = "period >= %s"
    sql = f"""
        SELECT person_id,
            SUM(CASE WHEN period < %s THEN account_credit ELSE 0 END),
            SUM(CASE WHEN {this_year} AND kind IN (%s, %s) THEN account_credit ELSE 0 END),
            SUM(CASE WHEN {this_year} AND kind IN (%s, %s) THEN account_credit * (13 - {month}) ELSE 0 END),
            SUM(CASE WHEN {this_year} AND kind = %s THEN 1 ELSE 0 END)
        FROM {LedgerEntry._meta.db_table}
        WHERE insurance IN (%s, %s) AND kind IN (%s, %s, %s) AND period <= %s
        GROUP BY person_id
        ORDER BY person_id
    """  # noqa: S608  (the table name is the model's)
    principal = [str(k) for k in PRINCIPAL]
    interest = str(EntryKind.INTEREST)
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, start, *principal, start, *principal, start, interest, *PENSION, *principal,
                             interest, end])  # fmt: skip
        rows = cursor.fetchall()
    if any(settled for *_sums, settled in rows):
        raise ChangeRefused(
            _("Interest for %(year)s has already been settled."), {"year": year}, code="twice"
        )
    with RunInputs(f"run:{run.pk}") as inputs:
        yield from _accounts_settled(year, rows, districts_read(inputs))
        inputs.finish()  # before the run's root and commit


def _accounts_settled(
    year: int, rows: list[tuple[Any, ...]], checked: dict[int, str | None] | None
) -> Iterable[Fact]:
    """Each account's interest from its sums. CHECKED: every person's district, read against its history,
    where some district has parameter versions of its own (ledger.districts_read); else they are read here,
    deciding nothing (the city's values apply everywhere)."""
    end = f"{year}-12"
    people = [row[0] for row in rows]
    if checked is not None:
        regions = checked
    else:
        # A large run reads every person's district in one pass rather than binding an IN list of every id
        # (SQLite caps a statement's parameters).
        persons = Person.objects.filter(pk__in=people) if len(people) <= 5000 else Person.objects.all()
        regions = dict(persons.values_list("pk", "district_id").iterator(chunk_size=20000)) if people else {}
    settle: dict[str | None, Callable[[Decimal, Decimal, Decimal], Any]] = {}
    last = date(year, 12, 31)
    for person_id, previous, principal, product, _settled in rows:
        region = regions.get(person_id)
        if region not in settle:
            settle[region] = calc.account_settlement_sums(year, region)
        settled = settle[region](_cents(previous), _cents(principal), _cents(product))
        yield {
            "period": end, "person_id": person_id, "unit_id": None, "insurance": "110",
            "kind": EntryKind.INTEREST, "base": None, "unit_rate": None, "individual_rate": None,
            "unit_amount": ZERO, "individual_amount": ZERO, "account_credit": settled.interest,
            "entry_date": last, "corrects_id": None, "settles_id": None,
        }  # fmt: skip


register_writer("interest", _interest)

__all__ = ["UnitArrears", "account_years", "arrears", "balance_as_of", "live_assessed", "outstanding"]
