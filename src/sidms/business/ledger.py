"""The contribution ledger and the runs that write it (issue 8 §4–§6; R2.2, R9.1, R20).

Every ledger entry is written by a run, and every run goes the same way: applied for by one person
(:func:`run_apply`), approved by a second (:func:`run_decide`), executed once (:func:`run_execute`). A second
application for an assessed period, and a second execution of any run, are refused. The execution writes the
entries, computes the Merkle root over their keyed digests (in id order) and records it in its audit event;
:func:`verify_runs` (registered with ``audit.verify.register_check``) recomputes each executed run's root
from its entries as they are now, so an entry altered, inserted or deleted in SQL makes ``sidms audit
verify`` exit 1 naming the run.

Kinds of run:

* ``assessment`` (核定) for a period YYYY-MM: for every paying enrolment of an employee or a flexible worker,
  base × rate for the unit and for the individual and the part credited to the personal account, rounded by
  the rounding parameter in force in that month; each entry records its base and rates, so a later change
  of a parameter never alters an assessed period;
* ``correction``: reverses one entry (its amounts negated, naming it) and adds the corrected entry (naming
  it too) — the original stays;
* ``payment``: a tax-bureau payment extract, one ``paid`` entry per assessed entry it settles
  (sidms.business.accounts);
* ``interest``: the year-end personal-account interest (sidms.business.accounts);
* ``transfer_in``: months contributed in another region and the personal account transferred with them
  (养老保险关系转移接续, sidms.business.transfers).

The ledger is a :class:`~sidms.core.governed.LedgerFact` table: the ORM refuses update and delete, the
database triggers refuse them too. On PostgreSQL it is partitioned by period, one partition per year and a
default one (sidms.business.partitions; ``sidms ledger partitions --until YEAR`` adds years): its keys are
(id, period) and (uid, period), and ``corrects``/``settles`` have no database foreign keys there, so
:func:`verify_ledger_keys` names an id or uid found twice and a reference to no entry. Every index is a
partitioned one — (person, period) for one person's history, (unit, period), (period, kind) — and the
triggers guard each partition too. SQLite keeps one table with the same indexes. docs/architecture.md names
the distribution key a Citus deployment would use.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context as DecimalContext
from decimal import Decimal
from operator import itemgetter
from typing import Any

import orjson
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import has_permission, in_scope
from sidms.audit.models import AuditEvent, Outcome
from sidms.audit.services import audit_record
from sidms.audit.verify import Broken, Report, broken
from sidms.business import partitions
from sidms.business.models import (
    AssessmentRun,
    EnrolmentKind,
    EnrolmentStatus,
    EntryKind,
    LedgerEntry,
    ParameterVersion,
    RunKind,
    RunStatus,
)
from sidms.business.parameters import MissingParameter, cached_parameters, value_at, verify_parameters
from sidms.changes.inputs import Condition, RunInputs, positions
from sidms.changes.integrity import alert, integrity_alert, record_alert
from sidms.changes.ledger import append_rows
from sidms.changes.seals import reseal, row_seal
from sidms.changes.services import audited_refusals, deny
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted, SeparationOfDuties
from sidms.core.kernel import ENTITIES
from sidms.core.keys import keyring
from sidms.lib import chain
from sidms.lib import contributions as lc
from sidms.lib.money import yuan

OBJECT = AssessmentRun.object_type
CHUNK = 2000

MAY_NOT_APPLY = _("Your posts may not apply for ledger runs.")
MAY_NOT_APPROVE = _("Your posts may not approve ledger runs.")

# --------------------------------------------------------------------------------------------------------
# Digests and the Merkle root


def _text(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is Decimal or isinstance(value, Decimal):
        return f"{value:.6f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


# The business columns a run's writer gives for each fact (a mapping by attribute name, or a LedgerEntry);
# run_execute adds the governed ones (uid, version, digest, timestamps, run).
BUSINESS = ("period", "person_id", "unit_id", "insurance", "kind", "base", "unit_rate", "individual_rate",
            "unit_amount", "individual_amount", "account_credit", "entry_date", "corrects_id", "settles_id")  # fmt: skip
_DEFAULTS: dict[str, Any] = {
    "unit_id": None, "base": None, "unit_rate": None, "individual_rate": None, "unit_amount": Decimal(0),
    "individual_amount": Decimal(0), "account_credit": Decimal(0), "corrects_id": None, "settles_id": None,
}  # fmt: skip
Fact = dict[str, Any]


def fact(**values: Any) -> Fact:
    """A new ledger fact's business columns (missing ones take the model's defaults)."""
    return {**_DEFAULTS, **values}


def entry_state(entry: LedgerEntry | Mapping[str, Any]) -> dict[str, Any]:
    """What an entry's digest covers: every business column, its uid and its run (not its row id). ENTRY is
    a stored LedgerEntry or a fact about to be appended (the same values by attribute name)."""
    v = entry if isinstance(entry, Mapping) else entry.__dict__
    return {
        "uid": str(v["uid"]),
        "period": v["period"],
        "person": v["person_id"],
        "unit": v["unit_id"],
        "insurance": v["insurance"],
        "kind": v["kind"],
        "base": _text(v["base"]),
        "unit_rate": _text(v["unit_rate"]),
        "individual_rate": _text(v["individual_rate"]),
        "unit_amount": _amount(v["unit_amount"]),
        "individual_amount": _amount(v["individual_amount"]),
        "account_credit": _amount(v["account_credit"]),
        "entry_date": _text(v["entry_date"]),
        "run": v["run_id"],
        "corrects": v["corrects_id"],
        "settles": v["settles_id"],
        "created_at": _instant(v["created_at"]),
    }


def _amount(value: Any) -> str:
    return f"{value:.6f}" if type(value) is Decimal else f"{Decimal(value):.6f}"


_INSTANTS: dict[datetime, str] = {}


def _instant(value: datetime) -> str:
    """The UTC ISO form of an entry's created_at (a run's entries share one: memoised)."""
    text = _INSTANTS.get(value)
    if text is None:
        if len(_INSTANTS) > 256:
            _INSTANTS.clear()
        text = _INSTANTS[value] = value.astimezone(UTC).isoformat()
    return text


def entry_digest(entry: LedgerEntry | Mapping[str, Any]) -> str:
    # parsed=True skips canonical's scan for non-finite floats (set off by every null, i.e. every entry):
    # entry_state holds only str, int and None, never a float.
    return keyring().mac(
        chain.canonical({"table": "business_ledgerentry", "row": entry_state(entry)}, parsed=True)
    )


# --------------------------------------------------------------------------------------------------------
# Entries read as plain rows, each checked against its keyed digest

# What a read of plain ledger rows selects to check them (:func:`forged_rows`): every column an entry's
# digest covers (entry_state, by column name without "_id"), the stored digest and the row id.
DIGEST_COLUMNS = ("id", "uid", "period", "person", "unit", "insurance", "kind", "base", "unit_rate",
                  "individual_rate", "unit_amount", "individual_amount", "account_credit", "entry_date", "run",
                  "corrects", "settles", "created_at", "row_digest")  # fmt: skip
_DECIMALS = ("base", "unit_rate", "individual_rate", "unit_amount", "individual_amount", "account_credit")
_FLOATS = DecimalContext(prec=15)  # SQLite's 15 significant digits (Django's SQLite decimal converter)
# canonical's bytes without its sorting: the state below is built in key order (json.dumps(sort_keys=True)
# order), so orjson writes the same bytes (tests/attack15 compares them with every stored digest).
_IN_ORDER = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _decimal_texts(stored: tuple[Any, ...], fields: tuple[Any, ...]) -> tuple[str | None, ...]:
    """The digest's texts of an entry's six decimal columns (_DECIMALS) as stored, as entry_state writes the
    values the ORM gives: SQLite's float or integer to the field's places as Django's converter rounds it,
    PostgreSQL's Decimal as it comes; None for NULL. A value no genuine entry holds (an infinity) raises."""
    texts: list[str | None] = []
    for value, (places, context) in zip(stored, fields, strict=True):
        if value is None:
            texts.append(None)
            continue
        if type(value) is not Decimal:
            value = _FLOATS.create_decimal_from_float(value).quantize(places, context=context)
        texts.append(f"{value:.6f}")
    return tuple(texts)


