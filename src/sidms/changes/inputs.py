"""The registry rows a ledger run reads, each checked against its history in the pass that reads it (R20).

A run that computes money from governed rows (the assessment from enrolments and base declarations) must
not vouch, with its Merkle root, for entries computed from a row changed in SQL. ``sidms audit verify``
names such a row, but only when it runs; the run reads the rows before that, in bulk, a million of each for
a city. So the run reads them through :class:`RunInputs`, which proves two things, without a model instance
per row and without reading a revision's state:

1. **every row it reads is the latest version the pipeline wrote**: the row's keyed digest (a MAC, which no
   one without the key can compute) matches its content, and it is the digest and the version of the
   record's latest revision. This catches a value altered in SQL, a row inserted without history, an old
   version put back (also under a revision inserted with its digest), and another record's row copied in;
2. **it reads every row it should** (:func:`missing`, one query in the database): no record whose latest
   revision satisfies the run's conditions is absent from the rows that satisfy them now. This catches a
   row deleted in SQL and a row moved out of the run's selection (a status set to terminated, a
   declaration's year changed), whose content the run would otherwise never see.

What it trusts is the revision table: append-only, guarded by triggers, each revision a MAC over its state
and vouched for by an audit event. A record with revisions and no row is missing whatever they say; a row
rolled back together with its latest revisions (the guard dropped) is refused when the latest write event
about it names a later version. A revision written by a bulk path (one event for many) rolled back that
way, or a row moved out of the selection in SQL under a revision inserted with a state outside it, is
named by the full verification only (docs/architecture.md, known gaps).

The per-row digest is the cost (~3–5 µs a row in Python): with a spare core it is computed in a forked
worker (``core.workers.Background``) while this process uses the rows, and the verdicts are collected
before the run commits (:meth:`RunInputs.finish`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection

from sidms.changes.integrity import alert, written_version_of_row
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import ENTITIES, EntitySpec, state_digester
from sidms.core.workers import Background, worker_count
from sidms.lib import chain

CHUNK = 2000  # rows a fetch, and a worker's item


@dataclass(frozen=True)
class Condition:
    """FIELD OP VALUE, on a live row's column and on a revision's state alike (a state holds the field's text:
    a date as YYYY-MM-DD, which compares as the date does)."""

    field: str
    op: str  # "=", "<>", "<", "<="
    value: str

    def __post_init__(self) -> None:
        if self.op not in ("=", "<>", "<", "<="):
            raise ValueError(self.op)


def _column(spec: EntitySpec, name: str) -> str:
    return str(spec.field(name).column)


def _row_where(spec: EntitySpec, conditions: Sequence[Condition], alias: str = "t") -> tuple[str, list[Any]]:
    if not conditions:
        return "", []
    parts = [f"{alias}.{_column(spec, c.field)} {c.op} %s" for c in conditions]
    return " WHERE " + " AND ".join(parts), [c.value for c in conditions]


def _state_value(name: str, alias: str) -> str:
    if connection.vendor == "postgresql":
        return f"({alias}.state ->> '{name}')"
    return f"json_extract({alias}.state, '$.{name}')"


@contextmanager
def _no_jit() -> Iterator[None]:
    """PostgreSQL plans the read (DECLARE) without its JIT compiler: the per-row subquery makes the plan look
    costly enough to compile, and compiling took 50–120 ms a statement at 100,000 persons, more than it
    saved. The setting is the transaction's and is put back at once."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit TO DEFAULT")


def _select_columns(spec: EntitySpec) -> list[str]:
    """``spec.raw_columns`` with the table's alias; on SQLite a date column as the text Django stored (as
    verification reads it), on PostgreSQL the uid as its text (cheaper to carry to a worker than a UUID). An
    encrypted field's ciphertext is not read (NULL in its place): a digest covers its blind index, and a run
    computes nothing from a ciphertext."""
    from sidms.changes.verify import _row_columns

    ciphertexts = {str(spec.field(name).column) for name in spec.encrypted_fields}
    out = []
    for column in _row_columns(spec):
        if column in ciphertexts:
            out.append("NULL")
        elif column.startswith("CAST("):
            out.append(column.replace("CAST(", "CAST(t.", 1))
        elif column == "uid" and connection.vendor == "postgresql":
            out.append("t.uid::text")
        else:
            out.append(f"t.{column}")
    return out


