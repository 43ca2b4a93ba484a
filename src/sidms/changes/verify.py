"""`sidms audit verify`: prove the whole store intact, or name the first broken record (R20, principle 4).

Cheapest evidence first:
1. the audit chain and its checkpoints (sidms.audit.verify), collecting what the events claim;
2. every revision: its digest matches its state, its seal its metadata, an audit event vouches for it; and
   each record's revisions form a chain of their own — versions 1, 2, 3 …, each naming the digest of the one
   before, each state the previous state plus its changes — so history cannot be rewritten or laundered;
3. collection rules: every version exists that a revision vouches for, versions run 1..n without a gap;
4. every live row: its digest matches its content and is the digest of its latest revision; every encrypted
   value decrypts (bound to this record and field) to the value its blind index names; a deleted row or a
   row inserted behind the system's back is caught;
5. workflow rows (review requests, maintenance orders, batch applications): their seal matches, and their
   step and seal are what the latest audit event about them recorded, so an old copy put back is caught.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

from django.db import connection

from sidms.audit.models import ChainHead
from sidms.audit.verify import (
    CHECKS,
    CHUNK,
    Broken,
    Claims,
    Report,
    broken,
    verify_chain,
    verify_checkpoints,
)
from sidms.changes.batches import revisions_digest
from sidms.changes.models import BatchApplication, ChangeRequest, MaintenanceOrder, Revision
from sidms.changes.rules import ENTITY as RULE
from sidms.changes.rules import rule_digest
from sidms.changes.seals import revision_seal, row_seal
from sidms.core.fields import aad
from sidms.core.kernel import ENTITIES, EntitySpec, raw_state, state_digest, view
from sidms.core.keys import keyring
from sidms.lib import chain
from sidms.lib.crypto import DecryptionError
from sidms.parameters.models import CollectionRule

__all__ = ["Report", "verify_store"]


def verify_store() -> Report:
    report = Report()
    started = time.perf_counter()
    try:
        _verify_keys()
        claims = verify_chain(report)
        verify_checkpoints(report)
        rule_versions: dict[tuple[int, int], str] = {}
        latest = _verify_revisions(report, claims, rule_versions)
        latest.pop(RULE, None)
        _verify_rules(rule_versions)
        for spec in ENTITIES.values():
            _verify_rows(report, spec, latest.pop(spec.name, {}))
        for check in CHECKS:
            check(report, latest)
        if latest:
            entity = sorted(latest)[0]
            raise broken(
                "revision", f"修订记录（{entity}） / revisions of {entity}", "有修订记录的实体已不存在",
                "revisions name an entity the system does not know",
            )  # fmt: skip
        _verify_workflows(claims)
    except Broken as failure:
        report.problem = failure.problem
    report.seconds = time.perf_counter() - started
    return report


# --- keys ------------------------------------------------------------------------------------------------

SAMPLE = 50


def _verify_keys() -> None:
    """Before anything is called tampered: is the key file the one the data was written with? A MAC key that
    matches neither the chain head nor any revision, an encryption key that decrypts none of a sample of
    values, or an index key that reproduces none of their blind indexes is named as such."""
    ring = keyring()
    head = ChainHead.objects.filter(pk=1).first()
    sample = Revision.objects.order_by("-pk").values_list("entity", "version", "state", "digest")[:SAMPLE]
    digests_ok = [state_digest(e, v, chain.canonical(view(st))) == d for e, v, st, d in sample]
    head_ok = (
        head is None
        or head.seq == 0
        or ring.verify_mac(
            chain.canonical({"algorithm": head.algorithm, "seq": head.seq, "hash": head.hash}), head.mac
        )
    )
    if digests_ok and not any(digests_ok) and not head_ok:
        raise broken(
            "keys", "密钥文件 / key file", "摘要密钥（MAC）与数据不符：密钥文件被更换或用错，不是数据被篡改",
            "the MAC key does not match the data: the key file was replaced or is the wrong one (not tampering)",
        )  # fmt: skip
    tried = decrypted = indexed = 0
    for spec in ENTITIES.values():
        if not spec.encrypted_fields:
            continue
        table = spec.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(spec.raw_columns)} FROM {table} ORDER BY id DESC LIMIT %s",  # noqa: S608
                [SAMPLE],
            )
            rows = cursor.fetchall()
        for raw in rows:
            state = raw_state(spec, raw)
            for name, enc in spec.encrypted_fields.items():
                value = state[name]
                if not value:
                    continue
                tried += 1
                try:
                    plain = ring.decrypt(
                        base64.b64decode(value["enc"]), aad=aad(enc.domain, uuid.UUID(state["uid"]))
                    )
                except DecryptionError:
                    continue
                decrypted += 1
                indexed += enc.index.index_of(plain) == value["idx"]
    if tried and not decrypted:
        raise broken(
            "keys", "密钥文件 / key file", f"加密密钥无法解密抽样的 {tried} 个加密数据：密钥文件被更换或用错（当前密钥版本 {ring.versions}）",
            f"the encryption keys decrypt none of {tried} sampled values: the key file was replaced or is the wrong one (versions {ring.versions})",
        )  # fmt: skip
    if decrypted and not indexed:
        raise broken(
            "keys", "密钥文件 / key file", "检索索引密钥与数据不符：按现有密钥算出的索引与存储的都不同，按身份证号码将查不到人",
            "the blind-index key reproduces none of the stored indexes: searches by ID number would find no one",
        )  # fmt: skip


# --- revisions -------------------------------------------------------------------------------------------

_COLUMNS = (
    "pk", "entity", "record_id", "version", "state", "digest", "prev_digest", "reference", "at", "actor",
    "channel", "method", "request_id", "changes", "notes", "seal",
)  # fmt: skip


def _revision_rows() -> Any:
    """Revisions in (entity, record, version) order, so each record's history is read in one run."""
    last: tuple[str, int, int] = ("", -1, -1)
    while True:
        entity, record, version = last
        rows = list(
            Revision.objects.raw(
                "SELECT id, entity, record_id, version, state, digest, prev_digest, reference, at, actor, channel, "
                "method, request_id, changes, notes, seal FROM changes_revision "
                "WHERE entity > %s OR (entity = %s AND (record_id > %s OR (record_id = %s AND version > %s))) "
                "ORDER BY entity, record_id, version LIMIT %s",
                [entity, entity, record, record, version, CHUNK],
            )
        )
        if not rows:
            return
        yield from rows
        tail = rows[-1]
        last = (tail.entity, tail.record_id, tail.version)