def forged_rows(
    rows: Iterable[Sequence[Any]], columns: Sequence[str], *, actor: Any
) -> dict[int, IntegrityAlert]:
    """The entries among ROWS whose keyed digest does not match what they hold, by id, each with its integrity
    alert naming the entry (recorded now, as the read door records one: a read has nothing to roll back).

    ROWS are plain rows of the ledger as the database driver gives them (a plain SELECT: no model instance,
    no ORM conversion) or as the ORM's ``values_list`` does, COLUMNS naming their values (field names: "unit"
    for its id); every one of DIGEST_COLUMNS is among them. The digest is :func:`entry_digest`'s — the same
    state, canonical bytes and keyed MAC — computed from the stored values directly, with the key ring's
    keyed hash states copied per entry (``KeyRing.mac_function``). A person's entries repeat a handful of
    amounts (one base a year): the decimal texts are made once per distinct six (0 and -0 share a key: the
    same amount either way). Every entry read is checked, one MAC each: each digest covers one entry alone,
    and no fewer MACs vouch for every entry (a run's Merkle root would need all of the run's entries, the
    whole city's month). An entry inserted in SQL cannot match (its digest is a copy of another's, or made
    up); one altered cannot either. The caller withholds what fails, or refuses the read naming it.

    Values as the drivers give them: a uid is a UUID on PostgreSQL and, on SQLite, the 32 lower-case hex
    digits Django writes, grouped here as str(UUID) groups them (a uid stored in another form, which Django
    would read as the same UUID, gives another text and fails: a copy of an entry under its uid in capitals).
    created_at is an aware datetime on PostgreSQL; on SQLite the naive datetime of Django's converter, or the
    text Django stored when the read casts it (rights._ledger_rows: the UTC instant space-separated, without
    the fraction when it is nought, as str(datetime) writes it; a regular expression per value spared)."""
    pick = itemgetter(*(columns.index(name) for name in DIGEST_COLUMNS))
    decimals: list[Any] = [LedgerEntry._meta.get_field(name) for name in _DECIMALS]
    fields = tuple((Decimal(1).scaleb(-f.decimal_places), f.context) for f in decimals)
    amounts: dict[tuple[Any, ...], tuple[str | None, ...]] = {}
    days: dict[Any, str | None] = {None: None}
    mac, dumps, in_order = keyring().mac_function(), orjson.dumps, _IN_ORDER
    failing: dict[int, IntegrityAlert] = {}
    for (pk, uid, period, person, unit, insurance, kind, base, unit_rate, individual_rate, unit_amount,
         individual_amount, credit, day, run, corrects, settles, created, digest) in map(pick, rows):  # fmt: skip
        try:
            stored = (base, unit_rate, individual_rate, unit_amount, individual_amount, credit)
            texts = amounts.get(stored)
            if texts is None:
                texts = amounts[stored] = _decimal_texts(stored, fields)
            day_text = days.get(day, days)
            if day_text is days:
                day_text = days[day] = day.isoformat()
            if type(created) is str:
                instant = f"{created[:10]}T{created[11:]}+00:00" if created[10:11] == " " else ""
            else:
                instant = (
                    created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
                ).isoformat()
            state = {
                "account_credit": texts[5],
                "base": texts[0],
                "corrects": corrects,
                "created_at": instant,
                "entry_date": day_text,
                "individual_amount": texts[4],
                "individual_rate": texts[2],
                "insurance": insurance,
                "kind": kind,
                "period": period,
                "person": person,
                "run": run,
                "settles": settles,
                "uid": f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}"
                if type(uid) is str
                else str(uid),
                "unit": unit,
                "unit_amount": texts[3],
                "unit_rate": texts[1],
            }
            matches = mac(dumps({"row": state, "table": "business_ledgerentry"}, option=in_order)) == digest
        except (ArithmeticError, AttributeError, TypeError, ValueError):  # orjson's error is a TypeError
            matches = False  # a value no genuine entry holds (an infinity, a date that is not one)
        if not matches:
            failing[pk] = alert(ENTITIES["ledger_entry"], pk, str(pk), "digest", actor=actor)
            record_alert(failing[pk])
    return failing


def vouched_values(rows: QuerySet[LedgerEntry], names: Sequence[str], *, actor: Any) -> list[tuple[Any, ...]]:
    """``ROWS.values_list(*NAMES)`` of the entries that match their keyed digests, in ROWS' order: the digest's
    columns are read with NAMES by the same query and checked by :func:`forged_rows` (values as the ORM gives
    them), an entry that fails withheld with its alert recorded as ACTOR's. For reads that sum entries in
    Python rather than in SQL, so that each entry summed is vouched for (the arrears)."""
    columns = (*names, *(name for name in DIGEST_COLUMNS if name not in names))
    read = list(rows.values_list(*columns).iterator(chunk_size=CHUNK))
    failing = forged_rows(read, columns, actor=actor)
    shown, pk = len(names), columns.index("id")
    return [row[:shown] for row in read if not failing or row[pk] not in failing]


