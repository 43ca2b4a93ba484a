"""Verification of the audit chain itself (R20, principle 4): the first part of `sidms audit verify`.

1. every event's hash links to the previous one, sequence numbers have no gaps, the columns agree with the
   hashed payload, and the chain ends where its keyed head says (a head that is missing while events exist
   is a break: someone deleted it to skip this check);
2. the checkpoints copied off the host agree with the chain (a wholesale rewrite or a cut tail is caught).

What the events claim — which revisions they wrote, which batches, the last step of each workflow row — is
collected on the way (``Claims``) for the checks of sidms.changes.verify, which knows those tables.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sidms.audit.checkpoints import read_checkpoints
from sidms.audit.models import AuditEvent, ChainHead
from sidms.core.keys import keyring
from sidms.lib import chain

CHUNK = 5000


@dataclass(frozen=True)
class Problem:
    kind: str  # audit_chain | audit_tail | checkpoint | revision | rule | live_row | workflow | keys
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
    chain_seconds: float = 0.0
    seconds: float = 0.0
    problem: Problem | None = None

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


# Checks of tables the pipeline does not own (staff accounts, their posts and devices), registered by their
# apps when ready, so that verification needs to know none of them. Each takes the report and the latest
# revision (version, digest) of each record of the entities it owns, which it removes from the mapping.
CHECKS: list[Callable[[Report, dict[str, dict[int, tuple[int, str]]]], None]] = []


def register_check(check: Callable[[Report, dict[str, dict[int, tuple[int, str]]]], None]) -> None:
    if check not in CHECKS:
        CHECKS.append(check)


def _events() -> Iterator[tuple[Any, ...]]:
    last = 0
    while True:
        rows = list(
            AuditEvent.objects.filter(seq__gt=last)
            .order_by("seq")
            .values_list("seq", "prev_hash", "payload", "hash", "actor", "action", "object_type", "object_id",
                         "outcome", "at")[:CHUNK]
        )  # fmt: skip
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def verify_chain(report: Report) -> Claims:
    head = ChainHead.objects.filter(pk=1).first()
    algorithm = head.algorithm if head else "sm3"
    claims = Claims()
    prev, expected = chain.GENESIS, 1
    started = time.perf_counter()
    for seq, prev_hash, payload, digest_, actor, action, object_type, object_id, outcome, at in _events():
        where = f"审计事件 #{seq} / audit event #{seq}"
        if seq != expected:
            raise broken(
                "audit_chain",
                where,
                f"审计事件 #{expected} 缺失（被删除）",
                f"audit event #{expected} is missing (deleted)",
            )
        data = payload.encode("utf-8")
        if prev_hash != prev or chain.link(prev, data, algorithm=algorithm) != digest_:
            raise broken(
                "audit_chain", where, "审计事件的哈希链断裂：该事件或其前一事件被篡改",
                "the hash chain breaks here: this event or the one before was altered",
            )  # fmt: skip
        body = json.loads(payload)
        if (body["actor"], body["action"], body["object_type"], body["object_id"], body["outcome"], body["at"]) != (
            actor, action, object_type, object_id, outcome, at.isoformat(),
        ):  # fmt: skip
            raise broken(
                "audit_chain", where, "审计事件的字段与其已签名内容不一致（被改写）",
                "the event's columns differ from its hashed payload (rewritten)",
            )  # fmt: skip
        _collect(claims, seq, action, object_type, object_id, body.get("detail", {}))
        prev, expected = digest_, seq + 1
        report.events += 1
    report.chain_seconds = time.perf_counter() - started
    last = expected - 1
    if head is None:
        if last > 0:
            raise broken(
                "audit_tail", "审计链头 / audit chain head", "审计链头记录缺失：有人删除了它以逃避末尾检查",
                "the chain head row is missing: someone deleted it to skip the end-of-chain check",
            )  # fmt: skip
        return claims
    if head.seq > 0 and not keyring().verify_mac(
        chain.canonical({"algorithm": head.algorithm, "seq": head.seq, "hash": head.hash}), head.mac
    ):
        raise broken(
            "audit_tail", f"审计链头 / audit chain head (#{head.seq})",
            "审计链头的密钥校验值不符：有人绕过系统追加或改写了审计事件",
            "the chain head's keyed MAC does not match: events were appended or rewritten behind the system's back",
        )  # fmt: skip
    if head.seq != last or head.hash != prev:
        raise broken(
            "audit_tail", f"审计事件 #{last + 1} / audit event #{last + 1}",
            f"链头记录到第 {head.seq} 号事件，但审计表只到第 {last} 号：末尾事件被删除或链头被换回旧值",
            f"the chain head is at #{head.seq} but events end at #{last}: the tail was cut or the head put back",
        )  # fmt: skip
    return claims


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
