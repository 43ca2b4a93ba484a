"""sidms itself on real PostgreSQL clusters (R18.2, R18.3): the off-site standby drill under a sidms write
load, and `sidms backup` / `sidms restore-drill` through pgBackRest. Every cluster is made by initdb in a
scratch directory on free ports (``sidms.lib.pgops``); the project's cluster on 5432 is never touched.
Run with ``-s`` to see the measured RPO, RTO and drill durations."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings

from sidms.continuity import failover
from sidms.continuity.backups import failover_drill_record
from sidms.continuity.models import DrillKind, DrillResult, RestoreDrill
from sidms.lib import pgops
from sidms.lib.pgops import Cluster

pytestmark = pytest.mark.engine_independent

SMALL: dict[str, pgops.SettingValue] = {"shared_buffers": "32MB", "max_connections": 40}
OFFICER = """
from datetime import date
from sidms.security.accounts import staff_create
staff_create(actor="system:setup", username="backup_city", password="Backup-Officer-2026", district="371000",
             posts=("backup_officer",), full_name="备份管理员 郭强", agreement_signed_on=date(2026, 1, 1))
"""


def _env(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDMS_")}
    env.update(
        SIDMS_KEY_FILE=str(settings.SIDMS_KEY_FILE),
        SIDMS_CHECKPOINT_DIR=str(base / "checkpoints"),
        SIDMS_CHECKPOINT_INTERVAL="0",
        SIDMS_DATA_DIR=str(base / "data"),
        DJANGO_SETTINGS_MODULE="sidms.settings",
    )
    env.update(extra)
    return env


@pytest.mark.req("R18.2")
@pytest.mark.django_db
def test_kill_9_of_the_primary_under_sidms_load_loses_no_acknowledged_write(
    pg_scratch: Path, officer: Any
) -> None:
    primary, standby = pgops.make_primary_with_sync_standby(
        pg_scratch / "repl", pgops.free_port(), pgops.free_port(), settings=SMALL
    )
    env = _env(pg_scratch)
    failover.prepare(primary, "sidms_drill", env, persons=20)

    result = failover.run(primary, standby, "sidms_drill", env, load_seconds=3.0)
    print(f"\nstandby drill with sidms: {result.summary()}")

    assert result.acknowledged > 10, result.summary()
    assert result.rpo_transactions == 0 and result.lost_seqs == [], result.summary()
    assert result.written_after > 0  # sidms wrote on the promoted server without being reconfigured
    assert result.verified, result.verify_output
    assert "完整 / intact" in result.verify_output
    # The promoted server holds every acknowledged window submission's revision and the chain continues.
    with psycopg.connect(standby.dsn("sidms_drill")) as conn:
        assert not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        writes = conn.execute(
            "SELECT count(*) FROM audit_auditevent WHERE action = 'write.person'"
        ).fetchone()[0]
    assert writes >= result.acknowledged

    drill = failover_drill_record(
        actor=officer, result=result, passed=result.verified and result.rpo_transactions == 0,
        message=f"主库 kill -9 后提升备库：RPO {result.rpo_transactions} 笔，RTO {result.rto_seconds:.2f} 秒，审计链完整",
        message_en=result.summary(),
    )  # fmt: skip
    stored = RestoreDrill.objects.get(pk=drill.pk)
    assert stored.kind == DrillKind.FAILOVER and stored.result == DrillResult.PASSED
    assert stored.measured["rpo_transactions"] == 0 and stored.measured["rto_seconds"] == pytest.approx(
        result.rto_seconds
    )


@pytest.mark.req("R18.1")
@pytest.mark.req("R18.3")
def test_sidms_backs_up_through_pgbackrest_and_a_drill_restores_exactly_the_registered_state(
    backrest_scratch: Path,
) -> None:
    base = backrest_scratch
    port = pgops.free_port()
    cluster = Cluster.layout(base, "main", port)
    backrest = pgops.write_pgbackrest_config(
        base / "pgbackrest" / "pgbackrest.conf", stanza="sidms", repo_path=base / "repo", pg_data=cluster.data_dir,
        pg_port=port, pg_socket=cluster.socket_dir, cipher_pass=secrets.token_urlsafe(32),
    )  # fmt: skip
    cluster.init(settings={**backrest.archive_settings(), **SMALL})
    cluster.start()
    backrest.stanza_create()
    env = _env(
        base,
        SIDMS_PGBACKREST_CONFIG=str(backrest.config),
        SIDMS_PGBACKREST_STANZA="sidms",
        SIDMS_BACKUP_OFFICER="backup_city",
        SIDMS_BACKUP_LOCATION="机房 A pgBackRest 备份库",
        SIDMS_DRILL_DIR=str(base / "drills"),
    )
    failover.prepare(cluster, "sidms_main", env, persons=15)
    env["SIDMS_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{port}/sidms_main"
    (base / "drills").mkdir()
    (base / "drills").chmod(0o755)

    def sidms(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sidms.cli", *args], env=env, capture_output=True, text=True, timeout=900,
            check=False, cwd=base,
        )  # fmt: skip

    assert sidms("shell", "-c", OFFICER).returncode == 0
    done = sidms("backup")
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(cluster.dsn("sidms_main")) as conn:
        label, counts, restore_point, cipher, chain_seq = conn.execute(
            "SELECT label, counts, restore_point, cipher, chain_seq FROM continuity_backup"
        ).fetchone()
    assert cipher.startswith("aes-256-cbc") and restore_point == f"sidms-{label}" and counts["person"] == 15

    # Writes after the backup are not in the state the register describes; the drill restores to the point.
    assert (
        sidms(
            "shell",
            "-c",
            "from sidms.audit.services import audit_record; audit_record('drill.after', actor='system:test')",
        ).returncode
        == 0
    )
    done = sidms("restore-drill")
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(cluster.dsn("sidms_main")) as conn:
        result, seconds, measured = conn.execute(
            "SELECT result, seconds, measured FROM continuity_restoredrill ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert result == "passed" and measured["chain_seq"] == chain_seq and measured["counts"] == counts
    print(
        f"\npgBackRest restore drill: {seconds:.1f} s (restore {measured['restore_seconds']} s, verify {measured['verify_seconds']} s)"
    )

    # One byte altered in the repository: the drill fails and says so.
    files = sorted(
        p
        for p in (backrest.repo_path / "backup" / "sidms" / label).rglob("*")
        if p.is_file() and p.stat().st_size > 100
    )
    victim = files[len(files) // 2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    done = sidms("restore-drill", "--backup", label)
    assert done.returncode == 1
    assert "与登记的摘要不符" in done.stderr and "altered, added or removed" in done.stderr
    with psycopg.connect(cluster.dsn("sidms_main")) as conn:
        rows = conn.execute("SELECT result FROM continuity_restoredrill ORDER BY id").fetchall()
        alerts = conn.execute("SELECT summary FROM continuity_alert WHERE rule = 'integrity'").fetchall()
    assert [r[0] for r in rows] == ["passed", "failed"] and any(label in a[0] for a in alerts)
    json.dumps(measured)


SECURITY_ADMIN = """
from datetime import date
from sidms.security.accounts import staff_create
staff_create(actor="system:setup", username="security_city", password="Security-Admin-2026", district="371000",
             posts=("security_admin",), full_name="安全管理员 林峰", agreement_signed_on=date(2026, 1, 1))
