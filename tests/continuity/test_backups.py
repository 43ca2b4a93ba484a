"""Backups and restore drills of the embedded store (R18.1–R18.3), run as an operator runs them: `sidms demo`
builds a store, `sidms backup` and `sidms restore-drill` are separate processes, and the register is read
from the store afterwards. The same tests run whatever database the suite itself uses."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sidms.continuity.backupfile import BackupFileError, decrypt_file, encrypt_file
from sidms.lib.crypto import KeyRing

pytestmark = [pytest.mark.req("R18.1"), pytest.mark.req("R18.3"), pytest.mark.engine_independent]

OFFICER = """
from datetime import date
from sidms.security.accounts import staff_create
staff_create(actor="system:setup", username="backup_city", password="Backup-Officer-2026", district="371000",
             posts=("backup_officer",), full_name="备份管理员 郭强", agreement_signed_on=date(2026, 1, 1))
"""


@dataclass
class Store:
    root: Path
    env: dict[str, str]

    def sidms(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sidms.cli", *args], env={**self.env, **(env or {})}, cwd=self.root,
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.root / "sidms.sqlite3")
        try:
            return list(db.execute(sql, params).fetchall())
        finally:
            db.close()

    def backup(self) -> dict[str, Any]:
        done = self.sidms("backup")
        assert done.returncode == 0, done.stdout + done.stderr
        columns = (
            "id",
            "label",
            "path",
            "size",
            "digest",
            "chain_seq",
            "chain_hash",
            "counts",
            "operator_id",
            "location",
            "status",
        )
        row = self.query(f"SELECT {', '.join(columns)} FROM continuity_backup ORDER BY id DESC LIMIT 1")[0]  # noqa: S608
        backup = dict(zip(columns, row, strict=True))
        backup["counts"] = json.loads(backup["counts"])
        return backup

    def drill(self, label: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        done = self.sidms("restore-drill", "--backup", label)
        columns = ("result", "seconds", "message", "message_en", "operator_id", "measured")
        sql = f"SELECT {', '.join(columns)} FROM continuity_restoredrill ORDER BY id DESC LIMIT 1"  # noqa: S608
        row = self.query(sql)[0]
        return done, dict(zip(columns, row, strict=True))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("demo-store")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDMS_")}
    env.update(
        SIDMS_DATA_DIR=str(root),
        SIDMS_DATABASE_URL=f"sqlite:///{root / 'sidms.sqlite3'}",
        SIDMS_KEY_FILE=str(root / "sidms.keys"),
        SIDMS_CHECKPOINT_DIR=str(root / "checkpoints"),
        SIDMS_CHECKPOINT_INTERVAL="0",
        SIDMS_BACKUP_DIR=str(root / "backups"),
        SIDMS_BACKUP_LOCATION="机房 A 备份柜",
        SIDMS_BACKUP_OFFICER="backup_city",
        SIDMS_DRILL_DIR=str(root / "drills"),
        DJANGO_SETTINGS_MODULE="sidms.settings",
    )
    made = Store(root, env)
    demo = made.sidms("demo", "--no-serve", "--persons", "60")
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    officer = made.sidms("shell", "-c", OFFICER)
    assert officer.returncode == 0, officer.stderr
    yield made


def test_a_backup_of_the_demo_store_restores_in_a_drill_that_verifies_intact(store: Store) -> None:
    backup = store.backup()
    sealed = Path(backup["path"])
    data = sealed.read_bytes()
    assert backup["size"] == len(data) and backup["digest"] == hashlib.sha256(data).hexdigest()
    assert backup["counts"]["person"] == 60 and backup["counts"]["audit_event"] >= backup["chain_seq"] > 0
    assert backup["location"] == "机房 A 备份柜" and backup["operator_id"] is not None
    # Encrypted: neither the database's own header nor anyone's name is in the file.
    (name,) = store.query("SELECT name FROM registry_person ORDER BY id LIMIT 1")[0]
    assert b"SQLite format 3" not in data and name.encode() not in data
    assert oct(sealed.stat().st_mode & 0o777) == "0o600"

    done, drill = store.drill(backup["label"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "演练通过 / drill passed" in done.stdout
    assert drill["result"] == "passed" and drill["operator_id"] == backup["operator_id"]
    measured = json.loads(drill["measured"])
    assert measured["chain_seq"] == backup["chain_seq"] and measured["counts"] == backup["counts"]
    print(f"\nrestore drill of {backup['size']:,} bytes: {drill['seconds']:.2f} s ({measured})")
    # The registers themselves verify, in the store that keeps them.
    verified = store.sidms("audit", "verify")
    assert verified.returncode == 0, verified.stderr


def test_a_backup_altered_by_one_byte_fails_its_drill_with_a_clear_message(store: Store) -> None:
    backup = store.backup()
    path = Path(backup["path"])
    original = path.read_bytes()
    altered = bytearray(original)
    altered[len(altered) // 2] ^= 0x01
    path.write_bytes(bytes(altered))

    done, drill = store.drill(backup["label"])
    assert done.returncode == 1
    assert "SHA-256 与登记簿不符：文件被改动或损坏" in done.stderr and "altered or damaged" in done.stderr
    assert drill["result"] == "failed" and "SHA-256" in drill["message"]
    # The failed drill reached the supervising department as an integrity alert when it was recorded, and
    # the timer does not raise it twice.
    (summary,) = store.query("SELECT summary FROM continuity_alert WHERE rule = 'integrity'")[0]
    assert "恢复演练未通过" in summary and backup["label"] in summary
    assert "raised 0 alerts" in store.sidms("alerts", "run").stdout
    path.write_bytes(original)


def test_the_retention_policy_prunes_old_backups_but_keeps_the_last_proven_one(store: Store) -> None:
    proven = store.backup()
    done, _drill = store.drill(proven["label"])
    assert done.returncode == 0
    keep_one = {"SIDMS_BACKUP_KEEP": "1"}
    for _ in range(2):
        assert store.sidms("backup", env=keep_one).returncode == 0
    rows = store.query("SELECT label, path, status FROM continuity_backup ORDER BY id")
    kept = [label for label, _path, status in rows if status == "registered"]
    assert kept == [proven["label"], rows[-1][0]]
    for label, path, status in rows:
        assert Path(path).exists() == (status == "registered"), label
    assert store.sidms("audit", "verify").returncode == 0


# --- the sealed file itself ------------------------------------------------------------------------------


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[KeyRing, Path, bytes]:
    ring = KeyRing.generate("sm")
    plain = tmp_path / "plain.bin"
    content = os.urandom(3 * 1024 * 1024 + 12345)  # several chunks, the last one short
    plain.write_bytes(content)
    target = tmp_path / "sealed.sidmsbak"
    encrypt_file(plain, target, ring=ring, label="L1", created_at="2026-11-30T00:00:00+08:00")
    return ring, target, content


def test_the_sealed_file_round_trips_and_names_every_kind_of_damage(
    sealed: tuple[KeyRing, Path, bytes], tmp_path: Path
) -> None:
    ring, target, content = sealed
    out = tmp_path / "out.bin"
    assert decrypt_file(target, out, ring=ring).label == "L1" and out.read_bytes() == content
    out.unlink()
    data = target.read_bytes()
    header_end = data.index(b"\n", len(b"SIDMS-BACKUP/1\n")) + 1
    cases = {
        "header": (lambda d: d[:20] + b"X" + d[21:], "format"),
        "first chunk": (
            lambda d: d[: header_end + 100] + bytes([d[header_end + 100] ^ 1]) + d[header_end + 101 :],
            "tampered",
        ),
        "tag of the last chunk": (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "tampered"),
        "truncated": (lambda d: d[: len(d) - 5000], "truncated"),
        "cut at a chunk boundary": (lambda d: d[: header_end + 4 + 12 + (1 << 20) + 16], "truncated"),
        "appended": (lambda d: d + b"more", "tampered"),
    }
    for what, (damage, reason) in cases.items():
        broken = tmp_path / "broken.sidmsbak"
        broken.write_bytes(damage(data))
        with pytest.raises(BackupFileError) as refused:
            decrypt_file(broken, out, ring=ring)
        assert refused.value.reason == reason, what
        assert not out.exists(), what  # nothing half-restored is left behind
    other = KeyRing.generate("sm")
    with pytest.raises(BackupFileError) as refused:
        decrypt_file(target, out, ring=other)
    assert refused.value.reason == "key"
