"""The tax bureau's payment extracts matched to the assessed entries, in full or in part (issue 8 §5; R2.2, R6.2).

An extract is taken in as a ``payment`` run (applied for, approved, executed once). Each row pays one unit's
(``unit_id``) or one flexible worker's (``person_id``) contributions, for one period (``period``) or, with no
period, for the oldest periods outstanding first. A row may pay everything outstanding or only a part of it;
it may not pay more (an overpayment is refused, the whole extract with it).

**Allocation of a part payment.** No national rule for allocating a part payment was found (notes §2: the
late fee of 社会保险法 Art. 86 is on the amount unpaid; nothing on the order), so the order is a parameter,
``payment.allocation`` (示例值（待核对） until checked), applied as follows:

1. the oldest period first (the late fee runs longest there);
2. within a period, the parts in the parameter's order — the seeded order is the individual parts first,
   since they are withheld from the employees' wages by the unit (社会保险法 Art. 60, 代扣代缴) and credit
   their personal accounts, then the unit parts;
3. within a part, the insurances in the parameter's order (pension first), then person by person (the
   entries' order).

Each assessed entry the row touches gets one ``paid`` entry naming it (``settles``) with the unit and
individual amounts actually paid (the account credit follows the individual part, up to the entry's credit),
and a ``late_fee`` entry when it came after the due date, on the amount paid then. What stays unpaid stays in
arrears: :func:`remainders` gives, for each entry paid in part, what is left, and the arrears of
``sidms.business.accounts`` add it, with the late fee to any date on that remaining part only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.business import calc
from sidms.business.accounts import ZERO, _cents, live_assessed, outstanding
from sidms.business.ledger import Fact, fact, register_apply_check, register_writer, vouched_values
from sidms.business.models import AssessmentRun, EntryKind, LedgerEntry
from sidms.business.parameters import value_at
from sidms.core.errors import ChangeRefused
from sidms.lib.money import yuan


@dataclass(frozen=True)
class Assessed:
    """The columns of one live assessed (or supplementary) entry that matching a payment reads, with the
    person's district (the region whose parameters apply): read as plain values, many at a time."""

    pk: int
    period: str
    person_id: int
    unit_id: int | None
    insurance: str
    base: Decimal | None
    unit_rate: Decimal | None
    individual_rate: Decimal | None
    unit_amount: Decimal
    individual_amount: Decimal
    account_credit: Decimal
    district_id: str


_ASSESSED = ("pk", "period", "person_id", "unit_id", "insurance", "base", "unit_rate", "individual_rate",
             "unit_amount", "individual_amount", "account_credit", "person__district_id")  # fmt: skip


def _assessed(rows: QuerySet[LedgerEntry]) -> list[Assessed]:
    return [Assessed(*row) for row in rows.order_by("pk").values_list(*_ASSESSED).iterator(chunk_size=2000)]


@dataclass
class Due:
    """What is still owed on one assessed entry."""

    entry: Assessed
    unit: Decimal
    individual: Decimal
    credit: Decimal  # account credit not yet given

    @property
    def total(self) -> Decimal:
        return self.unit + self.individual


def _fresh(entry: Assessed) -> Due:
    return Due(entry, entry.unit_amount, entry.individual_amount, entry.account_credit)


def _part_paid_ids(where: Q) -> set[int]:
    """Assessed entries (matching WHERE) that a payment settled for less than their amounts."""
    partial = LedgerEntry.objects.filter(kind=EntryKind.PAID).filter(
        Q(unit_amount__lt=F("settles__unit_amount"))
        | Q(individual_amount__lt=F("settles__individual_amount"))
    )
    return set(partial.filter(where).values_list("settles_id", flat=True))


_UNCHECKED = object()


