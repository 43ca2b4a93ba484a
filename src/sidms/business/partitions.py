"""The contribution ledger partitioned by period on PostgreSQL (issue 8 §4): PostgreSQL's own declarative
partitioning, nothing home-made. SQLite keeps one table.

``business_ledgerentry`` is ``PARTITION BY RANGE (period)`` with one partition per year,
``business_ledgerentry_y1992`` … ``_y2040`` (the personal-account era and then some: FIRST_YEAR…LAST_YEAR),
each holding the periods that begin with its year (``FROM ('2025') TO ('2026')``: ``2025-01`` … ``2025-12``
and a year-end run's ``2025``), and a ``business_ledgerentry_default`` partition for any other period, so a
run for 2041 is never refused for want of a partition. ``sidms ledger partitions --until YEAR``
(:func:`add_years`) adds the missing years up to YEAR; rows of those years already in the default partition
move into them.

What a partitioned table changes (every unique key must contain the partition key):

* the primary key is (id, period) and ``uid`` is unique with its period, not alone. Ids still come from
  the one identity sequence, whose position is carried over; uids are random (UUID4);
* the ``corrects`` and ``settles`` self-references lose their database foreign keys (a key may reference a
  partitioned table only through a unique key of it, and the referencing entry does not hold the referenced
  entry's period). :func:`sidms.business.ledger.verify_runs` checks what the database no longer does: no
  id or uid twice, no ``corrects``/``settles`` naming an entry that does not exist;
* every other index is a partitioned index: one local index per partition, present and future — the
  (person, period) one serves one person's history (the rights record) with an index scan per partition;
* the append-only triggers are recreated (sidms.core.guards): the row trigger is cloned onto every
  partition, and each partition has its own TRUNCATE trigger.

The conversion (:func:`partition`, migration 0007) copies the rows into the new table, recreates the
constraints and indexes under their own names and moves the identity sequence on; :func:`unpartition` undoes
it. Both are no-ops when the table is already in the state asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sidms.core.guards import append_only_sql

_log = logging.getLogger(__name__)

TABLE = "business_ledgerentry"
KEY = "period"
FIRST_YEAR = 1992  # the personal accounts began in 1992 (国发〔1991〕33号 and the 1992–1995 pilots)
LAST_YEAR = 2040
DEFAULT = f"{TABLE}_default"
# The self-references that lose their database keys (see the module docstring).
SELF_REFERENCES = ("corrects_id", "settles_id")


def year_partition(year: int) -> str:
    return f"{TABLE}_y{year}"


def _rows(cursor: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cursor.execute(sql, list(params))
    return list(cursor.fetchall())


def is_partitioned(cursor: Any, table: str = TABLE) -> bool:
    return bool(
        _rows(cursor, "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [table])
    )


def partitions(cursor: Any, table: str = TABLE) -> dict[str, str]:
    """Each partition of TABLE by name, with its bound (``FOR VALUES FROM ('2025') TO ('2026')``, ``DEFAULT``)."""
    return dict(
        _rows(
            cursor,
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [table],
        )
    )


def _bound(year: int) -> str:
    return f"FROM ('{year}') TO ('{year + 1}')"


def _years(cursor: Any) -> set[int]:
    return {int(name.rsplit("_y", 1)[1]) for name in partitions(cursor) if name.startswith(f"{TABLE}_y")}


def _columns(cursor: Any, table: str) -> str:
    """TABLE's columns, quoted, in its own order: rows are copied by name, never by position (a table put in
    a partition's place with its columns in another order would otherwise be scrambled on the copy)."""
    names = _rows(
        cursor,
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum",
        [table],
    )
    return ", ".join('"' + name.replace('"', '""') + '"' for (name,) in names)


