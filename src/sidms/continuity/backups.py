"""Backups and restore drills (R18.1–R18.3).

`sidms backup` takes a consistent online backup and registers it:

* the embedded store (SQLite): the SQLite online backup API copies the live database into a private
  scratch file, which is sealed (``backupfile``) under the key ring and removed;
* PostgreSQL: pgBackRest (``sidms.lib.pgops``) backs the cluster up into its encrypted repository, with the
  WAL archived by the cluster's ``archive_command``; then, holding the audit chain's head so that no audited
  write commits meanwhile, the record counts and the head are read and a named restore point is created, so
  a restore to that point holds exactly what the register says.

The register names the backup officer who ran it, the time, size, SHA-256, cipher and key version, the
audit chain head and record counts it contains, and where its media is kept. The retention policy keeps
the newest ``SIDMS_BACKUP_KEEP`` backups and the newest one that passed a drill.

`sidms restore-drill` restores a backup into a scratch database — checking the file's digest first, so a
changed byte is named before anything is decrypted — and runs the store verification there, in a separate
`sidms` process pointed at the copy; it compares the chain head and the record counts with the register and
records the drill (result, duration, operator). A failed drill is an integrity failure for the supervising
department's inbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.audit.models import Outcome
from sidms.changes.services import audited_refusals
from sidms.continuity import config
from sidms.continuity.backupfile import BackupFileError, decrypt_file, encrypt_file, file_digest
from sidms.continuity.base import advance, create, locked
from sidms.continuity.common import require
from sidms.continuity.models import (
    Backup,
    BackupEngine,
    BackupStatus,
    DrillKind,
    DrillResult,
    RestoreDrill,
    StorageMedium,
)
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, NotPermitted
from sidms.core.kernel import ENTITIES
from sidms.core.keys import keyring
from sidms.lib import pgops

MAY_NOT = _("Only the named backup officer takes backups and runs restore drills.")
Progress = Callable[[str], None]

# The tables whose row counts a backup records besides the governed entities'.
_TABLES = {"audit_event": "audit_auditevent", "revision": "changes_revision", "staff": "registry_staff"}


def counted_tables() -> dict[str, str]:
    tables = {name: spec.model._meta.db_table for name, spec in sorted(ENTITIES.items())}
    return {**tables, **_TABLES}


def _quiet(_: str) -> None:
    return None


class DrillFailed(Exception):
    """What a drill found wrong, in Chinese and English."""

    def __init__(self, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message = message
        self.message_en = message_en


# --------------------------------------------------------------------------------------------------------
# Taking a backup


def _officer(actor: Any) -> Caller:
    caller = require(actor, "backup.run", MAY_NOT)
    staff = caller.staff
    if not (staff.is_active and staff.has_valid_agreement()):
        raise NotPermitted(
            _("The backup officer's account is disabled or has no valid confidentiality agreement.")
        )
    return caller


def _label(now: datetime) -> str:
    base = now.astimezone(timezone.get_fixed_timezone(0)).strftime("%Y%m%dT%H%M%SZ")
    label, n = base, 1
    while Backup.objects.filter(label=label).exists():
        n += 1
        label = f"{base}-{n}"
    return label


def backup_take(
    *, actor: Any, location: str = "", medium: StorageMedium | None = None, kind: str = "full",
    progress: Progress = _quiet,
) -> Backup:  # fmt: skip
    """Take, seal and register a backup of the store, then apply the retention policy."""
    caller = _officer(actor)
    if connection.in_atomic_block:
        # SQLite's online backup would wait forever for this process's own open transaction.
        raise ChangeRefused(_("A backup is taken outside any open transaction."), code="transaction")
    started = timezone.now()
    where = location.strip() or (
        f"{medium.asset_no} · {medium.location}" if medium else config.backup_location()
    )
    if connection.vendor == "sqlite":
        taken = _sqlite_backup(_label(started), started, progress)
    elif connection.vendor == "postgresql":
        taken = _pg_backup(kind, progress)
    else:
        raise ChangeRefused(_("Backups are taken of SQLite and PostgreSQL stores only."), code="engine")
    with transaction.atomic():
        backup = Backup(
            label=taken.label, engine=taken.engine, kind=taken.kind, operator=caller.staff, started_at=started,
            finished_at=timezone.now(), path=taken.path, size=taken.size, digest=taken.digest, cipher=taken.cipher,
            key_version=taken.key_version, chain_seq=taken.chain_seq, chain_hash=taken.chain_hash, counts=taken.counts,
            restore_point=taken.restore_point, location=where, medium=medium,
        )  # fmt: skip
        create(
            backup, "backup.register", actor=caller,
            detail={"label": backup.label, "engine": backup.engine, "size": backup.size, "digest": backup.digest,
                    "chain_seq": backup.chain_seq, "chain_hash": backup.chain_hash, "location": where},
        )  # fmt: skip
    progress(f"registered backup {backup.label}: {backup.size:,} bytes, sha256 {backup.digest[:16]}…")
    pruned = backups_prune(actor=caller)
    if pruned:
        progress(f"retention: pruned {', '.join(pruned)}")
    return backup


@dataclass
class Taken:
    label: str
    engine: str
    kind: str
    path: str
    size: int
    digest: str
    cipher: str
    key_version: int | None
    chain_seq: int
    chain_hash: str
    counts: dict[str, int]
    restore_point: str = ""


def _private_dir(parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".snapshot-", dir=parent))


def _sqlite_backup(label: str, now: datetime, progress: Progress) -> Taken:
    directory = config.backup_dir()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    scratch = _private_dir(directory)
    try:
        plain = scratch / "snapshot.sqlite3"
        connection.ensure_connection()
        source = connection.connection
        target = sqlite3.connect(plain)
        try:
            # The online backup API: a consistent copy of the live database; writers of other connections
            # make it start over, so what it copies is one committed state.
            source.backup(target)
        finally:
            target.close()
        head, counts = _sqlite_contents(plain)
        ring = keyring()
        sealed = directory / f"sidms-{label}.sidmsbak"
        progress(f"snapshot taken ({plain.stat().st_size:,} bytes, chain head #{head[0]}); sealing …")
        size, digest = encrypt_file(plain, sealed, ring=ring, label=label, created_at=now.isoformat())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    cipher = "SM4-GCM" if ring.suite == "sm" else "AES-256-GCM"
    return Taken(label, BackupEngine.SQLITE, "snapshot", str(sealed), size, digest, cipher, ring.current,
                 head[0], head[1], counts)  # fmt: skip


def _sqlite_contents(path: Path) -> tuple[tuple[int, str], dict[str, int]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT seq, hash FROM audit_chainhead WHERE id = 1").fetchone()
        counts = {
            name: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
            for name, table in counted_tables().items()
        }
    finally:
        db.close()
    return (int(row[0]), str(row[1])) if row else (0, ""), counts


def pgbackrest() -> pgops.PgBackRest:
    """The production stanza, from pgBackRest's own configuration file."""
    path = Path(config.pgbackrest_config())
    repo = ""
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("repo1-path="):
                repo = line.split("=", 1)[1].strip()
    if not repo:
        raise ChangeRefused(
            _("pgBackRest is not configured: %(path)s names no repository (repo1-path)."), {"path": str(path)},
            code="pgbackrest",
        )  # fmt: skip
    return pgops.PgBackRest(config=path, stanza=config.pgbackrest_stanza(), repo_path=Path(repo))