def _part_paid(where: Q, *, checked_for: Any = _UNCHECKED) -> list[Due]:
    """What is left on each live assessed entry paid only in part (WHERE filters the paid entries). With
    CHECKED_FOR (an actor), the assessed entries and their payments are read entry by entry, each checked
    against its keyed digest (ledger.vouched_values): one that fails is left out, its alert recorded as
    CHECKED_FOR's (the arrears, :func:`remainders`); the runs read them as before."""
    ids = _part_paid_ids(where)
    if not ids:
        return []
    payments = LedgerEntry.objects.filter(kind=EntryKind.PAID, settles_id__in=ids)
    paid: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
    if checked_for is _UNCHECKED:
        for row in (
            payments.values("settles_id")
            .annotate(u=Sum("unit_amount"), i=Sum("individual_amount"), a=Sum("account_credit"))
            .order_by()
        ):
            paid[row["settles_id"]] = (_cents(row["u"]), _cents(row["i"]), _cents(row["a"]))
        assessed = _assessed(live_assessed().filter(pk__in=ids))
    else:
        names = ("settles", "unit_amount", "individual_amount", "account_credit")
        for settles, u, i, a in vouched_values(payments.order_by("pk"), names, actor=checked_for):
            pu, pi, pa = paid.get(settles, (ZERO, ZERO, ZERO))
            paid[settles] = (pu + u, pi + i, pa + a)
        rows = live_assessed().filter(pk__in=ids).order_by("pk")
        assessed = [Assessed(*row) for row in vouched_values(rows, _ASSESSED, actor=checked_for)]
    out = []
    for e in assessed:
        u, i, a = paid.get(e.pk, (ZERO, ZERO, ZERO))
        due = Due(e, e.unit_amount - u, e.individual_amount - i, e.account_credit - a)
        if due.total > 0:
            out.append(due)
    return out


def part_paid(where: Q) -> list[Due]:
    """What is left on each live assessed entry paid only in part, of the paid entries matching WHERE."""
    return _part_paid(where)


def remainders(unit_id: int | None = None, *, actor: Any = None) -> list[Due]:
    """Every assessed entry paid in part, with what is left on it (of UNIT_ID's entries if given), for the
    arrears: each entry read checked against its keyed digest, one that fails left out with its alert
    recorded as ACTOR's."""
    return _part_paid(Q(unit_id=unit_id) if unit_id is not None else Q(), checked_for=actor)


def allocation(at: date, region: str | None = None) -> tuple[list[str], dict[str, int]]:
    """The parts' order and each insurance's rank from the ``payment.allocation`` parameter in force."""
    rule: Mapping[str, list[str]] = value_at("payment.allocation", at, region)
    return list(rule["parts"]), {code: rank for rank, code in enumerate(rule["insurances"])}


def allocate(
    dues: list[Due], amount: Decimal, parts: list[str], rank: Mapping[str, int]
) -> list[tuple[Due, Decimal, Decimal]]:
    """Spread AMOUNT over DUES (oldest period first; then PARTS in order; then insurances by RANK, then the
    entries' order). Returns (due, unit part, individual part) for each entry paid something, in entry order;
    each Due is reduced by what it received."""
    got: dict[int, list[Decimal]] = {}
    left = amount
    periods = sorted({d.entry.period for d in dues})
    for period in periods:
        mine = sorted(
            (d for d in dues if d.entry.period == period),
            key=lambda d: (rank.get(d.entry.insurance, len(rank)), d.entry.person_id, d.entry.pk),
        )
        for part in parts:
            for d in mine:
                owed = d.unit if part == "unit" else d.individual
                take = min(owed, left)
                if take <= 0:
                    continue
                share = got.setdefault(d.entry.pk, [ZERO, ZERO])
                if part == "unit":
                    d.unit -= take
                    share[0] += take
                else:
                    d.individual -= take
                    share[1] += take
                left -= take
    by_pk = {d.entry.pk: d for d in dues}
    return [(by_pk[pk], u, i) for pk, (u, i) in sorted(got.items())]


def _key(unit_id: int | None, person_id: int, period: str) -> tuple[Any, ...]:
    return (unit_id, None, period) if unit_id is not None else (None, person_id, period)