def _view_hash(state: dict[str, Any]) -> bytes:
    return hashlib.sha256(chain.canonical(view(state))).digest()


def _verify_revisions(
    report: Report, claims: Claims, rule_versions: dict[tuple[int, int], str]
) -> dict[str, dict[int, tuple[int, str]]]:
    latest: dict[str, dict[int, tuple[int, str]]] = {}
    seen: set[int] = set()
    in_batches: dict[str, int] = {}
    current: tuple[str, int] = ("", -1)
    previous: tuple[int, str, bytes] | None = None  # version, digest, hash of the state's view
    for revision in _revision_rows():
        pk, entity, record_id, version = revision.pk, revision.entity, revision.record_id, revision.version
        state, stored, prior = revision.state, revision.digest, revision.prev_digest
        where = f"修订记录 #{pk}（{entity} #{record_id} 第 {version} 版） / revision #{pk} ({entity} #{record_id} v{version})"
        if (entity, record_id) != current:
            current, previous = (entity, record_id), None
        if state_digest(entity, version, chain.canonical(view(state))) != stored:
            raise broken("revision", where, "修订记录的内容与其摘要不符（历史被篡改）",
                         "the revision's content does not match its digest (history altered)")  # fmt: skip
        metadata = revision_seal(
            entity=entity, record_id=record_id, version=version, at=revision.at, actor=revision.actor,
            channel=revision.channel, method=revision.method, request_id=revision.request_id,
            reference=revision.reference, changes=revision.changes, notes=revision.notes, digest=stored,
            prev_digest=prior,
        )  # fmt: skip
        if metadata != revision.seal:
            raise broken("revision", where, "修订记录的操作人、时间、方式或变更内容与其校验值不符（历史被篡改）",
                         "the revision's actor, time, method or changes do not match its seal (history altered)")  # fmt: skip
        _check_succession(where, revision, previous)
        if pk in claims.single:
            seen.add(pk)
            if claims.single[pk][0] != stored:
                raise broken("revision", where, "修订记录与审计事件记载的摘要不符",
                             "the revision differs from the digest its audit event recorded")  # fmt: skip
        elif revision.reference in claims.batches and (
            claims.batches[revision.reference][0] <= pk <= claims.batches[revision.reference][1]
        ):
            in_batches[revision.reference] = in_batches.get(revision.reference, 0) + 1
        else:
            raise broken("revision", where, "该修订记录没有对应的审计事件：它不是经由系统写入的",
                         "no audit event vouches for this revision: it was not written by the system")  # fmt: skip
        previous = (version, stored, _view_hash(state))
        latest.setdefault(entity, {})[record_id] = (version, stored)
        if entity == RULE:
            rule_versions[(record_id, version)] = stored
        report.revisions += 1
    missing = sorted(set(claims.single) - seen)
    if missing:
        pk = missing[0]
        raise broken(
            "revision", f"修订记录 #{pk}（审计事件 #{claims.single[pk][1]}） / revision #{pk} (audit event #{claims.single[pk][1]})",
            "审计事件记载的修订记录已不存在：历史被删除", "a revision recorded by the audit chain is gone: history was deleted",
        )  # fmt: skip
    for reference, (first, last, claimed, seq) in claims.batches.items():
        if revisions_digest(first, last, reference) != claimed:
            raise broken(
                "revision", f"批量 {reference}（审计事件 #{seq}） / batch {reference} (audit event #{seq})",
                "批量写入的修订记录与审计事件不符（被增删或改写）",
                "the batch's revisions differ from what its audit event recorded",
            )  # fmt: skip
    return latest


