"""Batch changes and imports (R9.3): an application names the selection (or the import file) and the
change; approval at city level authorises exactly one execution, with the row count and the time window
fixed at approval. Execution outside that authorisation is refused.

Execution is the pipeline's bulk path: one transaction, the rows written with executemany, one revision
per row, and one audit event that carries a digest over all the revisions it wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import DateField
from django.http import HttpRequest
from django.utils import timezone

from sidms.audit.services import actor_name, audit_record
from sidms.changes.entities import (
    EntitySpec,
    digest,
    raw_state,
    represent,
    spec_for,
    state_digest,
    state_of,
)
from sidms.changes.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from sidms.changes.models import BatchApplication, BatchKind, BatchStatus, Channel, Method, Revision
from sidms.changes.seals import RevisionSealer, require_intact, reseal, revision_seal
from sidms.changes.services import (
    _plain,
    _require,
    audited_refusals,
    clean_values,
    deny,
    request_id,
    require_city_level,
    rules_in_force,
)
from sidms.changes.validators import Invalid
from sidms.lib import chain
from sidms.registry.models import Staff, pipeline_writes
from sidms.security.fields import BlindIndexField, Sealed, blind_index, seal

B = BatchStatus
DEFAULT_WINDOW = timedelta(hours=24)


class ImportRefused(ChangeRefused):
    """Rows of an import failed the rules; nothing was stored. ``rows`` maps row numbers (from 1) to errors."""

    def __init__(self, rows: Mapping[int, Mapping[str, Invalid]]) -> None:
        super().__init__(
            f"导入文件中有 {len(rows)} 行不符合采集规则，整批未导入",
            f"{len(rows)} rows of the import fail the collection rules; nothing was imported",
        )
        self.rows = {n: dict(errors) for n, errors in rows.items()}

    def __str__(self) -> str:
        lines = [self.localized()]
        for number, errors in list(self.rows.items())[:20]:
            detail = "；".join(f"{field}：{error.localized()}" for field, error in errors.items())
            lines.append(f"第 {number} 行 / row {number}: {detail}")
        if len(self.rows) > 20:
            lines.append(f"……另有 {len(self.rows) - 20} 行 / and {len(self.rows) - 20} more rows")
        return "\n".join(lines)


def batch_scope(actor: Staff) -> Any:
    return BatchApplication.objects.select_related("applicant", "approver", "executor")


def _selection(spec: EntitySpec, actor: Staff, selection: Mapping[str, Any]) -> dict[str, Any]:
    lookups: dict[str, Any] = {}
    for key, value in selection.items():
        if key not in spec.fields or spec.encrypted(key):
            raise ChangeRefused(f"不能按“{key}”筛选", f"Cannot select by {key!r}")
        lookups[key] = value
    if not actor.is_city_level:
        # A district applicant can only select within its district, whatever the filter says.
        if "district_id" not in spec.fields:
            raise ChangeRefused(
                "区级只能对本区记录申请批量变更", "District staff may only select their district"
            )
        lookups["district_id"] = actor.district_id
    return lookups


def batch_apply_update(
    *,
    actor: Staff,
    entity: str,
    selection: Mapping[str, Any],
    change: Mapping[str, Any],
    reason: str,
    request: HttpRequest | None = None,
) -> BatchApplication:
    _require(
        actor,
        "batch.apply",
        "您的岗位不能申请批量变更",
        "Your posts may not apply for batch changes",
        request,
    )
    spec = spec_for(entity)
    if not reason.strip():
        raise ChangeRefused("请填写批量变更理由", "Give the reason for the batch change")
    if not change:
        raise ChangeRefused("请指定要变更的数据项", "Name the fields to change")
    lookups = _selection(spec, actor, selection)
    cleaned = clean_values(spec, rules_in_force(entity), change, creating=False)
    stored_change = {n: _plain(v) for n, v in cleaned.values.items()}
    selected, count = _selected_digest(spec, lookups)
    with transaction.atomic():
        batch = BatchApplication.objects.create(
            kind=BatchKind.UPDATE, entity=entity, selection=lookups, change=stored_change, row_count=count,
            payload_digest=selected, reason=reason.strip(), applicant=actor, applied_at=timezone.now(),
        )  # fmt: skip
        reseal(batch)
        _event("batch.apply", actor, batch, request)
    return batch


class _RowHasher:
    """SHA-256 over canonical rows as they stream past, and their count."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def feed(self, rows: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        for row in rows:
            self._hash.update(chain.canonical({k: _plain(v) for k, v in row.items()}))
            self._hash.update(b"\n")
            self.count += 1
            yield row

    def digest(self) -> str:
        return self._hash.hexdigest()