# Payers whose outstanding entries one query reads (an IN list, within SQLite's parameter limit).
PAYERS_PER_QUERY = 500


def _outstanding_by_payer(rows: list[Mapping[str, Any]]) -> dict[tuple[Any, ...], list[Due]]:
    """What is outstanding for every (payer, period) the extract's rows with a period name, read set-wise:
    one query per period and up to PAYERS_PER_QUERY units (or flexible workers), rather than one per row."""
    wanted: dict[str, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    for row in rows:
        period = str(row.get("period") or "")
        if not period:
            continue
        try:
            units, persons = wanted[period]
            if row.get("unit_id"):
                units.add(int(row["unit_id"]))
            else:
                persons.add(int(row["person_id"]))
        except (KeyError, TypeError, ValueError):
            continue  # refused as unmatched below, with its row number
    out: dict[tuple[Any, ...], list[Due]] = defaultdict(list)
    for period, (units, persons) in sorted(wanted.items()):
        for ids, unit_side in ((sorted(units), True), (sorted(persons), False)):
            for i in range(0, len(ids), PAYERS_PER_QUERY):
                chunk = ids[i : i + PAYERS_PER_QUERY]
                scope = Q(unit_id__in=chunk) if unit_side else Q(person_id__in=chunk, unit__isnull=True)
                for e in _assessed(outstanding(period).filter(scope)):
                    out[_key(e.unit_id, e.person_id, e.period)].append(_fresh(e))
    return out


def _pay(run: AssessmentRun) -> Iterable[Fact]:
    rows = list(run.params.get("rows", []))
    # What is outstanding, and what is left of entries paid in part, for every period the extract names:
    # read for the whole extract at once (the paid entries carry their assessed entry's period, person and
    # unit), not per row. A row without a period (the oldest periods first) reads its payer's entries itself.
    periods = sorted({str(r["period"]) for r in rows if r.get("period")})
    outstanding_of = _outstanding_by_payer(rows)
    part_paid: dict[tuple[Any, ...], list[Due]] = defaultdict(list)
    for d in _part_paid(Q(period__in=periods)) if periods else []:
        part_paid[_key(d.entry.unit_id, d.entry.person_id, d.entry.period)].append(d)
    # Entries paid by an earlier row of this extract, with what is left, by payer (unit, or flexible worker).
    touched: dict[tuple[Any, ...], dict[int, Due]] = defaultdict(dict)
    rules: dict[tuple[date, str], tuple[list[str], dict[str, int]]] = {}
    due_dates: dict[tuple[str, str], date] = {}
    today = timezone.localdate()
    for number, row in enumerate(rows, start=1):
        paid_on = date.fromisoformat(str(row["paid_on"]))
        if paid_on > today:
            # An extract reports payments made: one dated in 2099 was recorded (attack round 8).
            raise ChangeRefused(
                _("Row %(row)s of the payment extract is dated %(day)s, after today; the extract is refused."),
                {"row": number, "day": paid_on.isoformat()}, code="payment_date",
            )  # fmt: skip
        amount = Decimal(str(row["amount"]))
        period = str(row.get("period") or "")
        if row.get("unit_id"):
            scope = Q(unit_id=int(row["unit_id"]))
            who = f"unit #{row['unit_id']}"
            key = _key(int(row["unit_id"]), 0, period)
        else:
            scope = Q(person_id=int(row["person_id"]), unit__isnull=True)
            who = f"person #{row['person_id']}"
            key = _key(None, int(row["person_id"]), period)
        if period:
            # The same Due objects for every row of this payer and period: what an earlier row paid is
            # already taken off them.
            fresh = outstanding_of.get(key, [])
            partly = part_paid.get(key, [])
        else:
            fresh = [_fresh(e) for e in _assessed(outstanding().filter(scope))]
            partly = _part_paid(scope)
        dues = {d.entry.pk: d for d in fresh + partly}
        earlier = touched[key[:2]]
        dues.update({pk: d for pk, d in earlier.items() if not period or d.entry.period == period})
        owed = [d for d in dues.values() if d.total > 0]
        due = sum((d.total for d in owed), ZERO)
        if not owed or amount <= 0 or amount > due or amount != amount.quantize(Decimal("0.01")):
            raise ChangeRefused(
                _("Row %(row)s of the payment extract (%(who)s, %(period)s: %(amount)s) does not match the "
                  "amount outstanding (%(due)s); the extract is refused."),
                {"row": number, "who": who, "period": period or "*", "amount": yuan(amount),
                 "due": yuan(due)},
                code="payment_unmatched",
            )  # fmt: skip
        region = owed[0].entry.district_id
        if (paid_on, region) not in rules:
            rules[(paid_on, region)] = allocation(paid_on, region)
        parts, rank = rules[(paid_on, region)]
        for d, unit_part, individual_part in allocate(owed, amount, parts, rank):
            touched[key[:2]][d.entry.pk] = d
            e = d.entry
            credit = min(d.credit, individual_part)
            d.credit -= credit
            yield fact(
                period=e.period, person_id=e.person_id, unit_id=e.unit_id, insurance=e.insurance,
                kind=EntryKind.PAID, base=e.base, unit_rate=e.unit_rate, individual_rate=e.individual_rate,
                unit_amount=unit_part, individual_amount=individual_part, account_credit=credit,
                entry_date=paid_on, settles_id=e.pk,
            )  # fmt: skip
            # Paid by the due date: no late fee (lc.late_fee counts no day then), without computing it.
            if (e.period, e.district_id) not in due_dates:
                due_dates[(e.period, e.district_id)] = calc.due_date(e.period, e.district_id)
            if paid_on <= due_dates[(e.period, e.district_id)]:
                continue
            fee = calc.late_fee(unit_part + individual_part, e.period, paid_on, e.district_id)
            if fee.fee > 0:
                on_unit = e.unit_id is not None
                yield fact(
                    period=e.period, person_id=e.person_id, unit_id=e.unit_id, insurance=e.insurance,
                    kind=EntryKind.LATE_FEE, unit_amount=fee.fee if on_unit else ZERO,
                    individual_amount=ZERO if on_unit else fee.fee, entry_date=paid_on, settles_id=e.pk,
                )  # fmt: skip


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def check_rows(caller: Any, period: str, params: Mapping[str, Any]) -> None:
    """Each row of an extract, checked when the run is applied for (ledger.register_apply_check): a payer,
    a month or none, an amount in yuan and fen above zero, the day it was paid (not after today). Read only
    at the execution, an amount of NaN was a server error on the runs page after a second person had
    approved the run (attack round 8)."""
    rows = params.get("rows", []) if isinstance(params, Mapping) else None
    today = timezone.localdate()
    for number, row in enumerate(rows if isinstance(rows, list) else [None], start=1):
        refused = ChangeRefused(
            _("Row %(row)s of the payment extract is malformed: it names a unit or a flexible worker, a month "
              "(YYYY-MM) or none, an amount in yuan and fen above zero and the day it was paid."),
            {"row": number}, code="payment_row",
        )  # fmt: skip
        if not isinstance(row, Mapping):
            raise refused
        payer, month = row.get("unit_id") or row.get("person_id"), row.get("period")
        try:
            int(str(payer))
            amount = Decimal(str(row.get("amount")))
            paid_on = date.fromisoformat(str(row.get("paid_on")))
        except (ArithmeticError, ValueError):
            raise refused from None
        if payer is None or (month and not _MONTH.fullmatch(str(month))):
            raise refused
        if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise refused
        if paid_on > today:
            raise ChangeRefused(
                _("Row %(row)s of the payment extract is dated %(day)s, after today; the extract is refused."),
                {"row": number, "day": paid_on.isoformat()}, code="payment_date",
            )  # fmt: skip


register_writer("payment", _pay)
register_apply_check("payment", check_rows)
