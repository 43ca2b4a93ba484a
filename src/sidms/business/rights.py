"""The rights record (个人权益记录, MOHRSS Order 14 Art. 2; issue 8 §8): a read model per person built from the
registry and the ledger, read through the access policy (scope, audit), printed as the 社会保险个人权益记录单
by :mod:`sidms.lib.statement` with a verification number, and verified on a public page.

* :func:`rights_record_for` — the read model for a staff member: the person is fetched through
  ``access.policies.record_get`` (data scope, an audited read), and the rights-record view is an audit event
  of its own. An employer unit outside the staff member's data scope is not named (the person page's rule,
  ``policies.visible_related``).
* :func:`issue_statement` — the PDF, and the stored :class:`~sidms.business.models.IssuedStatement` (id,
  digest, cut-off, agency, masked name) with its audit event.
* :func:`verify_number` — the public check: the number is one the agency issued and its MAC matches
  (genuine), and the person's data up to the cut-off still give the printed digest (unchanged).
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Context as DecimalContext
from decimal import Decimal
from functools import cache
from itertools import islice
from typing import Any, NamedTuple

from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access import policies
from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.audit.verify import Report, broken
from sidms.business import ledger
from sidms.business.accounts import PENSION, PRINCIPAL
from sidms.business.models import (
    EnrolmentKind,
    EnrolmentStatus,
    EntryKind,
    IssuedStatement,
    LedgerEntry,
    PersonEnrolment,
)
from sidms.changes.integrity import check_row, latest_of, require_all_intact, unintact, with_latest_revision
from sidms.changes.seals import row_seal
from sidms.changes.services import audited_refusals
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, IntegrityAlert
from sidms.core.kernel import spec_for
from sidms.core.keys import keyring
from sidms.core.prepared import Prepared, planned_once
from sidms.lib import statement as st
from sidms.registry.models import DelegatedQuery, Person, Unit

INSURANCE = {
    "110": st.Insurance.PENSION, "120": st.Insurance.PENSION, "210": st.Insurance.UNEMPLOYMENT,
    "410": st.Insurance.WORK_INJURY, "310": st.Insurance.MEDICAL,
}  # fmt: skip
STATUS: dict[str, str] = {
    EnrolmentStatus.PAYING: "参保缴费", EnrolmentStatus.SUSPENDED: "暂停缴费", EnrolmentStatus.TERMINATED: "终止缴费",
}  # fmt: skip
YEARS_SHOWN = 3
_OWING = (EntryKind.ASSESSED, EntryKind.SUPPLEMENTARY)  # the entries a payment settles
_CREDITED = (*PRINCIPAL, EntryKind.INTEREST)  # what a personal account is credited with
_NO_MONTH = st.MonthCell(None, st.Mark.NONE)  # a month without contributions (a frozen cell, shared)
# The entries the record counts (_record): not a late fee nor a benefit paid, which change none of its figures
# and are not read (a pensioner's monthly benefits would each cost a keyed digest, ledger.forged_rows).
_COUNTED = (*_OWING, EntryKind.REVERSAL, EntryKind.PAID, EntryKind.INTEREST, EntryKind.TRANSFERRED,
            EntryKind.TRANSFER_ACCOUNT)  # fmt: skip
ZERO = Decimal(0)


def _agency(person: Person) -> str:
    return f"威海市社会保险事业中心（{person.district.name}）"


def rights_record(
    person: Person, cut_off: date, *, viewer: Any = None, actor: Any = None
) -> st.StatementData:
    """Everything the statement shows for PERSON, from the ledger as it stands, up to CUT_OFF; for a staff
    member's page, as VIEWER may see it (see :func:`_employer_name`). A ledger entry that does not match its
    keyed digest is left out, its alert recorded as ACTOR's (:func:`rights_records`)."""
    return rights_records([person], cut_off, viewer=viewer, actor=actor)[person.pk]


def rights_records(
    persons: Sequence[Person],
    cut_off: date,
    *,
    viewer: Any = None,
    enrolments: Mapping[int, list[_Enrolment]] | None = None,
    ledgers: Mapping[int, list[tuple[Any, ...]]] | None = None,
    actor: Any = None,
) -> dict[int, st.StatementData]:
    """:func:`rights_record` of each of PERSONS (by id), from two queries for all of them: the yearly batch
    reads a chunk of persons at once rather than two queries per statement. ENROLMENTS: each person's
    enrolments started by CUT_OFF, already read (and checked, :func:`_intact_enrolments`), in their order.
    LEDGERS: each person's ledger entries, already read and checked (:func:`_ledgers`); otherwise they are
    read here, and an entry that does not match its keyed digest is left out of the record, its integrity
    alert recorded as ACTOR's (the public verification of a statement's number compares what remains)."""
    if ledgers is None:
        ledgers = _ledgers([int(p.pk) for p in persons], actor=actor)[0]
    if enrolments is None:
        enrolled: dict[int, list[_Enrolment]] = {p.pk: [] for p in persons}
        for person_id, *enrolment in _enrolment_rows(list(enrolled), cut_off):
            enrolled[person_id].append(_Enrolment(*enrolment))
        enrolments = enrolled
    return {p.pk: _record(p, cut_off, ledgers[p.pk], enrolments[p.pk], viewer) for p in persons}