def rows_digest(rows: Iterable[Mapping[str, Any]]) -> tuple[str, int]:
    """SHA-256 over the canonical rows, and their count: what approval pins down for an import."""
    hasher = _RowHasher()
    for _row in hasher.feed(rows):
        pass
    return hasher.digest(), hasher.count


def batch_apply_import(
    *,
    actor: Staff,
    entity: str,
    rows: Iterable[Mapping[str, Any]],
    reason: str,
    legacy: bool = False,
    request: HttpRequest | None = None,
) -> BatchApplication:
    _require(
        actor, "batch.apply", "您的岗位不能申请批量导入", "Your posts may not apply for imports", request
    )
    spec_for(entity)
    if not reason.strip():
        raise ChangeRefused("请填写导入理由", "Give the reason for the import")
    payload, count = rows_digest(rows)
    with transaction.atomic():
        batch = BatchApplication.objects.create(
            kind=BatchKind.IMPORT, entity=entity, payload_digest=payload, row_count=count, legacy=legacy,
            reason=reason.strip(), applicant=actor, applied_at=timezone.now(),
        )  # fmt: skip
        reseal(batch)
        _event("batch.apply", actor, batch, request)
    return batch


def _selected_digest(spec: EntitySpec, lookups: Mapping[str, Any]) -> tuple[str, int]:
    """SHA-256 over the ids a selection matches now, and their count: an update batch authorises these
    records, not merely this many records."""
    hasher = hashlib.sha256()
    count = 0
    for pk in spec.model.objects.filter(**lookups).order_by("pk").values_list("pk", flat=True).iterator(5000):
        hasher.update(f"{pk},".encode("ascii"))
        count += 1
    return hasher.hexdigest(), count


def batch_decide(
    *,
    actor: Staff,
    batch_id: int,
    approve: bool,
    reason: str = "",
    window: timedelta = DEFAULT_WINDOW,
    request: HttpRequest | None = None,
) -> BatchApplication:
    """City-level approval (R9.3). Approving fixes the row count and the window of one execution."""
    _require(
        actor,
        "batch.approve",
        "您的岗位不能审批批量变更",
        "Your posts may not approve batch changes",
        request,
    )
    require_city_level(actor, "批量变更须由市级审批", "Batch changes are approved at city level", request)
    with audited_refusals(), transaction.atomic():
        batch = _locked(batch_id, B.SUBMITTED)
        require_intact(batch)
        if batch.applicant_id == actor.pk:
            _deny(actor, batch, "own_application", request)
        current = (
            _selected_digest(spec_for(batch.entity), batch.selection)[0] if batch.kind == "update" else ""
        )
        if approve and batch.kind == BatchKind.UPDATE and current != batch.payload_digest:
            raise ChangeRefused(
                "申请后符合条件的记录已有变化，不能按原申请批准，请驳回后重新申请",
                "The selected records changed since the application; refuse it and apply again",
            )
        if not approve and not reason.strip():
            raise ChangeRefused("不批准时必须填写理由", "A refusal needs a reason")
        now = timezone.now()
        batch.status = B.APPROVED if approve else B.REFUSED
        batch.approver = actor
        batch.approved_at = now
        batch.decision_reason = reason.strip()
        if approve:
            batch.authorised_rows = batch.row_count
            batch.window_start = now
            batch.window_end = now + window
        batch.save()
        reseal(batch)
        _event("batch.approve" if approve else "batch.refuse", actor, batch, request)
    return batch


@dataclass
class Executed:
    batch: BatchApplication
    rows: int
    first_revision: int | None
    last_revision: int | None


