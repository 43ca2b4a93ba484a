"""The write door for ledger facts (``core.governed.LedgerFact``): append-only rows written in bulk by the
runs of the app that owns them (an assessment, a payment extract, a year-end interest run). The pipeline
opens its write block here, so that no other code base needs it; the run that calls this vouches for the
rows it appends with its own audit event (e.g. a Merkle root over their digests, sidms.business.ledger)."""

from __future__ import annotations

from collections.abc import Iterable

from sidms.core.governed import LedgerFact, pipeline_writes
from sidms.core.kernel import LEDGER, spec_of_model

CHUNK = 2000


def append_facts(rows: Iterable[LedgerFact], *, chunk: int = CHUNK) -> int:
    """Insert ROWS (new, unsaved facts of declared ledger entities) in chunks; returns how many. Call it
    inside the caller's transaction, together with the audit event that vouches for them."""
    count = 0
    batch: list[LedgerFact] = []
    with pipeline_writes():
        for row in rows:
            spec = spec_of_model(type(row))
            if spec is None or spec.kind != LEDGER or not row._state.adding:
                raise TypeError(f"append_facts takes new facts of a declared ledger entity, not {row!r}")
            batch.append(row)
            if len(batch) >= chunk:
                type(row).objects.bulk_create(batch)
                count += len(batch)
                batch = []
        if batch:
            type(batch[0]).objects.bulk_create(batch)
            count += len(batch)
    return count