# The ledger columns a rights record is built from (see _record for the order).
_LEDGER = ("person", "id", "period", "insurance", "kind", "base", "entry_date", "settles", "corrects",
           "account_credit", "unit_amount", "individual_amount")  # fmt: skip
# What the read selects: those, then the rest of what each entry's keyed digest covers, and the digest.
_READ = (*_LEDGER, *(name for name in ledger.DIGEST_COLUMNS if name not in _LEDGER))


class Forged(NamedTuple):
    """A person's first ledger entry that does not match its keyed digest: its id and its integrity alert
    (recorded when it was found)."""

    entry: int
    alert: IntegrityAlert


def _ledgers(
    person_ids: list[int], *, actor: Any
) -> tuple[dict[int, list[tuple[Any, ...]]], dict[int, Forged]]:
    """Each of PERSON_IDS' ledger entries as the record reads them (:func:`_ledger_rows`, but the person), by
    person, each entry checked against its keyed digest; and the persons of which an entry failed, with
    the first such entry (left out of the rows, each failing entry's alert recorded as ACTOR's)."""
    ledgers: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in person_ids}
    rows, forged = _ledger_rows(person_ids, actor=actor)
    for row in rows:
        ledgers[row[0]].append(row[1:])
    return ledgers, forged


def _ledger_rows(person_ids: list[int], *, actor: Any) -> tuple[list[tuple[Any, ...]], dict[int, Forged]]:
    """The _LEDGER columns of PERSON_IDS' entries the record counts (_COUNTED), in (person, id) order, with the values the ORM would give
    (Decimal to the field's places, date), of the entries that match their keyed digests; and, by person, the
    first entry that does not (:func:`_ledgers`). One plain SELECT: building the queryset and converting each
    value through the ORM was a quarter of the rights page's processor time, for a query whose shape never
    changes. It reads what each entry's digest covers too (``ledger.DIGEST_COLUMNS``), and
    ``ledger.forged_rows`` checks the rows as the driver gave them: a contribution inserted in SQL (a copy of
    another person's entry with its digest) was counted on the record, the statements and the yearly batch
    (attack round 15)."""
    if not person_ids:
        return [], {}
    connection = connections[router.db_for_read(LedgerEntry)]
    quote = connection.ops.quote_name
    fields: list[Any] = [LedgerEntry._meta.get_field(name) for name in _READ]
    # SQLite: the instant as Django stored it (text), for ledger.forged_rows, rather than through Django's
    # converter (a regular expression per value, a tenth of the check's time).
    as_text = {"created_at"} if connection.vendor == "sqlite" else set()
    columns = ", ".join(
        f"CAST({quote(f.column)} AS TEXT)" if f.name in as_text else quote(f.column) for f in fields
    )
    person, pk, marks = quote(fields[0].column), quote(fields[1].column), ", ".join(["%s"] * len(person_ids))
    kind, kinds = quote(fields[_READ.index("kind")].column), ", ".join(["%s"] * len(_COUNTED))
    table = quote(LedgerEntry._meta.db_table)
    sql = (
        f"SELECT {columns} FROM {table} WHERE {person} IN ({marks}) AND {kind} IN ({kinds}) "  # noqa: S608
        f"ORDER BY {person}, {pk}"
    )
    with planned_once(connection) as cursor:
        cursor.execute(sql, [*person_ids, *map(str, _COUNTED)])
        read = cursor.fetchall()
    failing = ledger.forged_rows(read, _READ, actor=actor)
    forged: dict[int, Forged] = {}
    if failing:
        for row in read:
            if row[1] in failing:
                forged.setdefault(row[0], Forged(row[1], failing[row[1]]))
        read = [row for row in read if row[1] not in failing]
    shown = len(_LEDGER)
    if connection.vendor != "sqlite":
        return [row[:shown] for row in read], forged  # psycopg gives numeric as Decimal and date as date
    # SQLite keeps a decimal as an integer or a float, which Django rounds to the field's places as here
    # (DatabaseOperations.get_decimalfield_converter); dates come as date by the declared column type.
    # A person's months mostly repeat a handful of values (one base a year, its amounts), so each distinct
    # stored value of a column is converted once per call: a Decimal is immutable, the same one may be shared.
    exact = DecimalContext(prec=15).create_decimal_from_float
    decimals: list[tuple[int, Decimal, DecimalContext, dict[Any, Decimal]]] = [
        (i, Decimal(1).scaleb(-f.decimal_places), f.context, {})
        for i, f in enumerate(fields[:shown])
        if f.get_internal_type() == "DecimalField"
    ]
    out = []
    for row in read:
        values = list(row[:shown])
        for i, places, context, seen in decimals:
            stored = values[i]
            if stored is not None:
                # Equal values convert alike (5 and 5.0 both to 5.00), but for zero's sign (-0.0 to -0.00).
                key = stored if stored else repr(stored)
                value = seen.get(key)
                if value is None:
                    value = seen[key] = exact(stored).quantize(places, context=context)
                values[i] = value
        out.append(tuple(values))
    return out, forged


