"""Verification of the audit chain itself (R20, principle 4): the first part of `sidms audit verify`.

1. every event's hash links to the previous one, sequence numbers have no gaps, the columns agree with the
   hashed payload, and the chain ends where its keyed head says (a head that is missing while events exist
   is a break: someone deleted it to skip this check);
2. the checkpoints copied off the host agree with the chain (a wholesale rewrite or a cut tail is caught).

What the events claim — which revisions they wrote, which batches, the last step of each workflow row — is
collected on the way (``Claims``) for the checks of sidms.changes.verify, which knows those tables.
"""

from __future__ import annotations

import gc
import itertools
import os
import pickle
import resource
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, NoReturn, cast

import orjson
from django.db import connection, connections, transaction

from sidms.audit import subjects
from sidms.audit.checkpoints import read_checkpoints
from sidms.audit.models import AuditEvent, ChainHead
from sidms.core.keys import keyring
from sidms.lib import chain

CHUNK = 5000
# Rows per chunk of a streamed PostgreSQL result (libpq's chunked-rows mode).
STREAM_CHUNK = 2000


@dataclass(frozen=True)
class Problem:
    kind: str  # audit_chain | audit_tail | audit_subject | checkpoint | revision | rule | live_row | workflow | keys
    where: str
    message: str
    message_en: str


@dataclass
class Report:
    events: int = 0
    checkpoints: int = 0
    revisions: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    decrypted: int = 0
    singles_seen: int = 0
    batched: dict[str, int] = field(default_factory=dict)
    chain_seconds: float = 0.0
    # Processor time (user + system) of this process and of its verification workers, whole run and chain
    # part: on a shared machine a wall-clock rate says as much about the other load as about verification.
    cpu: tuple[float, float] = (0.0, 0.0)
    chain_cpu: tuple[float, float] = (0.0, 0.0)
    processes: int = 1
    seconds: float = 0.0
    problem: Problem | None = None
    # Where this verification reached: the last event and revision it proved (the next incremental run
    # starts there), whether it was incremental, and how many live rows it sampled.
    last_seq: int = 0
    last_hash: str = ""
    last_revision: int = 0
    incremental: bool = False
    since_seq: int = 0
    sampled: int = 0
    row_tops: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def events_per_second(self) -> float:
        return self.events / self.chain_seconds if self.chain_seconds else 0.0


class Broken(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message_en)
        self.problem = problem