class RunInputs:
    """The registry rows one run reads, table by table (:meth:`read`), with their digests computed in a forked
    worker beside the run (``core.workers.Background``; here, without a spare core or for a table of one
    chunk). :meth:`finish` raises the first problem: the run calls it after its last read and before it
    commits anything it made of the rows. Use it as a context manager: leaving the block ends the worker,
    and a block that fails (on a value no pipeline writes) fails with the alert of a forged row if any.

    WORKERS: the forked worker (default: one where ``core.workers.worker_count`` allows it; 0: none)."""

    def __init__(self, actor: Any, *, workers: int | None = None, chunk: int = CHUNK) -> None:
        self.actor, self.chunk = actor, chunk
        if workers is None:
            workers = worker_count(2, unit=1)
        self._background = Background(problems_of, workers)
        self._cursors: set[Any] = set()  # the reads under way

    def __enter__(self) -> RunInputs:
        return self

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        # A read left half-way (the run failed) closes its cursor now, inside the run's transaction: left to
        # the garbage collector, a PostgreSQL cursor was closed after a savepoint's rollback had dropped it,
        # and the CLOSE failed the enclosing transaction.
        for cursor in list(self._cursors):
            cursor.close()
        self._cursors.clear()
        try:
            if (
                isinstance(exc, Exception)
                and not isinstance(exc, IntegrityAlert)
                and self._background.started
            ):
                # The run failed on what it read (a value no pipeline writes, a base of "abc"): if a row it read
                # was forged, that is the failure to report, with its alert.
                self.finish()
        finally:
            self._background.close()

    def read(
        self, entity: str, conditions: Sequence[Condition] = (), *, extra: Sequence[str] = (), join: str = ""
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of ENTITY that satisfy CONDITIONS, in id order, each ``(id, version, row digest, 1 if that
        is the digest of the record's latest revision else 0, *raw columns, *EXTRA)`` (the raw columns in ``spec.raw_columns`` order:
        ``positions`` gives a field's place). EXTRA are further select expressions over JOIN (the table is
        ``t``): they are not checked. A record missing from the selection (the module's point 2) is refused
        at once; each chunk's digests (point 1) are checked beside the run, or at once for a small table."""
        spec = ENTITIES[entity]
        table = spec.model._meta.db_table
        where, params = _row_where(spec, conditions)
        columns = ", ".join([*_select_columns(spec), *extra])
        absent, absent_params = _missing_sql(spec, conditions)
        # One statement, so one snapshot on PostgreSQL (READ COMMITTED takes one per statement): a row deleted
        # before a separate check and put back before the read, or the other way round, cannot fall between
        # them. The missing record is an uncorrelated subquery, computed once (an InitPlan; SQLite's "once").
        # The latest revision's version as well as its digest, as the pipeline's per-row check compares them
        # (changes.integrity.problem_of): an old version put back under a revision inserted in SQL with that
        # version's digest at a higher number (the guard refuses updates and deletes, not an insert) was the
        # "latest revision" by digest alone, and the run paid a suspended pension (attack round 11).
        # A row that is its latest revision's may still have been rolled back with that revision (the
        # guard dropped, the latest revisions deleted): the latest write event about the record (the audit
        # chain's, one probe of its object index) must not name a later version than the row's (ROLLED_BACK).
        sql = (
            f"SELECT t.id, t.version, t.row_digest, CASE WHEN (t.row_digest, t.version) = (SELECT r.digest, "  # noqa: S608
            f"r.version FROM changes_revision r WHERE r.entity = %s AND r.record_id = t.id ORDER BY r.version "
            f"DESC LIMIT 1) THEN CASE WHEN {_written_version(spec)} > t.version THEN {ROLLED_BACK} ELSE 1 END "
            "ELSE 0 END, "
            f"{columns}, ({absent}) "
            f"FROM {table} t {join}{where} ORDER BY t.id"
        )
        width = 4 + len(spec.raw_columns)
        with connection.chunked_cursor() as cursor:
            self._cursors.add(cursor)
            with _no_jit():
                cursor.execute(sql, [spec.name, spec.name, *absent_params, *params])
            first = True
            while rows := cursor.fetchmany(self.chunk):
                if first:
                    first = False
                    if rows[0][-1] is not None:
                        raise alert(spec, int(rows[0][-1]), None, "missing", actor=self.actor)
                checked = [row[:width] for row in rows]
                here = self._background.workers <= 0 or (
                    len(rows) < self.chunk and not self._background.started
                )
                if here:  # no worker, or a small table: here, at once
                    self._raise(problems_of((entity, checked)))
                else:
                    self._background.submit((entity, checked))
                yield from rows
        self._cursors.discard(cursor)
        if first:  # no row at all: the selection's missing records on their own
            absent_pk = missing(spec, conditions)
            if absent_pk is not None:
                raise alert(spec, absent_pk, None, "missing", actor=self.actor)

    def finish(self) -> None:
        """Raise the integrity alert of the first row that did not match its history, if any."""
        for verdict in self._background.collect():
            self._raise(verdict)

    def _raise(self, verdict: tuple[str, int, str] | None) -> None:
        if verdict is not None:
            entity, pk, reason = verdict
            spec = ENTITIES[entity]
            raise alert(spec, pk, _label(spec, pk), reason, actor=self.actor)


def positions(entity: str) -> dict[str, int]:
    """Where each field of ENTITY is in a row of :meth:`RunInputs.read` (the first EXTRA column follows
    ``spec.raw_columns``: at ``4 + len(spec.raw_columns)``)."""
    spec = ENTITIES[entity]
    return {name: 4 + i for i, name in enumerate(spec.fields)}


def problems_of(item: tuple[str, Sequence[tuple[Any, ...]]]) -> tuple[str, int, str] | None:
    """The first row of ITEM = (entity, rows of (id, version, row digest, 1 if it is the latest revision's
    digest, *raw columns)) that does not match its history, as (entity, id, why: "history", not its record's latest
    revision; "digest", its content is not what its digest covers), or None. Pure: computed in a forked
    worker, which inherits the key ring and the registry."""
    entity, rows = item
    read = _reader(entity)
    for row in rows:
        pk, version, stored, latest = row[0], row[1], row[2], row[3]
        if latest != 1:
            return entity, pk, "history" if not latest else "rolled_back"
        if read(version, row[4:]) != stored:
            return entity, pk, "digest"
    return None


_READERS: dict[str, Callable[[int, Sequence[Any]], str]] = {}


def _reader(entity: str) -> Callable[[int, Sequence[Any]], str]:
    """The keyed digest of a raw row of ENTITY at a version, as verification computes a live row's view."""
    digest_of = _READERS.get(entity)
    if digest_of is None:
        from sidms.changes.verify import _view_reader

        view = _view_reader(ENTITIES[entity])
        digester = state_digester(entity)
        canonical = chain.canonical

        def digest_of(version: int, raw: Sequence[Any]) -> str:
            return digester(version, canonical(view(raw), parsed=True))

        _READERS[entity] = digest_of
    return digest_of


ROLLED_BACK = 2  # the "latest" column of a row rolled back with its latest revisions (see RunInputs.read)


def _written_version(spec: EntitySpec) -> str:
    """SQL: the version the latest ``write.<entity>`` audit event about the row ``t`` recorded
    (:func:`integrity.written_version_of_row`). The bulk paths (batches, imports, key rotation, upgrades)
    vouch for their revisions with one event each, so a revision of theirs rolled back is not seen here (the
    full verification names it). One parameter: the entity's name."""
    return written_version_of_row(spec, "t")


def _missing_sql(spec: EntitySpec, conditions: Sequence[Condition]) -> tuple[str, list[Any]]:
    """The query of :func:`missing`: the least id of a record whose latest revision satisfies CONDITIONS but
    whose row does not, or that has no row at all, or NULL."""
    table = spec.model._meta.db_table
    state = " AND ".join(f"{_state_value(c.field, 'mr')} {c.op} %s" for c in conditions)
    row, params = _row_where(spec, conditions, "mt")
    # The row first: for a record whose row satisfies the conditions (nearly all of those the run reads) no
    # revision's state is parsed. SQLite builds the selection's ids once into an index (NOT IN: a third of
    # the probes' time); PostgreSQL plans NOT EXISTS as an anti-join (its NOT IN over a large set is not).
    # (TABLE is the model's, the conditions' columns its fields': no value enters the text.)
    if connection.vendor == "sqlite":
        selected = f"AND mr.record_id NOT IN (SELECT mt.id FROM {table} mt{row}) "  # noqa: S608
    else:
        row = row.replace(" WHERE ", " AND ", 1)
        selected = f"AND NOT EXISTS (SELECT 1 FROM {table} mt WHERE mt.id = mr.record_id{row}) "  # noqa: S608
    # A record with no row at all is missing whatever its latest revision says: no pipeline deletes a record,
    # and a revision inserted in SQL (the guard refuses updates and deletes, not inserts) with a state
    # outside the selection hid a record deleted in SQL from this check (attack round 11). Without conditions
    # every record is selected and its latest revision satisfies them anyway.
    if state:
        state = f"({state} OR NOT EXISTS (SELECT 1 FROM {table} mx WHERE mx.id = mr.record_id))"  # noqa: S608
    sql = (
        "SELECT MIN(mr.record_id) FROM changes_revision mr WHERE mr.entity = %s "  # noqa: S608
        f"{selected}"
        f"{'AND ' + state if state else ''} "
        "AND NOT EXISTS (SELECT 1 FROM changes_revision mn WHERE mn.entity = mr.entity "
        "AND mn.record_id = mr.record_id AND mn.version > mr.version)"
    )
    return sql, [spec.name, *params, *[c.value for c in conditions]]


def missing(spec: EntitySpec, conditions: Sequence[Condition]) -> int | None:
    """The first record whose latest revision satisfies CONDITIONS but whose row does not (deleted, or changed
    out of the selection), or None. One query: the revisions' index, each state's fields, the table's key."""
    sql, params = _missing_sql(spec, conditions)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()[0]
    return None if found is None else int(found)


def _label(spec: EntitySpec, pk: int) -> str:
    if spec.label_field == "pk":
        return str(pk)
    value = spec.model._default_manager.filter(pk=pk).values_list(spec.label_field, flat=True).first()
    return str(value) if value is not None else f"#{pk}"


__all__ = ["CHUNK", "Condition", "RunInputs", "missing", "positions", "problems_of"]
