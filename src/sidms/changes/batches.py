"""Batch changes and imports (R9.3): an application names the selection (or the import file) and the
change; approval at city level authorises exactly one execution, with the row count and the time window
fixed at approval. Execution outside that authorisation is refused.

What a batch may select by and change is the entity's declaration (``batch_select``, ``batch_change``): never
an identity field, never a selection by an encrypted field. The service enforces it, whatever the form
offers. A new encrypted value is stored in the application as ciphertext, like everywhere else.

Execution is the pipeline's bulk path: one transaction, the rows written with executemany, one revision
per row, and one audit event that carries a digest over all the revisions it wrote.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import CharField, DateField, DateTimeField, IntegerField, TextField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access import workflow as workflows
from sidms.access.policies import in_scope
from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.changes.integrity import integrity_alert, latest_revisions, require_owner_intact
from sidms.changes.models import BatchApplication, BatchKind, BatchStatus, Channel, Method, Revision
from sidms.changes.numbers import assign_numbers
from sidms.changes.seals import RevisionSealer, require_intact, reseal
from sidms.changes.services import (
    ENTRY_CHECKS,
    OUT_OF_SCOPE,
    FileEntryRules,
    _database_duplicate,
    _plain,
    audited_refusals,
    clean_values,
    deny,
    entry_check_errors,
    entry_checks_context,
    require_city_level,
    require_permission,
    rules_in_force,
    withdraw_own,
)
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, Invalid, NotPermitted, SeparationOfDuties
from sidms.core.fields import BlindIndexField, Sealed, aad, seal
from sidms.core.governed import pipeline_writes
from sidms.core.kernel import (
    EntitySpec,
    cipher_mac,
    governed_models,
    represent,
    reveal,
    spec_for,
    state_digest,
    tokens_of,
    uid_text,
    view,
)
from sidms.core.keys import keyring
from sidms.core.workers import ordered_map, worker_count
from sidms.lib import chain
from sidms.parameters.codes import tables_fingerprint

B = BatchStatus
DEFAULT_WINDOW = timedelta(hours=24)


class ImportRefused(ChangeRefused):
    """Rows of an import failed the rules; nothing was stored. ``rows`` maps row numbers (from 1) to errors."""

    code = "import_refused"

    def __init__(self, rows: Mapping[int, Mapping[str, Invalid]]) -> None:
        super().__init__(
            _("%(n)s rows of the import fail the collection rules; nothing was imported."), {"n": len(rows)}
        )
        self.rows = {n: dict(errors) for n, errors in rows.items()}
        # The row of the spreadsheet each refused row was read from, where the import came from one
        # (sidms.exchange.imports.execute_import sets it): the row the dry run's error report named.
        self.file_rows: dict[int, int] = {}

    def __str__(self) -> str:
        lines = [self.localized()]
        for number, errors in list(self.rows.items())[:20]:
            detail = "；".join(f"{field}：{error.localized()}" for field, error in errors.items())
            row = self.file_rows.get(number)
            where = f"（原表第 {row} 行 / file row {row}）" if row is not None else ""
            lines.append(f"第 {number} 行{where} / row {number}: {detail}")
        if len(self.rows) > 20:
            lines.append(f"……另有 {len(self.rows) - 20} 行 / and {len(self.rows) - 20} more rows")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out["rows"] = {str(n): {f: e.as_dict() for f, e in errs.items()} for n, errs in self.rows.items()}
        return out


def selection_lookups(spec: EntitySpec, actor: Any, selection: Mapping[str, Any]) -> dict[str, Any]:
    """The lookups of a selection, refused unless every key is a declared batch selector (or the district),
    and narrowed to the applicant's district below the city level."""
    staff = Caller.of(actor).staff
    allowed = set(spec.declaration.batch_select)
    district = spec.district_lookup
    lookups: dict[str, Any] = {}
    for key, value in selection.items():
        if key == district or (key == "district_id" and district == "district_id"):
            lookups[district] = value
            continue
        if key not in allowed or spec.encrypted(key):
            raise ChangeRefused(
                _("A batch cannot select by “%(field)s”."), {"field": key}, code="not_selectable"
            )
        lookups[key] = value
    if not staff.is_city_level:
        # A district applicant can only select within its district, whatever the filter says.
        if district is None:
            raise ChangeRefused(_("District staff may only select records of their district."), code="scope")
        lookups[district] = staff.district_id
    return lookups


def matching_count(spec: EntitySpec, actor: Any, selection: Mapping[str, Any]) -> int:
    """How many records a selection matches now (what an application would carry)."""
    return spec.model._default_manager.filter(**selection_lookups(spec, actor, selection)).count()


def _batch_uid(batch: BatchApplication) -> str:
    return str(batch.uid)


def batch_apply_update(
    *, actor: Any, entity: str, selection: Mapping[str, Any], change: Mapping[str, Any], reason: str
) -> BatchApplication:
    caller = Caller.of(actor)
    require_permission(caller, "batch.apply", _("Your posts may not apply for batch changes."))
    spec = spec_for(entity)
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the batch change."), code="reason_required")
    if not change:
        raise ChangeRefused(_("Name the fields to change."), code="no_change")
    refused = {
        name: Invalid("not_batchable", _("A batch may not change this field."))
        for name in change
        if name not in spec.declaration.batch_change
    }
    if refused:
        raise ChangeRefused(_("A batch may not change identity or undeclared fields."), errors=refused)
    lookups = selection_lookups(spec, caller, selection)
    cleaned = clean_values(spec, rules_in_force(entity), change, creating=False)
    selected, count = _selected_digest(spec, lookups)
    with transaction.atomic():
        batch = BatchApplication(
            kind=BatchKind.UPDATE, entity=entity, selection=lookups, row_count=count, payload_digest=selected,
            reason=reason.strip(), applicant=caller.staff, applied_at=timezone.now(), uid=uuid.uuid4(),
        )  # fmt: skip
        batch.change = {n: _stored_change(spec, n, v, batch) for n, v in cleaned.values.items()}
        batch.save()
        reseal(batch)
        _event("batch.apply", caller, batch)
    return batch


def _stored_change(spec: EntitySpec, name: str, value: Any, batch: BatchApplication) -> Any:
    domain = spec.encrypted(name)
    if domain is None:
        return _plain(value) if value is not None else None
    if value in (None, ""):
        return ""
    return represent(spec, name, seal(domain, _batch_uid(batch), str(value)))


def batch_change_values(batch: BatchApplication) -> dict[str, Any]:
    """The application's new values, decrypted (mask before display)."""
    spec = spec_for(batch.entity)
    return {
        name: (reveal(spec, name, value, _batch_uid(batch)) if spec.encrypted(name) else value)
        for name, value in batch.change.items()
    }


class Prechecked(NamedTuple):
    """An import row (ROW, what the application's digest covers) with the values the dry run cleaned it to
    under the same collection rules, which a sealed store vouches for (sidms.exchange.imports): execution
    takes CLEANED instead of validating ROW again. The entry rules, the duplicates in the file and in the
    registry (what can have changed since the dry run) are still checked. CLEANED is ignored (the row is
    validated again) by a legacy batch and when the rules in force at execution are not RULES."""

    row: Mapping[str, Any]
    cleaned: dict[str, Any]
    rules: str  # rules_digest() of the rules the dry run cleaned the row under
    # The application digest under which the sealed store authenticated ROW (its AEAD's associated data
    # names that digest, the row count and the row's place): the store vouches that ROW is an applied-for
    # row, so execution need not hash it again. "" when nothing vouches for it: then it is hashed.
    vouched: str = ""