def _enrolment_rows(person_ids: list[int], cut_off: date) -> list[tuple[Any, ...]]:
    """(person id, insurance, kind, status, start date, unit name or None, unit id or None, unit district or
    None) of PERSON_IDS' enrolments that started by CUT_OFF, in (person, start date, id) order: only the
    columns shown (and the unit's id and district, by which a staff member's page asks whether it may name
    the unit), by one plain SELECT as for the ledger (the ORM's join and values_list set-up cost as much as
    the query)."""
    if not person_ids:
        return []
    connection = connections[router.db_for_read(PersonEnrolment)]
    quote = connection.ops.quote_name
    meta, unit = PersonEnrolment._meta, Unit._meta
    fields: dict[str, Any] = {name: meta.get_field(name) for name in
                              ("id", "person", "insurance", "kind", "status", "start_date", "unit")}  # fmt: skip
    e = {name: f"e.{quote(field.column)}" for name, field in fields.items()}
    # The unit's district by its declared data-scope path, as policies.visible_related reads it (a field of the
    # unit itself: a path through another record would not be a field here, and fails loudly).
    district_path = spec_for("unit").declaration.district or ""
    unit_fields: list[Any] = [unit.pk, unit.get_field("name"), unit.get_field(district_path)]
    unit_id, unit_name, unit_district = (quote(f.column) for f in unit_fields)
    shown = ("person", "insurance", "kind", "status", "start_date")
    columns = ", ".join([*(e[name] for name in shown), f"u.{unit_name}", e["unit"], f"u.{unit_district}"])
    tables = f"{quote(meta.db_table)} e LEFT JOIN {quote(unit.db_table)} u ON u.{unit_id} = {e['unit']}"
    where = f"{e['person']} IN ({', '.join(['%s'] * len(person_ids))}) AND {e['start_date']} <= %s"
    order = f"{e['person']}, {e['start_date']}, {e['id']}"
    sql = f"SELECT {columns} FROM {tables} WHERE {where} ORDER BY {order}"  # noqa: S608  (names from the models)
    with planned_once(connection) as cursor:
        cursor.execute(sql, [*person_ids, cut_off])
        return cursor.fetchall()


class _Enrolment(NamedTuple):
    insurance: str
    kind: str
    status: str
    start_date: date
    unit_name: str | None  # None: no unit (a flexible worker, a resident)
    unit_id: int | None
    unit_district: str | None  # read with the enrolment: naming the unit needs no query of its own


def _employer_name(enrolments: list[_Enrolment], viewer: Any) -> str:
    """The unit the record names: that of the latest employee enrolment with a unit ("" without one).

    On a staff member's page (VIEWER) the unit is named by the rule of the person's page: a unit outside
    VIEWER's data scope is not named, only called a record outside their scope (policies.visible_related,
    R10.3). The printed statement (no VIEWER) always names it: it is the insured person's own record, printed
    for him or his registered delegate, and Order 14 entitles him to know his own employers (R10.1, R10.2);
    it must be the same document whoever prints it (the yearly batch, a clerk of any district), since its
    number is verified against his record as it stands, and the public verification page shows only the
    masked name, cut-off and agency. The clerk who hands it over sees it for that purpose, under the
    statement's audit event."""
    employers = (e for e in reversed(enrolments) if e.kind == EnrolmentKind.EMPLOYEE)
    employer = next((e for e in employers if e.unit_name is not None), None)
    if employer is None or employer.unit_name is None or employer.unit_id is None:
        return ""
    if viewer is None:
        return employer.unit_name
    # policies.visible_related's rule: in_scope of the unit's district (read with the enrolment).
    visible = policies.in_scope(viewer, employer.unit_district)
    return employer.unit_name if visible else str(policies.OUT_OF_SCOPE_NAME)