def batch_execute(
    *,
    actor: Staff,
    batch_id: int,
    rows: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
    request: HttpRequest | None = None,
) -> Executed:
    """Carry out an approved batch once, inside its window and on exactly the authorised rows."""
    _require(
        actor,
        "batch.execute",
        "您的岗位不能执行批量变更",
        "Your posts may not execute batch changes",
        request,
    )
    with audited_refusals(), transaction.atomic():
        batch = BatchApplication.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None:
            raise NotPermitted("没有这份批量申请", "No such batch application")
        require_intact(batch)
        refusal = _outside_authorisation(batch)
        if refusal is not None:
            _deny(actor, batch, refusal[2], request, refusal)
        if batch.approver_id == actor.pk:
            _deny(actor, batch, "approver_executes", request)
        spec = spec_for(batch.entity)
        now = timezone.now()
        if batch.kind == BatchKind.UPDATE:
            revisions = _execute_update(spec, batch, actor=actor, now=now, request=request)
        else:
            if rows is None:
                raise ChangeRefused("执行导入需要提供导入文件", "An import needs its file")
            revisions = _execute_import(spec, batch, rows, actor=actor, now=now, request=request)
        batch.status = B.EXECUTED
        batch.executor = actor
        batch.executed_at = now
        batch.executed_rows = len(revisions)
        batch.save()
        reseal(batch)
        first, last = (revisions[0], revisions[-1]) if revisions else (None, None)
        audit_record(
            "batch.execute", actor=actor, request=request, object_type="batch", object_id=batch.pk,
            channel=Channel.IMPORT if batch.kind == BatchKind.IMPORT else Channel.MAINTENANCE,
            detail={
                "entity": batch.entity, "rows": len(revisions), "revisions": [first, last],
                "reference": f"BA{batch.pk}", "revisions_digest": revisions_digest(first, last, f"BA{batch.pk}"),
            },
        )  # fmt: skip
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


def _outside_authorisation(batch: BatchApplication) -> tuple[str, str, str] | None:
    now = timezone.now()
    if batch.status == B.EXECUTED:
        return (
            "该批量申请已执行过，授权只允许执行一次",
            "This batch has already been executed once",
            "already_executed",
        )
    if batch.status != B.APPROVED:
        return ("该批量申请未获市级批准", "This batch is not approved at city level", "not_approved")
    assert batch.window_start is not None and batch.window_end is not None
    if not batch.window_start <= now <= batch.window_end:
        return ("已超出批准的执行时间窗口", "Outside the approved execution window", "outside_window")
    return None


def _deny(
    actor: Staff,
    batch: BatchApplication,
    reason: str,
    request: HttpRequest | None,
    text: tuple[str, str, str] | None = None,
) -> None:
    # The event is written after the transaction rolls back (services.audited_refusals); written here it
    # was rolled back with the refused step.
    refusal = (
        SeparationOfDuties(
            "批量变更的申请、审批、执行须由不同人员完成",
            "Apply and approve must be different people; the approver does not execute",
        )
        if text is None
        else NotPermitted(text[0], text[1])
    )
    raise deny(
        refusal, "batch.denied", actor=actor, request=request, object_type="batch", object_id=batch.pk,
        detail={"reason": reason},
    )  # fmt: skip


def _locked(batch_id: int, status: str) -> BatchApplication:
    batch = BatchApplication.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None:
        raise NotPermitted("没有这份批量申请", "No such batch application")
    if batch.status != status:
        raise ChangeRefused("该批量申请已处理", "This batch application has already been decided")
    return batch


