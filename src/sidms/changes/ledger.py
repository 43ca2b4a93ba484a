"""The write door for ledger facts (``core.governed.LedgerFact``): append-only rows written in bulk by the
runs of the app that owns them (an assessment, a payment extract, a year-end interest run). The pipeline
opens its write block here, so that no other code base needs it; the run that calls this vouches for the
rows it appends with its own audit event (e.g. a Merkle root over their digests, sidms.business.ledger)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from sidms.core.governed import LedgerFact, pipeline_writes
from sidms.core.kernel import LEDGER, spec_of_model

CHUNK = 2000


def append_facts(rows: Iterable[LedgerFact], *, chunk: int = CHUNK) -> int:
    """Insert ROWS (new, unsaved facts of declared ledger entities) in chunks; returns how many. Call it
    inside the caller's transaction, together with the audit event that vouches for them."""
    count = 0
    batch: list[LedgerFact] = []
    with pipeline_writes(), connection.cursor() as cursor:
        for row in rows:
            spec = spec_of_model(type(row))
            if spec is None or spec.kind != LEDGER or not row._state.adding:
                raise TypeError(f"append_facts takes new facts of a declared ledger entity, not {row!r}")
            batch.append(row)
            if len(batch) >= chunk:
                count += _insert(cursor, batch)
                batch = []
        if batch:
            count += _insert(cursor, batch)
    return count


def append_rows(model: type[LedgerFact], rows: Iterable[Mapping[str, Any]], *, chunk: int = CHUNK) -> int:
    """Insert ROWS of MODEL (a declared ledger entity), each a mapping of every concrete column's attribute
    name (but the id) to its value, in chunks; returns how many. The lean form of :func:`append_facts` for
    runs of hundreds of thousands of facts: no model instance per row (Django's ``Model.__init__`` cost more
    than the insert). On PostgreSQL the chunks go by ``COPY … FROM STDIN`` (psycopg's copy, adapting each
    value as the INSERT would). Call it inside the caller's transaction, with the audit event that vouches
    for the rows."""
    spec = spec_of_model(model)
    if spec is None or spec.kind != LEDGER:
        raise TypeError(f"append_rows takes facts of a declared ledger entity, not {model!r}")
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [str(f.attname) for f in fields]
    conn = connections[DEFAULT_DB_ALIAS]
    plan = [(name, _preparer(f, conn)) for name, f in zip(names, fields, strict=True)]
    width = len(names)
    count = 0
    batch: list[tuple[Any, ...]] = []
    with pipeline_writes(), connection.cursor() as cursor:
        for row in rows:
            if len(row) != width:
                extra = sorted(set(row) ^ set(names))
                raise TypeError(f"append_rows: a row of {model.__name__} names other columns: {extra}")
            batch.append(tuple(prep(row[name]) for name, prep in plan))
            if len(batch) >= chunk:
                count += _write(cursor, model, fields, batch)
                batch = []
        if batch:
            count += _write(cursor, model, fields, batch)
    return count


def _write(cursor: Any, model: type[LedgerFact], fields: list[Any], batch: list[tuple[Any, ...]]) -> int:
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for values in batch:
                copy.write_row(values)
    else:
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)  # noqa: S608
    return len(batch)


# Field classes whose get_db_prep_save returns a str, int, bool or None value unchanged on both engines:
# their values skip Django's per-value preparation (three method calls and a connection lookup each, the
# largest cost of a ledger run). Any other value, and every other field, goes through it as before.
_PLAIN = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


def _preparer(field: models.Field[Any, Any], conn: Any) -> Callable[[Any], Any]:
    prep = field.get_db_prep_save
    if isinstance(field, _PLAIN) and not isinstance(field, models.AutoField | models.JSONField):
        return lambda v: v if v is None or type(v) in (str, int, bool) else prep(v, conn)
    if isinstance(field, models.DecimalField):
        # DecimalField.get_db_prep_save is Decimal(v) after a finiteness check, adapted unchanged by both
        # backends: a finite Decimal is already what it would return.
        return lambda v: v if type(v) is Decimal and v.is_finite() else prep(v, conn)
    if isinstance(field, models.DateField):  # DateTimeField too: a run's rows share a date and an instant
        last: list[Any] = [object(), None]  # the last value and what it was prepared to

        def prepared(v: Any) -> Any:
            if v is not last[0] and v != last[0]:
                last[0], last[1] = v, prep(v, conn)
            return last[1]

        return prepared
    return lambda v: prep(v, conn)


def _insert(cursor: Any, batch: list[LedgerFact]) -> int:
    """One raw executemany per chunk (the lean path of changes.batches): Django's bulk_create spends more
    time compiling the statement per row than the database spends inserting it. Row ids are not read back;
    the facts are found by their run."""
    model = type(batch[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    table = connection.ops.quote_name(model._meta.db_table)
    conn = connections[DEFAULT_DB_ALIAS]  # the real wrapper, not the thread-local proxy looked up per value
    plan = [(f.attname, _preparer(f, conn)) for f in fields]
    cursor.executemany(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608  (names from the model)
        [tuple(prep(row.__dict__[name]) for name, prep in plan) for row in batch],
    )
    return len(batch)