"""


@pytest.mark.req("R17")
@pytest.mark.req("B2")
def test_keys_rotate_while_sidms_writes_loses_no_change(pg_scratch: Path, key_file: Path) -> None:
    """The rotation runs while another sidms process keeps changing persons' phones: every change the writer
    saw committed is there afterwards, under the new key version, and the store verifies."""
    import signal
    import time
    import uuid

    from sidms.lib.crypto import KeyRing, token_version

    port = pgops.free_port()
    cluster = Cluster.layout(pg_scratch, "main", port)
    cluster.init(settings=SMALL)
    cluster.start()
    env = _env(pg_scratch, SIDMS_KEY_FILE=str(key_file))
    failover.prepare(cluster, "sidms_live", env, persons=20)
    env["SIDMS_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{port}/sidms_live"

    def sidms(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sidms.cli", *args], env=env, capture_output=True, text=True, timeout=600,
            check=False, cwd=pg_scratch,
        )  # fmt: skip

    assert sidms("shell", "-c", SECURITY_ADMIN).returncode == 0
    writer = subprocess.Popen(
        [sys.executable, "-m", "sidms.continuity.failover", "write", f"127.0.0.1:{port}", "sidms_live"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        rotated = sidms("keys", "rotate", "--operator", "security_city", "--chunk", "3")
        time.sleep(1)
    finally:
        writer.send_signal(signal.SIGTERM)
        out, _err = writer.communicate(timeout=60)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    acks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK")]
    assert len(acks) > 20, out[-2000:]
    print(
        f"\n{len(acks)} sidms writes committed while the key rotated: {rotated.stdout.strip().splitlines()[-2]}"
    )

    ring = KeyRing.load(key_file)
    assert ring.current == 2
    with psycopg.connect(cluster.dsn("sidms_live")) as conn:
        rows = conn.execute(
            "SELECT person_no, uid, phone, id_number, bank_account FROM registry_person ORDER BY id"
        ).fetchall()
    people = [row[0] for row in rows]
    expected: dict[str, str] = {}
    for n in acks:  # the last acknowledged phone of each person
        expected[people[n % len(people)]] = f"1396310{n % 10000:04d}"
    for person_no, uid, phone, id_number, bank in rows:
        for token in (phone, id_number, bank):
            if token is not None:
                assert token_version(bytes(token)) == 2, person_no
        found = ring.decrypt(bytes(phone), aad=f"person.phone:{uuid.UUID(str(uid))}".encode())
        assert found == expected.get(person_no, "13963100000"), person_no
    verified = sidms("audit", "verify")
    assert verified.returncode == 0, verified.stderr