def _schema(cursor: Any) -> tuple[list[tuple[str, str, list[str], str, bool]], list[str], str | None]:
    """TABLE's constraints (name, type, columns, definition, self-reference), its other indexes' definitions
    and the name of its id's identity sequence."""
    constraints = [
        (name, kind, list(columns), definition, bool(self_ref))
        for name, kind, columns, definition, self_ref in _rows(
            cursor,
            "SELECT con.conname, con.contype, ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o) "
            "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o), "
            "pg_get_constraintdef(con.oid), con.confrelid = con.conrelid FROM pg_constraint con "
            "WHERE con.conrelid = %s::regclass AND con.contype IN ('p', 'u', 'f') ORDER BY con.conname",
            [TABLE],
        )
    ]
    indexes = [
        definition
        for (definition,) in _rows(
            cursor,
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid) "
            "ORDER BY c.relname",
            [TABLE],
        )
    ]
    (sequence,) = _rows(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0]
    return constraints, indexes, sequence


def _rebuild(cursor: Any, *, partitioned: bool) -> None:
    """Replace TABLE by a copy of it, partitioned by period or not, with its rows, constraints, indexes,
    identity position and append-only triggers."""
    _settle(cursor)
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")  # no insert moves the sequence meanwhile
    constraints, indexes, sequence = _schema(cursor)
    position = _rows(cursor, f"SELECT last_value, is_called FROM {sequence}")[0] if sequence else None  # noqa: S608
    new = f"{TABLE}_rebuilt"
    # LIKE takes the columns with their NOT NULL, defaults and CHECK constraints (under their names), and the
    # identity of id (a new sequence, moved to the old one's position below).
    cursor.execute(
        f"CREATE TABLE {new} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY "
        f"INCLUDING STORAGE INCLUDING COMMENTS)" + (f" PARTITION BY RANGE ({KEY})" if partitioned else "")
    )
    if partitioned:
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            cursor.execute(
                f"CREATE TABLE {year_partition(year)} PARTITION OF {new} FOR VALUES {_bound(year)}"
            )
        cursor.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {new} DEFAULT")
    copied = _columns(cursor, TABLE)
    cursor.execute(f"INSERT INTO {new} ({copied}) SELECT {copied} FROM {TABLE}")  # noqa: S608
    cursor.execute(f"DROP TABLE {TABLE}")  # its partitions, triggers, indexes, keys and sequence go with it
    cursor.execute(f"ALTER TABLE {new} RENAME TO {TABLE}")
    if sequence:
        (current,) = _rows(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0]
        cursor.execute(f"ALTER SEQUENCE {current} RENAME TO {sequence.rsplit('.', 1)[-1]}")
        assert position is not None
        cursor.execute("SELECT setval(%s, %s, %s)", [sequence, position[0], position[1]])
    for name, kind, columns, definition, self_ref in constraints:
        if kind in ("p", "u"):
            keys = [c for c in columns if c != KEY] + ([KEY] if partitioned else [])
            what = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {what} ({', '.join(keys)})")
        elif not self_ref:
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
        # A self-reference is dropped; unpartition() restores the two from its SELF_REFERENCES argument.
    # Each definition reads "CREATE INDEX name ON public.business_ledgerentry …": a partitioned index if
    # the table now is one.
    for definition in indexes:
        cursor.execute(definition)
    for statement in append_only_sql("postgresql", TABLE, create=True):
        cursor.execute(statement)
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _settle(cursor: Any) -> None:
    """Check now the deferred foreign keys of rows written earlier in this transaction: a table with pending
    checks cannot be dropped or detached. Django's keys are all deferrable, initially deferred: the caller
    sets them back to that (SET CONSTRAINTS ALL DEFERRED) when done."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def partition(connection: Any) -> None:
    """Make the ledger table a partitioned one (PostgreSQL; a no-op on SQLite or when it already is)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if not is_partitioned(cursor):
            _rebuild(cursor, partitioned=True)