def rules_digest(rules: Mapping[str, Any], *, code: str | None = None, tables: str | None = None) -> str:
    """SHA-256 over every stored column of the collection rules RULES (rules_in_force's answer), over
    CODE, the fingerprint of the code that cleans values under them (by default :func:`cleaning_code`), and
    over TABLES, the fingerprint of the code tables and divisions the validators read (by default
    ``parameters.codes.tables_fingerprint``): which rules, applied by which code to which codes, a dry run's
    cleaned values were found under, so that execution can tell whether they still hold. A deploy that
    changes a validator or a code table between a dry run and its execution changes the digest, and
    execution validates the rows again."""
    hasher = hashlib.sha256()
    hasher.update(f"code:{cleaning_code() if code is None else code}\n".encode("ascii"))
    hasher.update(f"tables:{tables_fingerprint() if tables is None else tables}\n".encode("ascii"))
    for name in sorted(rules):
        rule = rules[name]
        columns = {f.attname: getattr(rule, f.attname) for f in rule._meta.concrete_fields}
        hasher.update(chain.canonical({k: _plain(v) for k, v in columns.items()}) + b"\n")
    return hasher.hexdigest()


# What turns an import row into the values it is stored with (``changes.services.clean_values``): the pipeline
# itself, the validators a rule names and the standards behind them, the code tables' look-ups, and the
# libraries the standards lean on (phonenumbers' metadata decides what a mobile number is). The governed
# models' modules (their declarations: choices, lengths, derived fields) are added by cleaning_code. How
# rows are read and prepared from the file (lib.sheets, exchange.imports._prepare) is not here: execution
# takes the prepared rows from the sealed store and the approved rows digest pins them, so only their
# cleaning can differ.
CLEANING_MODULES = (
    "sidms.changes.services",
    "sidms.changes.validators",
    "sidms.lib.idcard",
    "sidms.lib.phone",
    "sidms.lib.uscc",
    "sidms.lib.email",
    "sidms.parameters.codes",
)
CLEANING_DISTRIBUTIONS = ("phonenumbers", "email-validator")


def code_fingerprint(modules: Iterable[str], distributions: Iterable[str] = ()) -> str:
    """SHA-256 over the bytes of each named module as its loader finds them (its source, or its compiled
    file where only that is installed) and the installed version of each named distribution."""
    hasher = hashlib.sha256()
    for name in modules:
        found = importlib.util.find_spec(name)
        loader: Any = found.loader if found is not None else None  # a file or zip loader reads bytes
        if found is None or found.origin is None or not hasattr(loader, "get_data"):
            raise LookupError(f"no loadable module {name}")
        hasher.update(f"module:{name}:".encode() + loader.get_data(found.origin) + b"\n")
    for name in distributions:
        hasher.update(f"distribution:{name}:{importlib.metadata.version(name)}\n".encode())
    return hasher.hexdigest()


@functools.cache
def cleaning_code() -> str:
    """code_fingerprint of the cleaning code (CLEANING_MODULES, CLEANING_DISTRIBUTIONS, the governed models'
    modules), once per process. The changes app computes it when the process starts (ready), so that it is
    taken from the files the process loaded, not from files a deploy replaced while the process ran; a
    deploy restarts the processes, which then read the new files."""
    declarations = sorted({model.__module__ for model in governed_models()})
    return code_fingerprint((*CLEANING_MODULES, *declarations), CLEANING_DISTRIBUTIONS)


class _RowHasher:
    """SHA-256 over canonical rows as they stream past, and their count.

    With VOUCHED_FOR (an application's digest), rows a sealed store vouches for under that digest
    (Prechecked.vouched) are counted, not hashed: hashing a million rows again cost the importing process a
    tenth of an execution (bench/imports.py). The digest is then VOUCHED_FOR when the store vouched for every
    row, and matches no application when it vouched for some rows only.

    The store vouches for a row only where execution takes the row's cleaned values (they were cleaned under
    RULES, the rules in force): a row validated again (a legacy batch passes no VOUCHED_FOR; a stale dry
    run's rules) is hashed as before. The digest never covered the cleaned values, but it did pin the rows
    validated again, even against a store resealed by someone holding the key file (attack round 6)."""

    def __init__(self, vouched_for: str = "", *, rules: str = "") -> None:
        self._hash = hashlib.sha256()
        self._vouched_for = vouched_for
        self._rules = rules
        self.count = 0
        self.vouched = 0

    def feed(
        self, rows: Iterable[Mapping[str, Any] | Prechecked]
    ) -> Iterator[Mapping[str, Any] | Prechecked]:
        for item in rows:
            self.count += 1
            if isinstance(item, Prechecked):
                if self._vouched_for and item.vouched == self._vouched_for and item.rules == self._rules:
                    self.vouched += 1
                    yield item
                    continue
                row = item.row
            else:
                row = item
            self._hash.update(chain.canonical({k: _plain(v) for k, v in row.items()}))
            self._hash.update(b"\n")
            yield item

    def digest(self) -> str:
        if self.vouched:
            return self._vouched_for if self.vouched == self.count else ""
        return self._hash.hexdigest()


def rows_digest(rows: Iterable[Mapping[str, Any]]) -> tuple[str, int]:
    """SHA-256 over the canonical rows, and their count: what approval pins down for an import."""
    hasher = _RowHasher()
    for _row in hasher.feed(rows):
        pass
    return hasher.digest(), hasher.count


def batch_apply_import(
    *, actor: Any, entity: str, rows: Iterable[Mapping[str, Any]], reason: str, legacy: bool = False
) -> BatchApplication:
    caller = Caller.of(actor)
    require_permission(caller, "batch.apply", _("Your posts may not apply for imports."))
    spec = spec_for(entity)
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the import."), code="reason_required")
    if not caller.staff.is_city_level:
        rows = _in_scope(caller, spec, rows)
    payload, count = rows_digest(rows)
    with transaction.atomic():
        batch = BatchApplication.objects.create(
            kind=BatchKind.IMPORT, entity=entity, payload_digest=payload, row_count=count, legacy=legacy,
            reason=reason.strip(), applicant=caller.staff, applied_at=timezone.now(), uid=uuid.uuid4(),
        )  # fmt: skip
        reseal(batch)
        _event("batch.apply", caller, batch)
    return batch


def _in_scope(
    caller: Caller, spec: EntitySpec, rows: Iterable[Mapping[str, Any]]
) -> Iterator[Mapping[str, Any]]:
    """A district applicant imports records of its own district only, as it registers them one by one
    (``require_scope`` of the new record's district): a row of another district refuses the application."""
    seen: set[str | None] = set()
    owners: set[Any] = set()
    hop = f"{spec.district_owner}_id"
    for row in rows:
        district = spec.district_for_values(dict(row))
        if spec.district_owner is not None and row.get(hop) not in owners:
            # The district was read from the row's person: one whose district was written in SQL is refused
            # (attack round 14), as at the window (integrity.require_owner_intact).
            require_owner_intact(spec, row, actor=caller)
            owners.add(row.get(hop))
        if district not in seen:
            if not in_scope(caller.staff, district):
                # The event is written by audited_refusals once the application's transaction rolls back.
                raise deny(NotPermitted(OUT_OF_SCOPE, code="out_of_scope"), "access.denied", actor=caller,
                           detail={"scope": district or "", "entity": spec.name, "batch": "import"})  # fmt: skip
            seen.add(district)
        yield row


