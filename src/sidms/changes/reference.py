"""Reference data the running system never changes: the GB/T 2260 divisions and the code tables, shipped by
migrations. After every migration run that changed them, their content's keyed fingerprint is an audit event;
verification recomputes it, so a district quietly switched off or a code slipped into a table in SQL is named
(attack finding 6). And the record-number sequences must stay ahead of every number in use: one wound back
would make the next new record collide with an existing number.

(Parameters that staff change — collection rules — are versioned with revisions instead: sidms.changes.rules.)
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from django.db import models

from sidms.audit.models import AuditEvent, ChainHead
from sidms.audit.services import audit_record
from sidms.audit.verify import Report, broken, register_check
from sidms.core.caller import Caller
from sidms.core.kernel import ENTITIES
from sidms.core.keys import keyring
from sidms.core.models import NumberSequence
from sidms.lib import chain
from sidms.parameters.models import CodeItem, Region

ACTION = "parameters.reference"
MODELS: tuple[type[models.Model], ...] = (Region, CodeItem)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def fingerprint() -> str:
    """The keyed MAC of every row of every reference table, every column, in primary-key order."""
    tables = []
    for model in MODELS:
        columns = [field.attname for field in model._meta.concrete_fields]
        rows = model._default_manager.order_by("pk").values_list(*columns)
        tables.append([model._meta.label_lower, [[_plain(v) for v in row] for row in rows.iterator()]])
    return keyring().mac(chain.canonical({"tables": tables}))


def record_after_migrate(plan: Any) -> bool:
    """After a migration run: vouch for the reference tables if a migration of theirs ran (or nothing has
    vouched for them yet). A run that migrated nothing of theirs vouches for nothing, so a change made in SQL
    before it stays a change."""
    labels = {model._meta.app_label for model in MODELS}
    ran = [f"{m.app_label}.{m.name}" for m, backwards in (plan or []) if m.app_label in labels]
    latest = _latest()
    if latest is not None and not ran:
        return False
    digest = fingerprint()
    if latest is not None and latest[1] == digest:
        return False
    audit_record(
        ACTION, actor=Caller("system:migrate", request_id=""), object_type="reference", object_id="parameters",
        detail={"digest": digest, "migrations": ran},
    )  # fmt: skip
    return True


def _latest() -> tuple[int, str] | None:
    """(seq, digest) of the latest event that vouched for the reference tables, checked against its hash."""
    event = (
        AuditEvent.objects.filter(action=ACTION)
        .order_by("-seq")
        .values_list("seq", "prev_hash", "payload", "hash")
        .first()
    )
    if event is None:
        return None
    seq, prev_hash, payload, digest_ = event
    head = ChainHead.objects.filter(pk=1).first()
    if chain.link(prev_hash, payload.encode("utf-8"), algorithm=head.algorithm if head else "sm3") != digest_:
        raise broken(
            "audit_chain", f"审计事件 #{seq} / audit event #{seq}", "审计事件的哈希与其内容不符（被改写）",
            "the event's hash does not match its content (rewritten)",
        )  # fmt: skip
    return int(seq), str(orjson.loads(payload)["detail"]["digest"])


def verify_reference(report: Report, latest: dict[str, dict[int, tuple[int, str]]]) -> None:
    vouched = _latest()
    if vouched is None:
        if any(model._default_manager.exists() for model in MODELS):
            raise broken(
                "reference", "参考数据（行政区划、代码表） / reference data (divisions, code tables)",
                "没有审计事件为行政区划和代码表作证：它们不是经由数据库迁移写入的",
                "no audit event vouches for the divisions and code tables: they were not written by a migration",
            )  # fmt: skip
    elif vouched[1] != fingerprint():
        raise broken(
            "reference", f"参考数据（审计事件 #{vouched[0]}） / reference data (audit event #{vouched[0]})",
            "行政区划或代码表与最近一次迁移时不同：有人绕过系统修改了它们",
            "the divisions or code tables differ from what the last migration left: changed behind the system's back",
        )  # fmt: skip
    for sequence in NumberSequence.objects.all():
        spec = ENTITIES.get(sequence.entity)
        if spec is None or spec.declaration.numbering is None:
            continue
        from sidms.changes.numbers import _highest

        if sequence.last < _highest(spec):
            raise broken(
                "reference", f"编号序列 {sequence.entity} / number sequence {sequence.entity}",
                "记录编号序列被拨回到已使用的编号之前：新记录将与已有编号冲突",
                "the record-number sequence was wound back behind numbers in use: new records would collide",
            )  # fmt: skip


register_check(verify_reference)