def merkle_root(leaves: Iterable[str]) -> str:
    """The root of a binary Merkle tree over hex leaves (an odd node is carried up unchanged); "" for none.
    A node is ``chain.link(left, right)``: the audit chain's hash (SM3 by default) of the two children's bytes.

    Hand-written (a dozen lines) because the node hash must be the audit chain's own; the Python Merkle
    libraries found hash with SHA-2 only. The tree is built over bytes in a tight loop (one hash call per
    node, hex only at the root): the same root as linking hex nodes with ``chain.link``."""
    level = [bytes.fromhex(leaf) for leaf in leaves]
    if not level:
        return ""
    node = chain.hasher()
    while len(level) > 1:
        odd = level[-1] if len(level) % 2 else None
        level = [node(a + b) for a, b in zip(level[0::2], level[1::2], strict=False)]
        if odd is not None:
            level.append(odd)
    return level[0].hex()


# --------------------------------------------------------------------------------------------------------
# Applying, deciding, executing


def _period(text: str, kind: str) -> str:
    """TEXT as a run's period, refused when malformed or not yet due: a month after the current one (an
    assessment, payment or benefit run ahead of its month would pay pensions in advance, and the period, once
    applied for, could not be assessed again when it comes), or, for the year-end interest, a year that has
    not ended (its credits are not all in; the yearly statements wait for the same)."""
    try:
        # A year is four ASCII digits: int() also reads "02024", " 2024", "+2024" and "2_024" as 2024, which
        # were four periods of one year, so the once-per-period rule was passed round (attack round 8).
        if kind == RunKind.INTEREST and not (len(text) == 4 and text.isascii() and text.isdigit()):
            raise ValueError(text)
        first = date(int(text), 1, 1) if kind == RunKind.INTEREST else date.fromisoformat(f"{text}-01")
    except ValueError:
        raise ChangeRefused(
            _("The period must be YYYY-MM (a year for the interest run)."), code="period"
        ) from None
    today = timezone.localdate()
    if kind == RunKind.INTEREST and first.year >= today.year:
        raise ChangeRefused(
            _("The interest of %(year)s is settled once the year has ended."),
            {"year": text},
            code="period_ahead",
        )
    if kind != RunKind.INTEREST and first > today:
        raise ChangeRefused(
            _("The period %(period)s has not begun: a run is for the current month or an earlier one."),
            {"period": text}, code="period_ahead",
        )  # fmt: skip
    return text


def _event(run: AssessmentRun, action: str, caller: Caller, detail: Mapping[str, Any] | None = None) -> None:
    audit_record(
        action, actor=caller, object_type=OBJECT, object_id=run.pk,
        detail={"kind": run.kind, "period": run.period, **(detail or {}), "step": run.step, "seal": run.seal},
    )  # fmt: skip


def run_apply(
    *, actor: Any, kind: str, period: str, params: Mapping[str, Any] | None = None, reason: str = ""
) -> AssessmentRun:
    """Apply for a run. An assessment or interest run is applied for once per period (a rejected one
    may be applied for again)."""
    caller = Caller.of(actor)
    if caller.staff is None or not has_permission(caller.staff, "batch.apply"):
        raise NotPermitted(MAY_NOT_APPLY)
    if kind not in RunKind.values:
        raise ChangeRefused(_("Unknown kind of run."), code="kind")
    _period(period, kind)
    limit = AssessmentRun._meta.get_field("reason").max_length or 0
    if len(reason) > limit:
        # The runs page's reason is free text: a longer one was a server error on PostgreSQL (attack round 8).
        raise ChangeRefused(_("The reason is at most %(limit)s characters."), {"limit": limit}, code="reason")
    if kind == RunKind.CORRECTION:
        _check_correction(caller, params or {})
    if kind == RunKind.PAYMENT:
        _check_payment_scope(caller, params or {})
    if kind in APPLY_CHECKS:
        APPLY_CHECKS[kind](caller, period, params or {})
    try:
        with transaction.atomic():
            run = AssessmentRun.objects.create(
                kind=kind, period=period, params=dict(params or {}), reason=reason, applied_by=caller.staff,
                applied_at=timezone.now(),
            )  # fmt: skip
            reseal(run)
            _event(run, "business.run.apply", caller)
    except IntegrityError:
        raise ChangeRefused(
            _("This period has already been assessed or applied for; a period is assessed once."), code="once"
        ) from None
    return run


def _check_correction(caller: Caller, params: Mapping[str, Any]) -> None:
    try:
        entry = LedgerEntry.objects.select_related("person").filter(pk=int(params["entry"])).first()
        base = Decimal(str(params["base"]))
    except (KeyError, TypeError, ValueError, ArithmeticError):
        entry, base = None, Decimal(-1)
    if entry is not None and not in_scope(caller.staff, str(entry.person.district_id)):
        # Another district's entry is corrected by that district (or the city): refused like a missing one.
        audit_record("access.denied", actor=caller, outcome=Outcome.DENIED, object_type="ledger_entry",
                     object_id=entry.pk, detail={"reason": "out_of_scope"})  # fmt: skip
        entry = None
    if entry is None or not base.is_finite() or base < 0:
        raise ChangeRefused(
            _("A correction names the entry it corrects and the right base."), code="correction"
        )
    _check_corrected_base(entry, base)
    if entry.insurance == "410":
        # Read only at the execution, a missing class was the message "'industry_class'" (attack round 8).
        try:
            klass, tier = int(str(params["industry_class"])), int(str(params["tier"]))
            tiers = value_at("work_injury.tiers", month_bounds(entry.period)[0])
        except (KeyError, TypeError, ValueError, MissingParameter):
            klass, tier, tiers = 0, 0, {}
        if tier not in tiers.get(klass, ()):
            raise ChangeRefused(
                _("A correction of a work-injury entry names the industry risk class and a floating tier that "
                  "class has."), code="correction",
            )  # fmt: skip


def _check_corrected_base(entry: LedgerEntry, base: Decimal) -> None:
    """The corrected base lies within the limits of the entry's month, as the assessment clamps every base
    (国办发〔2019〕13号): a correction to a base of a million a month credited 80,000 to the personal account,
    and a base of 1e13 was a server error (attack round 8)."""
    try:
        limits = _Rates(month_bounds(entry.period)[0], entry.person.district_id).limits
    except MissingParameter:
        raise ChangeRefused(
            _("A correction names the entry it corrects and the right base."), code="correction"
        ) from None
    if not limits.floor <= base <= limits.ceiling:
        raise ChangeRefused(
            _("A correction names the entry it corrects and the right base: between %(floor)s and %(ceiling)s "
              "in %(period)s."),
            {"floor": yuan(limits.floor), "ceiling": yuan(limits.ceiling), "period": entry.period},
            code="correction",
        )  # fmt: skip