def _selected_digest(spec: EntitySpec, lookups: Mapping[str, Any]) -> tuple[str, int]:
    """SHA-256 over the ids a selection matches now, and their count: an update batch authorises these
    records, not merely this many records."""
    hasher = hashlib.sha256()
    count = 0
    for pk in spec.model.objects.filter(**lookups).order_by("pk").values_list("pk", flat=True).iterator(5000):
        hasher.update(f"{pk},".encode("ascii"))
        count += 1
    return hasher.hexdigest(), count


# What follows an application's end (refused, or executed: no step comes after either), registered by higher
# apps (dependency inversion): the imports remove the dry run's sealed rows beside an import's file. Each
# hook is called inside the step's transaction, with the application locked and the step's caller (whom
# any event of its own names), and defers its side effects (files) to on_commit, so a step that rolls back
# removes nothing. An approval whose window closes unused
# ends with no step at all: `sidms import --sweep` removes what it left.
ENDED_HOOKS: dict[str, Callable[[BatchApplication, Caller], None]] = {}


def register_ended_hook(name: str, hook: Callable[[BatchApplication, Caller], None]) -> None:
    ENDED_HOOKS[name] = hook


def _ended(batch: BatchApplication, caller: Caller) -> None:
    for hook in ENDED_HOOKS.values():
        hook(batch, caller)


def batch_decide(
    *, actor: Any, batch_id: int, approve: bool, reason: str = "", window: timedelta = DEFAULT_WINDOW
) -> BatchApplication:
    """City-level approval (R9.3). Approving fixes the row count and the window of one execution."""
    caller = Caller.of(actor)
    require_permission(caller, "batch.approve", _("Your posts may not approve batch changes."))
    require_city_level(caller, _("Batch changes are approved at city level."))
    with audited_refusals(), transaction.atomic():
        batch = _locked(caller, batch_id, B.SUBMITTED)
        if batch.applicant_id == caller.staff.pk:
            _deny(caller, batch, "own_application")
        current = (
            _selected_digest(spec_for(batch.entity), batch.selection)[0] if batch.kind == "update" else ""
        )
        if approve and batch.kind == BatchKind.UPDATE and current != batch.payload_digest:
            raise ChangeRefused(
                _("The selected records changed since the application; refuse it and apply again."),
                code="selection_changed",
            )
        if not approve and not reason.strip():
            raise ChangeRefused(_("A refusal needs a reason."), code="reason_required")
        now = timezone.now()
        batch.status = B.APPROVED if approve else B.REFUSED
        batch.approver = caller.staff
        batch.approved_at = now
        batch.decision_reason = reason.strip()
        if approve:
            batch.authorised_rows = batch.row_count
            batch.window_start = now
            batch.window_end = now + window
        batch.step += 1
        batch.save()
        reseal(batch)
        _event("batch.approve" if approve else "batch.refuse", caller, batch)
        if not approve:
            _ended(batch, caller)
    return batch


def batch_withdraw(*, actor: Any, batch_id: int) -> BatchApplication:
    """The applicant withdraws their application while it waits for city-level approval (撤回). It ends
    there, as a refused one does: an import's file no longer holds back another application of it, and what
    its dry run sealed beside the file is removed once the withdrawal commits (the ended hooks)."""
    caller = Caller.of(actor)
    with audited_refusals(), transaction.atomic():
        batch: BatchApplication = withdraw_own(
            caller, BatchApplication, batch_id, denied="batch.denied",
            no_such=_("There is no such batch application."),
        )  # fmt: skip
        _event("batch.withdraw", caller, batch)
        _ended(batch, caller)
    return batch


@dataclass
class Executed:
    batch: BatchApplication
    rows: int
    first_revision: int | None
    last_revision: int | None


def batch_execute(
    *,
    actor: Any,
    batch_id: int,
    rows: Callable[[], Iterable[Mapping[str, Any] | Prechecked]] | None = None,
) -> Executed:
    """Carry out an approved batch once, inside its window and on exactly the authorised rows. An import's
    ROWS may come as :class:`Prechecked` rows (a dry run's sealed cleaned values, see there)."""
    caller = Caller.of(actor)
    require_permission(caller, "batch.execute", _("Your posts may not execute batch changes."))
    with audited_refusals(), transaction.atomic():
        batch = BatchApplication.objects.select_for_update().filter(pk=batch_id).first()
        if (
            batch is None
            or not workflows.visible(caller.staff, BatchApplication).filter(pk=batch_id).exists()
        ):
            raise NotPermitted(_("There is no such batch application."))
        require_intact(batch, actor=caller)
        refusal = _outside_authorisation(batch)
        if refusal is not None:
            _deny(caller, batch, refusal[1], refusal[0])
        if batch.approver_id == caller.staff.pk:
            _deny(caller, batch, "approver_executes")
        spec = spec_for(batch.entity)
        now = timezone.now()
        if batch.kind == BatchKind.UPDATE:
            revisions = _execute_update(spec, batch, caller=caller, now=now)
        else:
            if rows is None:
                raise ChangeRefused(_("An import needs its file."), code="file_required")
            with entry_checks_context(spec.name):  # what the entry rules read, once for the file
                try:
                    revisions = _execute_import(spec, batch, rows, caller=caller, now=now)
                except IntegrityError as error:
                    # The rows were checked against the registry inside this transaction; on PostgreSQL a
                    # window or another import may still commit the same credit code before these rows are
                    # written, and the database's unique key refuses them. Nothing is stored; run again, the
                    # check names the rows (SQLite's one writer at a time cannot meet this).
                    if not _database_duplicate(spec, error):
                        raise
                    raise ChangeRefused(REGISTERED_MEANWHILE, code="duplicate") from error
        batch.status = B.EXECUTED
        batch.executor = caller.staff
        batch.executed_at = now
        batch.executed_rows = len(revisions)
        batch.step += 1
        batch.save()
        reseal(batch)
        first, last = (revisions[0], revisions[-1]) if revisions else (None, None)
        audit_record(
            "batch.execute", actor=caller, object_type="batch", object_id=batch.pk,
            channel=Channel.IMPORT if batch.kind == BatchKind.IMPORT else Channel.MAINTENANCE,
            detail={
                "entity": batch.entity, "rows": len(revisions), "revisions": [first, last],
                "reference": f"BA{batch.pk}", "revisions_digest": revisions_digest(first, last, f"BA{batch.pk}"),
                "step": batch.step, "seal": batch.seal,
            },
        )  # fmt: skip
        _ended(batch, caller)
    return Executed(batch, len(revisions), first, last)