def cpu_times() -> tuple[float, float]:
    """Processor seconds used so far by this process and by its children that have ended (every verification
    worker has ended by the time parallel_map returns)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def cpu_since(start: tuple[float, float]) -> tuple[float, float]:
    now = cpu_times()
    return now[0] - start[0], now[1] - start[1]


def broken(kind: str, where: str, message: str, message_en: str) -> Broken:
    return Broken(Problem(kind, where, message, message_en))


@dataclass
class Claims:
    single: dict[int, tuple[str, int]] = field(default_factory=dict)  # revision id -> (digest, event seq)
    batches: dict[str, tuple[int, int, str, int]] = field(
        default_factory=dict
    )  # ref -> (first, last, digest, seq)
    # (object type, object id) -> (step, seal, event seq) of the latest event about a workflow row
    workflow: dict[tuple[str, str], tuple[int, str, int]] = field(default_factory=dict)
    # Incremental verification reads only the events since the last verified point: revisions with ids up
    # to this one were vouched for by events that verification already proved.
    vouched_before: int = 0


# What the chain claims, kept where forked verification workers find it (sidms.changes.verify).
CLAIMS: Claims = Claims()

# Checks of tables the pipeline does not own (staff accounts, their posts and devices), registered by their
# apps when ready, so that verification needs to know none of them. Each takes the report and the latest
# revision (version, digest) of each record of the entities it owns, which it removes from the mapping.
CHECKS: list[Callable[[Report, dict[str, dict[int, tuple[int, str]]]], None]] = []


def register_check(check: Callable[[Report, dict[str, dict[int, tuple[int, str]]]], None]) -> None:
    if check not in CHECKS:
        CHECKS.append(check)


def parallel_workers(requested: int | None = None) -> int:
    """How many processes verification may use: every core for a database other processes can open, one
    inside a transaction (its uncommitted rows are invisible to others) or for an in-memory SQLite test
    database."""
    if connection.in_atomic_block:
        return 1
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor == "sqlite" and (not name or name == ":memory:" or "mode=memory" in name):
        return 1
    return max(1, requested if requested is not None else (os.cpu_count() or 1))


def parallel_map(function: Callable[..., Any], tasks: list[tuple[Any, ...]], workers: int) -> list[Any]:
    """FUNCTION over TASKS, in WORKERS processes: this one and WORKERS − 1 forked children, each taking the
    next task from a shared queue until none is left (a child inherits what the parent built, the claims,
    without pickling it). Each child sends its pickled results through a pipe and exits.

    Plain fork and pipes rather than a process pool: a pool forks from beside its own threads, and a child
    forked while one of them held a lock hung. The queue is a pipe holding the task numbers, 4 bytes each,
    written before the forks: a read of 4 bytes from it is atomic, so every task is taken exactly once. One
    fork per worker, not per task: a fork and its new database connection cost tens of milliseconds on a
    busy machine, more than a small task."""
    if workers <= 1 or len(tasks) <= 1:
        return [function(*task) for task in tasks]
    if len(tasks) * 4 > 60_000:  # the whole queue must fit in the pipe's buffer (64 KiB on Linux)
        raise ValueError(f"too many verification tasks for one queue: {len(tasks)}")
    queue_read, queue_write = os.pipe()
    os.write(queue_write, b"".join(index.to_bytes(4, "big") for index in range(len(tasks))))
    os.close(queue_write)  # read() gives b"" once the queue is empty
    if connection.vendor == "sqlite":
        # SQLite forbids carrying an open connection across fork: its per-process lock bookkeeping would be
        # copied into the child. Reopening it afterwards costs about a millisecond.
        connections.close_all()
    gc.freeze()  # the children's collections then skip what they inherited (and copy fewer pages)
    children: dict[int, int] = {}  # pid -> read end of its result pipe
    try:
        for _ in range(min(workers, len(tasks)) - 1):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child
                os.close(read)
                for other in children.values():
                    os.close(other)
                _run_child(function, tasks, queue_read, write)
            os.close(write)
            children[pid] = read
        results: list[Any] = [None] * len(tasks)
        failure: BaseException | None = None
        try:
            for number, result in _take_tasks(function, tasks, queue_read):
                results[number] = result
        except BaseException as exc:  # the children still finish and are reaped first
            failure = exc
        while children:
            pid, read = children.popitem()
            try:
                with os.fdopen(read, "rb") as pipe:
                    data = pipe.read()
            finally:
                os.waitpid(pid, 0)
            outcome: str
            value: Any
            outcome, value = pickle.loads(data) if data else ("error", "it died")  # noqa: S301  (our child's)
            if outcome != "ok":
                failure = failure or RuntimeError(f"verification worker failed: {value}")
                continue
            for number, result in value:
                results[number] = result
        if failure is not None:
            raise failure
        return results
    finally:
        gc.unfreeze()
        os.close(queue_read)
        for pid, read in children.items():  # only if a fork failed or reading a result did
            os.close(read)
            os.waitpid(pid, 0)


def _take_tasks(
    function: Callable[..., Any], tasks: list[tuple[Any, ...]], queue: int
) -> list[tuple[int, Any]]:
    """Run the tasks this process takes from QUEUE until it is empty: (task number, result) pairs."""
    done = []
    while index := os.read(queue, 4):
        number = int.from_bytes(index, "big")
        done.append((number, function(*tasks[number])))
    return done


# The database connections a child inherited: never closed or used there (closing a PostgreSQL connection
# would end the parent's session on the server), and kept referenced so that nothing finalises them.
_INHERITED: list[Any] = []


def _run_child(
    function: Callable[..., Any], tasks: list[tuple[Any, ...]], queue: int, write: int
) -> NoReturn:
    """A forked worker: its own database connection, its share of the tasks, the results down WRITE."""
    for handle in connections.all(initialized_only=True):
        if handle.connection is not None:
            _INHERITED.append(handle.connection)
            handle.connection = None
    status = 0
    try:
        payload = pickle.dumps(("ok", _take_tasks(function, tasks, queue)))
    except BaseException as exc:  # reported to the parent, which raises it
        payload = pickle.dumps(("error", repr(exc)))
        status = 1
    finally:
        connections.close_all()
    with os.fdopen(write, "wb") as pipe:
        pipe.write(payload)
    os._exit(status)


def db_time(value: Any) -> str:
    """A timestamp as payloads and seals hold it (isoformat, UTC), from a raw cursor: PostgreSQL gives an
    aware datetime, SQLite the text Django stored (naive UTC)."""
    if isinstance(value, str):
        return value.replace(" ", "T") + "+00:00"
    if value.tzinfo is None:  # SQLite through Django's converters: naive, in UTC
        value = value.replace(tzinfo=UTC)
    return str(value.isoformat())


def time_column(vendor: str, column: str = "at") -> tuple[str, Callable[[Any], str] | None]:
    """How to select a timestamp column as payloads and seals hold it (isoformat in UTC), and what must
    still be done to it in Python (None: nothing). Verification reads millions, and building a Python
    datetime and its text again cost more than the rest of an event's checks: Django's converter on SQLite
    and its timestamptz loader on PostgreSQL are Python code. The text is compared strictly: a stored value
    that only parses to the same time, in another form, no longer passes.

    SQLite: the text Django stored ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC) with its T and offset, as db_time
    makes it. PostgreSQL: the time in UTC to the microsecond, without a fraction of zero, as isoformat."""
    if vendor == "sqlite":
        return f"replace({column}, ' ', 'T') || '+00:00'", None
    if vendor == "postgresql":
        text = f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
        return f"replace({text}, '.000000+', '+')", None
    return column, db_time


def payload_column(vendor: str) -> str:
    """The event's payload as the bytes that were hashed: SQLite hands a BLOB over as it is stored (UTF-8),
    with no str built and encoded again. PostgreSQL's text column is loaded as bytes (see _event_rows)."""
    return "CAST(payload AS BLOB)" if vendor == "sqlite" else "payload"