def _check_payment_scope(caller: Caller, params: Mapping[str, Any]) -> None:
    """Each row of a payment extract pays a unit or a flexible worker in the applicant's data scope: another
    district's arrears are not marked paid by a district that may not even read its records."""
    from sidms.registry.models import Person, Unit

    if caller.staff.is_city_level:
        return
    rows = params.get("rows", []) if isinstance(params, Mapping) else []
    payers: list[tuple[int, str, int]] = []  # (row number, "unit" | "person", id)
    for number, row in enumerate(rows if isinstance(rows, list) else [], start=1):
        try:  # a malformed row is refused when the run executes
            payers.append((number, "unit", int(row["unit_id"])) if row.get("unit_id")
                          else (number, "person", int(row["person_id"])))  # fmt: skip
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
    districts = {
        "unit": dict(
            Unit.objects.filter(pk__in={i for _n, k, i in payers if k == "unit"}).values_list(
                "pk", "district_id"
            )
        ),
        "person": dict(
            Person.objects.filter(pk__in={i for _n, k, i in payers if k == "person"}).values_list(
                "pk", "district_id"
            )
        ),
    }
    for number, kind, pk in payers:
        district = districts[kind].get(pk)
        if district is not None and not in_scope(caller.staff, str(district)):
            audit_record("access.denied", actor=caller, outcome=Outcome.DENIED, object_type="payment_row",
                         object_id=number, detail={"reason": "out_of_scope"})  # fmt: skip
            raise ChangeRefused(
                _("Row %(row)s of the payment extract pays a unit or person outside your district; refused."),
                {"row": number}, code="payment_scope",
            )  # fmt: skip


def _locked(run_id: int) -> AssessmentRun:
    run = AssessmentRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None:
        raise ChangeRefused(_("There is no such run."), code="no_run")
    if run.seal != row_seal(run) or _claims(run.pk).get(run.pk) != (run.step, run.seal):
        raise ChangeRefused(_("The run does not match its seal (changed outside the system); refused."),
                            code="seal")  # fmt: skip
    return run


def _claims(run_id: int | None = None) -> dict[int, tuple[int, str]]:
    """Run id -> (step, seal) its latest audit event recorded. Every run's seal is valid at each of its
    steps, so an old copy put back in SQL (an executed run made "approved" again) matches its seal; it
    does not match the step and seal of its latest event."""
    events = AuditEvent.objects.filter(object_type=OBJECT)
    if run_id is not None:
        events = events.filter(object_id=str(run_id))
    out: dict[int, tuple[int, str]] = {}
    for oid, payload in events.order_by("seq").values_list("object_id", "payload").iterator():
        detail = json.loads(payload).get("detail", {})
        if "step" in detail and "seal" in detail:
            out[int(oid)] = (int(detail["step"]), str(detail["seal"]))
    return out


def _advance(
    run: AssessmentRun, action: str, caller: Caller, detail: Mapping[str, Any] | None = None
) -> None:
    run.step += 1
    run.save()
    run.refresh_from_db()
    reseal(run)
    _event(run, action, caller, detail)


def run_decide(*, actor: Any, run_id: int, approve: bool) -> AssessmentRun:
    """A second person (an approver, not the applicant) approves or rejects the run."""
    caller = Caller.of(actor)
    if caller.staff is None or not has_permission(caller.staff, "batch.approve"):
        raise NotPermitted(MAY_NOT_APPROVE)
    with audited_refusals(), transaction.atomic():
        run = _locked(run_id)
        if run.status != RunStatus.APPLIED:
            raise ChangeRefused(_("This run has already been decided."), code="decided")
        if run.applied_by_id == caller.staff.pk:
            raise SeparationOfDuties(_("You may not approve your own application."))
        _check_decider_scope(caller, run)
        run.status = RunStatus.APPROVED if approve else RunStatus.REJECTED
        run.decided_by, run.decided_at = caller.staff, timezone.now()
        _advance(run, "business.run.approve" if approve else "business.run.reject", caller)
    return run


# Runs that write the entries of the whole city (a batch, R9.3): approved at city level. The others name their
# persons or payers, each of which must be in the approver's data scope (R10.3).
CITY_WIDE = frozenset({RunKind.ASSESSMENT, RunKind.INTEREST, RunKind.PENSION})


def _check_decider_scope(caller: Caller, run: AssessmentRun) -> None:
    """An approver of one district decided a city-wide assessment and another district's correction
    (attack round 8): a city-wide run is decided at city level, any other by an approver who holds every
    person and payer it names in his data scope (approving or rejecting alike)."""
    if caller.staff.is_city_level:
        return
    city_wide = run.kind in CITY_WIDE
    if city_wide or any(not in_scope(caller.staff, d) for d in _named_districts(run)):
        refusal = NotPermitted(
            _(
                "A ledger run of the whole city, or one naming persons outside your district, is decided at city "
                "level."
            )
        )
        # Written by audited_refusals once the decision's transaction has rolled back.
        raise deny(refusal, "access.denied", actor=caller, object_type=OBJECT, object_id=run.pk,
                   detail={"reason": "city_level" if city_wide else "out_of_scope"})  # fmt: skip


