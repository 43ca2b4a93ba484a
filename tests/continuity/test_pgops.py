"""Continuity drills against real clusters: synchronous standby failover and pgBackRest (R18).

Run with ``-s`` to see the measured RPO/RTO; they are also in the assertion messages.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sidms.lib import pgops
from sidms.lib.pgops import BackupInfo, Cluster, PgBackRest, PgOpsError

# Scratch clusters need little memory; three of them run beside the project's own cluster.
pytestmark = pytest.mark.engine_independent

SMALL: dict[str, pgops.SettingValue] = {"shared_buffers": "32MB", "max_connections": 30}


# --- synchronous standby -----------------------------------------------------------------------------


@pytest.mark.req("R18.2")
def test_commits_wait_for_the_synchronous_standby(pg_scratch: Path) -> None:
    # Without this, a drill with RPO 0 on one machine could be luck: asynchronous streaming over loopback
    # is nearly instant too. With the standby down, a commit must not return.
    primary, standby = pgops.make_primary_with_sync_standby(
        pg_scratch / "repl", pgops.free_port(), pgops.free_port(), settings=SMALL
    )
    assert primary.query("SELECT application_name, sync_state FROM pg_stat_replication") == [
        ("offsite", "sync")
    ]
    assert standby.in_recovery()
    primary.query("CREATE TABLE waits (id int)")
    standby.stop("fast")

    returned = threading.Event()
    failure: list[BaseException] = []

    def commit() -> None:
        try:
            with psycopg.connect(primary.dsn()) as conn:
                conn.execute("INSERT INTO waits VALUES (1)")
                conn.commit()
            returned.set()
        except BaseException as exc:  # surfaced by the assertion below
            failure.append(exc)

    thread = threading.Thread(target=commit)
    thread.start()
    try:
        assert not returned.wait(2.0), "a COMMIT returned while the synchronous standby was down"
        standby.start()
        assert returned.wait(60), f"the COMMIT did not return after the standby came back: {failure}"
    finally:
        thread.join(60)
    assert standby.query("SELECT count(*) FROM waits") == [(1,)]


@pytest.mark.req("R18.2")
def test_failover_drill_loses_no_acknowledged_commit(pg_scratch: Path) -> None:
    primary, standby = pgops.make_primary_with_sync_standby(
        pg_scratch / "repl", pgops.free_port(), pgops.free_port(), settings=SMALL
    )
    seen: dict[str, Any] = {}

    def audit_there(dsn: str) -> None:
        # What sidms will do: point a connection at the promoted server and run its checks there.
        with psycopg.connect(dsn) as conn:
            seen["in_recovery"] = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            seen["rows"] = conn.execute("SELECT count(*) FROM continuity_drill").fetchone()
            conn.execute("INSERT INTO continuity_drill (id, payload) VALUES (-1, 'written by the callback')")

    started = time.monotonic()
    result = pgops.failover_drill(primary, standby, writer_seconds=3.0, after_promotion=audit_there)
    report = result.summary()
    print(f"\nfailover drill ({time.monotonic() - started:.1f} s): {report}")

    assert result.lost_ids == () and result.rpo_transactions == 0 and result.rpo_seconds == 0.0, report
    assert result.acknowledged >= 100, f"too little load to prove anything: {report}"
    assert result.present >= result.acknowledged, report
    assert 0 < result.rto_seconds < 30, report
    assert primary.pid() is None, "the old primary must stay down"
    assert seen == {"in_recovery": (False,), "rows": (result.present + 1,)}, report  # +1: the RTO probe row
    assert not standby.in_recovery()
    assert standby.query("SELECT payload FROM continuity_drill WHERE id = -1") == [
        ("written by the callback",)
    ]


def test_kill9_needs_a_running_cluster(pg_scratch: Path) -> None:
    cluster = Cluster.layout(pg_scratch, "lonely", pgops.free_port())
    cluster.init(settings=SMALL)
    with pytest.raises(PgOpsError) as not_running:
        cluster.kill9()
    assert not_running.value.reason == "not_running"
    cluster.start()
    assert cluster.is_ready()
    pid = cluster.kill9()
    assert cluster.pid() is None and not cluster.is_ready()
    # After a crash the cluster recovers on its own at the next start.
    cluster.start()
    assert cluster.pid() not in (None, pid)
    cluster.stop("fast")
    assert cluster.pid() is None


# --- pgBackRest --------------------------------------------------------------------------------------

STANZA = "sidms"
MARKER = "SIDMS-CONTINUITY-MARKER-威海社保"
BEFORE, AFTER = 2000, 100


@dataclass(frozen=True)
class BackedUp:
    base: Path
    cluster: Cluster
    backrest: PgBackRest
    cipher_pass: str
    full: BackupInfo
    table_file: str  # the marker table's file, relative to the data directory
    table_bytes: int  # its size when the full backup was taken


@pytest.fixture(scope="module")
def backed_up(backrest_scratch: Path) -> BackedUp:
    base = backrest_scratch
    port = pgops.free_port()
    cluster = Cluster.layout(base, "source", port)
    cipher_pass = secrets.token_urlsafe(32)
    backrest = pgops.write_pgbackrest_config(
        base / "pgbackrest" / "pgbackrest.conf",
        stanza=STANZA,
        repo_path=base / "repo",
        pg_data=cluster.data_dir,
        pg_port=port,
        pg_socket=cluster.socket_dir,
        cipher_pass=cipher_pass,
        # No compression in the test, so a marker missing from the repository proves encryption, not
        # merely compression. Production keeps the default (zst).
        compress_type="none",
    )
    cluster.init(settings={**backrest.archive_settings(), **SMALL})
    cluster.start()
    cluster.query("CREATE TABLE person_marker (id int PRIMARY KEY, note text NOT NULL)")
    cluster.query(
        "INSERT INTO person_marker SELECT g, %s || g FROM generate_series(1, %s::int) g",
        [f"{MARKER}-before-", BEFORE],
    )
    cluster.query("CHECKPOINT")  # the marker rows are now in the table's data file, in plain text
    table_bytes = int(cluster.query("SELECT pg_relation_size('person_marker')")[0][0])
    backrest.stanza_create()
    backrest.check()
    full = backrest.backup("full")
    # Rows committed after the backup reach a restore only through the archived WAL.
    cluster.query(
        "INSERT INTO person_marker SELECT g, %s || g FROM generate_series(%s::int, %s::int) g",
        [f"{MARKER}-after-", BEFORE + 1, BEFORE + AFTER],
    )
    backrest.check()  # switches WAL and waits until that segment is in the repository
    table_file = str(cluster.query("SELECT pg_relation_filepath('person_marker')")[0][0])
    return BackedUp(base, cluster, backrest, cipher_pass, full, table_file, table_bytes)


def _repo_files(repo: Path) -> list[Path]:
    return [p for p in sorted(repo.rglob("*")) if p.is_file()]


@pytest.mark.req("R18.2")
@pytest.mark.req("R18.3")
def test_full_backup_is_recorded(backed_up: BackedUp) -> None:
    full = backed_up.full
    assert full.kind == "full" and full.label.endswith("F") and full.prior is None
    assert full.started_at <= full.stopped_at
    assert full.wal_start is not None and full.wal_stop is not None and full.wal_start <= full.wal_stop
    assert full.database_size > 0 and full.repository_size > 0 and not full.error
    assert backed_up.backrest.backups()[0].label == full.label
    assert (backed_up.backrest.config.stat().st_mode & 0o777) == 0o600  # it holds the passphrase


@pytest.mark.req("R18.2")
@pytest.mark.req("R18.3")
def test_restore_drill_brings_back_base_backup_and_archived_wal(backed_up: BackedUp) -> None:
    report = backed_up.backrest.verify()
    assert "status: ok" in report and f"backup: {backed_up.full.label}, status: valid" in report

    started = time.monotonic()
    restored = backed_up.backrest.restore(
        backed_up.base / "restore", port=pgops.free_port(), set_label=backed_up.full.label
    )
    elapsed = time.monotonic() - started
    print(f"\nrestore drill: {backed_up.full.label} restored, WAL replayed and opened in {elapsed:.1f} s")
    try:
        assert restored.port != backed_up.cluster.port and not restored.in_recovery()
        counts = restored.query(
            "SELECT count(*) FILTER (WHERE note LIKE %s), count(*) FILTER (WHERE note LIKE %s) FROM person_marker",
            [f"{MARKER}-before-%", f"{MARKER}-after-%"],
        )
        assert counts == [(BEFORE, AFTER)], f"restored rows (before, after the backup): {counts}"
        # The copy is a working cluster, and it does not archive into the production repository.
        restored.query("INSERT INTO person_marker VALUES (0, 'written on the restored copy')")
        assert restored.query("SHOW archive_mode") == [("off",)]
    finally:
        restored.stop("fast")


@pytest.mark.req("R18.2")
def test_repository_is_encrypted(backed_up: BackedUp) -> None:
    marker = MARKER.encode("utf-8")
    assert backed_up.backrest.cipher() == "aes-256-cbc"
    # The check means something only if the marker is in plain text in the cluster's own files.
    table = backed_up.cluster.data_dir / backed_up.table_file
    assert marker in table.read_bytes()

    files = _repo_files(backed_up.backrest.repo_path)
    copied = [
        f for f in files if f.as_posix().endswith(f"{backed_up.full.label}/pg_data/{backed_up.table_file}")
    ]
    assert len(copied) == 1 and copied[0].stat().st_size >= backed_up.table_bytes, (
        "the table is in the backup"
    )
    assert any("/archive/" in f.as_posix() for f in files), "WAL is archived in the repository"
    for path in files:
        data = path.read_bytes()
        assert marker not in data, f"plain-text table contents in {path}"
        assert backed_up.cipher_pass.encode() not in data, f"the passphrase in {path}"
        # pgBackRest encrypts in OpenSSL's salted format: every file, info files and WAL included.
        assert data.startswith(b"Salted__"), f"{path} is not encrypted"


@pytest.mark.req("R18.3")
def test_one_altered_byte_in_the_repository_fails_verify_and_restore(backed_up: BackedUp) -> None:
    # Work on a copy (cp -a keeps the postgres ownership), so the real repository stays valid.
    copy = backed_up.base / "repo-altered"
    subprocess.run(["cp", "-a", str(backed_up.backrest.repo_path), str(copy)], check=True)
    altered = pgops.write_pgbackrest_config(
        backed_up.base / "pgbackrest-altered" / "pgbackrest.conf",
        stanza=STANZA,
        repo_path=copy,
        pg_data=backed_up.cluster.data_dir,
        pg_port=backed_up.cluster.port,
        pg_socket=backed_up.cluster.socket_dir,
        cipher_pass=backed_up.cipher_pass,
        compress_type="none",
    )
    altered.verify()  # the copy itself is sound, so what follows is caused by the one byte

    target = copy / "backup" / STANZA / backed_up.full.label / "pg_data" / backed_up.table_file
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))

    with pytest.raises(PgOpsError) as verify_failed:
        altered.verify()
    assert verify_failed.value.reason == "verify_failed"
    assert "checksum invalid: 1" in verify_failed.value.message_en
    assert "校验未通过" in verify_failed.value.message

    with pytest.raises(PgOpsError) as restore_failed:
        altered.restore(backed_up.base / "restore-altered", port=pgops.free_port(), job_retry=0)
    assert restore_failed.value.reason == "restore_failed"
    assert "checksum" in restore_failed.value.message_en

    backed_up.backrest.verify()  # and the original repository is untouched


@pytest.mark.req("R18.2")
def test_diff_and_incremental_backups_build_on_the_full(backed_up: BackedUp) -> None:
    backed_up.cluster.query("UPDATE person_marker SET note = note || '!' WHERE id <= 10")
    diff = backed_up.backrest.backup("diff")
    incr = backed_up.backrest.backup("incr")
    assert diff.kind == "diff" and diff.prior == backed_up.full.label
    assert incr.kind == "incr" and incr.prior == diff.label
    assert diff.repository_delta < backed_up.full.repository_delta
    assert [b.label for b in backed_up.backrest.backups()][-2:] == [diff.label, incr.label]


def test_weak_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PgOpsError) as weak:
        pgops.write_pgbackrest_config(
            tmp_path / "pgbackrest.conf",
            stanza=STANZA,
            repo_path=tmp_path / "repo",
            pg_data=tmp_path / "pg",
            pg_port=5999,
            pg_socket=tmp_path,
            cipher_pass="short",
        )
    assert weak.value.reason == "config"
    assert not (tmp_path / "pgbackrest.conf").exists()