@dataclass
class _Segment:
    first: int
    first_prev: str
    last_hash: str
    count: int
    claims: Claims
    problem: Problem | None = None


def _missing(seq: int) -> Broken:
    return broken(
        "audit_chain", f"审计事件 #{seq} / audit event #{seq}", f"审计事件 #{seq} 缺失（被删除）",
        f"audit event #{seq} is missing (deleted)",
    )  # fmt: skip


def _chain_breaks(seq: int) -> Broken:
    return broken(
        "audit_chain", f"审计事件 #{seq} / audit event #{seq}", "审计事件的哈希链断裂：该事件或其前一事件被篡改",
        "the hash chain breaks here: this event or the one before was altered",
    )  # fmt: skip


_EVENT_COLUMNS = "seq, prev_hash, {payload}, hash, actor, action, object_type, object_id, outcome, {at}"


@contextmanager
def _event_rows(low: int, high: int) -> Iterator[Iterator[tuple[Any, ...]]]:
    """The events LOW..HIGH in order of seq, as (seq, prev_hash, payload, hash, actor, action, object_type,
    object_id, outcome, at): the payload as the bytes that were hashed, AT in the payload's text form.

    PostgreSQL: one query for the whole range, its rows streamed in chunks of STREAM_CHUNK (libpq's
    chunked-rows mode). The server reads and sends the next rows into the socket while this process hashes
    the ones it has, so both work at once; with a query per chunk, as before, each waited for the other in
    turn. Binary results: the sequence number comes as an int8, the payload (a text column, loaded here as
    bytes: the connection's encoding is UTF-8, Django sets it) as the bytes that were hashed, with no str
    decoded and encoded again. The planner is told not to sort or bitmap-scan: after a bulk append its
    statistics may still count a few hundred rows (autovacuum may be off, as on this project's server), and
    it then sorted the whole range on disk before it sent the first row; the primary key's index gives the
    rows in order at once. SQLite runs in this process: a query per CHUNK rows."""
    at_column, _convert = time_column(connection.vendor)
    if connection.vendor == "postgresql":
        import psycopg
        from psycopg.types.string import ByteaBinaryLoader

        connection.ensure_connection()
        if connection.connection.info.encoding != "utf-8":  # pragma: no cover  (Django connects in UTF-8)
            raise RuntimeError("verification needs a UTF-8 connection: the payloads are hashed as UTF-8")
        columns = _EVENT_COLUMNS.format(payload="payload", at=f"({at_column})::varchar")
        nested = connection.in_atomic_block
        with transaction.atomic(using=connection.alias), psycopg.Cursor(connection.connection) as stream:
            stream.adapters.register_loader("text", ByteaBinaryLoader)  # this cursor's only text column
            stream.execute("SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off")
            rows = cast(
                Generator[tuple[Any, ...], None, None],
                stream.stream(
                    f"SELECT {columns} FROM audit_auditevent WHERE seq >= %s AND seq <= %s ORDER BY seq",  # noqa: S608
                    [low, high],
                    binary=True,
                    # Chunks need libpq 17 (psycopg[binary] bundles a newer one); an older one streams by rows.
                    size=STREAM_CHUNK if psycopg.capabilities.has_stream_chunked() else 1,
                ),
            )
            try:
                yield rows
            finally:
                rows.close()  # a break found before the end: the query is cancelled, the transaction ends
            if nested:  # the block is only a savepoint in the caller's transaction: it does not end SET LOCAL
                stream.execute("RESET enable_sort; RESET enable_bitmapscan")
        return
    columns = _EVENT_COLUMNS.format(payload=payload_column(connection.vendor), at=at_column)
    with connection.cursor() as cursor:

        def chunks() -> Iterator[list[tuple[Any, ...]]]:
            last = low - 1
            while last < high:
                cursor.execute(
                    f"SELECT {columns} FROM audit_auditevent WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s",  # noqa: S608
                    [last, high, CHUNK],
                )
                rows = cursor.fetchall()
                if not rows:
                    return
                yield rows
                last = rows[-1][0]

        yield itertools.chain.from_iterable(chunks())