def revisions_digest(first: int | None, last: int | None, reference: str) -> str:
    """SHA-256 over the digests of the batch's revisions (ids FIRST..LAST, this REFERENCE) in id order: the
    batch's audit event holds it, so a revision altered after the fact no longer matches its batch."""
    hasher = hashlib.sha256()
    if first is not None and last is not None:
        revisions = Revision.objects.filter(pk__gte=first, pk__lte=last, reference=reference)
        for value in revisions.order_by("pk").values_list("digest", flat=True).iterator(chunk_size=5000):
            hasher.update(value.encode("ascii"))
    return hasher.hexdigest()


def _outside_authorisation(batch: BatchApplication) -> tuple[Any, str] | None:
    now = timezone.now()
    if batch.status == B.EXECUTED:
        return _("This batch has already been executed once."), "already_executed"
    if batch.status != B.APPROVED:
        return _("This batch is not approved at city level."), "not_approved"
    assert batch.window_start is not None and batch.window_end is not None
    if not batch.window_start <= now <= batch.window_end:
        return _("Outside the approved execution window."), "outside_window"
    return None


def _deny(caller: Caller, batch: BatchApplication, reason: str, text: Any = None) -> None:
    # The event is written after the transaction rolls back (services.audited_refusals); written here it
    # was rolled back with the refused step.
    refusal = (
        SeparationOfDuties(_("Apply and approve must be different people; the approver does not execute."))
        if text is None
        else NotPermitted(text, code=reason)
    )
    raise deny(
        refusal,
        "batch.denied",
        actor=caller,
        object_type="batch",
        object_id=batch.pk,
        detail={"reason": reason},
    )


def _locked(caller: Caller, batch_id: int, status: str) -> BatchApplication:
    batch = BatchApplication.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None or not workflows.visible(caller.staff, BatchApplication).filter(pk=batch_id).exists():
        raise NotPermitted(_("There is no such batch application."))
    require_intact(batch, actor=caller)
    if batch.status != status:
        raise ChangeRefused(_("This batch application has already been decided."), code="decided")
    return batch


# --------------------------------------------------------------------------------------------------------
# The bulk paths


def _execute_update(spec: EntitySpec, batch: BatchApplication, *, caller: Caller, now: Any) -> list[int]:
    """The lean bulk path: raw columns in, raw columns out. No model instances are built and nothing stored is
    decrypted — the state, its digest and the revision are computed from the stored ciphertexts and indexes —
    because per-row ORM work made the pipeline 40× slower than the database (bench/pipeline.py). Each row is
    checked against its history first: a row changed behind the system's back stops the whole batch."""
    selection = spec.model.objects.select_for_update().filter(**batch.selection).order_by("pk")
    table = spec.model._meta.db_table
    columns = ", ".join(spec.raw_columns)
    sql, params = selection.values_list("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, version, row_digest, cipher_mac, {columns} FROM {table} WHERE id IN ({sql}) ORDER BY id",  # noqa: S608
            params,
        )
        selected = cursor.fetchall()
    hasher = hashlib.sha256()
    for row in selected:
        hasher.update(f"{row[0]},".encode("ascii"))
    if len(selected) != batch.authorised_rows or hasher.hexdigest() != batch.payload_digest:
        raise deny(
            NotPermitted(
                _("The %(now)s records matching now are not the %(authorised)s authorised; refused."),
                {"now": len(selected), "authorised": batch.authorised_rows},
            ),
            "batch.denied", actor=caller, object_type="batch", object_id=batch.pk,
            detail={"reason": "selection_changed"},
        )  # fmt: skip
    latest = latest_revisions(spec, [row[0] for row in selected])
    plain = batch_change_values(batch)
    cleaned = clean_values(spec, rules_in_force(batch.entity), plain, creating=False).values
    encrypted = {n: spec.encrypted_fields[n] for n in cleaned if spec.encrypted(n)}
    ordinary = {n: represent(spec, n, v) for n, v in cleaned.items() if n not in encrypted}
    # A new encrypted value is the same for every row, but each row's ciphertext is bound to that row; its
    # blind index is the same everywhere and computed once.
    indexes = {n: enc.index.index_of(str(cleaned[n])) if cleaned[n] else "" for n, enc in encrypted.items()}
    ring = keyring()
    reference = f"BA{batch.pk}"
    at = _db_time(now)
    set_columns = [str(spec.field(n).column) for n in ordinary]
    set_columns += [str(spec.field(n).column) for n in encrypted]
    set_columns += [str(enc.index.column) for enc in encrypted.values()]
    db_ordinary = [spec.field(n).get_db_prep_save(cleaned[n], connection) for n in ordinary]
    updates: list[tuple[Any, ...]] = []
    revisions: list[tuple[Any, ...]] = []
    sealer = RevisionSealer(
        entity=spec.name, at=now, actor=caller.name, channel=Channel.MAINTENANCE, method=Method.BATCH,
        request_id=caller.request_id, reference=reference, notes={},
    )  # fmt: skip
    encrypted_names = list(spec.encrypted_fields)
    positions = [spec.fields.index(n) for n in encrypted_names]
    read = _raw_reader(spec)
    canonical = chain.canonical
    entity_head = b'{"entity":' + json.dumps(spec.name, ensure_ascii=False).encode("utf-8") + b',"state":'
    mac = ring.mac
    new_view_values = {**ordinary, **indexes}
    changed = list(new_view_values)
    for pk, version, stored_digest, stored_cipher, *raw in selected:
        old, old_view = read(raw)
        old_tokens = [raw[i] for i in positions]
        # The ciphertexts are checked only when the batch replaces one: otherwise they are carried over as
        # they are, with their MAC, and a foreign one is still named by verification. The digests are
        # state_digest's bytes, built here around the view serialised once (kernel.state_digest).
        if (
            mac(
                entity_head + canonical(old_view, parsed=True) + b',"version":' + str(version).encode() + b"}"
            )
            != stored_digest
            or latest.get(pk) != (version, stored_digest)
            or (encrypted and cipher_mac(spec, old["uid"], old_tokens) != stored_cipher)
        ):
            # Outcome "denied", not "failed": the batch is refused as a whole (as before the shared builder).
            raise integrity_alert(f"{spec.model._meta.verbose_name} #{pk}", spec.name, pk,
                                  {"reason": "history", "batch": batch.pk}, actor=caller,
                                  outcome=Outcome.DENIED)  # fmt: skip
        if not any(old_view[n] != v for n, v in new_view_values.items()):  # the row already holds the values
            changes: dict[str, Any] = {}
            new = old
            new_view = old_view
            db_encrypted: list[bytes | None] = [
                None if old[n] == "" else base64.b64decode(old[n]["enc"]) for n in encrypted
            ]
            new_cipher = stored_cipher
        else:
            uid = old["uid"]
            new = {**old, **ordinary}
            new_view = {**old_view, **new_view_values}
            tokens = dict(zip(encrypted_names, old_tokens, strict=True))
            db_encrypted = []
            for name, enc in encrypted.items():
                value, before = cleaned[name], old[name]
                if not value:
                    new[name] = ""
                    new_view[name] = ""
                    tokens[name] = None
                    db_encrypted.append(None)
                elif isinstance(before, dict) and before["idx"] == indexes[name]:
                    db_encrypted.append(base64.b64decode(before["enc"]))  # unchanged: keep its ciphertext
                else:
                    token = ring.encrypt(str(value), aad=aad(enc.domain, uuid.UUID(uid)))
                    new[name] = {"enc": _b64(token), "idx": indexes[name]}
                    tokens[name] = token
                    db_encrypted.append(token)
            changes = {n: [old[n], new[n]] for n in changed if old[n] != new[n]}
            new_cipher = cipher_mac(spec, uid, tokens.values()) if encrypted else stored_cipher
        version += 1
        row_digest = mac(
            entity_head + canonical(new_view, parsed=True) + b',"version":' + str(version).encode() + b"}"
        )
        changes_text = canonical(changes, parsed=True)
        seal_ = sealer.seal_bytes(
            record_id=pk, version=version, changes=changes_text, digest=row_digest, prev_digest=stored_digest
        )
        updates.append(
            (*db_ordinary, *db_encrypted, *indexes.values(), version, row_digest, new_cipher, at, pk)
        )
        revisions.append(
            (spec.name, pk, version, at, caller.name, Channel.MAINTENANCE, Method.BATCH, caller.request_id,
             reference, changes_text.decode("utf-8"), canonical(new, parsed=True).decode("utf-8"), row_digest,
             stored_digest, "{}", seal_)
        )  # fmt: skip
    assignments = ", ".join(
        f"{c} = %s" for c in [*set_columns, "version", "row_digest", "cipher_mac", "updated_at"]
    )
    with connection.cursor() as cursor:
        with pipeline_writes():
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", updates)  # noqa: S608
        return _insert_revisions(cursor, revisions, reference)