def _record(
    person: Person,
    cut_off: date,
    rows: list[tuple[Any, ...]],
    enrolments: list[_Enrolment],
    viewer: Any = None,
) -> st.StatementData:
    last_period = f"{cut_off.year:04d}-{cut_off.month:02d}"
    first_year = cut_off.year - YEARS_SHOWN + 1
    first_period = f"{first_year}-01"
    # ROWS: the person's whole ledger (a few hundred rows for a working life) in id order, every figure
    # below taken from it in Python: exact Decimal sums on either engine.
    # A row: pk, period, insurance, kind, base, entry date, settles, corrects, account credit, unit amount,
    # individual amount.
    year_start, prior_end = date(cut_off.year, 1, 1), date(cut_off.year - 1, 12, 31)
    # One pass over the rows for every sum and set below (there were ten, a tenth of the page's time):
    # ENTRIES, the rows of the years shown but interest; REVERSED_ and PAID, their reversals and what their
    # payments up to the cut-off settled of each assessed entry (a month paid in part, business.payments,
    # stays in arrears △ until its payments reach the assessed amounts); CANCELLED, OWED and PAID_TO, the same
    # over the whole ledger (the months of contribution below); the personal account's sums (accounts.
    # balance_as_of's rule: paid credits, balances transferred in and settled interest of the pension schemes,
    # by entry date: a balance transferred in before this year is part of the prior balance, one transferred
    # in this year part of this year's principal). Sums are taken in the rows' order, as before.
    entries = []
    reversed_: set[int] = set()
    paid: dict[int, Decimal] = defaultdict(Decimal)
    cancelled: set[int] = set()
    assessed: list[tuple[int, Decimal]] = []
    paid_to: dict[int, Decimal] = defaultdict(Decimal)
    prior = principal = interest = balance = ZERO
    paid_this_year: set[str] = set()
    for r in rows:
        pk, period, insurance, kind, _base, day, settles, corrects, credit, unit_amount, individual_amount = r
        shown = first_period <= period <= last_period and kind != EntryKind.INTEREST
        if shown:
            entries.append(r)
        if kind == EntryKind.REVERSAL:
            if corrects:
                cancelled.add(corrects)
                if shown:
                    reversed_.add(corrects)
        elif kind == EntryKind.PAID:
            if settles and day <= cut_off:
                amount = unit_amount + individual_amount
                paid_to[settles] += amount
                if shown:
                    paid[settles] += amount
        elif kind in _OWING:
            assessed.append((pk, unit_amount + individual_amount))
        if insurance in PENSION:
            if kind in _CREDITED:
                if day <= prior_end:
                    prior += credit
                if day <= cut_off:
                    balance += credit
            if year_start <= day <= cut_off:
                if kind in PRINCIPAL:
                    principal += credit
                elif kind == EntryKind.INTEREST:
                    interest += credit
                if kind == EntryKind.PAID:
                    paid_this_year.add(period)
    cells: dict[tuple[int, st.Insurance], list[st.MonthCell]] = {}
    # A cell is a frozen (base, mark): each distinct one is made (and checked) once, a year's months mostly
    # sharing one base.
    made: dict[tuple[Any, st.Mark], st.MonthCell] = {}
    for pk, period, insurance, kind, base, day, *_rest, unit_amount, individual_amount in entries:
        kind_of = INSURANCE.get(insurance)
        if kind_of is None or pk in reversed_:
            continue
        if kind == EntryKind.TRANSFERRED:
            # A month contributed in another region (business.transfers), as the ledger held it at the
            # cut-off: the transfer's entry date is the day it arrived here.
            if day > cut_off:
                continue
            mark = st.Mark.TRANSFERRED_IN
        elif kind in (EntryKind.ASSESSED, EntryKind.SUPPLEMENTARY):
            settled = pk in paid and paid[pk] >= unit_amount + individual_amount
            mark = st.Mark.PAID if settled else st.Mark.ARREARS
        else:
            continue
        year, month = int(period[:4]), int(period[5:7])
        row = cells.get((year, kind_of))
        if row is None:
            row = cells[year, kind_of] = [_NO_MONTH] * 12
        made_cell = made.get((base, mark))
        if made_cell is None:
            made_cell = made[base, mark] = st.MonthCell(base, mark)
        row[month - 1] = made_cell
    years = tuple(
        st.YearContributions(
            year, tuple(st.InsuranceMonths(k, tuple(cells[(year, k)])) for k in st.INSURANCE_ORDER if (year, k) in cells)
        )
        for year in range(cut_off.year, first_year - 1, -1)
    )  # fmt: skip
    # The months of contribution (缴费年限, to the month): those paid here and those transferred in from
    # another region (国办发〔2009〕66号: the regions' contribution years are added up), each month once.
    # A month paid in part is in arrears (△ above) and not yet contributed: a payment counts its month once the
    # payments up to the cut-off settle the whole of the assessed entry it pays.
    # A payment of an entry reversed since counts with the entry that replaced it (ledger._carry_payments
    # paid it again there): not for the reversed one.
    owed = {pk: amount for pk, amount in assessed if pk not in cancelled}
    months_paid: dict[st.Insurance, set[str]] = defaultdict(set)
    for _pk, period, insurance, kind, _b, day, settles, *_rest in rows:
        if (
            kind in (EntryKind.PAID, EntryKind.TRANSFERRED)
            and period <= last_period
            and day <= cut_off
            and insurance in INSURANCE
            and not (kind == EntryKind.PAID and settles in cancelled)
            and not (kind == EntryKind.PAID and settles in owed and paid_to[settles] < owed[settles])
        ):
            months_paid[INSURANCE[insurance]].add(period)
    summaries = []
    for kind_of in st.INSURANCE_ORDER:
        mine = [e for e in enrolments if INSURANCE.get(e.insurance) is kind_of]
        if mine:
            latest = mine[-1]
            summaries.append(st.InsuranceSummary(kind_of, mine[0].start_date, STATUS[latest.status],
                                                 len(months_paid[kind_of])))  # fmt: skip
    account = st.PensionAccount(prior, principal, interest, balance, months=len(paid_this_year))
    number = str(person.id_number)
    return st.StatementData(
        year=cut_off.year,
        identity=st.Identity(
            id_type="居民身份证",
            id_number=st.mask_id(number),
            ssn=st.mask_id(number),
            name=person.name,
            sex={"1": "男", "2": "女"}.get(person.sex, "未说明"),
            unit_name=_employer_name(enrolments, viewer),
            work_start=enrolments[0].start_date if enrolments else None,
        ),
        summaries=tuple(summaries),
        years=years,
        account=account,
    )


