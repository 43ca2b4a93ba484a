"""Writing audit events. Every write, review decision, login, failed permission check and read of
personal data calls `audit_record` inside the transaction of the act it records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sidms.audit.checkpoints import after_commit
from sidms.audit.models import AuditEvent, ChainHead, Outcome
from sidms.core.caller import Caller, actor_name
from sidms.lib import chain

__all__ = ["actor_name", "audit_record"]


def audit_record(
    action: str,
    *,
    actor: Any,
    object_type: str = "",
    object_id: object = "",
    outcome: str = Outcome.OK,
    detail: Mapping[str, Any] | None = None,
    channel: str = "",
) -> AuditEvent:
    """Append one event to the chain. ACTOR is a Caller (who, from which address, in which request), a staff
    member or a system name. DETAIL must never hold personal data in plain text."""
    caller = Caller.of(actor)
    with transaction.atomic():
        head = _locked_head()
        now = timezone.now()
        seq = head.seq + 1
        body = {
            "seq": seq,
            "at": now.isoformat(),
            "actor": caller.name,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "outcome": str(outcome),
            "ip": caller.address,
            "request": caller.request_id,
            "channel": channel,
            "detail": dict(detail or {}),
        }
        payload = chain.canonical(body)
        digest = chain.link(head.hash, payload, algorithm=head.algorithm)
        event = AuditEvent.objects.create(
            seq=seq,
            at=now,
            actor=caller.name,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            outcome=str(outcome),
            payload=payload.decode("utf-8"),
            prev_hash=head.hash,
            hash=digest,
        )
        head.seq, head.hash = seq, digest
        ChainHead.objects.filter(pk=head.pk).update(seq=seq, hash=digest, mac=head.expected_mac())
        after_commit()
    return event


def _locked_head() -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        ChainHead.objects.get_or_create(
            pk=1, defaults={"algorithm": settings.SIDMS_AUDIT_HASH, "seq": 0, "hash": chain.GENESIS}
        )
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head