def _raw_reader(spec: EntitySpec) -> Callable[[list[Any]], tuple[dict[str, Any], dict[str, Any]]]:
    """kernel.raw_state and kernel.view of a raw row in one pass, with each column's conversion chosen once
    per entity rather than per value: the bulk update reads every selected row this way."""
    n = len(spec.fields)
    encrypted = list(spec.encrypted_fields)
    plan = [
        (name, i, n + encrypted.index(name) if name in encrypted else -1, name.endswith("_id"))
        for i, name in enumerate(spec.fields)
    ]
    flags = [(flag, n + len(encrypted) + k) for k, flag in enumerate(spec.flags)]  # kept while set
    b64 = base64.b64encode

    def read(raw: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        state: dict[str, Any] = {}
        view_: dict[str, Any] = {}
        for name, i, index, foreign in plan:
            value = raw[i]
            if index >= 0:
                if value is None:
                    state[name] = view_[name] = ""
                else:
                    idx = raw[index] or ""
                    state[name] = {"enc": b64(bytes(value)).decode("ascii"), "idx": idx}
                    view_[name] = idx
                continue
            if value is None or type(value) is str or (type(value) is int and not foreign):
                pass
            elif foreign:
                value = str(value)
            elif isinstance(value, date):
                value = value.isoformat()
            elif not isinstance(value, int):
                value = str(value)
            state[name] = view_[name] = value
        for flag, i in flags:
            if raw[i]:
                state[flag] = view_[flag] = True
        state["uid"] = view_["uid"] = uid_text(raw[-1])
        return state, view_

    return read


def _b64(token: bytes) -> str:
    return base64.b64encode(token).decode("ascii")


IMPORT_CHUNK = 2000


def _execute_import(
    spec: EntitySpec,
    batch: BatchApplication,
    rows: Callable[[], Iterable[Mapping[str, Any] | Prechecked]],
    *,
    caller: Caller,
    now: Any,
) -> list[int]:
    rules = rules_in_force(batch.entity)
    in_force = rules_digest(rules)
    # The file is hashed in the same pass that stores it; a file that differs from the approved one is
    # found at the end and the transaction rolls back, so it stores nothing either way.
    hasher = _RowHasher(vouched_for="" if batch.legacy else batch.payload_digest, rules=in_force)
    failures: dict[int, dict[str, Invalid]] = {}
    revision_ids: list[int] = []
    reference = f"BA{batch.pk}"
    seen: dict[str, int] = {}  # unique values' indexes within the file -> first row number
    numbers = _FileNumbers()
    in_file = FileEntryRules(spec.name)
    statistics = _Statistics(spec)

    def chunks() -> Iterator[_Chunk]:
        """The valid rows, checked for duplicates and numbered, a chunk at a time. Rows stream through, so
        a million-row import needs no million objects in memory. All chunks share the one transaction: a
        failure anywhere still leaves nothing stored."""
        chunk: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        for number, item in enumerate(hasher.feed(rows()), start=1):
            if number > (batch.authorised_rows or 0):
                break  # more rows than authorised: refused below, no need to read the rest
            note: dict[str, Any]
            errors: dict[str, Invalid]
            if isinstance(item, Prechecked) and item.rules == in_force and not batch.legacy:
                values, note, errors = item.cleaned, {}, {}
            else:
                row = item.row if isinstance(item, Prechecked) else item
                values, note, errors = _import_values(spec, rules, row, legacy=batch.legacy)
            if not errors and ENTRY_CHECKS.get(spec.name):  # the entity's entry rules, as at the window
                broken = entry_check_errors(spec, values)
                if not broken and in_file.keys:  # and against the file's earlier rows
                    broken = in_file.clash(number, values)
                if broken and batch.legacy:  # a migration keeps what it finds, noted (like the field rules)
                    note.setdefault("nonconforming", {}).update({n: e.reason for n, e in broken.items()})
                else:
                    errors = broken
            if errors:
                failures[number] = errors
                continue
            chunk.append((number, values, note))
            if len(chunk) >= IMPORT_CHUNK:
                if ready := _ready_chunk(spec, batch, chunk, failures, seen, numbers):
                    yield ready
                chunk = []
        if hasher.digest() != batch.payload_digest or hasher.count != batch.authorised_rows:
            raise deny(
                NotPermitted(_("The import file differs from the approved one; refused.")),
                "batch.denied", actor=caller, object_type="batch", object_id=batch.pk,
                detail={"reason": "file_differs"},
            )  # fmt: skip
        if chunk and (ready := _ready_chunk(spec, batch, chunk, failures, seen, numbers)):
            yield ready

    # The records of a chunk (ciphertexts, blind indexes, states, digests: pure computation, most of an
    # import row's cost) are made in forked workers while this process stores the chunk before
    # (sidms.core.workers); the database work stays here, in this transaction.
    make = _ChunkMaker(spec, now, caller, reference)
    workers = worker_count(batch.authorised_rows or 0, unit=IMPORT_CHUNK)
    for made in ordered_map(make, chunks(), workers):
        if failures:
            continue  # the import is refused anyway; the rows are still read to report every failing one
        revision_ids.extend(_store_made(spec, made, reference=reference))
        statistics.grown(len(revision_ids))
    if failures:
        raise ImportRefused(dict(sorted(failures.items())))
    statistics.done(len(revision_ids))
    return revision_ids


class _Statistics:
    """PostgreSQL's planner statistics of the table an import fills, kept up with its growth.

    Without statistics (a table never analysed, or analysed when it was a tenth of its size) the planner takes
    a look-up by a list of 500 blind indexes for half the table and scans all of it: each chunk's registry
    check, and the next import's dry run, then cost time in proportion to the registry (an import of a
    million rows into an empty registry did not finish in 45 minutes, bench/README.md). Autovacuum's
    ANALYZE comes late, or never where it is switched off, and never inside the import's own transaction.
    So the import analyses the table itself — inside its transaction, which counts its own new rows — each
    time the rows it stored double from ANALYZE_FROM, and once at the end of a large import: a handful of
    samples of at most 30,000 rows each, whatever the import's size."""

    ANALYZE_FROM = 20_000

    def __init__(self, spec: EntitySpec) -> None:
        self.table = spec.model._meta.db_table
        self.enabled = connection.vendor == "postgresql"
        self.next = self.ANALYZE_FROM

    def grown(self, stored: int) -> None:
        if self.enabled and stored >= self.next:
            self._analyze()
            while self.next <= stored:
                self.next *= 2

    def done(self, stored: int) -> None:
        if self.enabled and stored >= self.ANALYZE_FROM // 2:
            self._analyze()

    def _analyze(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(self.table)}")


def _import_values(
    spec: EntitySpec, rules: Mapping[str, Any], row: Mapping[str, Any], *, legacy: bool
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Invalid]]:
    """The values to store for one import row, the revision note, and the errors that refuse it.

    A legacy migration (存量数据迁移) stores every value as found in the old system — a 15-digit ID number
    stays 15 digits — and records what fails the rules in the note instead of refusing the row."""
    try:
        values = clean_values(spec, rules, row, creating=True, legacy=legacy, typed=False).values
        errors: dict[str, Invalid] = {}
    except ChangeRefused as refused:
        errors = refused.errors
        good = {n: v for n, v in row.items() if n not in errors}
        values = (
            clean_values(spec, rules, good, creating=False, legacy=True, typed=False).values if legacy else {}
        )
    if not legacy:
        return values, {}, errors
    for name, raw in row.items():
        if name not in spec.fields:
            continue
        if isinstance(spec.field(name), DateField):
            values.setdefault(name, None)
        elif name in spec.declaration.database_unique and name not in errors and name in values:
            # A value the database holds unique is stored as its rule writes it when it passes (a credit code
            # found in lower case is the same code, upper-cased): the key and every door compare it exactly.
            continue
        elif isinstance(raw, str):
            values[name] = raw.strip()
    note = {"nonconforming": {n: e.reason for n, e in errors.items()}} if errors else {}
    return values, note, {}


