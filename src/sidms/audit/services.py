"""Writing audit events. Every write, review decision, login, failed permission check and read of
personal data calls `audit_record` inside the transaction of the act it records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from django.conf import settings
from django.db import router, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from sidms.audit import subjects
from sidms.audit.checkpoints import after_commit
from sidms.audit.models import AuditEvent, ChainHead, Outcome
from sidms.core.caller import Caller, actor_name
from sidms.core.logging import mask as mask_id_numbers
from sidms.core.prepared import Prepared, planned_once
from sidms.lib import chain
from sidms.lib.groupcommit import GroupCommit

__all__ = ["actor_name", "audit_record"]


# Reads buffered during a request (see `buffered_reads`): written together when the request ends.
_BUFFER: ContextVar[list[dict[str, Any]] | None] = ContextVar("sidms_audit_buffer", default=None)


@contextmanager
def buffered_reads() -> Iterator[None]:
    """Within this block (a web request), the audit events of reads ("read.…") are kept and appended to the
    chain together, in one transaction, when the block ends — whatever happened in it. A page that reads a
    record and its related lists then costs one short write instead of one per read. Every other event is
    written at once, inside the transaction of the act it records."""
    token = _BUFFER.set([])
    try:
        yield
    finally:
        pending = _BUFFER.get() or []
        _BUFFER.reset(token)
        if pending:
            if transaction.get_connection(router.db_for_write(AuditEvent)).in_atomic_block:
                _append_all(pending)  # inside the caller's transaction: with it or not at all
            else:
                _TOGETHER.submit(pending)


# The read events of the requests that end while another request's events are being appended go in with the
# next append, together (sidms.lib.groupcommit): each request still returns only once its events are
# committed, but a process's threads no longer queue one commit each on the chain head's lock. On
# PostgreSQL that lock is held until the commit reaches the disk (a few ms each), so at 16 concurrent page
# views the page's latency was mostly this queue (bench/README.md, the rights-record page).
_TOGETHER: GroupCommit[dict[str, Any]] = GroupCommit(lambda events: _append_all(events))


def audit_record(
    action: str,
    *,
    actor: Any,
    object_type: str = "",
    object_id: object = "",
    outcome: str = Outcome.OK,
    detail: Mapping[str, Any] | None = None,
    channel: str = "",
) -> AuditEvent | None:
    """Append one event to the chain. ACTOR is a Caller (who, from which address, in which request), a staff
    member or a system name. DETAIL must never hold personal data in plain text. A read inside
    `buffered_reads` is appended when the block ends (None is returned then)."""
    event: dict[str, Any] = {
        "action": action, "caller": Caller.of(actor), "object_type": _fit(object_type),
        "object_id": _fit(object_id),
        "outcome": str(outcome), "detail": _typed_text_masked(detail), "channel": channel, "at": timezone.now(),
    }  # fmt: skip
    buffer = _BUFFER.get()
    if buffer is not None and action.startswith("read."):
        buffer.append(event)
        return None
    with transaction.atomic():
        return _append(**event)


# The details that hold what a person typed: a reason, a note, a purpose. A clerk who wrote the ID number into
# a correction's reason ("身份证 3710…0010 姓名有误") put it in full into the chain every auditor reads, which
# no one can ever take out again (attack round 9). Those texts are kept with the ID number's birth date
# starred out, as in the logs (core.logging.mask); the record itself (the request's note) keeps what was
# typed, for the reviewer who handles the person.
TYPED_TEXT = frozenset(
    {"reason", "note", "notes", "purpose", "conclusion", "response", "problems", "requirements"}
)


def _typed_text_masked(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(detail or {})
    for key in TYPED_TEXT.intersection(out):
        if isinstance(out[key], str):
            out[key] = mask_id_numbers(out[key])
    return out


def _fit(value: object, size: int = 64) -> str:
    """An object's type or id as its column holds it: at most SIZE characters and no NUL, which PostgreSQL
    refuses in any text. An id comes from the caller (a key typed into a URL, a long username): one that did
    not fit made the event fail to be stored, and with it the act or the page it recorded (attack round 5)."""
    text = str(value)
    return (text.replace("\x00", "") if "\x00" in text else text)[:size]


def _append(
    *, action: str, caller: Caller, object_type: str, object_id: str, outcome: str, detail: dict[str, Any],
    channel: str, at: Any,
) -> AuditEvent:  # fmt: skip
    return _append_all([{
        "action": action, "caller": caller, "object_type": object_type, "object_id": object_id,
        "outcome": outcome, "detail": detail, "channel": channel, "at": at,
    }])[-1]  # fmt: skip


def _append_all(events: list[dict[str, Any]]) -> list[AuditEvent]:
    """Append EVENTS (audit_record's keyword arguments, in order) to the chain in one transaction: the head is
    locked and moved once, and the rows are inserted together. Each event is still its own link, with its own
    sequence number, payload and hash, exactly as if appended one by one."""
    with transaction.atomic():
        head = _locked_head()
        rows = []
        named: list[tuple[str, str, int]] = []
        seq, digest = head.seq, head.hash
        for event in events:
            caller: Caller = event["caller"]
            seq += 1
            body = {
                "seq": seq,
                "at": event["at"].isoformat(),
                "actor": caller.name,
                "action": event["action"],
                "object_type": event["object_type"],
                "object_id": event["object_id"],
                "outcome": event["outcome"],
                "ip": caller.address,
                "request": caller.request_id,
                "channel": event["channel"],
                "detail": event["detail"],
            }
            payload = chain.canonical(body)
            if _MAY_NAME.intersection(event["detail"]):
                # The records a list names, read back from the payload as verification will read them.
                hashed = orjson.loads(payload)
                named.extend(
                    (entity, key, seq)
                    for entity, key in subjects.named(hashed["object_type"], hashed["detail"])
                )
            prev, digest = digest, chain.link(digest, payload, algorithm=head.algorithm)
            rows.append(
                AuditEvent(
                    seq=seq, at=event["at"], actor=caller.name, action=event["action"],
                    object_type=event["object_type"], object_id=event["object_id"], outcome=event["outcome"],
                    payload=payload.decode("utf-8"), prev_hash=prev, hash=digest,
                )
            )  # fmt: skip
        head.seq, head.hash = seq, digest
        _write(rows, head)
        if named:
            subjects.insert(named)  # the subject index, in the events' transaction
        for row in rows:  # bulk_create sends no signal; the receivers (integrity alerts) expect one per event
            post_save.send(sender=AuditEvent, instance=row, created=True, update_fields=None, raw=False,
                           using=router.db_for_write(AuditEvent))  # fmt: skip
        after_commit()
    return rows


# The detail keys under which an event may name records (sidms.audit.subjects.named): other events are not parsed.
_MAY_NAME = subjects.KEYS


# The chain head is read (locked) and moved on every append, a page view's included: both by statements
# compiled once (sidms.core.prepared, and a fixed UPDATE) rather than querysets built anew each time.
_HEAD: Prepared[ChainHead] = Prepared(
    ChainHead, lambda pk: ChainHead.objects.select_for_update().filter(pk=pk), int, for_write=True
)


# The columns of an event's row, in the model's order; at most _ROWS_A_STATEMENT rows an INSERT (SQLite's
# default limit of 999 parameters, as bulk_create would batch them).
_COLUMNS = [field for field in AuditEvent._meta.concrete_fields]
_ROWS_A_STATEMENT = 999 // len(_COLUMNS)


def _write(rows: list[AuditEvent], head: ChainHead) -> None:
    """INSERT ROWS (their seq given) and move HEAD to the last of them, in the transaction that locked it.

    The rows go in by one fixed statement per batch, as ``bulk_create(rows)`` would, without building and
    compiling a queryset on every append (a page view appends one event), and the head by one fixed UPDATE (as
    ``ChainHead.objects.filter(pk=…).update(seq=…, hash=…, mac=…)``). On PostgreSQL one batch and the head's
    UPDATE are one statement (``WITH … INSERT … UPDATE``), prepared by the connection: one round trip to the
    server and one statement parsed instead of two, on every page view's append."""
    connection = transaction.get_connection(router.db_for_write(AuditEvent))
    inserts = _inserts(rows, connection)
    move = _move(head, connection)
    together = connection.vendor == "postgresql" and len(inserts) == 1
    if together and router.db_for_write(ChainHead) == connection.alias:
        (insert, insert_params), (update, update_params) = inserts[0], move
        with planned_once(connection) as cursor:
            cursor.execute(f"WITH appended AS ({insert}) {update}", [*insert_params, *update_params])
    else:
        with connection.cursor() as cursor:
            for sql, params in inserts:
                cursor.execute(sql, params)
        head_connection = transaction.get_connection(router.db_for_write(ChainHead))
        with head_connection.cursor() as cursor:
            cursor.execute(*_move(head, head_connection))
    for row in rows:  # as bulk_create leaves them: saved
        row._state.adding, row._state.db = False, connection.alias


def _inserts(rows: list[AuditEvent], connection: Any) -> list[tuple[str, list[Any]]]:
    """The INSERT statements of ROWS, at most _ROWS_A_STATEMENT rows each, with their parameters."""
    quote, adapt = connection.ops.quote_name, connection.ops.adapt_datetimefield_value
    columns = ", ".join(quote(str(field.column)) for field in _COLUMNS)
    marks = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    table = quote(AuditEvent._meta.db_table)
    names = [field.attname for field in _COLUMNS]
    at = names.index("at")
    statements = []
    for start in range(0, len(rows), _ROWS_A_STATEMENT):
        batch = rows[start : start + _ROWS_A_STATEMENT]
        params: list[Any] = []
        for row in batch:
            values = [getattr(row, name) for name in names]
            values[at] = adapt(values[at])
            params.extend(values)
        sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * len(batch))}"  # noqa: S608
        statements.append((sql, params))
    return statements


def _move(head: ChainHead, connection: Any) -> tuple[str, list[Any]]:
    """The UPDATE moving the head's row to HEAD's sequence number and hash, with their MAC."""
    quote, meta = connection.ops.quote_name, ChainHead._meta
    seq, hash_, mac, pk = (quote(str(meta.get_field(name).column)) for name in ("seq", "hash", "mac", "id"))  # type: ignore[union-attr]
    sql = f"UPDATE {quote(meta.db_table)} SET {seq} = %s, {hash_} = %s, {mac} = %s WHERE {pk} = %s"  # noqa: S608
    return sql, [head.seq, head.hash, head.expected_mac(), head.pk]


def _locked_head() -> ChainHead:
    head = _HEAD.first(1)
    if head is None:
        ChainHead.objects.get_or_create(
            pk=1, defaults={"algorithm": settings.SIDMS_AUDIT_HASH, "seq": 0, "hash": chain.GENESIS}
        )
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head
