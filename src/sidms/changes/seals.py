"""Keyed seals over rows that carry decisions: review requests, maintenance orders, batch applications,
and revisions' metadata.

These rows must stay mutable while a workflow runs (a status moves on), so triggers cannot guard them.
Instead each row carries a keyed MAC of all its columns, recomputed by the service that changes it: an
UPDATE behind the system's back (a different change, another applicant, a larger row count) no longer
matches, every later step refuses to act on it, and `sidms audit verify` names it.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

import orjson
from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.audit.models import AuditEvent
from sidms.changes.integrity import check_row, integrity_alert, record_alert, require_owner_intact
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import EntitySpec
from sidms.core.keys import keyring
from sidms.lib import chain


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def row_seal(obj: models.Model) -> str:
    """The MAC of every concrete column of OBJ except the seal itself."""
    values = {
        field.attname: _plain(getattr(obj, field.attname))
        for field in obj._meta.concrete_fields
        if field.attname != "seal"
    }
    return keyring().mac(chain.canonical({"table": obj._meta.db_table, "row": values}))


def reseal(obj: models.Model) -> None:
    """Recompute and store OBJ's seal (after the service has saved its change)."""
    seal = row_seal(obj)
    type(obj)._default_manager.filter(pk=obj.pk).update(seal=seal)
    obj.seal = seal  # type: ignore[attr-defined]


BROKEN_SEAL = _(
    "%(record)s does not match its seal (changed outside the system); refused. Tell the information centre."
)


def latest_step(obj: models.Model) -> tuple[int, str] | None:
    """The step and seal that the latest audit event about a workflow row recorded (None if no event did)."""
    workflow = getattr(type(obj), "workflow", None)
    if workflow is None:
        return None
    # Reads of the row name it too but record no step: skipped in the query, not parsed one by one. Reads of a
    # request that moved district check its seal (access.workflow.require_move_verified): after a thousand
    # reads, each read took 9-10 ms instead of 4-5 ms while they were parsed (SQLite, on a 2-core machine).
    payloads = (
        AuditEvent.objects.filter(object_type=workflow.name, object_id=str(obj.pk))
        .exclude(action__startswith="read.")
        .order_by("-seq")
        .values_list("payload", flat=True)
    )
    for payload in payloads.iterator(chunk_size=20):
        detail = json.loads(payload).get("detail", {})
        if "step" in detail and "seal" in detail:
            return int(detail["step"]), str(detail["seal"])
    return None


def require_intact(obj: models.Model, *, actor: object = "system") -> None:
    """Refuse to act on a decision row that was changed outside the system: its seal must match its columns,
    and its step and seal must be what the audit chain last recorded about it — an old copy put back (a
    rejected request made pending again, an executed batch made approved again) carries a valid seal of its
    own, but not the latest one. The alert is audited even though the refused step rolls back
    (sidms.changes.services.audited_refusals)."""
    reason = ""
    if obj.seal != row_seal(obj):  # type: ignore[attr-defined]
        reason = "seal"
    elif (latest := latest_step(obj)) is not None and latest != (obj.step, obj.seal):  # type: ignore[attr-defined]
        reason = "put_back"
    if reason:
        raise integrity_alert(str(obj), obj._meta.model_name or "", obj.pk, {"reason": reason}, actor=actor,
                              message=BROKEN_SEAL)  # fmt: skip


def require_move_genuine(row: models.Model, spec: EntitySpec, record: models.Model, actor: Any) -> None:
    """The check access.workflow.require_move_verified makes of a request or order ROW whose RECORD is now in
    another district than ROW was filed in: ROW must match its seal (its record_id was not pointed at another
    district's record in SQL) and RECORD its history (its district was not written in SQL). The alert is
    recorded now (a read takes no transaction to roll back; a step that does is recorded again by
    ``audited_refusals`` once it has rolled back)."""
    try:
        require_intact(row, actor=actor)
        check_row(spec, record, actor=actor)
        # The district may be read from another record (an employment's person): moved in SQL, that record
        # handed its district the requests about the employment (attack round 14).
        require_owner_intact(spec, record, actor=actor)
    except IntegrityAlert as refused:
        record_alert(refused)
        raise


def revision_seal(**fields: Any) -> str:
    """The MAC of a revision's metadata: who, when, how, and what changed (R9.2), beside its state digest,
    and the digest of the revision before it (revisions written before that existed have none). FIELDS are
    :func:`revision_seal_bytes`'s keywords."""
    return keyring().mac(revision_seal_bytes(**fields))