def _execute_update(
    spec: EntitySpec, batch: BatchApplication, *, actor: Staff, now: Any, request: HttpRequest | None
) -> list[int]:
    """The lean bulk path: raw columns in, raw columns out. No model instances are built and nothing is
    decrypted — the state, its digest and the revision are computed from the stored ciphertexts — because
    per-row ORM work made the pipeline 40× slower than the database (bench/pipeline.py)."""
    selection = spec.model.objects.select_for_update().filter(**batch.selection).order_by("pk")
    sql, params = selection.values_list("pk", "version", *spec.fields).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        selected = cursor.fetchall()
    hasher = hashlib.sha256()
    for row in selected:
        hasher.update(f"{row[0]},".encode("ascii"))
    if len(selected) != batch.authorised_rows or hasher.hexdigest() != batch.payload_digest:
        raise deny(
            NotPermitted(
                f"当前符合条件的记录（{len(selected)} 条）与批准的 {batch.authorised_rows} 条记录不一致，拒绝执行",
                f"The {len(selected)} records matching now are not the {batch.authorised_rows} authorised; refused",
            ),
            "batch.denied", actor=actor, request=request, object_type="batch", object_id=batch.pk,
            detail={"reason": "selection_changed"},
        )  # fmt: skip
    cleaned = clean_values(spec, rules_in_force(batch.entity), batch.change, creating=False)
    values = {n: _sealed(spec, n, v) for n, v in cleaned.values.items()}
    # Every row gets the same new values: represent (and for encrypted fields, encrypt) them once.
    new_values = {n: represent(spec, n, v) for n, v in values.items()}
    table = spec.model._meta.db_table
    columns = [spec.field(n).column for n in values]
    # The raw UPDATE bypasses BlindIndexField.pre_save, so the index of each new encrypted value is written
    # alongside (it is the same for every row).
    indexes = [
        f for f in spec.model._meta.concrete_fields if isinstance(f, BlindIndexField) and f.source in values
    ]
    columns += [f.column for f in indexes]
    db_values = [spec.field(n).get_db_prep_save(v, connection) for n, v in values.items()]
    db_values += [
        blind_index(f.domain, str(values[f.source]), f.normaliser) if values[f.source] else ""
        for f in indexes
    ]
    reference = f"BA{batch.pk}"
    who, rid, at = actor_name(actor), request_id(request), _db_time(now)
    updates: list[tuple[Any, ...]] = []
    revisions: list[tuple[Any, ...]] = []
    sealer = RevisionSealer(
        entity=spec.name, at=now, actor=who, channel=Channel.MAINTENANCE, method=Method.BATCH, request_id=rid,
        reference=reference, notes={},
    )  # fmt: skip
    for pk, version, *raw in selected:
        old = raw_state(spec, raw)
        new = {**old, **new_values}
        changes = {n: [old[n], v] for n, v in new_values.items() if old[n] != v}
        version += 1
        state = chain.canonical(new)
        row_digest = state_digest(spec.name, version, state)
        seal = sealer(record_id=pk, version=version, changes=changes, digest=row_digest)
        updates.append((*db_values, version, row_digest, at, pk))
        revisions.append(
            (spec.name, pk, version, at, who, Channel.MAINTENANCE, Method.BATCH, rid, reference,
             json.dumps(changes, ensure_ascii=False), state.decode("utf-8"), row_digest, "{}", seal)
        )  # fmt: skip
    assignments = ", ".join(f"{c} = %s" for c in [*columns, "version", "row_digest", "updated_at"])
    with connection.cursor() as cursor:
        with pipeline_writes():
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", updates)  # noqa: S608
        return _insert_revisions(cursor, revisions, reference)


def _execute_import(
    spec: EntitySpec,
    batch: BatchApplication,
    rows: Callable[[], Iterable[Mapping[str, Any]]],
    *,
    actor: Staff,
    now: Any,
    request: HttpRequest | None,
) -> list[int]:
    rules = rules_in_force(batch.entity)
    # The file is hashed in the same pass that stores it; a file that differs from the approved one is
    # found at the end and the transaction rolls back, so it stores nothing either way.
    hasher = _RowHasher()
    failures: dict[int, dict[str, Invalid]] = {}
    revision_ids: list[int] = []
    chunk: list[tuple[Any, dict[str, Any]]] = []
    who, rid, reference = actor_name(actor), request_id(request), f"BA{batch.pk}"
    # Rows stream through in chunks, so a million-row import needs no million objects in memory. All
    # chunks share the one transaction: a failure anywhere still leaves nothing stored.
    for number, row in enumerate(hasher.feed(rows()), start=1):
        if number > (batch.authorised_rows or 0):
            break  # more rows than authorised: refused below, no need to read the rest
        values, note, errors = _import_values(spec, rules, row, legacy=batch.legacy)
        if errors:
            failures[number] = errors
            continue
        if failures:
            continue  # the import is refused anyway; keep validating to report every failing row
        instance = spec.model(**{n: _sealed(spec, n, v) for n, v in values.items()})
        instance.version = 1
        instance.created_at = instance.updated_at = now
        instance.row_digest = digest(spec, 1, state_of(spec, instance))
        chunk.append((instance, note))
        if len(chunk) >= IMPORT_CHUNK:
            revision_ids += _store_chunk(spec, chunk, now=now, who=who, rid=rid, reference=reference)
            chunk = []
    if hasher.digest() != batch.payload_digest or hasher.count != batch.authorised_rows:
        raise deny(
            NotPermitted("导入文件与批准时的文件不一致，拒绝执行", "The import file differs from the approved one; refused"),
            "batch.denied", actor=actor, request=request, object_type="batch", object_id=batch.pk,
            detail={"reason": "file_differs"},
        )  # fmt: skip
    if failures:
        raise ImportRefused(failures)
    if chunk:
        revision_ids += _store_chunk(spec, chunk, now=now, who=who, rid=rid, reference=reference)
    return revision_ids


