"""The pipeline's bulk path for a digest rule that grows (principle 4): flags taken into the row digest.

A flag (kernel.EntitySpec.flags: a unit's credit_code_duplicate) is part of a record's state while it is set.
Records flagged before that rule — by a legacy migration's import, or by migration registry 0008, which set the
flag in SQL on a live database's duplicates — have a latest revision whose state does not hold it, so their
live row no longer matches their history. ``cover_flags`` gives each of them one revision (method
``upgrade``; its changes ``{flag: [None, True]}``; its state the latest revision's plus the flag) and moves
the row's version and digest on to it, and one audit event vouches for the revisions with their digest, as
a re-index after a key rotation does (sidms.changes.rekey).

It is built from history, not from the row: the new state is the latest revision's (its digest checked)
plus the flag, and the row must name that revision's version and digest. Nothing else of the row is read or
written, so a row changed in SQL in any other column stays exactly as evident as before (verification still
names it), and a row whose version or digest does not match its history is left as it is, not moved on.
It reads only the id, version, digest and flag columns, so it runs the same from its migration whatever
columns later migrations add.

Run once, by the migration that brought the rule (registry 0009), and refused once its audit event exists:
afterwards the pipeline writes the flag into every state itself, and a flag set in SQL is evidence, never
something to adopt.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.changes.batches import _db_time, _insert_revisions, revisions_digest
from sidms.changes.integrity import latest_revision_rows
from sidms.changes.models import Channel, Method
from sidms.changes.seals import RevisionSealer
from sidms.core.caller import Caller
from sidms.core.governed import pipeline_writes
from sidms.core.kernel import EntitySpec, state_digest, view
from sidms.lib import chain

log = logging.getLogger(__name__)

ACTION = "upgrade.flags"

__all__ = ["ACTION", "cover_flags"]


def _latest_states(spec: EntitySpec, ids: list[int]) -> dict[int, tuple[int, str, dict[str, Any]]]:
    """(version, digest, state) of each record's latest revision."""
    out: dict[int, tuple[int, str, dict[str, Any]]] = {}
    for record_id, version, stored, state in latest_revision_rows(spec, ids, state=True):
        loaded = orjson.loads(state) if isinstance(state, str | bytes) else state
        out[int(record_id)] = (int(version), str(stored), loaded)
    return out


def cover_flags(spec: EntitySpec, *, actor: Any, reference: str) -> int:
    """Give every record of SPEC with a set flag that its latest revision does not hold a revision that holds
    it, and one audit event vouching for them (nothing when there is none). Returns the number of records
    given one; records that do not match their history are left for verification to name."""
    if not spec.flags or AuditEvent.objects.filter(action=ACTION, object_type=spec.name).exists():
        return 0  # once: a flag its history does not hold, found afterwards, is evidence (verification)
    table = spec.model._meta.db_table
    columns = [str(spec.field(flag).column) for flag in spec.flags]
    sql = (
        f"SELECT id, version, row_digest, {', '.join(columns)} FROM {table} "  # noqa: S608
        f"WHERE {' OR '.join(f'{c} = %s' for c in columns)} ORDER BY id"
    )
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"  # SQLite has no row locks: its write transaction holds the whole database
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [True] * len(columns))
            rows = cursor.fetchall()
        if not rows:
            return 0
        latest = _latest_states(spec, [row[0] for row in rows])
        caller = Caller.of(actor)
        now = timezone.now()
        at = _db_time(now)
        sealer = RevisionSealer(
            entity=spec.name, at=now, actor=caller.name, channel=Channel.MAINTENANCE, method=Method.UPGRADE,
            request_id=caller.request_id, reference=reference, notes={},
        )  # fmt: skip
        updates: list[tuple[Any, ...]] = []
        revisions: list[tuple[Any, ...]] = []
        skipped: list[int] = []
        for pk, version, stored, *flags in rows:
            found = latest.get(pk)
            set_ = [flag for flag, value in zip(spec.flags, flags, strict=True) if value]
            if found is None or (found[0], found[1]) != (version, stored) or "uid" not in found[2]:
                skipped.append(pk)  # no history, or not its history: verification names it
                continue
            state = found[2]
            if all(state.get(flag) is True for flag in set_):
                continue  # flagged under the rule already (an import since the upgrade)
            if state_digest(spec.name, version, chain.canonical(view(state))) != stored:
                skipped.append(pk)
                continue
            new = {**state, **dict.fromkeys(set_, True)}
            changes = {flag: [None, True] for flag in set_ if state.get(flag) is not True}
            version += 1
            digest = state_digest(spec.name, version, chain.canonical(view(new)))
            seal = sealer(record_id=pk, version=version, changes=changes, digest=digest, prev_digest=stored)
            updates.append((version, digest, at, pk))
            revisions.append(
                (spec.name, pk, version, at, caller.name, Channel.MAINTENANCE, Method.UPGRADE, caller.request_id,
                 reference, chain.canonical(changes).decode("utf-8"), chain.canonical(new).decode("utf-8"), digest,
                 stored, "{}", seal)
            )  # fmt: skip
        if skipped:
            log.warning("%s: %d flagged records do not match their history, left as they are: %s",
                        spec.name, len(skipped), skipped[:20])  # fmt: skip
        if not revisions and not skipped:
            return 0
        revision_ids: list[int] = []
        if updates:
            with connection.cursor() as cursor, pipeline_writes():
                cursor.executemany(
                    f"UPDATE {table} SET version = %s, row_digest = %s, updated_at = %s WHERE id = %s",  # noqa: S608
                    updates,
                )
                revision_ids = _insert_revisions(cursor, revisions, reference)
        first, last = (min(revision_ids), max(revision_ids)) if revision_ids else (None, None)
        audit_record(
            ACTION, actor=caller, object_type=spec.name,
            detail={"entity": spec.name, "rows": len(revision_ids), "revisions": [first, last], "reference": reference,
                    "revisions_digest": revisions_digest(first, last, reference), "skipped": len(skipped)},
        )  # fmt: skip
    return len(revision_ids)