# The earliest cut-off a staff member may ask for (the social insurance of the 1951 labour insurance rules).
EARLIEST_CUT_OFF = date(1951, 1, 1)


def _cut_off(cut_off: date | None) -> date:
    """CUT_OFF (default today), refused if it lies after today or before EARLIEST_CUT_OFF: a statement cut
    off in 2099 was issued and publicly verifiable, claiming a record up to a day to come (and failing its
    own verification as soon as anything was recorded), and a year 1 or 9999 was a server error (attack
    round 5)."""
    today = timezone.localdate()
    day = cut_off or today
    if not EARLIEST_CUT_OFF <= day <= today:
        raise ChangeRefused(
            _("The cut-off date must lie between %(first)s and today."),
            {"first": EARLIEST_CUT_OFF.isoformat()}, code="cut_off",
        )  # fmt: skip
    return day


def rights_record_for(*, actor: Any, person_key: str, cut_off: date | None = None) -> st.StatementData:
    """The read model for a staff member: the person through the read door, the view audited."""
    day = _cut_off(cut_off)
    # One audit event for the view: read.rights_record naming the person and the cut-off (a refusal is
    # read.person, denied, as for the person's page).
    caller = Caller.of(actor)
    person = policies.record_get(actor=caller, spec=spec_for("person"), key=person_key,
                                 action="read.rights_record", detail={"cut_off": day.isoformat()})  # fmt: skip
    enrolments = _intact_enrolments(person, day, caller)
    ledgers = _intact_ledger(person, caller)
    return rights_records([person], day, viewer=caller.staff, enrolments={person.pk: enrolments},
                          ledgers=ledgers)[person.pk]  # fmt: skip


def _intact_ledger(person: Person, caller: Caller) -> dict[int, list[tuple[Any, ...]]]:
    """PERSON's ledger as the rights record reads it (:func:`_ledgers`), refused while one of its entries does
    not match its keyed digest: the first one's alert (recorded with the others') is raised and the page
    answers 409, as for an enrolment of theirs (:func:`_intact_enrolments`). A copy of another person's
    contribution inserted in SQL was counted on the record and on the statement handed over the counter, where
    the person's page withholds it (attack round 15)."""
    ledgers, forged = _ledgers([int(person.pk)], actor=caller)
    if forged:
        raise forged[int(person.pk)].alert
    return ledgers


def _intact_enrolments(person: Person, day: date, caller: Caller) -> list[_Enrolment]:
    """PERSON's enrolments started by DAY as the rights record shows them (:func:`_enrolment_rows`' order and
    columns), refused while one of them does not match its history: another person's enrolment pointed at
    PERSON in SQL was shown as theirs, on the page and on the statement handed over the counter, where the
    person's page withholds it (attack round 14). One query gives the enrolments, their latest revisions and
    their units' names and districts, so the record shows exactly the enrolments checked; the person's own
    check is record_get's. The yearly batch checks a chunk of people at once and withholds the statement
    instead (:func:`issue_checked`)."""
    spec = spec_for("person_enrolment")
    checked: list[Any] = [e for e in _ENROLMENTS.all(int(person.pk)) if e.start_date <= day]
    # The person was checked by record_get a moment ago, and the enrolments are selected by them.
    require_all_intact(spec, checked, caller, owner_checked=True, latest=latest_of(checked))
    checked.sort(key=lambda e: (e.start_date, e.pk))
    district = _unit_district().attname
    return [
        _Enrolment(e.insurance, e.kind, e.status, e.start_date, None, None, None)
        if e.unit_id is None
        else _Enrolment(
            e.insurance, e.kind, e.status, e.start_date, e.unit.name, e.unit_id, getattr(e.unit, district)
        )
        for e in checked
    ]