def _set_digest(pgb: pgops.PgBackRest, label: str) -> tuple[int, str]:
    """Size and SHA-256 of a backup set as stored in the repository: every file (encrypted by pgBackRest),
    by relative path, in order."""
    root = pgb.repo_path / "backup" / pgb.stanza / label
    if not root.is_dir():
        raise DrillFailed(f"备份库中找不到备份集 {label}", f"the repository holds no backup set {label}")
    digest = hashlib.sha256()
    size = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        digest.update(relative.encode("utf-8") + b"\x00" + file_digest(path).encode("ascii") + b"\n")
        size += path.stat().st_size
    return size, digest.hexdigest()


def _pg_backup(kind: str, progress: Progress) -> Taken:
    pgb = pgbackrest()
    cipher = pgb.cipher()
    if cipher in (None, "none"):
        raise ChangeRefused(
            _("The pgBackRest repository is not encrypted; refusing to back up into it."), code="cipher"
        )
    progress(f"pgbackrest --stanza={pgb.stanza} --type={kind} backup …")
    if kind not in ("full", "diff", "incr"):
        raise ChangeRefused(_("A PostgreSQL backup is full, diff or incr."), code="kind")
    info = pgb.backup(kind)  # type: ignore[arg-type]
    name = f"sidms-{info.label}"
    with transaction.atomic(), connection.cursor() as cursor:
        # Holding the head blocks every audited write until the restore point is in the WAL: the point and
        # the counts below describe one state.
        cursor.execute("SELECT seq, hash FROM audit_chainhead WHERE id = 1 FOR UPDATE")
        row = cursor.fetchone()
        counts = {}
        for label, table in counted_tables().items():
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
            counts[label] = int(cursor.fetchone()[0])
        cursor.execute("SELECT pg_create_restore_point(%s)", [name])
    pgb.check()  # switches the WAL segment and waits until it is archived: the restore point is in the repository
    size, digest = _set_digest(pgb, info.label)
    progress(f"pgBackRest backup {info.label} ({info.kind}), restore point {name}")
    return Taken(
        info.label, BackupEngine.POSTGRESQL, info.kind, str(pgb.repo_path / "backup" / pgb.stanza / info.label), size,
        digest, f"{cipher} (pgBackRest)", None, int(row[0]) if row else 0, str(row[1]) if row else "", counts, name,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Retention


def backups_prune(*, actor: Any) -> list[str]:
    """Prune what the retention policy no longer keeps: beyond the newest ``SIDMS_BACKUP_KEEP``, except the
    newest backup that passed a drill. SQLite backup files are deleted; for PostgreSQL pgBackRest expires its
    own sets (``repo1-retention-*``) and the register follows what the repository still holds."""
    caller = Caller.of(actor)
    kept = list(Backup.objects.filter(status=BackupStatus.REGISTERED).order_by("-started_at", "-pk"))
    proven = (
        RestoreDrill.objects.filter(result=DrillResult.PASSED, backup__status=BackupStatus.REGISTERED)
        .order_by("-backup__started_at")
        .values_list("backup_id", flat=True)
        .first()
    )
    doomed = [b for b in kept[config.backup_keep() :] if b.pk != proven and b.engine == BackupEngine.SQLITE]
    if any(b.engine == BackupEngine.POSTGRESQL for b in kept) and connection.vendor == "postgresql":
        present = {b.label for b in pgbackrest().backups()}
        doomed += [b for b in kept if b.engine == BackupEngine.POSTGRESQL and b.label not in present]
    pruned = []
    for backup in doomed:
        with audited_refusals(), transaction.atomic():
            row = locked(Backup, backup.pk, actor=caller)
            assert row is not None
            if row.engine == BackupEngine.SQLITE:
                Path(row.path).unlink(missing_ok=True)
            row.status, row.pruned_at = BackupStatus.PRUNED, timezone.now()
            advance(row, "backup.prune", actor=caller, detail={"label": row.label})
        pruned.append(backup.label)
    return pruned


# --------------------------------------------------------------------------------------------------------
# Restore drills


@dataclass
class Inspection:
    """What the verification process found in the restored copy."""

    ok: bool
    where: str = ""
    message: str = ""
    message_en: str = ""
    chain_seq: int = 0
    chain_hash: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    verify_seconds: float = 0.0


def inspect_here() -> dict[str, Any]:
    """Verify the store this process is connected to and report its head and counts (`sidms restore-drill
    --inspect`, run by a drill in a separate process pointed at the restored copy)."""
    from sidms.audit.models import ChainHead
    from sidms.changes.verify import verify_store

    report = verify_store()
    head = ChainHead.objects.filter(pk=1).values_list("seq", "hash").first() or (0, "")
    counts = {}
    with connection.cursor() as cursor:
        for name, table in counted_tables().items():
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
            counts[name] = int(cursor.fetchone()[0])
    problem = report.problem
    return {
        "ok": report.ok,
        "where": problem.where if problem else "",
        "message": problem.message if problem else "",
        "message_en": problem.message_en if problem else "",
        "chain_seq": int(head[0]),
        "chain_hash": str(head[1]),
        "counts": counts,
        "verify_seconds": round(report.seconds, 3),
        "events": report.events,
        "revisions": report.revisions,
    }


def _inspect(database_url: str, checkpoints: Path, work: Path) -> Inspection:
    env = {
        **os.environ,
        "SIDMS_DATABASE_URL": database_url,
        "SIDMS_KEY_FILE": str(settings.SIDMS_KEY_FILE),
        "SIDMS_CHECKPOINT_DIR": str(checkpoints),
        "SIDMS_DATA_DIR": str(work),
        "DJANGO_SETTINGS_MODULE": "sidms.settings",
    }
    # The verification runs as its own `sidms` process, exactly as an operator would point it at the copy.
    result = subprocess.run(
        [sys.executable, "-m", "sidms.cli", "restore_drill", "--inspect"],
        capture_output=True, text=True, env=env, timeout=3600, check=False, cwd=str(work),
    )  # fmt: skip
    line = next((ln for ln in reversed(result.stdout.splitlines()) if ln.startswith("{")), "")
    if result.returncode != 0 or not line:
        tail = (result.stdout + result.stderr).strip()[-1500:]
        raise DrillFailed(f"恢复副本无法校验：{tail}", f"the restored copy could not be verified: {tail}")
    data = json.loads(line)
    return Inspection(
        ok=bool(data["ok"]), where=data["where"], message=data["message"], message_en=data["message_en"],
        chain_seq=int(data["chain_seq"]), chain_hash=str(data["chain_hash"]), counts=dict(data["counts"]),
        verify_seconds=float(data["verify_seconds"]),
    )  # fmt: skip


def _checkpoints_until(seq: int, target: Path) -> Path:
    """A copy of the checkpoint file with the checkpoints the backup's chain must agree with (those up to
    its head): checkpoints taken after the backup name events it does not contain."""
    from sidms.audit.checkpoints import checkpoint_file

    target.mkdir(parents=True, exist_ok=True)
    source = checkpoint_file()
    lines = []
    if source.exists():
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.strip() and int(json.loads(line)["seq"]) <= seq:
                lines.append(line)
    (target / source.name).write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    return target


def _compare(backup: Backup, found: Inspection) -> None:
    if not found.ok:
        raise DrillFailed(
            f"恢复副本未通过完整性校验：{found.where}：{found.message}",
            f"the restored copy failed verification at {found.where}: {found.message_en}",
        )
    if (found.chain_seq, found.chain_hash) != (backup.chain_seq, backup.chain_hash):
        raise DrillFailed(
            f"恢复副本的审计链头（#{found.chain_seq}）与登记簿（#{backup.chain_seq}）不符",
            f"the restored chain head (#{found.chain_seq}) differs from the register's (#{backup.chain_seq})",
        )
    differ = {
        k: (backup.counts.get(k), found.counts.get(k))
        for k in backup.counts
        if backup.counts.get(k) != found.counts.get(k)
    }
    if differ:
        shown = "，".join(f"{k} 登记 {a} 条、恢复 {b} 条" for k, (a, b) in sorted(differ.items()))
        shown_en = ", ".join(f"{k}: registered {a}, restored {b}" for k, (a, b) in sorted(differ.items()))
        raise DrillFailed(
            f"恢复副本的记录数与登记簿不符：{shown}", f"record counts differ from the register: {shown_en}"
        )


@contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    parent = config.drill_dir()
    parent.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    base.chmod(0o755 if connection.vendor == "postgresql" else 0o700)
    try:
        yield base
    finally:
        pgops.stop_clusters_under(base)
        shutil.rmtree(base, ignore_errors=True)


def _drill_sqlite(backup: Backup, work: Path, measured: dict[str, Any], progress: Progress) -> Inspection:
    path = Path(backup.path)
    if not path.exists():
        raise DrillFailed(f"备份文件 {path} 不存在（已被删除或移走）", f"the backup file {path} is missing")
    progress(f"checking the SHA-256 of {path.name} …")
    actual = file_digest(path)
    if actual != backup.digest:
        raise DrillFailed(
            f"备份文件 {path.name} 的 SHA-256 与登记簿不符：文件被改动或损坏，不能用于恢复"
            f"（登记 {backup.digest[:16]}…，实际 {actual[:16]}…）",
            f"the SHA-256 of {path.name} differs from the register: the file was altered or damaged and cannot be "
            f"restored (registered {backup.digest[:16]}…, found {actual[:16]}…)",
        )
    restored = work / "restored.sqlite3"
    started = time.perf_counter()
    try:
        decrypt_file(path, restored, ring=keyring())
    except BackupFileError as error:
        raise DrillFailed(error.message, error.message_en) from None
    db = sqlite3.connect(restored)
    try:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    if check != "ok":
        raise DrillFailed(
            f"恢复的数据库文件已损坏：{check}", f"the restored database file is damaged: {check}"
        )
    measured["restore_seconds"] = round(time.perf_counter() - started, 3)
    progress(f"decrypted into a scratch database in {measured['restore_seconds']} s; verifying …")
    return _inspect(f"sqlite:///{restored}", _checkpoints_until(backup.chain_seq, work / "checkpoints"), work)


def _drill_postgresql(backup: Backup, work: Path, measured: dict[str, Any], progress: Progress) -> Inspection:
    pgb = pgbackrest()
    progress(f"checking the SHA-256 of backup set {backup.label} in the repository …")
    _size, actual = _set_digest(pgb, backup.label)
    if actual != backup.digest:
        raise DrillFailed(
            f"备份集 {backup.label} 与登记的摘要不符：备份库中的文件被改动、增加或删除，不能用于恢复",
            f"the backup set {backup.label} differs from its registered digest: a file in the repository was "
            "altered, added or removed; it cannot be restored",
        )
    try:
        pgb.verify()
        started = time.perf_counter()
        cluster = restore_to_point(
            pgb, backup.label, backup.restore_point, work / "data", port=pgops.free_port()
        )
    except pgops.PgOpsError as error:
        raise DrillFailed(error.message, error.message_en) from None
    measured["restore_seconds"] = round(time.perf_counter() - started, 3)
    progress(
        f"restored to {backup.restore_point} in {measured['restore_seconds']} s on port {cluster.port}; verifying …"
    )
    name = str(settings.DATABASES["default"]["NAME"])
    url = f"postgres://{cluster.superuser}@127.0.0.1:{cluster.port}/{name}"
    try:
        return _inspect(url, _checkpoints_until(backup.chain_seq, work / "checkpoints"), work)
    finally:
        cluster.stop("immediate")


def restore_to_point(
    pgb: pgops.PgBackRest, label: str, restore_point: str, target: Path, *, port: int, timeout: float = 600
) -> pgops.Cluster:
    """pgBackRest restore of set LABEL into TARGET up to the named restore point, started on PORT and open
    for writes (what ``PgBackRest.restore`` does, with ``--type=name``)."""
    target = target.resolve()
    base = target.parent
    cluster = pgops.Cluster(target, port, base / "run", base / "log" / f"{target.name}.log", owner=pgb.owner)
    for directory in (cluster.socket_dir, cluster.log_file.parent, target):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        if pgb.owner is not None and os.geteuid() == 0:
            shutil.chown(directory, pgb.owner, pgb.owner)
    options = [
        f"--pg1-path={target}",
        "--archive-mode=off",
        f"--set={label}",
        "--type=name",
        f"--target={restore_point}",
        "--target-action=promote",
    ]
    pgb.run("restore", *options, timeout=timeout, reason="restore_failed")
    cluster.configure({"synchronous_standby_names": ""})
    cluster.start(timeout=timeout)
    deadline = time.monotonic() + timeout
    while cluster.in_recovery():
        if time.monotonic() > deadline:
            raise pgops.PgOpsError(
                "restore_failed",
                "恢复的集群未能完成恢复",
                f"the restored cluster is still in recovery:\n{cluster.log_tail()}",
            )
        time.sleep(0.2)
    return cluster


def restore_drill(*, actor: Any, backup: Backup | None = None, progress: Progress = _quiet) -> RestoreDrill:
    """Restore BACKUP (default: the newest kept one) into a scratch database, verify it there, compare it
    with the register and record the drill. A failed drill is recorded as failed, with what was wrong."""
    caller = _officer(actor)
    if backup is None:
        backup = Backup.objects.filter(status=BackupStatus.REGISTERED).order_by("-started_at", "-pk").first()
        if backup is None:
            raise ChangeRefused(_("There is no backup to drill."), code="no_backup")
    if backup.status != BackupStatus.REGISTERED:
        raise ChangeRefused(_("This backup was pruned by the retention policy."), code="pruned")
    started_at, started = timezone.now(), time.perf_counter()
    measured: dict[str, Any] = {}
    result, message, message_en = DrillResult.PASSED, "", ""
    try:
        with _scratch("sidms-drill-") as work:
            with audited_refusals(), transaction.atomic():
                if locked(Backup, backup.pk, actor=caller) is None:
                    raise NotPermitted(_("There is no such backup."))
            if backup.engine == BackupEngine.SQLITE:
                found = _drill_sqlite(backup, work, measured, progress)
            else:
                found = _drill_postgresql(backup, work, measured, progress)
            measured.update(
                chain_seq=found.chain_seq, counts=found.counts, verify_seconds=found.verify_seconds
            )
            _compare(backup, found)
            message = f"恢复副本完整：审计链头 #{found.chain_seq}，记录数与登记簿一致"
            message_en = (
                f"the restored copy is intact: chain head #{found.chain_seq}, record counts as registered"
            )
    except DrillFailed as failure:
        result, message, message_en = DrillResult.FAILED, failure.message, failure.message_en
    seconds = time.perf_counter() - started
    with transaction.atomic():
        drill = RestoreDrill(
            kind=DrillKind.RESTORE, backup=backup, operator=caller.staff, started_at=started_at,
            finished_at=timezone.now(), seconds=round(seconds, 3), result=result, message=message[:1000],
            message_en=message_en[:1000], measured=measured,
        )  # fmt: skip
        create(
            drill, "backup.drill", actor=caller, outcome=Outcome.OK if result == DrillResult.PASSED else Outcome.FAILED,
            detail={"backup": backup.label, "result": result, "seconds": drill.seconds, "where": backup.label,
                    "message": message[:300], "message_en": message_en[:300]},
        )  # fmt: skip
    progress(f"drill {result}: {message} ({seconds:.1f} s)")
    return drill


def failover_drill_record(
    *, actor: Any, result: Any, passed: bool, message: str, message_en: str
) -> RestoreDrill:
    """Record a standby failover drill (``sidms.continuity.failover``): its RPO and RTO, and whether every
    acknowledged write was found and the chain verified on the promoted server."""
    caller = _officer(actor)
    measured = {k: v for k, v in vars(result).items() if isinstance(v, int | float | str | bool | None)}
    with transaction.atomic():
        drill = RestoreDrill(
            kind=DrillKind.FAILOVER, operator=caller.staff, started_at=result.started_at, finished_at=timezone.now(),
            seconds=round(float(result.seconds), 3), result=DrillResult.PASSED if passed else DrillResult.FAILED,
            message=message[:1000], message_en=message_en[:1000], measured=measured,
        )  # fmt: skip
        return create(
            drill, "backup.drill", actor=caller, outcome=Outcome.OK if passed else Outcome.FAILED,
            detail={"kind": "failover", "result": drill.result, "rpo_transactions": measured.get("rpo_transactions"),
                    "rto_seconds": measured.get("rto_seconds"), "message": message[:300]},
        )  # fmt: skip


__all__ = [
    "DrillFailed",
    "backup_take",
    "backups_prune",
    "failover_drill_record",
    "inspect_here",
    "restore_drill",
    "restore_to_point",
]
