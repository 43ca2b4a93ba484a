"""The pipeline's bulk paths for key rotation (`sidms keys rotate`; R17, B2; principle 4).

**A new encryption key version** changes ciphertexts only. A record's digest covers its blind indexes and
its uid, not the ciphertext bytes, so re-encrypting a value changes no digest and needs no revision; the new
ciphertext is bound, like every other, to the record's uid and the field's domain. ``reencrypt_chunk`` takes
a chunk of rows in id order, locked for its transaction and re-read under the lock (a change committed
meanwhile by the pipeline is what gets re-encrypted, never overwritten), checks each row against its
history first — a row whose digest, latest revision, ciphertext or index does not match is refused with an
integrity alert rather than laundered under a fresh key — and rewrites only the ciphertext columns of values
under an older key version. One audit event per chunk names the rows and the key version.

**A new blind-index key** changes every index, and the indexes are covered by the digests: each record gets a
new revision (method ``rekey``, its changes the old and new ``{"enc", "idx"}``), written by the bulk path
like a batch, and one audit event per entity vouches for the revisions with their digest. ``rekey_entity``
does this inside the caller's transaction, which holds the entity's table against writes: the caller
(`sidms keys rotate --index`) runs every entity in one transaction and switches the key file before it
commits, so no record is ever indexed under two keys at once. Pending review requests are re-indexed with
them (``rekey_pending_requests``), so a duplicate still waiting for review is found under the new key.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from sidms.audit.services import audit_record
from sidms.changes.batches import _db_time, _insert_revisions, revisions_digest
from sidms.changes.integrity import integrity_alert, latest_revisions
from sidms.changes.models import ChangeRequest, Channel, Method, ReviewStatus
from sidms.changes.seals import RevisionSealer, require_intact, reseal
from sidms.changes.services import PROPOSALS, audited_refusals, held_uid
from sidms.core.caller import Caller
from sidms.core.errors import IntegrityAlert
from sidms.core.fields import NORMALISERS, aad
from sidms.core.governed import pipeline_writes
from sidms.core.kernel import ENTITIES, EntitySpec, cipher_mac, raw_state, state_digest, view
from sidms.core.keys import keyring
from sidms.lib import chain
from sidms.lib.crypto import DecryptionError, KeyRing, token_version

__all__ = ["Chunk", "reencrypt_chunk", "rekey_entity", "rekey_pending_requests", "stale_values"]


@dataclass(frozen=True)
class Chunk:
    examined: int  # rows read
    rows: int  # rows rewritten
    values: int  # values re-encrypted
    last: int | None  # the last id read (None: nothing left)


def _alert(caller: Caller, spec: EntitySpec, pk: int, reason: str, during: str) -> IntegrityAlert:
    return integrity_alert(f"{spec.name} #{pk}", spec.name, pk, {"reason": reason, "record_id": pk, "during": during},
                           actor=caller)  # fmt: skip


def _rows(spec: EntitySpec, after: int, limit: int | None) -> list[tuple[Any, ...]]:
    table = spec.model._meta.db_table
    sql = f"SELECT id, version, row_digest, {', '.join(spec.raw_columns)} FROM {table} WHERE id > %s ORDER BY id"  # noqa: S608
    params: list[Any] = [after]
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"  # SQLite has no row locks: its write transaction holds the whole database
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _checked_plain(
    spec: EntitySpec,
    ring: KeyRing,
    caller: Caller,
    pk: int,
    version: int,
    stored: str,
    state: dict[str, Any],
    latest: dict[int, tuple[int, str]],
    during: str,
    accept: KeyRing | None = None,
) -> dict[str, str]:
    """The row's plain encrypted values, once the row is proved to match its history. ACCEPT is a ring whose
    index key is accepted too (the previous one, when a re-index is resumed)."""
    if state_digest(spec.name, version, chain.canonical(view(state))) != stored:
        raise _alert(caller, spec, pk, "digest", during)
    if latest.get(pk) != (version, stored):
        raise _alert(caller, spec, pk, "history", during)
    plain = {}
    for name, enc in spec.encrypted_fields.items():
        value = state[name]
        if not value:
            continue
        try:
            text = ring.decrypt(base64.b64decode(value["enc"]), aad=aad(enc.domain, uuid.UUID(state["uid"])))
        except DecryptionError:
            raise _alert(caller, spec, pk, "ciphertext", during) from None
        if enc.index.index_of(text) != value["idx"] and (
            accept is None or _index(accept, enc.index, text) != value["idx"]
        ):
            raise _alert(caller, spec, pk, "index", during)
        plain[name] = text
    return plain


def _index(ring: KeyRing, index: Any, text: str) -> str:
    return ring.blind_index(NORMALISERS[index.normaliser](text), domain=index.domain)


def stale_values(spec: EntitySpec, state: dict[str, Any], current: int) -> list[str]:
    """The encrypted fields of a raw state whose ciphertext is under another key version than CURRENT."""
    return [
        name
        for name in spec.encrypted_fields
        if state[name] and token_version(base64.b64decode(state[name]["enc"])) != current
    ]


def reencrypt_chunk(spec: EntitySpec, *, after: int, limit: int, actor: Any) -> Chunk:
    """Re-encrypt, under the current key version, the values of up to LIMIT rows after id AFTER."""
    caller = Caller.of(actor)
    ring = keyring()
    current = ring.current
    encrypted = spec.encrypted_fields
    columns = [str(enc_field.column) for enc_field in (spec.field(n) for n in encrypted)]
    with audited_refusals(), transaction.atomic():
        rows = _rows(spec, after, limit)
        if not rows:
            return Chunk(0, 0, 0, None)
        states = {row[0]: raw_state(spec, row[3:]) for row in rows}
        stale = {pk: stale_values(spec, state, current) for pk, state in states.items()}
        latest = latest_revisions(spec, [pk for pk, names in stale.items() if names])
        updates: list[tuple[Any, ...]] = []
        values = 0
        for pk, version, stored, *_raw in rows:
            if not stale[pk]:
                continue
            state = states[pk]
            plain = _checked_plain(spec, ring, caller, pk, version, stored, state, latest, "reencrypt")
            uid = uuid.UUID(state["uid"])
            tokens: list[bytes | None] = []
            for name, enc in encrypted.items():
                if name in stale[pk]:
                    tokens.append(ring.encrypt(plain[name], aad=aad(enc.domain, uid)))
                    values += 1
                else:
                    tokens.append(base64.b64decode(state[name]["enc"]) if state[name] else None)
            # The row's keyed MAC over its ciphertexts follows them (verification and the pipeline check it).
            updates.append((*tokens, cipher_mac(spec, state["uid"], tokens), pk, version))
        if updates:
            table = spec.model._meta.db_table
            assignments = ", ".join(f"{c} = %s" for c in [*columns, "cipher_mac"])
            with connection.cursor() as cursor, pipeline_writes():
                update = f"UPDATE {table} SET {assignments} WHERE id = %s AND version = %s"  # noqa: S608
                cursor.executemany(update, updates)
            audit_record(
                "keys.reencrypt", actor=caller, object_type=spec.name,
                detail={"entity": spec.name, "first": updates[0][-2], "last": updates[-1][-2], "rows": len(updates),
                        "values": values, "key_version": current},
            )  # fmt: skip
    return Chunk(len(rows), len(updates), values, rows[-1][0])


def rekey_entity(
    spec: EntitySpec,
    new_ring: KeyRing,
    *,
    actor: Any,
    reference: str,
    accept: KeyRing | None = None,
    chunk: int = 2000,
) -> int:
    """Recompute every blind index of SPEC's records under NEW_RING's index key: a new revision per record
    whose index changes (method "rekey") and one audit event vouching for them. Runs inside the caller's
    transaction, which must switch the key file before it commits. ACCEPT: see ``_checked_plain``. Returns the
    number of records re-indexed."""
    caller = Caller.of(actor)
    ring = keyring()
    encrypted = spec.encrypted_fields
    if not encrypted:
        return 0
    table = spec.model._meta.db_table
    if connection.vendor == "postgresql":
        # Reads go on; every write to the table waits until the new key is in force.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    now = timezone.now()
    at = _db_time(now)
    sealer = RevisionSealer(
        entity=spec.name, at=now, actor=caller.name, channel=Channel.MAINTENANCE, method=Method.REKEY,
        request_id=caller.request_id, reference=reference, notes={},
    )  # fmt: skip
    index_columns = [str(enc.index.column) for enc in encrypted.values()]
    assignments = ", ".join(f"{c} = %s" for c in [*index_columns, "version", "row_digest", "updated_at"])
    revision_ids: list[int] = []
    after = 0
    while True:
        rows = _rows(spec, after, chunk)
        if not rows:
            break
        after = rows[-1][0]
        latest = latest_revisions(spec, [row[0] for row in rows])
        updates: list[tuple[Any, ...]] = []
        revisions: list[tuple[Any, ...]] = []
        for pk, version, stored, *raw in rows:
            old = raw_state(spec, raw)
            plain = _checked_plain(spec, ring, caller, pk, version, stored, old, latest, "rekey", accept)
            new = dict(old)
            for name, text in plain.items():
                new[name] = {"enc": old[name]["enc"], "idx": _index(new_ring, encrypted[name].index, text)}
            changes = {n: [old[n], new[n]] for n in plain if old[n] != new[n]}
            if not changes:
                continue
            version += 1
            digest = state_digest(spec.name, version, chain.canonical(view(new)))
            seal = sealer(record_id=pk, version=version, changes=changes, digest=digest, prev_digest=stored)
            updates.append((*[new[n]["idx"] if new[n] else "" for n in encrypted], version, digest, at, pk))
            revisions.append(
                (spec.name, pk, version, at, caller.name, Channel.MAINTENANCE, Method.REKEY, caller.request_id,
                 reference, json.dumps(changes, ensure_ascii=False), chain.canonical(new).decode("utf-8"), digest,
                 stored, "{}", seal)
            )  # fmt: skip
        if updates:
            with connection.cursor() as cursor, pipeline_writes():
                cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", updates)  # noqa: S608
                revision_ids += _insert_revisions(cursor, revisions, reference)
    first, last = (min(revision_ids), max(revision_ids)) if revision_ids else (None, None)
    audit_record(
        "keys.rekey", actor=caller, object_type=spec.name,
        detail={"entity": spec.name, "rows": len(revision_ids), "revisions": [first, last], "reference": reference,
                "revisions_digest": revisions_digest(first, last, reference)},
    )  # fmt: skip
    return len(revision_ids)


def rekey_pending_requests(new_ring: KeyRing, *, actor: Any) -> int:
    """Re-index the values held in pending review requests under NEW_RING's index key (their match index, so a
    duplicate waiting for review is still found), each a step of the request. Inside the caller's transaction."""
    caller = Caller.of(actor)
    ring = keyring()
    changed = 0
    pending = ChangeRequest.objects.select_for_update().filter(status=ReviewStatus.PENDING).order_by("pk")
    for held in pending:
        if held.entity in PROPOSALS or held.entity not in ENTITIES:
            continue
        require_intact(held, actor=caller)
        spec = ENTITIES[held.entity]
        record_uid = (
            spec.model._default_manager.filter(pk=held.record_id).values_list("uid", flat=True).first()
            if held.record_id is not None
            else None
        )
        proposed = json.loads(json.dumps(held.proposed))
        touched = False
        for name, pair in proposed.items():
            enc = spec.encrypted_fields.get(name)
            if enc is None:
                continue
            for which, uid in ((0, record_uid), (1, held_uid(held))):
                value = pair[which]
                if isinstance(value, dict) and "idx" in value and uid is not None:
                    text = ring.decrypt(base64.b64decode(value["enc"]), aad=aad(enc.domain, uid))
                    value["idx"] = _index(new_ring, enc.index, text)
                    touched = True
            if name in spec.declaration.unique and isinstance(pair[1], dict):
                held.match_index = pair[1]["idx"]
        if not touched:
            continue
        held.proposed = proposed
        held.step += 1
        held.save(update_fields=["proposed", "match_index", "step"])
        reseal(held)
        audit_record(
            "review.rekey", actor=caller, object_type="change_request", object_id=held.pk,
            detail={"entity": held.entity, "step": held.step, "seal": held.seal},
        )  # fmt: skip
        changed += 1
    return changed