class _Chunk(NamedTuple):
    rows: list[tuple[dict[str, Any], dict[str, Any]]]  # (values with the record number, revision note)
    keys: dict[tuple[str, str], str]  # (unique field, value) -> its key (blind index) for these rows
    ids: list[int]  # the records' ids, reserved (_reserve_ids)


class _Made(NamedTuple):
    """A chunk's records and their revisions, each row as its INSERT takes it."""

    rows: list[list[Any]]
    revisions: list[tuple[Any, ...]]


def _ready_chunk(
    spec: EntitySpec,
    batch: BatchApplication,
    chunk: list[tuple[int, dict[str, Any], dict[str, Any]]],
    failures: dict[int, dict[str, Invalid]],
    seen: dict[str, int],
    numbers: _FileNumbers,
) -> _Chunk | None:
    """Check one chunk of valid rows for duplicates (within the file and against the registry) and, if
    nothing has failed so far, number its new records: the chunk to make and store, or None."""
    unique = spec.declaration.unique
    # Each unique value's key (an encrypted field's blind index, an HMAC) once per row: the registry
    # look-up, the duplicate check and the stored index column all use it.
    keys = {
        (name, str(values[name])): _unique_key(spec, name, values[name])
        for name in unique
        for _n, values, _note in chunk
        if values.get(name)
    }
    duplicates = _registry_duplicates(spec, keys) if unique else set()
    keep: list[tuple[dict[str, Any], dict[str, Any]]] = []
    key = spec.label_field
    numbers.look_up(spec, chunk)
    for number, values, note in chunk:
        clash = _duplicate_reason(spec, values, number, seen, duplicates, keys)
        # A record number in use (registered, brought by an earlier row, or assigned by the import) cannot be
        # stored twice, not even by a legacy migration: the unique key would refuse it as a server error.
        refusal = numbers.clash(spec, values, number) or (None if batch.legacy else clash)
        if refusal:
            failures[number] = {refusal[0]: Invalid("duplicate", refusal[1], refusal[2])}
            continue
        if clash:
            note = {"nonconforming": {**note.get("nonconforming", {}), clash[0]: "duplicate"}}
            flag = spec.declaration.database_unique.get(clash[0])
            if flag:  # kept as found, spared by the database's unique key (registry.Unit)
                values = {**values, flag: True}
        keep.append((values, note))
    if failures or not keep:
        return None  # the import is refused anyway; keep validating to report every failing row
    if spec.declaration.numbering:
        missing = [i for i, (values, _note) in enumerate(keep) if not values.get(key)]
        assigned = assign_numbers(spec, len(missing), skip=numbers.given) if missing else []
        numbers.assigned.update(assigned)
        for i, number_ in zip(missing, assigned, strict=True):
            values, note = keep[i]
            keep[i] = ({**values, key: number_}, note)
    return _Chunk(keep, keys, _reserve_ids(spec, len(keep)))


class _FileNumbers:
    """The record numbers (个人编号) an import's file brings, as far as it has been read (each with its row),
    and those the import assigned to its rows without one. A number assigned never is one the file brings in
    a row read before; one the file brings in a later row, after the import assigned it, refuses that row as
    registered (the record holding it is): the file is streamed, so its later rows are not known when a
    chunk is numbered. A brought number is also held against the registry at execution (REGISTERED, looked
    up a chunk at a time): the dry run's look-up is not enough, since another import or the window may be
    assigned the number between the dry run and the execution (attack round 6)."""

    def __init__(self) -> None:
        self.given: dict[str, int] = {}  # number -> the row that brought it
        self.assigned: set[str] = set()
        self.registered: set[str] = set()

    def look_up(self, spec: EntitySpec, chunk: Sequence[tuple[int, Mapping[str, Any], Any]]) -> None:
        """The numbers CHUNK's rows bring that are registered already (one query a chunk)."""
        key = spec.label_field
        if spec.declaration.numbering is None:
            return
        brought = list(dict.fromkeys(str(values[key]) for _n, values, _note in chunk if values.get(key)))
        if not brought:
            self.registered = set()
            return
        column = str(getattr(spec.model._meta.get_field(key), "column", key))
        self.registered = {str(v) for (v,) in _among(spec.model._meta.db_table, column, brought)}

    def clash(
        self, spec: EntitySpec, values: Mapping[str, Any], number: int
    ) -> tuple[str, Any, dict[str, Any]] | None:
        from sidms.changes.services import field_label

        key = spec.label_field
        if spec.declaration.numbering is None or not values.get(key):
            return None
        brought = str(values[key])
        if brought in self.assigned or brought in self.registered:
            return key, DUPLICATE_IN_REGISTRY, {"field": field_label(spec, key)}
        if brought in self.given:
            return key, DUPLICATE_IN_FILE, {"field": field_label(spec, key), "row": self.given[brought]}
        self.given[brought] = number
        return None