def _check_succession(where: str, revision: Any, previous: tuple[int, str, bytes] | None) -> None:
    """Revision N follows N−1 of the same record: the next version, naming N−1's digest, and its state is
    N−1's state plus its changes. Revisions written before records had identities (format 1) carry no
    previous digest; their versions must still run on."""
    version, state = revision.version, revision.state
    expected = 1 if previous is None else previous[0] + 1
    if version != expected:
        raise broken("revision", where, f"该记录的修订版本不连续：缺少第 {expected} 版（历史被删除）",
                     f"the record's versions skip: version {expected} is missing (history deleted)")  # fmt: skip
    if previous is None:
        if revision.prev_digest:
            raise broken("revision", where, "第一版修订记录不应指向更早的版本",
                         "the first revision names an earlier one")  # fmt: skip
        return
    if "uid" not in state and not revision.prev_digest:
        return  # format 1: no succession recorded
    if revision.prev_digest != previous[1]:
        raise broken("revision", where, "修订记录指向的上一版摘要与实际上一版不符（历史被改写）",
                     "the revision names a previous digest that is not the previous revision's (history rewritten)")  # fmt: skip
    before = dict(state)
    for name, pair in revision.changes.items():
        if (pair[0] is None and name not in ("uid",) and name not in state) or (
            pair[0] is None and name == "uid"
        ):
            before.pop(name, None)
        else:
            before[name] = pair[0]
    if "uid" not in before:
        # The change that gave the record its identity: the state before it was format 1.
        return
    if hashlib.sha256(chain.canonical(view(before))).digest() != previous[2]:
        raise broken("revision", where, "该修订记录的内容不等于上一版加上本次变更（有人用篡改过的数据建立了新版本）",
                     "this revision is not the previous state plus its changes (a new version was built on tampered data)")  # fmt: skip


# --- collection rules ------------------------------------------------------------------------------------


