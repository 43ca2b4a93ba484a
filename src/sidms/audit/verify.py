"""`sidms audit verify`: prove the whole store intact, or name the first broken record (R20, principle 4).

Four checks, cheapest evidence first:
1. the audit chain: every event's hash links to the previous one, sequence numbers have no gaps, the
   columns agree with the hashed payload, and the chain ends where its head says;
2. the checkpoints copied off the host agree with the chain (a wholesale rewrite is caught here);
3. every revision's digest matches its state, and every revision is vouched for by an audit event
   (single writes name the revision and digest; batches carry a digest over all their revisions);
4. every live row's keyed digest matches its own content and its latest revision (a raw SQL UPDATE,
   a deleted row or a row inserted behind the system's back is caught here).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from sidms.audit.checkpoints import read_checkpoints
from sidms.audit.models import AuditEvent, ChainHead
from sidms.changes.entities import ENTITIES, EntitySpec, digest, raw_state, state_digest
from sidms.changes.models import BatchApplication, ChangeRequest, MaintenanceOrder, Revision
from sidms.changes.seals import revision_seal, row_seal
from sidms.lib import chain
from sidms.parameters.models import CollectionRule
from sidms.security.keys import keyring

CHUNK = 5000


@dataclass(frozen=True)
class Problem:
    kind: str  # audit_chain | audit_tail | checkpoint | revision | live_row
    where: str
    message: str
    message_en: str


@dataclass
class Report:
    events: int = 0
    checkpoints: int = 0
    revisions: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    chain_seconds: float = 0.0
    seconds: float = 0.0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def events_per_second(self) -> float:
        return self.events / self.chain_seconds if self.chain_seconds else 0.0


class _Broken(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message_en)
        self.problem = problem


def verify_store() -> Report:
    report = Report()
    started = time.perf_counter()
    try:
        claims = _verify_chain(report)
        _verify_checkpoints(report)
        latest = _verify_revisions(report, claims)
        _verify_rules(report, latest.pop("collection_rule", {}))
        for spec in ENTITIES.values():
            _verify_rows(report, spec, latest.get(spec.name, {}))
        _verify_workflows(report)
    except _Broken as broken:
        report.problem = broken.problem
    report.seconds = time.perf_counter() - started
    return report


# --- 1. the chain ----------------------------------------------------------------------------------------


@dataclass
class _Claims:
    single: dict[int, tuple[str, int]] = field(default_factory=dict)  # revision id -> (digest, event seq)
    batches: dict[str, tuple[int, int, str, int]] = field(
        default_factory=dict
    )  # ref -> (first, last, digest, seq)


def _events() -> Iterator[tuple[int, str, str, str, str, str, str, str, str, Any]]:
    last = 0
    while True:
        rows = list(
            AuditEvent.objects.filter(seq__gt=last)
            .order_by("seq")
            .values_list(
                "seq",
                "prev_hash",
                "payload",
                "hash",
                "actor",
                "action",
                "object_type",
                "object_id",
                "outcome",
                "at",
            )[:CHUNK]
        )
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _verify_chain(report: Report) -> _Claims:
    head = ChainHead.objects.filter(pk=1).first()
    algorithm = head.algorithm if head else "sm3"
    claims = _Claims()
    prev, expected = chain.GENESIS, 1
    started = time.perf_counter()
    for seq, prev_hash, payload, digest_, actor, action, object_type, object_id, outcome, _at in _events():
        where = f"审计事件 #{seq} / audit event #{seq}"
        if seq != expected:
            raise _Broken(
                Problem(
                    "audit_chain",
                    where,
                    f"审计事件 #{expected} 缺失（被删除）",
                    f"audit event #{expected} is missing (deleted)",
                )
            )
        data = payload.encode("utf-8")
        if prev_hash != prev or chain.link(prev, data, algorithm=algorithm) != digest_:
            raise _Broken(
                Problem(
                    "audit_chain",
                    where,
                    "审计事件的哈希链断裂：该事件或其前一事件被篡改",
                    "the hash chain breaks here: this event or the one before was altered",
                )
            )
        body = json.loads(payload)
        if (body["actor"], body["action"], body["object_type"], body["object_id"], body["outcome"], body["at"]) != (
            actor, action, object_type, object_id, outcome, _at.isoformat(),
        ):  # fmt: skip
            raise _Broken(
                Problem(
                    "audit_chain",
                    where,
                    "审计事件的字段与其已签名内容不一致（被改写）",
                    "the event's columns differ from its hashed payload (rewritten)",
                )
            )
        _collect_claims(claims, seq, action, body.get("detail", {}))
        prev, expected = digest_, seq + 1
        report.events += 1
    report.chain_seconds = time.perf_counter() - started
    if (
        head is not None
        and head.seq > 0
        and not keyring().verify_mac(
            chain.canonical({"algorithm": head.algorithm, "seq": head.seq, "hash": head.hash}), head.mac
        )
    ):
        where = f"审计链头 / audit chain head (#{head.seq})"
        raise _Broken(
            Problem(
                "audit_tail",
                where,
                "审计链头的密钥校验值不符：有人绕过系统追加或改写了审计事件",
                "the chain head's keyed MAC does not match: events were appended or rewritten behind the system's back",
            )
        )
    if head is not None and (head.seq != expected - 1 or head.hash != prev):
        where = f"审计事件 #{expected} / audit event #{expected}"
        raise _Broken(
            Problem(
                "audit_tail",
                where,
                f"链头记录到第 {head.seq} 号事件，但审计表只到第 {expected - 1} 号：末尾事件被删除",
                f"the chain head is at #{head.seq} but events end at #{expected - 1}: events at the end were deleted",
            )
        )
    return claims


def _collect_claims(claims: _Claims, seq: int, action: str, detail: dict[str, Any]) -> None:
    if (action.startswith("write.") or action == "rules.edit") and "revision" in detail:
        claims.single[int(detail["revision"])] = (str(detail["digest"]), seq)
    elif action == "batch.execute" and detail.get("revisions") and detail["revisions"][0] is not None:
        first, last = detail["revisions"]
        claims.batches[str(detail["reference"])] = (
            int(first),
            int(last),
            str(detail["revisions_digest"]),
            seq,
        )


# --- 2. checkpoints --------------------------------------------------------------------------------------


def _verify_checkpoints(report: Report) -> None:
    ring = keyring()
    for point in read_checkpoints():
        where = f"检查点 #{point.seq} / checkpoint at #{point.seq}"
        if not ring.verify_mac(point.body(), point.mac):
            raise _Broken(
                Problem("checkpoint", where, "检查点文件中的记录被篡改", "the checkpoint line was altered")
            )
        event = AuditEvent.objects.filter(seq=point.seq).values_list("hash", flat=True).first()
        if event != point.hash:
            raise _Broken(
                Problem(
                    "checkpoint",
                    where,
                    f"审计链与已保存的检查点不一致：第 {point.seq} 号事件被改写或删除",
                    f"the chain disagrees with the checkpoint: event #{point.seq} was rewritten or removed",
                )
            )
        report.checkpoints += 1


# --- 3. revisions ----------------------------------------------------------------------------------------


def _verify_revisions(report: Report, claims: _Claims) -> dict[str, dict[int, tuple[int, str]]]:
    latest: dict[str, dict[int, tuple[int, str]]] = {}
    hashers = {ref: hashlib.sha256() for ref in claims.batches}
    seen: set[int] = set()
    last = 0
    while True:
        rows = list(
            Revision.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list(
                "pk",
                "entity",
                "record_id",
                "version",
                "state",
                "digest",
                "reference",
                "at",
                "actor",
                "channel",
                "method",
                "request_id",
                "changes",
                "notes",
                "seal",
            )[:CHUNK]
        )
        if not rows:
            break
        for (
            pk,
            entity,
            record_id,
            version,
            state,
            stored,
            reference,
            at,
            actor,
            channel,
            method,
            rid,
            changes,
            notes,
            seal,
        ) in rows:
            where = f"修订记录 #{pk}（{entity} #{record_id} 第 {version} 版） / revision #{pk} ({entity} #{record_id} v{version})"
            if state_digest(entity, version, chain.canonical(state)) != stored:
                raise _Broken(
                    Problem(
                        "revision",
                        where,
                        "修订记录的内容与其摘要不符（历史被篡改）",
                        "the revision's content does not match its digest (history altered)",
                    )
                )
            metadata = revision_seal(
                entity=entity, record_id=record_id, version=version, at=at, actor=actor, channel=channel,
                method=method, request_id=rid, reference=reference, changes=changes, notes=notes, digest=stored,
            )  # fmt: skip
            if metadata != seal:
                raise _Broken(
                    Problem(
                        "revision",
                        where,
                        "修订记录的操作人、时间、方式或变更内容与其校验值不符（历史被篡改）",
                        "the revision's actor, time, method or changes do not match its seal (history altered)",
                    )
                )
            if pk in claims.single:
                seen.add(pk)
                if claims.single[pk][0] != stored:
                    raise _Broken(
                        Problem(
                            "revision",
                            where,
                            "修订记录与审计事件记载的摘要不符",
                            "the revision differs from the digest its audit event recorded",
                        )
                    )
            elif (
                reference in claims.batches
                and claims.batches[reference][0] <= pk <= claims.batches[reference][1]
            ):
                hashers[reference].update(stored.encode("ascii"))
            else:
                raise _Broken(
                    Problem(
                        "revision",
                        where,
                        "该修订记录没有对应的审计事件：它不是经由系统写入的",
                        "no audit event vouches for this revision: it was not written by the system",
                    )
                )
            latest.setdefault(entity, {})[record_id] = (version, stored)
            report.revisions += 1
        last = rows[-1][0]
    missing = sorted(set(claims.single) - seen)
    if missing:
        pk = missing[0]
        where = f"修订记录 #{pk}（审计事件 #{claims.single[pk][1]}） / revision #{pk} (audit event #{claims.single[pk][1]})"
        raise _Broken(
            Problem(
                "revision",
                where,
                "审计事件记载的修订记录已不存在：历史被删除",
                "a revision recorded by the audit chain is gone: history was deleted",
            )
        )
    for reference, (_first, _last, claimed, seq) in claims.batches.items():
        if hashers[reference].hexdigest() != claimed:
            where = f"批量 {reference}（审计事件 #{seq}） / batch {reference} (audit event #{seq})"
            raise _Broken(
                Problem(
                    "revision",
                    where,
                    "批量写入的修订记录与审计事件不符（被增删或改写）",
                    "the batch's revisions differ from what its audit event recorded",
                )
            )
    return latest


# --- 4. live rows ----------------------------------------------------------------------------------------


def _verify_rows(report: Report, spec: EntitySpec, latest: dict[int, tuple[int, str]]) -> None:
    table = spec.model._meta.db_table
    columns = [str(spec.field(name).column) for name in spec.fields]
    seen = 0
    last = -1
    label = spec.label_field if spec.label_field != "pk" else "id"
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, version, row_digest, {label}, {', '.join(columns)} FROM {table} "  # noqa: S608
                f"WHERE id > %s ORDER BY id LIMIT {CHUNK}",
                [last],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            for pk, version, row_digest, natural, *values in rows:
                where = f"{spec.name} #{pk}（{natural}）"
                state = raw_state(spec, values)
                history = latest.pop(pk, None)
                if history is None:
                    raise _Broken(
                        Problem(
                            "live_row",
                            where,
                            "该记录没有修订历史：它不是经由系统写入的",
                            "the row has no history: it was not written by the system",
                        )
                    )
                if digest(spec, version, state) != row_digest or (version, row_digest) != history:
                    raise _Broken(
                        Problem(
                            "live_row",
                            where,
                            "当前记录与其最新修订不一致：有人绕过系统修改了数据库",
                            "the live row differs from its latest revision: the database was changed behind the system's back",
                        )
                    )
                seen += 1
            last = rows[-1][0]
    if latest:
        pk = min(latest)
        raise _Broken(
            Problem(
                "live_row",
                f"{spec.name} #{pk}",
                "有修订历史的记录已不在数据库中：记录被删除",
                "a record with history is gone from the database: it was deleted",
            )
        )
    report.rows[spec.name] = seen


# --- 5. collection rules and workflow rows ----------------------------------------------------------------


def _initial_rules() -> dict[tuple[str, str], tuple[Any, ...]]:
    module = importlib.import_module("sidms.parameters.migrations.0004_initial_collection_rules")
    return {(e, f): (req, val, lvl, list(chk), module.EFFECTIVE) for e, f, req, val, lvl, chk in module.RULES}


def _verify_rules(report: Report, latest: dict[int, tuple[int, str]]) -> None:
    """Version 1 of each rule is what the migration shipped; every later version must match the revision
    that `rule_edit` wrote for it. A rule INSERTed behind the system's back matches neither."""
    from sidms.changes.rules import _rule_state

    shipped = _initial_rules()
    for rule in CollectionRule.objects.order_by("pk").iterator():
        where = f"采集规则 {rule.entity}.{rule.field} 第 {rule.version} 版 / collection rule {rule.entity}.{rule.field} v{rule.version}"
        ours = (rule.required, rule.validator, rule.review_level, list(rule.crosschecks), rule.effective_from)
        if (
            rule.version == 1
            and rule.created_by == "system"
            and shipped.get((rule.entity, rule.field)) == ours
        ):
            continue
        history = latest.get(rule.pk)
        state = _rule_state(rule)
        expected = state_digest("collection_rule", rule.version, chain.canonical(state))
        if history is None or history != (rule.version, expected):
            raise _Broken(
                Problem(
                    "rule",
                    where,
                    "该采集规则不是经由规则编辑写入的（或已被改写）",
                    "this collection rule was not written by the rules editor (or was altered)",
                )
            )


def _verify_workflows(report: Report) -> None:
    for model in (ChangeRequest, MaintenanceOrder, BatchApplication):
        for row in model.objects.order_by("pk").iterator():
            if row.seal != row_seal(row):
                raise _Broken(
                    Problem(
                        "workflow",
                        str(row),
                        "审核单、维护单或批量申请的内容与其校验值不符：有人绕过系统修改了它",
                        "a review request, maintenance order or batch application differs from its seal: changed outside the system",
                    )
                )