def _named_districts(run: AssessmentRun) -> set[str | None]:
    """The districts of the persons and payers a run's parameters name (a correction's entry, the rows of a
    payment extract or a transfer); an id naming nothing gives None, which only the city level holds."""
    from sidms.registry.models import Person, Unit

    params = run.params if isinstance(run.params, Mapping) else {}
    named: list[tuple[str, int | None]] = []  # ("person" | "unit", id)
    if run.kind == RunKind.CORRECTION:
        entry = LedgerEntry.objects.filter(pk=_int(params.get("entry")) or 0)
        named.append(("person", entry.values_list("person_id", flat=True).first()))
    rows = params.get("rows")
    for row in rows if isinstance(rows, list) else []:
        row = row if isinstance(row, Mapping) else {}
        named.append(
            ("unit", _int(row["unit_id"])) if row.get("unit_id") else ("person", _int(row.get("person_id")))
        )
    ids = {kind: {pk for k, pk in named if k == kind and pk is not None} for kind in ("person", "unit")}
    districts = {
        "person": dict(Person.objects.filter(pk__in=ids["person"]).values_list("pk", "district_id")),
        "unit": dict(Unit.objects.filter(pk__in=ids["unit"]).values_list("pk", "district_id")),
    }
    return {districts[kind].get(pk) if pk is not None else None for kind, pk in named}


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def run_execute(*, actor: Any, run_id: int) -> AssessmentRun:
    """Execute an approved run once: write its entries and vouch for them with one Merkle root."""
    caller = Caller.of(actor)
    if caller.staff is None or not has_permission(caller.staff, "batch.execute"):
        raise NotPermitted(MAY_NOT_APPLY)
    # An integrity alert a writer raises (an input changed outside the system) rolls the run back; its audit
    # event is written after the rollback.
    with audited_refusals(), transaction.atomic():
        one_run_at_a_time()
        run = _locked(run_id)
        if run.status == RunStatus.EXECUTED:
            raise ChangeRefused(_("This run has already been executed; it runs once."), code="executed")
        if run.status != RunStatus.APPROVED:
            raise ChangeRefused(_("Only an approved run can be executed."), code="not_approved")
        # The parameters every kind of run computes with, each version as the audit chain vouched for it; a
        # writer checks the registry rows it reads as it reads them (_assess, changes.inputs).
        parameters_intact(caller)
        writer = WRITERS[run.kind]
        leaves: list[str] = []
        totals = [Decimal(0), Decimal(0)]
        now = timezone.now()  # one instant for the run's entries: they are written in one transaction
        uids = _uids()
        years: Counter[str] = Counter()  # entries per year: after_bulk_write maintains the years bulk-loaded

        def vouched(write: Writer) -> Iterable[Fact]:
            for made in write(run):
                row = made if isinstance(made, dict) else {n: made.__dict__[n] for n in BUSINESS}
                years[row["period"][:4]] += 1
                row["uid"], row["version"], row["cipher_mac"] = next(uids), 1, ""
                row["created_at"] = row["updated_at"] = now
                row["run_id"] = run.pk
                digest = row["row_digest"] = entry_digest(row)
                leaves.append(digest)
                totals[0] += row["unit_amount"]
                totals[1] += row["individual_amount"]
                yield row

        # The pipeline's door for ledger facts; this run's audit event vouches for every entry it appends.
        try:
            with cached_parameters():
                append_rows(LedgerEntry, vouched(writer))
                if run.kind in FOLLOW_UPS:  # facts naming the entries just written (their ids are known now)
                    append_rows(LedgerEntry, vouched(FOLLOW_UPS[run.kind]))
        except MissingParameter as missing:
            # A period before the parameters it needs were in force (the seeded unit rates begin in May 2019):
            # refused, not a server error (attack round 8).
            raise ChangeRefused(
                _("A parameter this run needs is not in force for its period (%(missing)s); refused."),
                {"missing": str(missing)}, code="parameter_missing",
            ) from None  # fmt: skip
        run.status, run.executed_by, run.executed_at = RunStatus.EXECUTED, caller.staff, timezone.now()
        run.entries, run.root = len(leaves), merkle_root(leaves)
        _advance(run, "business.run.execute", caller, {
            "entries": run.entries, "root": run.root, "unit_total": f"{totals[0]:.2f}",
            "individual_total": f"{totals[1]:.2f}",
        })  # fmt: skip
    # Only a partition this run bulk-loaded: a transfer of working lives writes thousands of entries spread
    # over decades, a few hundred a year, and each year's partition of a city's ledger is millions of rows.
    bulk = {int(y) for y, n in years.items() if n >= partitions.BULK and y.isdigit()}
    if bulk:
        partitions.after_bulk_write(connection, bulk)
    return run


# The key of the transaction-level advisory lock that ledger runs take on PostgreSQL ("sidms-ledger-runs").
RUNS_LOCK = int.from_bytes(b"sidms-ld", "big") >> 1


