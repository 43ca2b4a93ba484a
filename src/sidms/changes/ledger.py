"""The write door for ledger facts (``core.governed.LedgerFact``): append-only rows written in bulk by the
runs of the app that owns them (an assessment, a payment extract, a year-end interest run). The pipeline
opens its write block here, so that no other code base needs it; the run that calls this vouches for the
rows it appends with its own audit event (e.g. a Merkle root over their digests, sidms.business.ledger)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection

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


def _insert(cursor: Any, batch: list[LedgerFact]) -> int:
    """One raw executemany per chunk (the lean path of changes.batches): Django's bulk_create spends more
    time compiling the statement per row than the database spends inserting it. Row ids are not read back;
    the facts are found by their run."""
    model = type(batch[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    table = connection.ops.quote_name(model._meta.db_table)
    cursor.executemany(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608  (names from the model)
        [tuple(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields) for row in batch],
    )
    return len(batch)