# Events a segment reads at a time before it checks their subject index rows, and the most index rows it
# expects at once: an export names 1,000 records an event, so a window of export pages is cut short.
WINDOW = 20_000
NAMED_CAP = 200_000
SUBJECTS = subjects.SUBJECTS


def _verify_segment(low: int, high: int, algorithm: str) -> _Segment:
    """Events LOW..HIGH: each links to the one before, none is missing, and the columns agree with the
    hashed payload; and the subject index holds exactly the records they name (:func:`_check_subjects`), a
    window of events at a time. The link into LOW is checked by the caller, against the segment before."""
    claims = Claims()
    first_prev = last_hash = ""
    expected, count = low, 0
    step, loads = chain.linker(algorithm), orjson.loads
    prev = b""
    convert = time_column(connection.vendor)[1]
    try:
        start = low
        while start <= high:
            end = min(high, start + WINDOW - 1)
            wanted: list[tuple[int, str, str]] = []
            with _event_rows(start, end) as rows:
                for (
                    seq,
                    prev_hash,
                    payload,
                    digest_,
                    actor,
                    action,
                    object_type,
                    object_id,
                    outcome,
                    at,
                ) in rows:
                    if seq != expected:
                        raise _missing(expected)
                    if count == 0:  # the caller compares it with the hash before the segment
                        first_prev = prev_hash
                        try:
                            prev = bytes.fromhex(prev_hash)
                        except ValueError:
                            raise _chain_breaks(seq) from None
                    elif prev_hash != last_hash:  # the hash just computed: so it is also well formed
                        raise _chain_breaks(seq)
                    data = bytes(payload)  # already bytes (no copy) from both engines
                    prev = step(prev, data)
                    last_hash = prev.hex()
                    if last_hash != digest_:
                        raise _chain_breaks(seq)
                    body = loads(data)
                    if convert is not None:
                        at = convert(at)
                    # One comparison after another, not two tuples: no objects built per event.
                    if (
                        body["actor"] != actor
                        or body["action"] != action
                        or body["object_type"] != object_type
                        or body["object_id"] != object_id
                        or body["outcome"] != outcome
                        or body["at"] != at
                    ):
                        raise broken(
                            "audit_chain", f"审计事件 #{seq} / audit event #{seq}", "审计事件的字段与其已签名内容不一致（被改写）",
                            "the event's columns differ from its hashed payload (rewritten)",
                        )  # fmt: skip
                    detail = body.get("detail")
                    expected, count = seq + 1, count + 1
                    if detail:
                        _collect(claims, seq, action, object_type, object_id, detail)
                        # The keys of subjects.KEYS, each looked up (no set built per event).
                        if "shown" in detail or "queue_records" in detail or SUBJECTS in detail:
                            wanted.extend((seq, e, k) for e, k in subjects.named(object_type, detail))
                            if len(wanted) >= NAMED_CAP and seq < end:
                                end = seq  # the rest of the window in the next one
                                break
            if expected - 1 != end:
                raise _missing(expected)
            _check_subjects(start, end, wanted)
            start = end + 1
    except Broken as failure:
        return _Segment(low, first_prev, last_hash, count, claims, failure.problem)
    return _Segment(low, first_prev, last_hash, count, claims)