@cache
def _unit_district() -> Any:
    """The unit's field its district is read from (its declared data-scope path, as _enrolment_rows reads it)."""
    return Unit._meta.get_field(spec_for("unit").declaration.district or "")


def _enrolments_query(pk: int) -> Any:
    """The person's enrolments in id order, each with its latest revision and, of its unit, only the name and
    the district (the unit's other columns are not read)."""
    unit_fields = {"name", _unit_district().name, Unit._meta.pk.name}
    deferred = [f"unit__{f.name}" for f in Unit._meta.concrete_fields if f.name not in unit_fields]
    queryset = PersonEnrolment.objects.filter(person_id=pk).select_related("unit").defer(*deferred)
    return with_latest_revision(spec_for("person_enrolment"), queryset).order_by("pk")


# The person's enrolments, by a query compiled once (sidms.core.prepared): the check above runs on every view
# of the rights record, and building the queryset cost more than reading the rows.
_ENROLMENTS: Prepared[PersonEnrolment] = Prepared(PersonEnrolment, _enrolments_query, int)


# --------------------------------------------------------------------------------------------------------
# Issuing and verifying statements


def _number_key() -> bytes:
    """The statement-number key, derived from the deployment's MAC key (never stored)."""
    return bytes.fromhex(keyring().mac(b"sidms/statement-number-key/1"))


def verification_url(number: str) -> str:
    return f"/verify/statement/?number={number}"


@dataclass(frozen=True)
class Issued:
    row: IssuedStatement
    pdf: bytes
    number: str


def issue_statement(
    *, actor: Any, person_key: str, cut_off: date | None = None, delegated_query: int | None = None
) -> Issued:
    """Render PERSON's statement up to CUT_OFF and store what verification needs (one audit event).

    DELEGATED_QUERY: the statement is handed to a delegate (R10.2) under that registration, which must be the
    person's, approved (held registrations are not records yet) and still valid; the audit event names it."""
    caller = Caller.of(actor)
    day = _cut_off(cut_off)
    person = policies.record_get(actor=caller, spec=spec_for("person"), key=person_key)
    _intact_enrolments(person, day, caller)
    ledgers = _intact_ledger(person, caller)
    detail: dict[str, Any] = {}
    if delegated_query is not None:
        registration = DelegatedQuery.objects.filter(pk=delegated_query, person=person).first()
        if registration is None:
            raise ChangeRefused(_("There is no such approved delegated query for this person."),
                                code="delegation_unknown")  # fmt: skip
        # The registration is the authority to hand a person's records to someone else: a row written past
        # the system (an end date moved on by raw SQL, attack round 6) is refused, naming the record, before
        # its dates are believed.
        with audited_refusals():
            check_row(spec_for("delegated_query"), registration, actor=caller)
        if registration.valid_until < timezone.localdate():
            raise ChangeRefused(_("The authorisation has already expired."), code="delegation_expired")
        detail["delegated_query"] = registration.pk
    return issue_many(caller, [person], day, detail=detail, ledgers=ledgers)[0]


class Withheld(NamedTuple):
    """A statement the yearly batch did not print: the person, and the record that did not match its history
    (named by its integrity alert, recorded when it was found)."""

    person_no: str
    record: str


class YearlyStatements:
    """The yearly statement of every person with contributions in YEAR (社会保险法 Art. 74; Order 14), cut
    off at the year's end: a batch of the system itself, issued CHUNK statements at a time (one audit event
    vouching for each chunk's statements, see :func:`issue_many`). Iterating issues them; a statement whose
    printed data do not match their history is withheld (:func:`issue_checked`), and after the iteration
    WITHHELD lists those. A year that has not ended is refused at once: its statements would be cut off at
    a day to come (attack round 5)."""

    def __init__(self, year: int, *, progress: Any = None, chunk: int = 50) -> None:
        if date(year, 12, 31) >= timezone.localdate():
            raise ChangeRefused(_("The statements of %(year)s are issued once the year has ended."),
                                {"year": year}, code="year_not_ended")  # fmt: skip
        self.year, self.progress, self.chunk = year, progress, chunk
        self.withheld: list[Withheld] = []

    def __iter__(self) -> Iterator[Issued]:
        year = self.year
        caller = Caller("system:statements", request_id="")
        people = list(
            # The range as well as the prefix: PostgreSQL prunes the ledger's partitions by range, not by LIKE.
            LedgerEntry.objects.filter(
                period__startswith=f"{year}-", period__gte=str(year), period__lt=str(year + 1)
            )
            .values_list("person_id", flat=True)
            .distinct()
        )
        done = 0
        persons = Person.objects.filter(pk__in=people).select_related("district").order_by("pk").iterator()
        while batch := list(islice(persons, self.chunk)):
            issued, withheld = issue_checked(caller, batch, date(year, 12, 31))
            self.withheld += withheld
            done += len(withheld)
            if withheld and self.progress is not None:
                self.progress(done, len(people))
            for one in issued:
                done += 1
                yield one
                if self.progress is not None:
                    self.progress(done, len(people))