def one_run_at_a_time() -> None:
    """Ledger runs execute one at a time: a run reads what is outstanding, paid or assessed and writes on it,
    so two runs in parallel (two payment extracts naming the same arrears) would each read the ledger
    before the other committed and pay the same arrears twice under PostgreSQL's READ COMMITTED. The first
    statement of the execution's transaction takes a transaction-level advisory lock, so every later
    statement reads what the run before committed. SQLite queues its writers already (sidms.core.sqlite)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RUNS_LOCK])


def _uids(block: int = 1024) -> Iterator[uuid.UUID]:
    """Random (version 4) UUIDs, as ``uuid.uuid4`` makes them, from one read of the OS's random source per
    BLOCK of them rather than one per entry."""
    while True:
        pool = os.urandom(16 * block)
        for i in range(0, len(pool), 16):
            yield uuid.UUID(bytes=pool[i : i + 16], version=4)


def run_through(applicant: Any, approver: Any, kind: str, period: str, **kw: Any) -> AssessmentRun:
    """Apply, approve and execute (the demo and the tests take a run through all its steps this way)."""
    run = run_apply(actor=applicant, kind=kind, period=period, **kw)
    run_decide(actor=approver, run_id=run.pk, approve=True)
    return run_execute(actor=applicant, run_id=run.pk)


# --------------------------------------------------------------------------------------------------------
# The assessment (核定)


def month_bounds(period: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{period}-01")
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, date.fromordinal(nxt.toordinal() - 1)


@dataclass
class _Rates:
    """The parameters in force on one day for one region, read once per run."""

    day: date
    region: str | None

    def __post_init__(self) -> None:
        get = lambda key: value_at(key, self.day, self.region)  # noqa: E731
        self.rounding: lc.Rounding = get("rounding.amount")
        self.limits = lc.base_limits_from_annual(
            get("wage.provincial_average_annual"), get("base.floor_ratio"), get("base.ceiling_ratio"),
            get("rounding.base_limit"),
        )  # fmt: skip
        self.rates = {k: get(f"rate.{k}") for k in (
            "pension.unit", "pension.individual", "pension.account", "medical.unit", "medical.individual",
            "unemployment.unit", "unemployment.individual", "flexible.pension", "flexible.account",
        )}  # fmt: skip
        self.wi_rates = get("work_injury.base_rates")
        self.wi_tiers = get("work_injury.tiers")


SCHEMES = {"110": "pension", "120": "pension", "310": "medical", "210": "unemployment"}


def contribution_for(
    rates: _Rates, insurance: str, kind: str, base: Decimal, wi: tuple[int, int] | None
) -> tuple[lc.Contribution, Decimal, Decimal] | None:
    """(contribution, unit rate, individual rate) for one month of one enrolment, or None if the scheme
    is not assessed monthly on a base (the residents' schemes)."""
    r = rates.rates
    if kind == EnrolmentKind.FLEXIBLE:
        if insurance != "110":
            return None
        c = lc.flexible_pension_contribution(
            base, limits=rates.limits, rate=r["flexible.pension"], account_rate=r["flexible.account"],
            rounding=rates.rounding,
        )  # fmt: skip
        return c, Decimal(0), r["flexible.pension"]
    if insurance == "410":
        if wi is None:
            return None
        rate = lc.work_injury_rate(wi[0], wi[1], base_rates=rates.wi_rates, tiers=rates.wi_tiers)
        c = lc.work_injury_contribution(base, wi[0], wi[1], base_rates=rates.wi_rates, rounding=rates.rounding,
                                        tiers=rates.wi_tiers)  # fmt: skip
        return c, rate, Decimal(0)
    scheme = SCHEMES.get(insurance)
    if scheme is None:
        return None
    unit, ind = r[f"{scheme}.unit"], r[f"{scheme}.individual"]
    account = r["pension.account"] if scheme == "pension" else Decimal(0)
    c = lc.monthly_contribution(base, unit_rate=unit, individual_rate=ind, rounding=rates.rounding,
                                account_rate=account)  # fmt: skip
    return c, unit, ind


def districts_read(inputs: RunInputs) -> dict[int, str | None] | None:
    """Every person's district, each person's row checked against its history (changes.inputs), when some
    district has parameter versions of its own: a district changed in SQL would then change the rates a run
    applies. None when no district has any: the district decides nothing a run computes, and a run reads it
    unchecked with what it reads anyway."""
    if not ParameterVersion.objects.exclude(region="").exists():
        return None
    district = positions("person")["district_id"]
    return {row[0]: row[district] for row in inputs.read("person")}


def _intact_entries(rows: QuerySet[LedgerEntry], actor: str) -> Iterator[LedgerEntry]:
    """ROWS (a few ledger entries a run reads: the months transferred in), each matching its keyed digest.
    An entry forged in SQL has none that matches; the full verification recomputes each run's Merkle root."""
    for entry in rows.order_by("pk"):
        if entry_digest(entry) != entry.row_digest:
            raise alert(ENTITIES["ledger_entry"], entry.pk, str(entry.pk), "digest", actor=actor)
        yield entry


def parameters_intact(actor: Any) -> None:
    """Refuse, with an integrity alert, a run over a parameter table changed in SQL: every version matches its
    digest and the audit event that vouched for it, none is missing (``verify_parameters``: a few hundred
    rows, read by the run anyway)."""
    try:
        verify_parameters(Report(), {})
    except Broken as failure:
        where = failure.problem.where
        raise integrity_alert(where, "parameter", where[:64],
                              {"reason": "parameter", "problem": failure.problem.message_en}, actor=actor) from None  # fmt: skip


def _assess(run: AssessmentRun) -> Iterable[Fact]:
    """The month's entries, from the enrolments, declarations, work-injury tiers and deaths as the pipeline
    wrote them: each table is read through ``changes.inputs.RunInputs``, and the run is refused with an
    integrity alert naming a row changed, inserted, deleted or moved out of what the run reads in SQL
    (attack round 8: a base lowered in SQL was assessed, and vouched for by the run's Merkle root)."""
    with RunInputs(f"run:{run.pk}") as inputs:
        yield from _assessed(run, inputs)
        inputs.finish()  # before append_rows returns: the run's root and commit come after


def _assessed(run: AssessmentRun, inputs: RunInputs) -> Iterable[Fact]:
    first, last = month_bounds(run.period)
    year = first.year
    # The person's district decides the rates only where a district has versions of its own: then the
    # persons' rows are read and checked too (districts_read), else the enrolment's join gives it unchecked.
    districts = districts_read(inputs)
    bases: dict[tuple[int, int | None], Decimal] = {}
    at = positions("base_declaration")
    pick = itemgetter(at["person_id"], at["unit_id"], at["base"])
    for row in inputs.read("base_declaration", [Condition("year", "=", str(year))]):
        person_id, unit_id, declared_base = pick(row)
        bases[(person_id, unit_id)] = Decimal(declared_base)
    at = positions("unit_enrolment")
    pick = itemgetter(at["unit_id"], at["industry_class"], at["tier"])
    paying_410 = [
        Condition("insurance", "=", "410"),
        Condition("status", "<>", EnrolmentStatus.TERMINATED.value),
    ]
    tiers = {
        unit_id: (int(klass), int(tier))
        for unit_id, klass, tier in map(pick, inputs.read("unit_enrolment", paying_410))
    }
    # A month transferred in from another region (sidms.business.transfers) is counted there: not assessed
    # here again for that person's scheme (no month is counted twice). Few rows: the (period, kind) index.
    # No month is assessed after the person's registered death (the month of the death is: worked in part).
    person = positions("death")["person_id"]
    dead = {row[person] for row in inputs.read("death", [Condition("date_of_death", "<", first.isoformat())])}
    transferred = {
        (entry.person_id, SCHEMES.get(entry.insurance, entry.insurance))
        for entry in _intact_entries(
            LedgerEntry.objects.filter(period=run.period, kind=EntryKind.TRANSFERRED), inputs.actor
        )
    }
    at = positions("person_enrolment")
    i_person, i_unit, i_insurance, i_kind = at["person_id"], at["unit_id"], at["insurance"], at["kind"]
    district = 4 + len(ENTITIES["person_enrolment"].raw_columns)  # the extra column: the person's district
    enrolments = inputs.read(
        "person_enrolment",
        [Condition("status", "=", EnrolmentStatus.PAYING.value),
         Condition("start_date", "<=", last.isoformat()), Condition("kind", "<>", EnrolmentKind.RESIDENT.value)],
        extra=["p.district_id"], join="LEFT JOIN registry_person p ON p.id = t.person_id",
    )  # fmt: skip
    cache: dict[str | None, _Rates] = {}
    # contribution_for is a pure function of the month's parameters (one _Rates per region) and its other
    # arguments, and bases repeat (the floor, the ceiling, common wages): each distinct case is computed
    # once per run by sidms.lib.contributions, with all its checks, and reused.
    amounts: dict[tuple[Any, ...], tuple[Decimal, tuple[lc.Contribution, Decimal, Decimal] | None]] = {}
    for row in enrolments:
        person_id, unit_id, insurance, kind = row[i_person], row[i_unit], row[i_insurance], row[i_kind]
        region = row[district] if districts is None else districts.get(person_id)
        rates = cache.get(region)
        if rates is None:
            rates = cache[region] = _Rates(first, region)
        declared = bases.get((person_id, unit_id), bases.get((person_id, None)))
        wi = tiers.get(unit_id) if unit_id else None
        key = (region, insurance, kind, declared, wi)
        if key in amounts:
            base, got = amounts[key]
        else:
            base = lc.clamp_base(declared if declared is not None else rates.limits.floor, rates.limits).base
            got = contribution_for(rates, insurance, kind, base, wi)
            amounts[key] = (base, got)
        if got is None or (transferred and (person_id, SCHEMES.get(insurance, insurance)) in transferred):
            continue
        if dead and person_id in dead:
            continue
        c, unit_rate, ind_rate = got
        yield {
            "period": run.period, "person_id": person_id, "unit_id": unit_id, "insurance": insurance,
            "kind": EntryKind.ASSESSED, "base": base, "unit_rate": unit_rate, "individual_rate": ind_rate,
            "unit_amount": c.unit_amount, "individual_amount": c.individual_amount,
            "account_credit": c.account_credit, "entry_date": last, "corrects_id": None, "settles_id": None,
        }  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Corrections: the original stays, its reversal and the corrected entry name it


def _correct(run: AssessmentRun) -> Iterable[LedgerEntry]:
    original = LedgerEntry.objects.get(pk=int(run.params["entry"]))
    if original.kind not in (EntryKind.ASSESSED, EntryKind.SUPPLEMENTARY):
        raise ChangeRefused(_("Only an assessed entry can be corrected."), code="not_assessed")
    # A reversal carries its entry's period: one partition of the ledger on PostgreSQL.
    if LedgerEntry.objects.filter(
        corrects=original, kind=EntryKind.REVERSAL, period=original.period
    ).exists():
        raise ChangeRefused(
            _("This entry has already been corrected; correct the newer entry."), code="twice"
        )
    first = month_bounds(original.period)[0]
    base = Decimal(str(run.params["base"]))
    _check_corrected_base(original, base)
    rates = _Rates(first, original.person.district_id)
    wi = None
    if original.insurance == "410":
        wi = (int(run.params["industry_class"]), int(run.params["tier"]))
    kind = EnrolmentKind.FLEXIBLE if original.unit_id is None else EnrolmentKind.EMPLOYEE
    got = contribution_for(rates, original.insurance, kind, base, wi)
    if got is None:
        raise ChangeRefused(_("Only an assessed entry can be corrected."), code="not_assessed")
    c, unit_rate, ind_rate = got
    # What was paid on the original moves to the corrected entry (_carry_payments): the corrected entry is
    # owed only what it adds, and its account credit is what the month's payments have not credited yet.
    # Reversed with its payments left behind, a paid entry was charged again in full and its month credited
    # to the personal account twice (attack round 8).
    paid = _paid_on(original)
    given = sum(
        LedgerEntry.objects.filter(kind=EntryKind.PAID, settles_id__in=_chain(original)).values_list(
            "account_credit", flat=True
        ),
        Decimal(0),
    )
    if paid[0] > c.unit_amount or paid[1] > c.individual_amount or given > c.account_credit:
        raise ChangeRefused(
            _("The entry is paid beyond the corrected amounts: a refund is not a correction."),
            code="correction_overpaid",
        )
    today = timezone.localdate()
    common = {"period": original.period, "person_id": original.person_id, "unit_id": original.unit_id,
              "insurance": original.insurance, "corrects_id": original.pk, "entry_date": today}  # fmt: skip
    yield LedgerEntry(
        **common, kind=EntryKind.REVERSAL, base=original.base, unit_rate=original.unit_rate,
        individual_rate=original.individual_rate, unit_amount=-original.unit_amount,
        individual_amount=-original.individual_amount, account_credit=-original.account_credit,
    )  # fmt: skip
    yield LedgerEntry(
        **common, kind=EntryKind.SUPPLEMENTARY if base > (original.base or 0) else EntryKind.ASSESSED,
        base=base, unit_rate=unit_rate, individual_rate=ind_rate, unit_amount=c.unit_amount,
        individual_amount=c.individual_amount, account_credit=c.account_credit - given,
    )  # fmt: skip


def _paid_on(entry: LedgerEntry) -> tuple[Decimal, Decimal]:
    """(unit, individual) amounts the payments settling ENTRY paid."""
    rows = LedgerEntry.objects.filter(kind=EntryKind.PAID, settles=entry, period=entry.period)
    unit, individual = Decimal(0), Decimal(0)
    for u, i in rows.values_list("unit_amount", "individual_amount"):
        unit, individual = unit + u, individual + i
    return unit, individual


def _chain(entry: LedgerEntry) -> list[int]:
    """ENTRY and the entries it corrected before it, newest first (a correction of a correction)."""
    ids = [entry.pk]
    corrects = entry.corrects_id
    while corrects is not None and corrects not in ids:
        ids.append(corrects)
        corrects = LedgerEntry.objects.filter(pk=corrects).values_list("corrects_id", flat=True).first()
    return ids


def _carry_payments(run: AssessmentRun) -> Iterable[Fact]:
    """Each payment of the corrected entry, again as a payment of the entry that replaces it (on the day it
    was paid, its account credit given already): the unit owes only what the correction adds."""
    original = LedgerEntry.objects.get(pk=int(run.params["entry"]))
    new = LedgerEntry.objects.filter(run=run, corrects=original, period=original.period).exclude(
        kind=EntryKind.REVERSAL
    )
    replacement = new.get()
    payments = LedgerEntry.objects.filter(kind=EntryKind.PAID, settles=original, period=original.period)
    for p in payments.order_by("pk"):
        yield fact(
            period=p.period, person_id=p.person_id, unit_id=p.unit_id, insurance=p.insurance, kind=EntryKind.PAID,
            base=replacement.base, unit_rate=replacement.unit_rate, individual_rate=replacement.individual_rate,
            unit_amount=p.unit_amount, individual_amount=p.individual_amount, entry_date=p.entry_date,
            settles_id=replacement.pk,
        )  # fmt: skip


Writer = Callable[[AssessmentRun], Iterable[LedgerEntry | Fact]]
WRITERS: dict[str, Writer] = {
    RunKind.ASSESSMENT: _assess,
    RunKind.CORRECTION: _correct,
}
# Writers run after a kind's writer, in the same run, for facts that name the entries it wrote.
FOLLOW_UPS: dict[str, Writer] = {RunKind.CORRECTION: _carry_payments}


def register_writer(kind: str, writer: Writer) -> None:
    WRITERS[kind] = writer


# Checks of a run's parameters at its application (a transfer's rows: sidms.business.transfers), so that the
# applicant hears of a fault at once; the writer checks again at the execution.
ApplyCheck = Callable[[Caller, str, Mapping[str, Any]], None]
APPLY_CHECKS: dict[str, ApplyCheck] = {}


def register_apply_check(kind: str, check: ApplyCheck) -> None:
    APPLY_CHECKS[kind] = check


# --------------------------------------------------------------------------------------------------------
# Reading


def ledger(
    person_id: int, *, as_of: datetime | None = None, insurance: str | None = None
) -> QuerySet[LedgerEntry]:
    """A person's ledger as it stood at AS_OF (default now): the entries recorded by then."""
    rows = LedgerEntry.objects.filter(person_id=person_id)
    if as_of is not None:
        rows = rows.filter(created_at__lte=as_of)
    if insurance is not None:
        rows = rows.filter(insurance=insurance)
    return rows.order_by("period", "pk")


# --------------------------------------------------------------------------------------------------------
# Verification


def _executions() -> dict[int, tuple[str, int, int]]:
    """Run id -> (Merkle root, entries, event seq) as the audit chain recorded each execution."""
    out: dict[int, tuple[str, int, int]] = {}
    events = AuditEvent.objects.filter(object_type=OBJECT, action="business.run.execute")
    for seq, oid, payload in events.order_by("seq").values_list("seq", "object_id", "payload").iterator():
        detail = json.loads(payload).get("detail", {})
        out[int(oid)] = (str(detail["root"]), int(detail["entries"]), int(seq))
    return out


def verify_ledger_keys(report: Report, latest: Mapping[str, Any]) -> None:
    """What the database's keys no longer enforce on PostgreSQL, where the ledger is partitioned by period
    (sidms.business.partitions): its keys hold per period, so an entry put into a partition by hand could
    repeat an id or a uid of another period, and ``corrects``/``settles`` have no foreign keys. Checked on
    both engines (on SQLite the keys still hold, and the queries are index scans)."""
    for column, what in (("pk", "id"), ("uid", "uid")):
        twice = (
            LedgerEntry.objects.order_by().values(column).annotate(n=Count("*")).filter(n__gt=1)
            .order_by(column).values_list(column, flat=True).first()
        )  # fmt: skip
        if twice is not None:
            ids = sorted(LedgerEntry.objects.filter(**{column: twice}).values_list("pk", flat=True))
            where = "、".join(f"#{i}" for i in ids)
            raise broken("ledger", f"账务分录 {where} / ledger entries {where}（{what} {twice}）",
                         f"两条账务分录的{what}相同：其中一条是绕过系统写入的副本",
                         f"two ledger entries share one {what}: one is a copy written outside the system")  # fmt: skip
    for reference in ("corrects", "settles"):
        target = f"{reference}_id"
        orphan = (
            LedgerEntry.objects.filter(**{f"{target}__isnull": False})
            .filter(~Exists(LedgerEntry.objects.order_by().filter(pk=OuterRef(target))))
            .order_by("pk").values_list("pk", "run_id", target).first()
        )  # fmt: skip
        if orphan is not None:
            pk, run_id, missing = orphan
            raise broken("ledger", f"账务分录 #{pk}（账务批次 #{run_id}） / ledger entry #{pk} (run #{run_id})",
                         f"该分录指向的分录 #{missing}（{reference}）不存在：它被删除了，或该分录是伪造的",
                         f"the entry it names ({reference} #{missing}) does not exist: it was deleted, or "
                         "this entry was forged")  # fmt: skip


def verify_runs(report: Report, latest: Mapping[str, Any]) -> None:
    """Each executed run's entries, as they are now, give the Merkle root its audit event recorded; no
    entry exists outside an executed run; every run matches its seal."""
    executions = _executions()
    runs = {run.pk: run for run in AssessmentRun.objects.all()}
    claims = _claims()
    missing = sorted(set(claims) - set(runs))
    if missing:
        # Only executed runs were checked against their events: an application (or an approved or rejected
        # run, or an executed one without entries) deleted in SQL vanished unseen (attack round 8).
        raise broken("ledger", f"账务批次 #{missing[0]} / ledger run #{missing[0]}",
                     "审计记录中的账务批次已不存在：有人绕过系统删除了它",
                     "a ledger run the audit chain records is missing: deleted outside the system")  # fmt: skip
    for run in runs.values():
        if run.seal != row_seal(run) or claims.get(run.pk) != (run.step, run.seal):
            raise broken("ledger", f"账务批次 #{run.pk}（{run.period}） / ledger run #{run.pk} {run.period}",
                         "账务批次与其校验值或最近的审计记录不符：有人绕过系统修改了它或放回了旧副本",
                         "the run differs from its seal or its latest audit event: changed outside the "
                         "system, or an old copy put back")  # fmt: skip
    seen = 0
    for run_id, (root, count, seq) in sorted(executions.items()):
        executed = runs.get(run_id)
        where = f"账务批次 #{run_id}（{executed.period if executed else '?'}） / ledger run #{run_id}（审计事件 #{seq}）"
        leaves: list[str] = []
        for entry in LedgerEntry.objects.filter(run_id=run_id).order_by("pk").iterator(chunk_size=CHUNK):
            digest = entry_digest(entry)
            if digest != entry.row_digest:
                raise broken("ledger", f"{where}，分录 #{entry.pk}",
                             "账务分录的内容与其校验值不符：有人绕过系统修改了它",
                             "a ledger entry differs from its digest: changed outside the system")  # fmt: skip
            leaves.append(digest)
        if len(leaves) != count or merkle_root(leaves) != root:
            raise broken("ledger", where, "该批次的账务分录与审计记录的默克尔根不符：分录被增删或篡改",
                         "the run's entries do not give the Merkle root its audit event recorded: "
                         "entries were added, deleted or altered")  # fmt: skip
        seen += len(leaves)
    total = LedgerEntry.objects.count()
    if total != seen:
        stray = LedgerEntry.objects.exclude(run_id__in=list(executions)).order_by("pk").first()
        where = f"账务分录 #{stray.pk}" if stray else "账务分录 / ledger entries"
        raise broken("ledger", where, "有账务分录不属于任何已执行的批次：它不是经由系统写入的",
                     "a ledger entry belongs to no executed run: it was not written by the system")  # fmt: skip
    report.rows["ledger_entry"] = seen