def _subject_where(seq: int, entity: str, key: str) -> str:
    """Where a subject index problem is, in both languages."""
    return f"审计事件 #{seq} 涉及的记录 {entity} {key} / subject of audit event #{seq}: {entity} {key}"


def _check_subjects(low: int, high: int, wanted: list[tuple[int, str, str]]) -> None:
    """The subject index rows of events LOW..HIGH (read by its index on seq) are exactly WANTED, the
    (seq, entity, record key) that those events' hashed details name: a row deleted hides an access from the
    person it names (their access record no longer lists it), a row inserted shows one that never was. The
    first difference by event is named."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, entity, record_key FROM audit_auditsubject WHERE seq >= %s AND seq <= %s",
            [low, high],
        )
        found = set(cursor.fetchall())
    expected = set(wanted)
    if found == expected:
        return
    missing, extra = sorted(expected - found), sorted(found - expected)
    if missing and (not extra or missing[0] <= extra[0]):
        seq, entity, key = missing[0]
        raise broken(
            "audit_subject", _subject_where(seq, entity, key),
            f"审计事件 #{seq} 列出了 {entity} {key}，但涉及记录索引中没有这一行（被删除）：本人的访问记录查不到这次访问",
            f"audit event #{seq} names {entity} {key} but the subject index has no row for it (deleted): the "
            "person's access record no longer shows this access",
        )  # fmt: skip
    seq, entity, key = extra[0]
    raise broken(
        "audit_subject", _subject_where(seq, entity, key),
        f"涉及记录索引中有一行称审计事件 #{seq} 列出了 {entity} {key}，但该事件并未列出（被插入）",
        f"the subject index holds a row saying audit event #{seq} names {entity} {key}, which that event does not "
        "(inserted)",
    )  # fmt: skip


def _check_subjects_outside(end: int) -> None:
    """No subject index row names an event that is not in the chain: none before its first event, and none
    after END (where this verification's windows stopped) whose event does not exist. Events appended while
    verification ran are there, with their rows; the next verification reads them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, entity, record_key FROM audit_auditsubject WHERE seq < 1 ORDER BY seq LIMIT 1"
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                "SELECT s.seq, s.entity, s.record_key FROM audit_auditsubject s WHERE s.seq > %s AND NOT EXISTS "
                "(SELECT 1 FROM audit_auditevent e WHERE e.seq = s.seq) ORDER BY s.seq LIMIT 1",
                [end],
            )
            row = cursor.fetchone()
    if row is not None:
        seq, entity, key = row
        raise broken(
            "audit_subject", _subject_where(seq, entity, key),
            f"涉及记录索引中有一行指向不存在的审计事件 #{seq}（被插入）",
            f"the subject index holds a row for audit event #{seq}, which is not in the chain (inserted)",
        )  # fmt: skip


def verify_chain(report: Report, *, workers: int = 1) -> Claims:
    """The whole chain from its genesis, then its keyed head."""
    return _verify_after(report, 0, chain.GENESIS, workers)


def verify_chain_since(report: Report, seq: int, digest: str, *, workers: int = 1) -> Claims:
    """The events after SEQ, whose hash DIGEST an earlier verification proved: the event at SEQ still has
    it, the first new event links to it, the new events link on to the keyed head. Claims are collected from
    the new events only."""
    stored = AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()
    if stored != digest:
        raise broken(
            "checkpoint", f"已验证点 #{seq} / verified point at #{seq}",
            f"审计链与上次验证时不一致：第 {seq} 号事件被改写或删除",
            f"the chain differs from what the last verification proved: event #{seq} was rewritten or removed",
        )  # fmt: skip
    return _verify_after(report, seq, digest, workers)