IMPORT_CHUNK = 2000


def _import_values(
    spec: EntitySpec, rules: Mapping[str, Any], row: Mapping[str, Any], *, legacy: bool
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Invalid]]:
    """The values to store for one import row, the revision note, and the errors that refuse it.

    A legacy migration (存量数据迁移) stores every value as found in the old system — a 15-digit ID number
    stays 15 digits — and records what fails the rules in the note instead of refusing the row."""
    try:
        values = clean_values(spec, rules, row, creating=True).values
        errors: dict[str, Invalid] = {}
    except ChangeRefused as refused:
        errors = refused.errors
        good = {n: v for n, v in row.items() if n not in errors}
        values = clean_values(spec, rules, good, creating=False).values if legacy else {}
    if not legacy:
        return values, {}, errors
    for name, raw in row.items():
        if name not in spec.fields:
            continue
        if isinstance(spec.field(name), DateField):
            values.setdefault(name, None)
        elif isinstance(raw, str):
            values[name] = raw.strip()
    note = {"nonconforming": {n: e.reason for n, e in errors.items()}} if errors else {}
    return values, note, {}


def _store_chunk(
    spec: EntitySpec, chunk: list[tuple[Any, dict[str, Any]]], *, now: Any, who: str, rid: str, reference: str
) -> list[int]:
    with pipeline_writes():
        spec.model.objects.bulk_create([instance for instance, _ in chunk], batch_size=500)
    revisions = []
    at = _db_time(now)
    for instance, note in chunk:
        state = state_of(spec, instance)
        changes = {n: [None, v] for n, v in state.items()}
        seal = revision_seal(
            entity=spec.name, record_id=instance.pk, version=1, at=now, actor=who, channel=Channel.IMPORT,
            method=Method.IMPORT, request_id=rid, reference=reference, changes=changes, notes=note,
            digest=instance.row_digest,
        )  # fmt: skip
        revisions.append(
            (spec.name, instance.pk, 1, at, who, Channel.IMPORT, Method.IMPORT, rid, reference,
             json.dumps(changes, ensure_ascii=False), json.dumps(state, ensure_ascii=False), instance.row_digest,
             json.dumps(note, ensure_ascii=False), seal)
        )  # fmt: skip
    with connection.cursor() as cursor:
        return _insert_revisions(cursor, revisions, reference)


def _insert_revisions(cursor: Any, rows: list[tuple[Any, ...]], reference: str) -> list[int]:
    """Insert revision rows (their time already in database form) and return their ids, read back by this
    batch's reference and the records' range rather than trusting executemany to number them in order."""
    if not rows:
        return []
    cursor.executemany(
        "INSERT INTO changes_revision (entity, record_id, version, at, actor, channel, method, request_id, "
        "reference, changes, state, digest, notes, seal) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        rows,
    )
    records = [row[1] for row in rows]
    ids = Revision.objects.filter(
        entity=rows[0][0], reference=reference, record_id__gte=min(records), record_id__lte=max(records)
    ).values_list("pk", flat=True)
    return sorted(ids)


def _db_time(value: Any) -> Any:
    return Revision._meta.get_field("at").get_db_prep_save(value, connection)


def _sealed(spec: EntitySpec, name: str, value: Any) -> Any:
    domain = spec.encrypted(name)
    if domain and value not in (None, "") and not isinstance(value, Sealed):
        return seal(domain, str(value))
    return value


def _event(action: str, actor: Staff, batch: BatchApplication, request: HttpRequest | None) -> None:
    audit_record(
        action, actor=actor, request=request, object_type="batch", object_id=batch.pk,
        detail={"kind": batch.kind, "entity": batch.entity, "rows": batch.row_count, "status": batch.status},
    )  # fmt: skip


__all__ = [
    "Executed",
    "ImportRefused",
    "batch_apply_import",
    "batch_apply_update",
    "batch_decide",
    "batch_execute",
    "represent",
]