def yearly_statements(year: int, *, progress: Any = None, chunk: int = 50) -> YearlyStatements:
    """:class:`YearlyStatements` of YEAR (refused at once for a year that has not ended)."""
    return YearlyStatements(year, progress=progress, chunk=chunk)


def issue_checked(
    caller: Caller, persons: Sequence[Person], day: date
) -> tuple[list[Issued], list[Withheld]]:
    """:func:`issue_many` for a chunk of the yearly batch, PERSONS' printed data checked against their history
    first: the persons themselves, all their enrolments (those printed, and any whose start was pushed past
    the cut-off) and the units the enrolments name (the employer printed). A person whose row, or one of
    whose enrolments or their units, does not match its history is not printed: an integrity alert names the
    record (recorded now) and the statement is withheld, the others issued. Another person's enrolment
    pointed at PERSON in SQL was printed as theirs (attack round 14; the window's statement refused it).
    Three queries for the enrolments and the two entities' latest revisions, two for the units; no
    decryption. The persons' ledger entries are read for the chunk at once, each checked against its keyed
    digest as it is read (:func:`_ledgers`): a person with an entry that does not match is withheld too, named
    by the first such entry (a contribution inserted in SQL was printed as theirs, attack round 15); the
    others' statements are made from the entries read here."""
    by_pk = {int(p.pk): p for p in persons}
    failing: dict[int, str] = {}

    def named(spec: Any, record: Any) -> str:
        return f"{spec.name} {spec.label(record)}"

    person_spec, enrolment_spec, unit_spec = (
        spec_for(name) for name in ("person", "person_enrolment", "unit")
    )
    people: list[Any] = list(persons)
    for person, _alert in unintact(person_spec, people, caller):
        failing.setdefault(int(person.pk), named(person_spec, person))
    enrolments: list[Any] = list(PersonEnrolment.objects.filter(person_id__in=list(by_pk)).order_by("pk"))
    # The persons were checked just above: an enrolment's district is read from its person.
    for record, _alert in unintact(enrolment_spec, enrolments, caller, check_owners=False):
        enrolment: Any = record
        failing.setdefault(int(enrolment.person_id), named(enrolment_spec, enrolment))
    unit_ids = {e.unit_id for e in enrolments} - {None}
    if unit_ids:
        units: list[Any] = list(Unit.objects.in_bulk(sorted(unit_ids)).values())
        bad = {int(u.pk): named(unit_spec, u) for u, _alert in unintact(unit_spec, units, caller)}
        for enrolment in enrolments:
            if enrolment.unit_id in bad:
                failing.setdefault(int(enrolment.person_id), bad[enrolment.unit_id])
    ledger_spec = spec_for("ledger_entry")
    ledgers, forged = _ledgers(list(by_pk), actor=caller)
    for pk, first in forged.items():
        failing.setdefault(pk, f"{ledger_spec.name} {first.entry}")
    withheld = [Withheld(by_pk[pk].person_no, record) for pk, record in failing.items()]
    printed = [p for p in persons if int(p.pk) not in failing]
    return (issue_many(caller, printed, day, withheld=withheld, ledgers=ledgers) if printed else []), withheld