def _verify_after(report: Report, seq: int, prev: str, workers: int) -> Claims:
    """The events after SEQ (whose hash is PREV), in WORKERS segments verified side by side (a segment's
    first link is checked against the segment before), then the keyed head."""
    head = ChainHead.objects.filter(pk=1).first()
    algorithm = head.algorithm if head else "sm3"
    started, cpu = time.perf_counter(), cpu_times()
    end = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    claims = Claims()
    span = max(0, end - seq)
    parts = max(1, min(workers, span // 20_000 + 1))
    bounds = [(seq + 1 + span * i // parts, seq + span * (i + 1) // parts) for i in range(parts)]
    tasks = [(low, high, algorithm) for low, high in bounds if low <= high]
    for segment in parallel_map(_verify_segment, tasks, parts):
        if segment.count and segment.first_prev != prev:
            raise _chain_breaks(segment.first)
        if segment.problem is not None:
            raise Broken(segment.problem)
        _merge(claims, segment.claims)
        report.events += segment.count
        prev = segment.last_hash or prev
    report.chain_seconds, report.chain_cpu = time.perf_counter() - started, cpu_since(cpu)
    _check_head(head, end, prev)
    _check_subjects_outside(end)
    report.last_seq, report.last_hash = end, prev
    return claims


def _merge(claims: Claims, more: Claims) -> None:
    claims.single.update(more.single)
    claims.batches.update(more.batches)
    for key, value in more.workflow.items():
        if key not in claims.workflow or claims.workflow[key][2] < value[2]:
            claims.workflow[key] = value


def _check_head(head: ChainHead | None, end: int, prev: str) -> None:
    """The chain ends where its keyed head says, and the head is there whenever events are."""
    last = end
    if head is None:
        if last > 0:
            raise broken(
                "audit_tail", "审计链头 / audit chain head", "审计链头记录缺失：有人删除了它以逃避末尾检查",
                "the chain head row is missing: someone deleted it to skip the end-of-chain check",
            )  # fmt: skip
        return
    if head.seq > 0 and not keyring().verify_mac(
        chain.canonical({"algorithm": head.algorithm, "seq": head.seq, "hash": head.hash}), head.mac
    ):
        raise broken(
            "audit_tail", f"审计链头 / audit chain head (#{head.seq})",
            "审计链头的密钥校验值不符：有人绕过系统追加或改写了审计事件",
            "the chain head's keyed MAC does not match: events were appended or rewritten behind the system's back",
        )  # fmt: skip
    if head.seq != last or (last and head.hash != prev):
        raise broken(
            "audit_tail", f"审计事件 #{last + 1} / audit event #{last + 1}",
            f"链头记录到第 {head.seq} 号事件，但审计表只到第 {last} 号：末尾事件被删除或链头被换回旧值",
            f"the chain head is at #{head.seq} but events end at #{last}: the tail was cut or the head put back",
        )  # fmt: skip


def _collect(
    claims: Claims, seq: int, action: str, object_type: str, object_id: str, detail: dict[str, Any]
) -> None:
    if "revision" in detail and "digest" in detail:  # every event that wrote one revision names it
        claims.single[int(detail["revision"])] = (str(detail["digest"]), seq)
    elif detail.get("revisions_digest") and detail.get("revisions") and detail["revisions"][0] is not None:
        # A bulk write (a batch, a re-index after a key rotation) vouches for a range of revisions at once.
        first, last = detail["revisions"]
        claims.batches[str(detail["reference"])] = (
            int(first),
            int(last),
            str(detail["revisions_digest"]),
            seq,
        )
    if "seal" in detail and "step" in detail:
        claims.workflow[(object_type, str(object_id))] = (int(detail["step"]), str(detail["seal"]), seq)


def verify_checkpoints(report: Report) -> None:
    """Every checkpoint line is genuine and names an event that still has the hash it had; none names an
    event beyond the chain's end (a tail cut below a checkpoint is caught here even if the head was reset)."""
    ring = keyring()
    head = ChainHead.objects.filter(pk=1).first()
    end = head.seq if head else 0
    wanted: dict[int, str] = {}
    for point in read_checkpoints():
        where = f"检查点 #{point.seq} / checkpoint at #{point.seq}"
        if not ring.verify_mac(point.body(), point.mac):
            raise broken("checkpoint", where, "检查点文件中的记录被篡改", "the checkpoint line was altered")
        if point.seq > end:
            raise broken(
                "checkpoint", where, f"检查点记录了第 {point.seq} 号事件，审计链却只到第 {end} 号：末尾被截断",
                f"a checkpoint names event #{point.seq} but the chain ends at #{end}: the tail was cut",
            )  # fmt: skip
        wanted[point.seq] = point.hash
        report.checkpoints += 1
    seqs = sorted(wanted)
    for start in range(0, len(seqs), 500):
        part = seqs[start : start + 500]
        found = dict(AuditEvent.objects.filter(seq__in=part).values_list("seq", "hash"))
        for seq in part:
            if found.get(seq) != wanted[seq]:
                raise broken(
                    "checkpoint", f"检查点 #{seq} / checkpoint at #{seq}",
                    f"审计链与已保存的检查点不一致：第 {seq} 号事件被改写或删除",
                    f"the chain disagrees with the checkpoint: event #{seq} was rewritten or removed",
                )  # fmt: skip