def revision_seal_bytes(
    *,
    entity: str,
    record_id: int,
    version: int,
    at: datetime | str,
    actor: str,
    channel: str,
    method: str,
    request_id: str,
    reference: str,
    changes: Any,
    notes: Any,
    digest: str,
    prev_digest: str = "",
) -> bytes:
    """What `revision_seal` MACs (verification MACs it with a key ring it looked up once)."""
    return seal_bytes_of(
        entity, record_id, version, at if isinstance(at, str) else at.isoformat(), actor, channel, method,
        request_id, reference, changes, notes, digest, prev_digest,
    )  # fmt: skip


def seal_bytes_of(
    entity: str, record_id: int, version: int, at: str, actor: str, channel: str, method: str, request_id: str,
    reference: str, changes: Any, notes: Any, digest: str, prev_digest: str,
) -> bytes:  # fmt: skip
    """`revision_seal_bytes` with its fields in that order and AT as text: verification seals every revision,
    and thirteen keywords cost as much to pass as the bytes to write."""
    fields = {
        "entity": entity,
        "record_id": record_id,
        "version": version,
        "at": at,
        "actor": actor,
        "channel": channel,
        "method": method,
        "request_id": request_id,
        "reference": reference,
        # History already holds JSON (represented values): no conversion is needed, and verification
        # seals millions of them.
        "changes": changes,
        "notes": notes,
        "digest": digest,
    }
    if prev_digest:
        fields["prev_digest"] = prev_digest
    return chain.canonical_parsed(fields)


def new_revision(**fields: Any) -> Any:
    """Create a Revision with its metadata seal (the one way revisions are created singly)."""
    from sidms.changes.models import Revision

    fields.setdefault("request_id", "")
    fields.setdefault("reference", "")
    fields.setdefault("notes", {})
    fields.setdefault("prev_digest", "")
    seal = revision_seal(**{k: fields[k] for k in _SEALED})
    return Revision.objects.create(**fields, seal=seal)


_SEALED = (
    "entity", "record_id", "version", "at", "actor", "channel", "method", "request_id", "reference", "changes",
    "notes", "digest", "prev_digest",
)  # fmt: skip


def _j(value: str) -> bytes:
    return orjson.dumps(value)


class RevisionSealer:
    """`revision_seal` for many revisions of one batch: the parts they share are encoded once, and each row
    only adds its record, version, changes and digest. The bytes are exactly chain.canonical's (keys in
    sorted order), so `revision_seal` verifies what this writes (tests/changes/test_seals.py)."""

    def __init__(
        self, *, entity: str, at: datetime, actor: str, channel: str, method: str, request_id: str,
        reference: str, notes: Any,
    ) -> None:  # fmt: skip
        self._head = b'{"actor":' + _j(actor) + b',"at":' + _j(at.isoformat()) + b',"changes":'
        self._middle = b',"channel":' + _j(channel) + b',"digest":'
        self._tail = (
            b',"entity":' + _j(entity) + b',"method":' + _j(method) + b',"notes":' + chain.canonical(_plain(notes))
        )  # fmt: skip
        self._end = b',"reference":' + _j(reference) + b',"request_id":' + _j(request_id) + b',"version":'
        self._ring = keyring()

    def __call__(
        self, *, record_id: int, version: int, changes: dict[str, Any], digest: str, prev_digest: str = ""
    ) -> str:
        return self.seal_bytes(
            record_id=record_id, version=version, changes=chain.canonical(changes, parsed=True), digest=digest,
            prev_digest=prev_digest,
        )  # fmt: skip

    def seal_bytes(
        self, *, record_id: int, version: int, changes: bytes, digest: str, prev_digest: str = ""
    ) -> str:
        """The same seal, with CHANGES already serialised by chain.canonical (the bulk update stores them)."""
        # "prev_digest" sorts after "notes" and before "record_id"; absent when empty, as in revision_seal.
        previous = b',"prev_digest":' + _j(prev_digest) if prev_digest else b""
        body = (
            self._head + changes + self._middle + _j(digest) + self._tail + previous
            + b',"record_id":' + str(record_id).encode() + self._end + str(version).encode() + b"}"
        )  # fmt: skip
        return self._ring.mac(body)