def unpartition(connection: Any, self_references: Sequence[str] = ()) -> None:
    """Make the ledger one plain table again (PostgreSQL); SELF_REFERENCES are the statements restoring the
    foreign keys of ``corrects`` and ``settles`` (Django's own, from the migration's schema editor)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if is_partitioned(cursor):
            _rebuild(cursor, partitioned=False)
            for statement in self_references:
                cursor.execute(statement)


def add_years(connection: Any, until: int) -> list[int]:
    """Add a partition for every year from FIRST_YEAR to UNTIL that has none; returns the years added. Rows of
    those years already in the default partition move into them (the default partition is detached, its rows
    copied back through the table and the old one dropped: the rows keep their ids, uids and digests, so every
    run's Merkle root still holds; no row is updated or deleted). Idempotent. Call it in a transaction."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("ledger partitions exist on PostgreSQL only")
    with connection.cursor() as cursor:
        if not is_partitioned(cursor):
            raise NotImplementedError(f"{TABLE} is not partitioned: run the migrations first")
        if not set(range(FIRST_YEAR, until + 1)) - _years(cursor):
            return []
        _settle(cursor)
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        missing = sorted(set(range(FIRST_YEAR, until + 1)) - _years(cursor))  # again, under the lock
        if not missing:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            return []
        ranges = " OR ".join(f"({KEY} >= '{y}' AND {KEY} < '{y + 1}')" for y in missing)
        has_default = DEFAULT in partitions(cursor)
        stranded = has_default and bool(_rows(cursor, f"SELECT 1 FROM {DEFAULT} WHERE {ranges} LIMIT 1"))  # noqa: S608
        if stranded:
            old = f"{DEFAULT}_old"
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {DEFAULT}")
            cursor.execute(f"ALTER TABLE {DEFAULT} RENAME TO {old}")
        for year in missing:
            cursor.execute(
                f"CREATE TABLE {year_partition(year)} PARTITION OF {TABLE} FOR VALUES {_bound(year)}"
            )
        if stranded:
            cursor.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT")
            copied = _columns(cursor, TABLE)
            cursor.execute(f"INSERT INTO {TABLE} ({copied}) SELECT {copied} FROM {old}")  # noqa: S608  (routed by period)
            cursor.execute(f"DROP TABLE {old}")
        for statement in append_only_sql("postgresql", TABLE, create=True):
            cursor.execute(statement)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return missing


# A run that writes at least this many entries into one year's partition refreshes what the planner and
# index-only scans rely on (after_bulk_write); a correction of a few entries leaves it to autovacuum.
BULK = 10_000


def after_bulk_write(connection: Any, years: set[int]) -> list[str]:
    """After a run wrote many entries of YEARS, ``VACUUM (ANALYZE)`` each partition it wrote (PostgreSQL).
    Returns the partitions so maintained.

    PostgreSQL's advice after a bulk load ("Populating a Database": run ANALYZE afterwards) holds for each
    monthly run, which adds a month for everyone to one partition: without fresh statistics the planner
    takes the partition for what it was (a new year's partition for empty), and one person's history (the
    rights record, the yearly statements) was read by sequential scans of millions of rows, or by one heap
    page per entry; and the history index (models.HISTORY_COLUMNS) serves index-only scans only where the
    visibility map marks the pages all-visible, which VACUUM sets. Autovacuum would do both, later (its
    thresholds are a share of the partition) or never (it can be turned off, as on this project's CI
    machine). VACUUM cannot run inside a transaction: a run executed inside one (a test's) gets ANALYZE
    alone. SQLite: nothing (its planner reads the indexes without statistics; ANALYZE would scan the whole
    ledger).

    Best effort: the run has committed when this runs, so a failure (a lock timeout, the server going away)
    is logged and the partitions left to autovacuum, not shown to the clerk as a run that failed. Inside a
    transaction the ANALYZE runs under a savepoint, which a failure rolls back to."""
    if connection.vendor != "postgresql" or not years:
        return []
    from django.db import DatabaseError, transaction

    done = []
    with connection.cursor() as cursor:
        if not is_partitioned(cursor):
            return []
        present = partitions(cursor)
        names = sorted({year_partition(y) if year_partition(y) in present else DEFAULT for y in years})
        verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        for name in names:
            try:
                if connection.in_atomic_block:
                    with transaction.atomic():
                        cursor.execute(f"{verb} {name}")
                else:
                    cursor.execute(f"{verb} {name}")
            except DatabaseError:
                _log.warning("ledger partition %s left to autovacuum: %s failed", name, verb, exc_info=True)
                continue
            done.append(name)
    return done
