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
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from django.db import connection, models

from sidms.audit.models import ChainHead
from sidms.audit.verify import (
    CHECKS,
    Broken,
    Claims,
    Problem,
    Report,
    broken,
    cpu_since,
    cpu_times,
    parallel_map,
    parallel_workers,
    time_column,
    verify_chain,
    verify_chain_since,
    verify_checkpoints,
)
from sidms.changes.batches import revisions_digest
from sidms.changes.models import BatchApplication, ChangeRequest, MaintenanceOrder, Revision
from sidms.changes.rules import ENTITY as RULE
from sidms.changes.rules import rule_digest
from sidms.changes.seals import row_seal, seal_bytes_of
from sidms.core.fields import aad
from sidms.core.guards import guard_problem
from sidms.core.kernel import (
    ENTITIES,
    LEDGER,
    EntitySpec,
    cipher_macer,
    raw_state,
    state_digest,
    state_digester,
    uid_text,
    view,
)
from sidms.core.keys import keyring
from sidms.lib import chain
from sidms.lib.crypto import DecryptionError
from sidms.parameters.models import CollectionRule

__all__ = ["Report", "register_succession_view", "verify_since_checkpoint", "verify_store"]

# How the states of an entity that is not declared (staff accounts) are compared from one revision to the next,
# registered by the app that owns it (dependency inversion): what a state held that its digest no longer
# covers is dropped on both sides. Without one, the states are compared as stored.
SUCCESSION_VIEWS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def register_succession_view(entity: str, view_of: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    SUCCESSION_VIEWS[entity] = view_of


def verify_store(*, workers: int | None = None) -> Report:
    """The whole store, using WORKERS processes (default: every core, where other processes can see the
    data). Names the first broken record, cheapest evidence first."""
    report = Report()
    started, cpu = time.perf_counter(), cpu_times()
    processes = report.processes = parallel_workers(workers)
    try:
        _verify_keys()
        report.last_revision = _last_revision()
        report.row_tops = _row_tops()
        claims = verify_chain(report, workers=processes)
        verify_checkpoints(report)
        digests, others = _verify_entities(report, claims, processes)
        _verify_the_rest(report, claims, digests, others)
        _verify_workflows(claims)
    except Broken as failure:
        report.problem = failure.problem
    report.seconds, report.cpu = time.perf_counter() - started, cpu_since(cpu)
    return report


def verify_since_checkpoint(*, sample: int = 1000, workers: int | None = None) -> Report:
    """The nightly check (`sidms audit verify --since-checkpoint`): what was appended since the last
    verified point, plus SAMPLE random live rows of each entity, each with its whole history.

    Checked: the events since the point (linked to the event the point proved, which must still have its
    hash) and the chain head; every checkpoint; every record that a new event or revision touched, and every
    row inserted since; the random sample; collection rules and staff accounts in full (small tables); the
    workflow rows that new events name or that are still open. Not checked: an old event, revision or row
    altered without touching anything new — the sample finds such a change with the sample's probability,
    the weekly full `sidms audit verify` always. Without a verified point this runs the full verification."""
    from sidms.audit.checkpoints import read_verified

    try:
        point = read_verified()
    except ValueError:
        report = Report(incremental=True)
        report.problem = broken(
            "checkpoint", "已验证点 / verified point", "上次验证的记录文件被篡改：无法判断哪些数据已验证，请执行完整验证",
            "the record of the last verification was altered: run the full verification",
        ).problem  # fmt: skip
        return report
    if point is None:
        return verify_store(workers=workers)
    report = Report(incremental=True, since_seq=point.seq)
    started, cpu = time.perf_counter(), cpu_times()
    processes = report.processes = parallel_workers(workers)
    try:
        _verify_keys()
        report.last_revision = _last_revision()
        report.row_tops = _row_tops()
        claims = verify_chain_since(report, point.seq, point.hash, workers=processes)
        claims.vouched_before = point.revision
        verify_checkpoints(report)
        chosen = _touched_since(point.revision, point.rows, claims)
        for entity, ids in _random_rows(sample).items():
            fresh = ids - chosen.setdefault(entity, set())
            report.sampled += len(fresh)
            chosen[entity] |= fresh
        _verify_chosen(report, claims, chosen, processes)
        _verify_the_rest(report, claims)
        _verify_workflows(claims, since=True)
    except Broken as failure:
        report.problem = failure.problem
    report.seconds, report.cpu = time.perf_counter() - started, cpu_since(cpu)
    return report


def _verify_the_rest(
    report: Report, claims: Claims, digests: dict[str, str] | None = None, others: _Others | None = None
) -> None:
    """What both runs read in full (small tables): the revisions of rules and accounts (OTHERS, if a worker
    already checked them), every claim met, the rules, the registered checks (accounts, reference data), and
    no history of an unknown entity."""
    latest, rule_versions, tally = others if others is not None else _other_revisions(claims)
    if tally.problem is not None:
        raise Broken(tally.problem)
    report.revisions += tally.revisions
    report.singles_seen += tally.singles
    for reference, count in tally.batched.items():
        report.batched[reference] = report.batched.get(reference, 0) + count
    latest.pop(RULE, None)
    _verify_claims_met(claims, report, digests or {})
    _verify_rules(rule_versions)
    for check in CHECKS:
        check(report, latest)
    # Last, so that what a lifted guard let through is named first: a guard still lifted, or put back
    # disabled or toothless, is itself named (an opening that no data shows yet).
    guard = guard_problem(connection)
    if guard is not None:
        relation, what = guard
        raise broken(
            "guard", f"{relation}（{what}）",
            "只增表的防篡改触发器缺失、被禁用或被改写：有人绕过系统打开了修改或删除的通道",
            "an append-only table's guard is missing, disabled or rewritten: someone opened it to updates "
            "or deletes outside the system",
        )  # fmt: skip
    if latest:
        entity = sorted(latest)[0]
        raise broken(
            "revision", f"修订记录（{entity}） / revisions of {entity}", "有修订记录的实体已不存在",
            "revisions name an entity the system does not know",
        )  # fmt: skip


def record_verified(report: Report) -> None:
    """After a verification that found nothing: remember how far it reached, for the next incremental run."""
    from sidms.audit.checkpoints import write_verified

    if report.ok and report.last_seq:
        write_verified(
            report.last_seq, report.last_hash, report.last_revision, report.row_tops,
            incremental=report.incremental,
        )  # fmt: skip


def _last_revision() -> int:
    return Revision.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _records() -> dict[str, EntitySpec]:
    """The registry entities: their rows are checked against their revisions here. Ledger facts have no
    revisions; the app that writes them vouches for them with a check of its own (register_check)."""
    return {name: spec for name, spec in ENTITIES.items() if spec.kind != LEDGER}


def _row_tops() -> dict[str, int]:
    """The highest row id of each entity: rows above it at the next incremental run are new."""
    tops: dict[str, int] = {}
    with connection.cursor() as cursor:
        for name, spec in _records().items():
            cursor.execute(f"SELECT MAX(id) FROM {spec.model._meta.db_table}")  # noqa: S608
            tops[name] = cursor.fetchone()[0] or 0
    return tops


def _touched_since(revision: int, tops: dict[str, int], claims: Claims) -> dict[str, set[int]]:
    """Record ids per entity that changed since the verified point: those of revisions after it, of the
    revisions the new events claim (a revision numbered before the point may commit after it), and rows
    inserted since (a row inserted behind the system's back has no revision to name it)."""
    out: dict[str, set[int]] = {name: set() for name in _records()}

    def add(rows: Any) -> None:
        for entity, record_id in rows:
            if entity in out:
                out[entity].add(int(record_id))

    add(Revision.objects.filter(pk__gt=revision).values_list("entity", "record_id").distinct().iterator())
    claimed = sorted(claims.single)
    for start in range(0, len(claimed), 500):
        add(Revision.objects.filter(pk__in=claimed[start : start + 500]).values_list("entity", "record_id"))
    for reference, (first, last, _digest, _seq) in claims.batches.items():
        batch = Revision.objects.filter(pk__gte=first, pk__lte=last, reference=reference)
        add(batch.values_list("entity", "record_id").distinct().iterator())
    for name, spec in _records().items():
        new = spec.model._default_manager.filter(pk__gt=tops.get(name, 0)).values_list("pk", flat=True)
        out[name].update(new.iterator())
    return out


def _random_rows(sample: int) -> dict[str, set[int]]:
    """SAMPLE ids of each entity drawn at random from its lowest to its highest id (a drawn id with no row and
    no history is simply absent), with the system's random source so that nobody can predict them. From the
    lowest, not from 1: a store whose ids start high (a PostgreSQL sequence after deletions or restores)
    would otherwise spend its sample on ids that never existed."""
    chooser = random.SystemRandom()
    out: dict[str, set[int]] = {}
    if sample <= 0:
        return out
    with connection.cursor() as cursor:
        for name, spec in _records().items():
            cursor.execute(f"SELECT MIN(id), MAX(id) FROM {spec.model._meta.db_table}")  # noqa: S608
            low, top = cursor.fetchone()
            if top is not None:
                span = range(int(low), int(top) + 1)
                out[name] = set(chooser.sample(span, min(sample, len(span))))
    return out


GROUP = 500  # record ids per query


def _verify_chosen(report: Report, claims: Claims, chosen: dict[str, set[int]], workers: int) -> None:
    """The chosen records of each entity, each with its whole history, spread over WORKERS processes."""
    from sidms.audit import verify as audit_verify

    audit_verify.CLAIMS = claims  # inherited by the forked workers, not pickled
    tasks: list[tuple[str, tuple[tuple[int, ...], ...]]] = []
    for name, ids in chosen.items():
        ordered = sorted(ids)
        groups = tuple(tuple(ordered[i : i + GROUP]) for i in range(0, len(ordered), GROUP))
        per_task = max(1, len(groups) // (max(1, workers) * 4) + 1)
        tasks += [(name, groups[i : i + per_task]) for i in range(0, len(groups), per_task)]
    for (name, _groups), tally in zip(tasks, parallel_map(_verify_groups, tasks, workers), strict=True):
        _absorb(report, name, tally)


def _verify_groups(entity: str, groups: tuple[tuple[int, ...], ...]) -> _Tally:
    total = _Tally()
    for ids in groups:
        tally = _verify_range(entity, ids[0], ids[-1] + 1, ids)
        if tally.problem is not None:
            return tally
        total.revisions += tally.revisions
        total.rows += tally.rows
        total.singles += tally.singles
        for reference, count in tally.batched.items():
            total.batched[reference] = total.batched.get(reference, 0) + count
    return total


def _absorb(report: Report, name: str, tally: _Tally) -> None:
    if tally.problem is not None:
        raise Broken(tally.problem)
    report.revisions += tally.revisions
    report.rows[name] = report.rows.get(name, 0) + tally.rows
    report.singles_seen += tally.singles
    for reference, count in tally.batched.items():
        report.batched[reference] = report.batched.get(reference, 0) + count


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


# --- revisions and live rows ------------------------------------------------------------------------------


def _revision_columns() -> str:
    return (
        "id, entity, record_id, version, state, digest, prev_digest, reference, "
        f"{time_column(connection.vendor)[0]}, actor, channel, method, request_id, changes, notes, seal"
    )


@contextmanager
def _binary_cursor() -> Iterator[Any]:
    """A cursor for `_verify_range`'s reads. PostgreSQL: a psycopg cursor whose results come in binary (call
    ``execute(sql, params, binary=True)``): integers as integers and bytea as its bytes, with no text for the
    server to write and this process to parse, and each jsonb as the bytes of its binary form (a version
    byte, then the JSON text, UTF-8 as the connection is): parsed once by orjson, with no str decoded first
    and encoded again for the parser. Half of a revision's reading cost. Elsewhere the connection's cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg
    from psycopg.types.string import ByteaBinaryLoader

    connection.ensure_connection()
    if connection.connection.info.encoding != "utf-8":  # pragma: no cover  (Django connects in UTF-8)
        raise RuntimeError("verification needs a UTF-8 connection: revisions are parsed as UTF-8")
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.adapters.register_loader("jsonb", ByteaBinaryLoader)
        yield cursor


def _execute(cursor: Any, sql: str, params: Sequence[Any]) -> None:
    if connection.vendor == "postgresql":
        cursor.execute(sql, params, binary=True)
    else:
        cursor.execute(sql, params)


RANGE = 50_000  # record ids per task: enough to keep a worker busy, small enough to spread over the cores
FETCH = 5000  # rows per fetch


@dataclass
class _Tally:
    revisions: int = 0
    rows: int = 0
    singles: int = 0
    batched: dict[str, int] = field(default_factory=dict)
    problem: Problem | None = None


# What a record's next revision (or its live row) is checked against: version, digest, canonical view, view.
_Previous = tuple[int, str, bytes, dict[str, Any]]

_PLAIN_TYPES = frozenset({str, type(None)})


def _same(view: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two views have the same canonical bytes, without writing either, when that is quick to tell:
    True only if they do. Equal dicts whose values in VIEW are all text or null are the same JSON (a text
    equals only a text, null only null); any other value (1 == 1.0 == True) is compared by its canonical
    bytes. False may still be the same bytes: the caller then compares those."""
    if view != other:
        return False
    if _PLAIN_TYPES.issuperset(map(type, view.values())):
        return True
    for key, value in view.items():
        kind = value.__class__
        if kind is str or value is None:
            continue
        theirs = other[key]
        if kind is not theirs.__class__:
            return False
        if (
            kind is not int
            and kind is not bool
            and chain.canonical({"": value}, parsed=True) != chain.canonical({"": theirs}, parsed=True)
        ):
            return False
    return True


def _where(pk: int, entity: str, record_id: int, version: int) -> str:
    return f"修订记录 #{pk}（{entity} #{record_id} 第 {version} 版） / revision #{pk} ({entity} #{record_id} v{version})"


def _revision_checker(
    claims: Claims, tally: _Tally, *, jsonb: bool = False
) -> Callable[[tuple[Any, ...], _Previous | None], _Previous]:
    """The check of one revision (a row of `_revision_columns`) after the one before it of the same record:
    its digest, its seal, its place in its record's chain, and the event that vouches for it. Returns what
    the record's next revision is checked against. Built once per task: verification checks millions of
    revisions, and looking up the key ring, the digest's constant part and the claims once per revision
    cost as much as the checks. JSONB: the rows come from `_binary_cursor` on PostgreSQL (state, changes and
    notes as the bytes of jsonb's binary form)."""
    mac = keyring().mac_function()
    loads, canonical, seal_bytes, same = orjson.loads, chain.canonical_parsed, seal_bytes_of, _same
    # Per entity: its digester, its flags, its view and whether it is declared. A flag
    # (kernel.EntitySpec.flags) is in a state only while set: its old value None in a change is its absence
    # from the state before, not a stored None.
    kinds: dict[
        str, tuple[Callable[[int, bytes], str], frozenset[str], Callable[[dict[str, Any]], Any], str]
    ] = {}

    def kind_of(
        entity: str,
    ) -> tuple[Callable[[int, bytes], str], frozenset[str], Callable[[dict[str, Any]], Any], str]:
        spec = ENTITIES.get(entity)
        kinds[entity] = (
            state_digester(entity),
            frozenset(spec.flags) if spec is not None else frozenset(),
            _viewer(tuple(spec.encrypted_fields) if spec is not None else ()),
            "" if spec is not None else entity,
        )
        return kinds[entity]

    single, batches, vouched_before, batched = (
        claims.single,
        claims.batches,
        claims.vouched_before,
        tally.batched,
    )
    when = time_column(connection.vendor)[1] or str  # str: the column is already the seal's text

    def check(revision: tuple[Any, ...], previous: _Previous | None) -> _Previous:
        (pk, entity, record_id, version, state, stored, prior, reference, at, actor, channel, method, request_id,
         changes, notes, seal) = revision  # fmt: skip
        if jsonb:  # jsonb's binary form: a version byte, then the text
            state, changes, notes = loads(state[1:]), loads(changes[1:]), loads(notes[1:])
        else:
            state = loads(state) if isinstance(state, str | bytes) else state
            changes = loads(changes) if isinstance(changes, str | bytes) else changes
            notes = loads(notes) if isinstance(notes, str | bytes) else notes
        digester, flags, view_of, plain = kinds.get(entity) or kind_of(entity)
        viewed = view_of(state)
        body = canonical(viewed)
        if digester(version, body) != stored:
            raise broken("revision", _where(pk, entity, record_id, version), "修订记录的内容与其摘要不符（历史被篡改）",
                         "the revision's content does not match its digest (history altered)")  # fmt: skip
        metadata = mac(
            seal_bytes(
                entity, record_id, version, when(at), actor, channel, method, request_id, reference, changes,
                notes, stored, prior,
            )
        )  # fmt: skip
        if metadata != seal:
            raise broken("revision", _where(pk, entity, record_id, version), "修订记录的操作人、时间、方式或变更内容与其校验值不符（历史被篡改）",
                         "the revision's actor, time, method or changes do not match its seal (history altered)")  # fmt: skip
        if (
            previous is not None
            and version == previous[0] + 1
            and prior
            and prior == previous[1]
            and "uid" in state
        ):
            # The common case of _check_succession, on the view already built: the view of the state before
            # this change is this view with the changed fields put back (view() reduces field by field).
            before = dict(viewed)
            for name, pair in changes.items():
                old = pair[0]
                if old is None and (name == "uid" or name not in state or name in flags):
                    before.pop(name, None)
                else:
                    before[name] = old["idx"] if isinstance(old, dict) and "enc" in old else old
            if "uid" in before and not same(before, previous[3]):
                _check_succession(
                    _where(pk, entity, record_id, version), version, state, prior, changes, previous, flags
                )
        elif previous is None and version == 1 and not prior:
            pass  # a record's first revision, naming none before it: all _check_succession asks of it
        else:
            _check_succession(
                _where(pk, entity, record_id, version), version, state, prior, changes, previous, flags,
                plain=plain,
            )  # fmt: skip
        claim = single.get(pk)
        if claim is not None:
            tally.singles += 1
            if claim[0] != stored:
                raise broken("revision", _where(pk, entity, record_id, version), "修订记录与审计事件记载的摘要不符",
                             "the revision differs from the digest its audit event recorded")  # fmt: skip
        elif (span := batches.get(reference)) is not None and span[0] <= pk <= span[1]:
            batched[reference] = batched.get(reference, 0) + 1
        elif pk > vouched_before:
            raise broken("revision", _where(pk, entity, record_id, version), "该修订记录没有对应的审计事件：它不是经由系统写入的",
                         "no audit event vouches for this revision: it was not written by the system")  # fmt: skip
        tally.revisions += 1
        return (version, stored, body, viewed)

    return check


def _viewer(encrypted: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``view`` of a state parsed from JSON (plain dicts only) of an entity whose encrypted fields are
    ENCRYPTED: the same dict, with the encrypted fields looked at by name and only then the state's other
    values scanned (by type, in C) for an object that ``view`` would look into (then ``view`` decides)."""

    def view_of(state: dict[str, Any]) -> dict[str, Any]:
        if "uid" not in state:
            return state
        if not encrypted:
            return state if dict not in map(type, state.values()) else view(state)
        out = state.copy()
        objects = 0
        for name in encrypted:
            value = out.get(name)
            if value.__class__ is dict:
                objects += 1
                if "enc" in value:
                    out[name] = value["idx"]
        if objects != list(map(type, state.values())).count(dict):
            return view(state)
        return out

    return view_of


def _view_reader(spec: EntitySpec) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """``view(raw_state(spec, raw))`` of a raw row of ``spec.raw_columns``, field by field as raw_state
    converts it, without building the state first (verification reads every live row). An encrypted field's
    view is its stored blind index; raw_state ignored the index of a field without a ciphertext, which is
    here the index too, so that an index planted on a row without the value is caught ("" is what the
    system writes there)."""
    n = len(spec.fields)
    ids = [
        i for i, name in enumerate(spec.fields) if name.endswith("_id") and name not in spec.encrypted_fields
    ]
    encrypted = {name: n + k for k, name in enumerate(spec.encrypted_fields)}
    plain = [i for i in range(n) if i not in ids and spec.fields[i] not in encrypted]
    keys = [spec.fields[i] for i in plain] + [spec.fields[i] for i in ids] + list(encrypted) + ["uid"]
    index_positions = list(encrypted.values())
    flags = [(flag, n + len(encrypted) + k) for k, flag in enumerate(spec.flags)]  # in the view while set
    simple = (str, int, bool)

    def read(raw: Sequence[Any]) -> dict[str, Any]:
        values = [v if v is None or v.__class__ in simple else _represent(v) for v in [raw[i] for i in plain]]
        values += [None if raw[i] is None else str(raw[i]) for i in ids]
        values += [raw[i] or "" for i in index_positions]
        values.append(uid_text(raw[-1]))
        out = dict(zip(keys, values, strict=True))
        for flag, i in flags:
            if raw[i]:
                out[flag] = True
        return out

    return read


def _row_columns(spec: EntitySpec) -> list[str]:
    """``spec.raw_columns`` as verification selects them: on SQLite a date column as the text Django stored,
    which is what raw_state makes of the date the driver's Python converter would parse from it (a text that
    is not exactly that, say "2020-1-5", no longer passes: stricter, never laxer)."""
    if connection.vendor != "sqlite":
        return spec.raw_columns
    dates = {
        str(spec.field(name).column)
        for name in spec.fields
        if name not in spec.encrypted_fields
        and isinstance(spec.field(name), models.DateField)
        and not isinstance(spec.field(name), models.DateTimeField)
    }
    return [f"CAST({column} AS TEXT)" if column in dates else column for column in spec.raw_columns]


_SIMPLE_TYPES = frozenset({str, int, bool, type(None)})


def _row_reader(spec: EntitySpec) -> tuple[list[str], int, Callable[[Sequence[Any]], dict[str, Any]]]:
    """What `_verify_range` selects of a live row after its five leading columns, where its ciphertexts start
    among them, and the reader of its view from them: what ``_view_reader`` reads from ``spec.raw_columns``,
    with as much as the database can do selected as the text the view holds, so that the reader only pairs
    names with values. The view's columns first (in the order of the view's keys), then the flags, then the
    ciphertexts.

    PostgreSQL: a key as text (a bigint's decimal digits, a varchar itself: ``str`` of what the driver
    gives), a date as ISO text (``date.isoformat`` for every date Python can hold; one it cannot, which the
    driver refused to load, no longer matches), the uid as its text (lower-case, hyphenated, as
    ``uid_text`` writes a UUID). SQLite: the date as the text Django stored, as ``_row_columns`` does; keys
    and uid converted here, as ``_view_reader`` converts them. Any other value that is not text, a number,
    a boolean or null is represented as ``_view_reader`` represents it."""
    postgres = connection.vendor == "postgresql"
    sqlite_columns = dict(zip(spec.raw_columns, _row_columns(spec), strict=True))
    keys: list[str] = []
    columns: list[str] = []
    converters: list[tuple[str, Callable[[Any], Any]]] = []
    plain: list[str] = []
    for name in spec.fields:
        field_ = spec.field(name)
        column = str(field_.column)
        keys.append(name)
        enc = spec.encrypted_fields.get(name)
        if enc is not None:
            columns.append(f"COALESCE({enc.index.column}, '')")
        elif name.endswith("_id"):
            if postgres:
                columns.append(f"CAST({column} AS TEXT)")
            else:
                columns.append(column)
                converters.append((name, _key_text))
        elif (
            postgres and isinstance(field_, models.DateField) and not isinstance(field_, models.DateTimeField)
        ):
            columns.append(f"to_char({column}, 'YYYY-MM-DD')")
        else:
            columns.append(column if postgres else sqlite_columns[column])
            plain.append(name)
    keys.append("uid")
    if postgres:
        columns.append("uid::text")
    else:
        columns.append("uid")
        converters.append(("uid", uid_text))
    n = len(columns)
    flags = [(flag, n + k) for k, flag in enumerate(spec.flags)]  # in the view while set
    columns += [str(spec.field(flag).column) for flag in spec.flags]
    ciphertexts = len(columns)
    columns += [str(spec.field(name).column) for name in spec.encrypted_fields]
    simple = _SIMPLE_TYPES

    def read(raw: Sequence[Any]) -> dict[str, Any]:
        out = dict(zip(keys, raw[:n], strict=True))
        for name, convert in converters:
            out[name] = convert(out[name])
        if not simple.issuperset(map(type, out.values())):
            for name in plain:
                out[name] = _represent(out[name])
        for flag, i in flags:
            if raw[i]:
                out[flag] = True
        return out

    return columns, ciphertexts, read


def _key_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _represent(value: Any) -> Any:
    """A raw column value as raw_state represents a field that is neither a key nor encrypted."""
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _verify_range(entity: str, low: int, high: int, ids: tuple[int, ...] = ()) -> _Tally:
    """Revisions and live rows of ENTITY with record ids in [LOW, HIGH) — only those in IDS, if given —
    read side by side in id order (a merge join: no record's history is held longer than it is read)."""
    from sidms.audit.verify import CLAIMS

    spec = ENTITIES[entity]
    tally = _Tally()
    table = spec.model._meta.db_table
    label = spec.label_field if spec.label_field != "pk" else "id"
    chosen = f" AND {{}} IN ({', '.join(['%s'] * len(ids))})" if ids else ""
    check = _revision_checker(CLAIMS, tally, jsonb=connection.vendor == "postgresql")
    columns, ciphertexts, read_view = _row_reader(spec)
    encrypted = bool(spec.encrypted_fields)
    ciphertexts += 5
    mac_of = cipher_macer(spec)
    canonical, same = chain.canonical, _same

    def gone(record: int) -> Broken:
        return broken("live_row", f"{spec.name} #{record}", "有修订历史的记录已不在数据库中：记录被删除",
                      "a record with history is gone from the database: it was deleted")  # fmt: skip

    try:
        with _binary_cursor() as revisions_cursor, _binary_cursor() as rows_cursor:
            _execute(
                revisions_cursor,
                f"SELECT {_revision_columns()} FROM changes_revision WHERE entity = %s AND record_id >= %s "  # noqa: S608
                f"AND record_id < %s{chosen.format('record_id')} ORDER BY record_id, version",
                [entity, low, high, *ids],
            )
            _execute(
                rows_cursor,
                f"SELECT id, version, row_digest, cipher_mac, {label}, {', '.join(columns)} FROM {table} "  # noqa: S608
                f"WHERE id >= %s AND id < %s{chosen.format('id')} ORDER BY id",
                [low, high, *ids],
            )
            pending = revisions_cursor.fetchmany(FETCH)
            index = 0
            for rows in iter(lambda: rows_cursor.fetchmany(FETCH), []):
                for row in rows:
                    pk = row[0]
                    # the revisions of records before this row have no row: deleted
                    latest: _Previous | None = None
                    while True:
                        if index >= len(pending):
                            pending, index = revisions_cursor.fetchmany(FETCH), 0
                            if not pending:
                                break
                        revision = pending[index]
                        if revision[2] > pk:
                            break
                        if revision[2] < pk:
                            raise gone(revision[2])
                        latest = check(revision, latest)
                        index += 1
                    if latest is None:
                        raise broken("live_row", f"{spec.name} #{pk}（{row[4]}）", "该记录没有修订历史：它不是经由系统写入的",
                                     "the row has no history: it was not written by the system")  # fmt: skip
                    # The latest revision's digest was just proven to cover its view: the row is intact when it
                    # names that version and digest and its own view is byte for byte the same (no MAC needed).
                    shown = read_view(row[5:])
                    if (row[1], row[2]) != latest[:2] or (
                        not same(shown, latest[3]) and canonical(shown, parsed=True) != latest[2]
                    ):
                        raise broken("live_row", f"{spec.name} #{pk}（{row[4]}）", "当前记录与其最新修订不一致：有人绕过系统修改了数据库",
                                     "the live row differs from its latest revision: the database was changed behind the system's back")  # fmt: skip
                    if encrypted and mac_of(shown["uid"], row[ciphertexts:]) != row[3]:
                        raise broken("live_row", f"{spec.name} #{pk}（{row[4]}） · ciphertext", "加密数据不是本记录写入的：密文是从别处复制来的，或被换成了旧值",
                                     "an encrypted value was not written for this record: copied from elsewhere, or an old one put back")  # fmt: skip
                    tally.rows += 1
            if index < len(pending) or revisions_cursor.fetchmany(1):
                raise gone(pending[index][2] if index < len(pending) else high)
    except Broken as failure:
        tally.problem = failure.problem
    return tally


def _verify_entities(report: Report, claims: Claims, workers: int) -> tuple[dict[str, str], _Others]:
    """Every declared entity's revisions and rows, in ranges of record ids spread over WORKERS processes,
    and beside them the digest of each batch's revisions (by batch reference, for _verify_claims_met to
    compare with its event: a large batch's digest is a task as long as a range) and the revisions of what
    is not a declared entity (for _verify_the_rest)."""
    from sidms.audit import verify as audit_verify

    audit_verify.CLAIMS = claims  # inherited by the forked workers, not pickled
    # The batches and the other revisions first: each is one task that cannot be split, so it must not be the
    # last to start.
    tasks: list[tuple[str, str, int, int]] = [
        ("batch", reference, first, last)
        for reference, (first, last, _digest, _seq) in claims.batches.items()
    ]
    tasks.append(("others", "", 0, 0))
    spread = max(1, workers) * 4  # several tasks per worker, so that one large entity is shared
    with connection.cursor() as cursor:
        for name, spec in _records().items():
            cursor.execute(
                "SELECT MAX(record_id) FROM changes_revision WHERE entity = %s",
                [name],
            )
            top_revision = cursor.fetchone()[0] or 0
            cursor.execute(f"SELECT MAX(id) FROM {spec.model._meta.db_table}")  # noqa: S608
            top_row = cursor.fetchone()[0] or 0
            top = max(top_revision, top_row)
            step = max(1000, min(RANGE, top // spread + 1))
            tasks += [("range", name, low, low + step) for low in range(0, top + 1, step)]
    digests: dict[str, str] = {}
    others: _Others | None = None
    results = parallel_map(_entity_task, tasks, workers)
    for (kind, name, _low, _high), result in zip(tasks, results, strict=True):
        if kind == "batch":
            digests[name] = result
        elif kind == "others":
            others = result
        else:
            _absorb(report, name, result)
    assert others is not None
    return digests, others


def _entity_task(kind: str, name: str, low: int, high: int) -> Any:
    from sidms.audit.verify import CLAIMS

    if kind == "batch":
        return revisions_digest(low, high, name)
    if kind == "others":
        return _other_revisions(CLAIMS)
    return _verify_range(name, low, high)


_Latest = dict[
    str, dict[int, tuple[int, str]]
]  # entity -> record id -> (version, digest) of its latest revision
_Others = tuple[_Latest, dict[tuple[int, int], str], _Tally]


def _other_revisions(claims: Claims) -> _Others:
    """Revisions of what is not a declared entity (collection rules, staff accounts): checked the same way.
    Returns their latest versions, for the checks that own them, and the rule versions they vouch for."""
    latest: _Latest = {}
    rule_versions: dict[tuple[int, int], str] = {}
    tally = _Tally()
    check = _revision_checker(claims, tally)
    names = list(ENTITIES)
    marks = ", ".join(["%s"] * len(names))
    previous: _Previous | None = None
    current: tuple[str, int] = ("", -1)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {_revision_columns()} FROM changes_revision WHERE entity NOT IN ({marks}) "  # noqa: S608
                "ORDER BY entity, record_id, version",
                names,
            )
            for revision in iter(lambda: cursor.fetchmany(FETCH), []):
                for row in revision:
                    if (row[1], row[2]) != current:
                        current, previous = (row[1], row[2]), None
                    previous = check(row, previous)
                    latest.setdefault(row[1], {})[row[2]] = previous[:2]
                    if row[1] == RULE:
                        rule_versions[(row[2], row[3])] = row[5]
    except Broken as failure:
        tally.problem = failure.problem
    return latest, rule_versions, tally


def _verify_claims_met(claims: Claims, report: Report, digests: dict[str, str]) -> None:
    """Every revision an event names still exists (found by count, then named), and every batch's
    revisions are exactly those its event vouched for (their digest computed here unless in DIGESTS)."""
    if report.singles_seen != len(claims.single):
        ids = sorted(claims.single)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            found = set(Revision.objects.filter(pk__in=part).values_list("pk", flat=True))
            missing = [pk for pk in part if pk not in found]
            if missing:
                pk = missing[0]
                raise broken(
                    "revision", f"修订记录 #{pk}（审计事件 #{claims.single[pk][1]}） / revision #{pk} (audit event #{claims.single[pk][1]})",
                    "审计事件记载的修订记录已不存在：历史被删除", "a revision recorded by the audit chain is gone: history was deleted",
                )  # fmt: skip
    for reference, (first, last, claimed, seq) in claims.batches.items():
        computed = digests[reference] if reference in digests else revisions_digest(first, last, reference)
        if computed != claimed:
            raise broken(
                "revision", f"批量 {reference}（审计事件 #{seq}） / batch {reference} (audit event #{seq})",
                "批量写入的修订记录与审计事件不符（被增删或改写）",
                "the batch's revisions differ from what its audit event recorded",
            )  # fmt: skip


def _check_succession(
    where: str, version: int, state: dict[str, Any], prior: str, changes: dict[str, Any],
    previous: _Previous | None, flags: frozenset[str] = frozenset(), *, plain: str = "",
) -> None:  # fmt: skip
    """Revision N follows N−1 of the same record: the next version, naming N−1's digest, and its state is
    N−1's state plus its changes. Revisions written before records had identities (format 1) carry no
    previous digest; their versions must still run on. FLAGS: the entity's flags, absent from a state
    while unset (kernel.EntitySpec.flags).

    PLAIN: the name of an entity that is not declared (staff accounts, collection rules), which never carry
    a uid; their succession is checked all the same. It was skipped as if they were format 1: a post inserted
    in SQL and then vouched for by the account's next honest change was found by nothing (attack round 9)."""
    expected = 1 if previous is None else previous[0] + 1
    if version != expected:
        raise broken("revision", where, f"该记录的修订版本不连续：缺少第 {expected} 版（历史被删除）",
                     f"the record's versions skip: version {expected} is missing (history deleted)")  # fmt: skip
    if previous is None:
        if prior:
            raise broken("revision", where, "第一版修订记录不应指向更早的版本",
                         "the first revision names an earlier one")  # fmt: skip
        return
    if "uid" not in state and not prior and not plain:
        return  # format 1: no succession recorded
    if prior != previous[1]:
        raise broken("revision", where, "修订记录指向的上一版摘要与实际上一版不符（历史被改写）",
                     "the revision names a previous digest that is not the previous revision's (history rewritten)")  # fmt: skip
    before = dict(state)
    for name, pair in changes.items():
        if pair[0] is None and (name not in state or name == "uid" or name in flags):
            before.pop(name, None)
        else:
            before[name] = pair[0]
    if "uid" not in before and not plain:
        return  # the change that gave the record its identity: the state before it was format 1
    shown, was = view(before), previous[2]
    if plain in SUCCESSION_VIEWS:
        succession_view = SUCCESSION_VIEWS[plain]
        shown = succession_view(shown)
        was = chain.canonical(succession_view(orjson.loads(was)), parsed=True)
    if chain.canonical(shown, parsed=True) != was:
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


# --- workflow rows ---------------------------------------------------------------------------------------


def _verify_workflows(claims: Claims, *, since: bool = False) -> None:
    """Every workflow row matches its seal and what the latest audit event about it recorded. SINCE (an
    incremental run, whose claims come from the new events only): the rows new events name, and every row
    still open — the put-back that matters makes a decided row actionable again — whose latest event is
    looked up and checked against its own hash."""
    for model in (ChangeRequest, MaintenanceOrder, BatchApplication):
        object_type = model.workflow.name
        rows = model.objects.order_by("pk")
        if since:
            named = [int(pk) for kind, pk in claims.workflow if kind == object_type and str(pk).isdigit()]
            rows = rows.filter(models.Q(pk__in=named) | models.Q(status__in=_open_statuses(model)))
        for row in rows.iterator():
            if since and (object_type, str(row.pk)) not in claims.workflow:
                _claim_from_chain(claims, object_type, row.pk)
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


def _open_statuses(model: Any) -> set[str]:
    """The statuses in which a workflow row still waits for someone (its queues' and steps' statuses)."""
    workflow = model.workflow
    statuses = {queue.where.get("status") for queue in workflow.queues if queue.todo}  # not 已办 lists
    statuses |= {step.status for step in workflow.steps}
    return {status for status in statuses if status}


def _claim_from_chain(claims: Claims, object_type: str, pk: int) -> None:
    """The latest audit event that recorded a step of a workflow row (a refused attempt records none), read
    by the (object, seq) index and checked against its own hash, as the claim an incremental run compares
    the row with."""
    from sidms.audit.models import AuditEvent

    head = ChainHead.objects.filter(pk=1).first()
    algorithm = head.algorithm if head else "sm3"
    events = (
        AuditEvent.objects.filter(object_type=object_type, object_id=str(pk))
        .order_by("-seq")
        .values_list("seq", "prev_hash", "payload", "hash")
    )
    for seq, prev_hash, payload, digest_ in events.iterator(chunk_size=50):
        if chain.link(prev_hash, payload.encode("utf-8"), algorithm=algorithm) != digest_:
            raise broken(
                "audit_chain", f"审计事件 #{seq} / audit event #{seq}", "审计事件的哈希与其内容不符（被改写）",
                "the event's hash does not match its content (rewritten)",
            )  # fmt: skip
        detail = orjson.loads(payload).get("detail") or {}
        if "seal" in detail and "step" in detail:
            claims.workflow[(object_type, str(pk))] = (int(detail["step"]), str(detail["seal"]), seq)
            return
    # no claim: reported as "not written by the system"