def _reserve_ids(spec: EntitySpec, count: int) -> list[int]:
    """COUNT ids for new records of SPEC's table, taken from its sequence before the records are made, so
    that each revision (whose seal names the record's id) is made and sealed with its record, in a worker,
    and no id is read back. PostgreSQL: nextval of the table's sequence (never handed out twice; an id of a
    transaction that rolls back is skipped, as with any insert). SQLite (AUTOINCREMENT): the table's entry
    in sqlite_sequence moved on by COUNT past every id in use, inside this transaction, which holds the
    write lock from BEGIN (IMMEDIATE), so no other writer can take the same ids."""
    table, key = spec.model._meta.db_table, str(spec.model._meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, key, count],
            )
            return [int(pk) for (pk,) in cursor.fetchall()]
        cursor.execute(f"SELECT coalesce(max({key}), 0) FROM {table}")  # noqa: S608  (a model's table)
        (top,) = cursor.fetchone()
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        found = cursor.fetchone()
        first = max(int(top), int(found[0]) if found else 0) + 1
        if found:
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [first + count - 1, table])
        else:
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, first + count - 1]
            )
        return list(range(first, first + count))


class _ChunkMaker:
    """A chunk's new records made ready to store: uid, ciphertexts sealed to it, blind indexes, state, row
    digest, ciphertext MAC, the columns in database form; and each one's revision: canonical changes and
    state, seal. No database access (it runs in forked workers, sidms.core.workers): everything it needs,
    the record ids included (_reserve_ids), is prepared before."""

    def __init__(self, spec: EntitySpec, now: Any, caller: Caller, reference: str) -> None:
        self.spec = spec
        self.now = now
        self.columns = _insert_columns(spec)
        self.new_record = _record_maker(spec)
        self.caller, self.reference = caller, reference
        self.sealer = RevisionSealer(
            entity=spec.name, at=now, actor=caller.name, channel=Channel.IMPORT, method=Method.IMPORT,
            request_id=caller.request_id, reference=reference, notes={},
        )  # fmt: skip
        self.at = _db_time(now)

    def __call__(self, chunk: _Chunk) -> _Made:
        spec, now, caller, reference = self.spec, self.now, self.caller, self.reference
        rows: list[list[Any]] = []
        revisions: list[tuple[Any, ...]] = []
        for (values, note), pk in zip(chunk.rows, chunk.ids, strict=True):
            instance = self.new_record(values)
            for name in spec.encrypted_fields:
                value = values.get(name)
                if value not in (None, ""):
                    setattr(
                        instance, name, seal(spec.encrypted_fields[name].domain, instance.uid, str(value))
                    )
            instance.version = 1
            instance.created_at = instance.updated_at = now
            state = _new_state(spec, instance, chunk.keys)
            digest = instance.row_digest = state_digest(
                spec.name, 1, chain.canonical(view(state), parsed=True)
            )
            instance.cipher_mac = cipher_mac(spec, instance.uid, tokens_of(spec, instance))
            # A ciphertext's database form is a memoryview, which does not pickle: its bytes go instead.
            row = [pk, *(prep(getattr(instance, attname)) for attname, prep in self.columns)]
            rows.append([bytes(v) if type(v) is memoryview else v for v in row])
            changes = {n: [None, v] for n, v in state.items()}
            serialised = chain.canonical(changes, parsed=True)
            if note:
                from sidms.changes.seals import revision_seal

                seal_ = revision_seal(
                    entity=spec.name, record_id=pk, version=1, at=now, actor=caller.name, channel=Channel.IMPORT,
                    method=Method.IMPORT, request_id=caller.request_id, reference=reference, changes=changes,
                    notes=note, digest=digest,
                )  # fmt: skip
            else:
                seal_ = self.sealer.seal_bytes(record_id=pk, version=1, changes=serialised, digest=digest)
            revisions.append(
                (spec.name, pk, 1, self.at, caller.name, Channel.IMPORT, Method.IMPORT, caller.request_id,
                 reference, serialised.decode("utf-8"), chain.canonical(state, parsed=True).decode("utf-8"),
                 digest, "", json.dumps(note, ensure_ascii=False), seal_)
            )  # fmt: skip
        return _Made(rows, revisions)


def _store_made(spec: EntitySpec, made: _Made, *, reference: str) -> list[int]:
    """Store a made chunk: bulk INSERT of the rows (with their reserved ids), then of their revisions."""
    # Raw executemany rather than bulk_create: Django compiles SQL for every 28-row slice SQLite allows, which
    # cost more than validating the rows (bench/pipeline.py).
    with pipeline_writes(), connection.cursor() as cursor:
        columns = [str(spec.model._meta.pk.column), *_insert_column_names(spec)]
        _bulk_insert(cursor, spec.model._meta.db_table, columns, made.rows)
        return _insert_revisions(cursor, made.revisions, reference)


def _record_maker(spec: EntitySpec) -> Callable[[Mapping[str, Any]], Any]:
    """A new record's stored attributes, for the raw INSERT: every column's default (a callable one such as
    the uid called per record) overlaid with the row's plain values. A model instance did the same at a
    tenth of an import row's cost (bench/pipeline.py --profile); nothing here saves through the ORM."""
    constant: dict[str, Any] = {}
    per_record: list[tuple[str, Callable[[], Any]]] = []
    for field in _stored_fields(spec):
        if field.has_default() and callable(field.default):
            per_record.append((field.attname, field.default))
        else:
            constant[field.attname] = field.get_default()
    plain = [name for name in spec.fields if not spec.encrypted(name)]
    # The flags of values a legacy migration kept although registered (_ready_chunk sets them in the values).
    plain += list(spec.declaration.database_unique.values())

    def make(values: Mapping[str, Any]) -> Any:
        record = SimpleNamespace(**constant)
        attributes = record.__dict__
        for name, default in per_record:
            attributes[name] = default()
        for name in plain:
            if name in values:
                attributes[name] = values[name]
        return record

    return make