def issue_many(
    caller: Caller,
    persons: Sequence[Person],
    day: date,
    *,
    detail: Mapping[str, Any] | None = None,
    withheld: Sequence[Withheld] = (),
    ledgers: Mapping[int, list[tuple[Any, ...]]] | None = None,
) -> list[Issued]:
    """Issue the statements of PERSONS up to DAY: their read models in two queries, the IssuedStatement rows
    in one insert and one audit event for them all, then each PDF. One statement gets the event
    ``statement.issue`` naming it; a chunk gets ``statement.issue_batch``, named by the chunk's id, which
    is the first 24 hex digits of each of its statement ids, and recording each statement's digest and
    seal, and the persons of the chunk whose statements were WITHHELD with the record that failed. Either
    way each statement is verified by its number alone (:func:`verify_number`), and
    :func:`verify_statements` checks every row against its event. LEDGERS: the persons' ledger entries,
    read and checked by the caller (:func:`_ledgers`); otherwise read here, an entry that fails its digest
    left out with its alert."""
    records = rights_records(persons, day, ledgers=ledgers, actor=caller)
    key = _number_key()
    now = timezone.now()
    chunk_id = secrets.token_hex(12)
    rows: list[IssuedStatement] = []
    for i, person in enumerate(persons):
        data = records[person.pk]
        digest = st.statement_digest(data)
        # One statement: 128 random bits; a chunk: 96 random bits shared and the statement's place in it.
        statement_id = secrets.token_hex(16) if len(persons) == 1 else f"{chunk_id}{i:08x}"
        rows.append(IssuedStatement(
            statement_id=statement_id, number=st.verification_number(key, statement_id, digest), person=person,
            year=day.year, cut_off=day, agency=_agency(person), masked_name=st.mask_name(person.name),
            digest=digest, issued_at=now, issued_by=caller.name,
        ))  # fmt: skip
    with transaction.atomic():
        IssuedStatement.objects.bulk_create(rows)
        # The seals cover the rows as stored (a datetime comes back in UTC, the ids as the database gave them).
        ids = [r.statement_id for r in rows]
        stored = {r.statement_id: r for r in IssuedStatement.objects.filter(statement_id__in=ids)}
        rows = [stored[i] for i in ids]
        if len(rows) == 1:
            audit_record("statement.issue", actor=caller, object_type="statement", object_id=rows[0].statement_id,
                         detail={"person": persons[0].person_no, "digest": rows[0].digest, "seal": row_seal(rows[0]),
                                 **(detail or {}), **({"withheld": dict(withheld)} if withheld else {})})  # fmt: skip
        else:
            audit_record("statement.issue_batch", actor=caller, object_type="statement", object_id=chunk_id,
                         detail={"statements": {r.statement_id[24:]: [p.person_no, r.digest, row_seal(r)]
                                                for r, p in zip(rows, persons, strict=True)},
                                 **({"withheld": dict(withheld)} if withheld else {})})  # fmt: skip
    return [
        Issued(row, st.render_statement(records[person.pk], number=row.number, qr_url=verification_url(row.number),
                                        issued_at=timezone.localtime(now), cut_off=day, agency=row.agency),
               row.number)
        for row, person in zip(rows, persons, strict=True)
    ]  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    found: bool
    genuine: bool = False
    unchanged: bool = False
    masked_name: str = ""
    cut_off: date | None = None
    agency: str = ""


def verify_number(text: str) -> Verdict:
    """The public check of a printed number (recorded as an audit event, without the number's owner)."""
    number = st.normalise_number(text or "")
    row = IssuedStatement.objects.filter(number=number).select_related("person").first() if number else None
    if row is None or number is None:
        audit_record("statement.verify", actor="public", object_type="statement", detail={"found": False})
        return Verdict(found=False)
    vouched = _vouched(row.statement_id).get(row.statement_id)
    genuine = (
        st.check_number(_number_key(), number, row.statement_id, row.digest)
        and vouched is not None
        and vouched == (row.digest, row_seal(row))
    )
    # An entry that no longer matches its digest is left out of what is compared, its alert recorded.
    unchanged = (
        genuine and st.statement_digest(rights_record(row.person, row.cut_off, actor="public")) == row.digest
    )
    audit_record("statement.verify", actor="public", object_type="statement", object_id=row.statement_id,
                 detail={"found": True, "genuine": genuine, "unchanged": unchanged})  # fmt: skip
    return Verdict(True, genuine, unchanged, row.masked_name, row.cut_off, row.agency)


def _vouched(statement_id: str | None = None) -> dict[str, tuple[str, str]]:
    """Statement id -> (digest, seal) as its issuing event recorded (one event per statement, or one per
    chunk of the yearly batch)."""
    events = AuditEvent.objects.filter(
        object_type="statement", action__in=("statement.issue", "statement.issue_batch")
    )
    if statement_id is not None:
        events = events.filter(object_id__in=[statement_id, statement_id[:24]])
    out: dict[str, tuple[str, str]] = {}
    for action, oid, payload in events.values_list("action", "object_id", "payload").iterator():
        detail = json.loads(payload).get("detail", {})
        if action == "statement.issue":
            out[oid] = (str(detail["digest"]), str(detail["seal"]))
            continue
        for suffix, (_person, digest, seal) in detail["statements"].items():
            out[f"{oid}{suffix}"] = (str(digest), str(seal))
    return out


def verify_statements(report: Report, latest: Any) -> None:
    """Every issued statement is the one its audit event recorded (digest and seal), and none is missing."""
    vouched = _vouched()
    for row in IssuedStatement.objects.order_by("pk").iterator():
        claim = vouched.pop(row.statement_id, None)
        if claim != (row.digest, row_seal(row)):
            raise broken("statement", f"权益记录单 {row.statement_id} / statement #{row.pk}",
                         "已出具的权益记录单与其审计记录不符：有人绕过系统修改或插入了它",
                         "the issued statement differs from its audit event: changed or inserted outside the system")  # fmt: skip
    if vouched:
        sid = sorted(vouched)[0]
        raise broken("statement", f"权益记录单 {sid} / statement {sid}", "审计记录中的权益记录单已不存在",
                     "an issued statement the audit chain records is missing")  # fmt: skip