def _verify_rules(vouched: dict[tuple[int, int], str]) -> None:
    """Every rule version is vouched for by a revision of its field's history, and every vouched version still
    exists, unchanged. A later version deleted (so that an earlier one silently applies again) or a rule
    inserted behind the system's back is a break."""
    first = dict(
        ((entity, field), pk)
        for entity, field, pk in CollectionRule.objects.filter(version=1).values_list("entity", "field", "pk")
    )
    for rule in CollectionRule.objects.order_by("entity", "field", "version").iterator():
        where = f"采集规则 {rule.entity}.{rule.field} 第 {rule.version} 版 / collection rule {rule.entity}.{rule.field} v{rule.version}"
        key = (first.get((rule.entity, rule.field), -1), rule.version)
        if vouched.pop(key, None) != rule_digest(rule):
            raise broken("rule", where, "该采集规则不是经由规则编辑写入的（或已被改写）",
                         "this collection rule was not written by the rules editor (or was altered)")  # fmt: skip
    if vouched:
        record, version = min(vouched)
        raise broken("rule", f"采集规则 #{record} 第 {version} 版 / collection rule #{record} v{version}",
                     "有修订记录的采集规则版本已被删除：较早的版本会悄悄重新生效",
                     "a collection rule version with history was deleted: an earlier one silently applies again")  # fmt: skip


# --- live rows -------------------------------------------------------------------------------------------


def _verify_rows(report: Report, spec: EntitySpec, latest: dict[int, tuple[int, str]]) -> None:
    table = spec.model._meta.db_table
    label = spec.label_field if spec.label_field != "pk" else "id"
    encrypted = list(spec.encrypted_fields.items())
    ring = keyring()
    seen = 0
    last = -1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, version, row_digest, {label}, {', '.join(spec.raw_columns)} FROM {table} "  # noqa: S608
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
                    raise broken("live_row", where, "该记录没有修订历史：它不是经由系统写入的",
                                 "the row has no history: it was not written by the system")  # fmt: skip
                if (
                    state_digest(spec.name, version, chain.canonical(view(state))) != row_digest
                    or (version, row_digest) != history
                ):
                    raise broken("live_row", where, "当前记录与其最新修订不一致：有人绕过系统修改了数据库",
                                 "the live row differs from its latest revision: the database was changed behind the system's back")  # fmt: skip
                for name, enc in encrypted:
                    value = state[name]
                    if not value:
                        continue
                    try:
                        plain = ring.decrypt(
                            base64.b64decode(value["enc"]), aad=aad(enc.domain, uuid.UUID(state["uid"]))
                        )
                    except DecryptionError:
                        raise broken("live_row", f"{where} · {name}", "加密数据无法用本记录的身份解密：密文是从别处复制来的，或密钥不对",
                                     "the encrypted value does not decrypt as this record's: copied from elsewhere, or the wrong key") from None  # fmt: skip
                    if enc.index.index_of(plain) != value["idx"]:
                        raise broken("live_row", f"{where} · {name}", "加密数据与其检索索引不一致：密文被换成了旧值，或索引密钥不对",
                                     "the encrypted value and its search index disagree: an old ciphertext put back, or the wrong index key")  # fmt: skip
                    report.decrypted += 1
                seen += 1
            last = rows[-1][0]
    if latest:
        pk = min(latest)
        raise broken("live_row", f"{spec.name} #{pk}", "有修订历史的记录已不在数据库中：记录被删除",
                     "a record with history is gone from the database: it was deleted")  # fmt: skip
    report.rows[spec.name] = seen


# --- workflow rows ---------------------------------------------------------------------------------------


def _verify_workflows(claims: Claims) -> None:
    for model in (ChangeRequest, MaintenanceOrder, BatchApplication):
        object_type = model.workflow.name
        for row in model.objects.order_by("pk").iterator():
            if row.seal != row_seal(row):
                raise broken("workflow", str(row), "审核单、维护单或批量申请的内容与其校验值不符：有人绕过系统修改了它",
                             "a review request, maintenance order or batch application differs from its seal: changed outside the system")  # fmt: skip
            claim = claims.workflow.get((object_type, str(row.pk)))
            if claim is None:
                raise broken("workflow", str(row), "没有审计事件记载该审核单、维护单或批量申请：它不是经由系统写入的",
                             "no audit event records this row: it was not written by the system")  # fmt: skip
            if (claim[0], claim[1]) != (row.step, row.seal):
                raise broken("workflow", f"{row}（审计事件 #{claim[2]}）",
                             "审核单、维护单或批量申请回到了早先的状态：与审计记录的最新一步不符",
                             "the row was put back to an earlier state: it is not what the latest audit event recorded")  # fmt: skip