def _new_state(spec: EntitySpec, instance: Any, keys: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    """state_of for a new instance whose encrypted values were just sealed: each blind index is computed once
    (or taken from KEYS, the unique values' indexes computed for the duplicate check), set on the instance for
    the INSERT and taken into the state (state_of would compute it again)."""
    state: dict[str, Any] = {}
    for name in spec.fields:
        enc = spec.encrypted_fields.get(name)
        if enc is None:
            state[name] = represent(spec, name, getattr(instance, name))
            continue
        value = instance.__dict__.get(name)
        index = keys.get((name, str(value))) if isinstance(value, Sealed) else None
        if index is None:
            index = enc.index.pre_save(instance, True)
        else:
            setattr(instance, enc.index.attname, index)
        state[name] = {"enc": _b64(value.token), "idx": index} if isinstance(value, Sealed) else ""
    for flag in spec.flags:  # a legacy duplicate kept (_ready_chunk)
        if getattr(instance, flag):
            state[flag] = True
    state["uid"] = str(instance.uid)
    return state


_AS_IS = (CharField, TextField, IntegerField)  # stored as Python gives them (blind indexes are CharFields)


def _insert_columns(spec: EntitySpec) -> list[tuple[str, Callable[[Any], Any]]]:
    """(attribute, to database value) of every stored column but the generated id, in model order. Plain
    text and integer columns are stored as they are; the others go through the field's own preparation
    (dates, uuids, ciphertexts, foreign keys) on this connection."""
    db = connections[DEFAULT_DB_ALIAS]
    out: list[tuple[str, Callable[[Any], Any]]] = []
    for field in _stored_fields(spec):
        if type(field) in _AS_IS or isinstance(field, BlindIndexField):
            out.append((field.attname, _same))
        elif isinstance(field, (DateTimeField, IntegerField)):
            # Every row of a batch has the same created_at, updated_at (the batch's time) and version (1).
            out.append((field.attname, _last_one(functools.partial(field.get_db_prep_save, connection=db))))
        else:
            out.append((field.attname, functools.partial(field.get_db_prep_save, connection=db)))
    return out


def _last_one(prepare: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """PREPARE, remembering its last answer for the very same object (a datetime or an int is immutable, and
    the preparation of one value on one connection is always the same)."""
    last: list[Any] = [object(), None]

    def prepared(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, prepare(value)
        return last[1]

    return prepared


def _insert_column_names(spec: EntitySpec) -> list[str]:
    return [str(field.column) for field in _stored_fields(spec)]


def _stored_fields(spec: EntitySpec) -> list[Any]:
    return [field for field in spec.model._meta.concrete_fields if not field.primary_key]


def _same(value: Any) -> Any:
    return value


REGISTERED_MEANWHILE = _(
    "A value of this import that must be unique was registered by another request while it ran; nothing was "
    "imported. Execute it again: the rows concerned are then named."
)
DUPLICATE_IN_FILE = _("The same %(field)s as row %(row)s of this file.")
DUPLICATE_IN_REGISTRY = _("This %(field)s is already registered.")


def _registry_duplicates(spec: EntitySpec, unique_keys: Mapping[tuple[str, str], str]) -> set[str]:
    out: set[str] = set()
    for name in spec.declaration.unique:
        enc = spec.encrypted_fields.get(name)
        keys = list(dict.fromkeys(key for (field, _v), key in unique_keys.items() if field == name))
        if enc is not None:  # a blind index: text as stored
            found = (v for (v,) in _among(spec.model._meta.db_table, str(enc.index.column), keys))
            out.update(f"{name}:{v}" for v in found)
            continue
        for start in range(0, len(keys), 500):
            # No ordering: the model's (a person's number) would sort every chunk's answer for nothing.
            plain = spec.model._default_manager.filter(
                **{f"{name}__in": keys[start : start + 500]}
            ).order_by()
            out.update(f"{name}:{v}" for v in plain.values_list(name, flat=True))
    return out


def _among(table: str, column: str, values: list[Any], *also: str) -> Iterator[tuple[Any, ...]]:
    """(COLUMN, *ALSO) of TABLE's rows whose COLUMN is one of VALUES (already in database form), 500 at a
    time: one array parameter on PostgreSQL, an IN list elsewhere. Raw and unordered: a queryset's IN list
    cost more in its per-value preparation, and on PostgreSQL in the client's parsing of 500 placeholders,
    than the indexed look-up itself (bench/imports.py --profile)."""
    names = ", ".join([column, *also])
    with connection.cursor() as cursor:
        for start in range(0, len(values), 500):
            part = values[start : start + 500]
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT {names} FROM {table} WHERE {column} = ANY(%s)", [part])  # noqa: S608
            else:
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(f"SELECT {names} FROM {table} WHERE {column} IN ({marks})", part)  # noqa: S608
            yield from cursor.fetchall()


def _unique_key(spec: EntitySpec, name: str, value: Any) -> str:
    """A unique value's key: an encrypted field's blind index; a plain one (a credit code) compatibility-
    normalised, trimmed and upper-cased, so that a legacy value kept as found in full-width or lower-case
    characters is still found to be a registered code (and kept flagged as a duplicate)."""
    enc = spec.encrypted_fields.get(name)
    return (
        enc.index.index_of(str(value)) if enc else unicodedata.normalize("NFKC", str(value)).strip().upper()
    )


def _duplicate_reason(
    spec: EntitySpec,
    values: dict[str, Any],
    number: int,
    seen: dict[str, int],
    registry: set[str],
    keys: Mapping[tuple[str, str], str],
) -> tuple[str, Any, dict[str, Any]] | None:
    from sidms.changes.services import field_label

    for name in spec.declaration.unique:
        if not values.get(name):
            continue
        key = f"{name}:{keys[(name, str(values[name]))]}"
        # The label (a lazy verbose_name made a string) only for a row that clashes: it cost more than the
        # check itself on every row.
        if key in seen:
            return name, DUPLICATE_IN_FILE, {"field": field_label(spec, name), "row": seen[key]}
        seen[key] = number
        if key in registry:
            return name, DUPLICATE_IN_REGISTRY, {"field": field_label(spec, name)}
    return None


_REVISION_COLUMNS = [
    "entity", "record_id", "version", "at", "actor", "channel", "method", "request_id", "reference", "changes",
    "state", "digest", "prev_digest", "notes", "seal",
]  # fmt: skip


def _bulk_insert(cursor: Any, table: str, columns: list[str], rows: Iterable[Any]) -> None:
    """Insert ROWS (values already in database form) into TABLE: COPY on PostgreSQL (psycopg 3's
    ``cursor.copy``, the protocol built for bulk loads, rows streamed as they come), executemany elsewhere.
    Both run inside the caller's transaction, with the table's triggers and constraints."""
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    cursor.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",  # noqa: S608
        rows,
    )


def _insert_revisions(cursor: Any, rows: list[tuple[Any, ...]], reference: str) -> list[int]:
    """Insert revision rows (their time already in database form) and return their ids, read back by this
    batch's reference and the records' range rather than trusting executemany to number them in order."""
    if not rows:
        return []
    _bulk_insert(cursor, "changes_revision", _REVISION_COLUMNS, rows)
    records = [row[1] for row in rows]
    # A raw read: building a queryset's rows cost a tenth of the batch (bench/pipeline.py --profile).
    cursor.execute(
        "SELECT id FROM changes_revision WHERE entity = %s AND reference = %s AND record_id >= %s "
        "AND record_id <= %s ORDER BY id",
        [rows[0][0], reference, min(records), max(records)],
    )
    return [int(pk) for (pk,) in cursor.fetchall()]


def _db_time(value: Any) -> Any:
    return Revision._meta.get_field("at").get_db_prep_save(value, connection)


def _event(action: str, caller: Caller, batch: BatchApplication) -> None:
    audit_record(
        action, actor=caller, object_type="batch", object_id=batch.pk,
        detail={
            "kind": batch.kind, "entity": batch.entity, "rows": batch.row_count, "status": batch.status,
            "step": batch.step, "seal": batch.seal,
        },
    )  # fmt: skip


__all__ = [
    "Executed",
    "ImportRefused",
    "Prechecked",
    "batch_apply_import",
    "batch_apply_update",
    "batch_change_values",
    "batch_decide",
    "batch_execute",
    "batch_withdraw",
    "cleaning_code",
    "code_fingerprint",
    "matching_count",
    "register_ended_hook",
    "rules_digest",
    "selection_lookups",
]
