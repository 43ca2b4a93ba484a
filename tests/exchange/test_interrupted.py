"""An import killed halfway (kill -9 of a real import's process while it writes, its transaction open) leaves
no partial batch, and running `sidms import` on the same file again imports exactly the file (B3).

The killed process is stopped at a known point rather than raced: it executes the import as `sidms import`
does (imports.execute_import) with a progress callback of its own that, once KILL_AFTER rows are read, notes
how many persons its open transaction holds and waits there; the test then kills it with SIGKILL. (Polling
`--progress-file` for the moment to kill raced the import: on a quiet machine the first progress read was
sometimes already the whole file.)

The store is a real one the subprocesses share: a SQLite file in a temporary data directory, or, when the
suite runs on PostgreSQL, a scratch database beside the suite's own (dropped afterwards)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [pytest.mark.req("B3"), pytest.mark.req("R6.2")]

ROWS = 10_000
KILL_AFTER = 4_000  # rows handed to the batch: its first chunk (2,000) is inserted in the open transaction

SETUP = """
import sys, django
django.setup()
from datetime import date
from pathlib import Path
from sidms.changes.batches import batch_decide
from sidms.exchange import imports
from sidms.security.accounts import staff_create
info = staff_create(actor="system:test", username="info_kill", password="Correct-Horse-Battery-9",
                    district="371000", posts=("info_centre",), agreement_signed_on=date(2026, 1, 1))
approver = staff_create(actor="system:test", username="approver_kill", password="Correct-Horse-Battery-9",
                        district="371000", posts=("approver",), agreement_signed_on=date(2026, 1, 1))
data = Path(sys.argv[1]).read_bytes()
checked = imports.check_file(data, kind="persons", filename="persons.csv")
imported = imports.apply_import(actor=info, data=data, checked=checked, reason="中断测试")
batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
print(imported.batch_id)
"""

# Executes the approved import of the file as `sidms import FILE` does on its rerun (imports.same_file, resume,
# execute_import as the operator), through a real progress callback that stops it inside its transaction:
# at KILL_AFTER rows read it writes how many persons its own (uncommitted) transaction holds to the marker
# file, then waits for the SIGKILL.
STOPPED = """
import json, os, sys, time, uuid, django
django.setup()
from pathlib import Path
from sidms.core.caller import Caller
from sidms.exchange import imports
from sidms.registry.models import Person, Staff
file, marker, stop_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
data = file.read_bytes()
existing = imports.same_file(imports.file_digest(data), "persons")
assert existing is not None and imports.resume(existing) == "execute", existing
caller = Caller(actor=Staff.objects.get(username="info_kill"), address="cli", request_id=uuid.uuid4().hex,
                channel="cli")

def stop(stage, done, total):
    if stage == "execute" and done >= stop_at:
        part = marker.with_suffix(".part")
        part.write_text(json.dumps({"done": done, "total": total, "persons": Person.objects.count()}))
        os.replace(part, marker)
        while True:
            time.sleep(60)

imports.execute_import(actor=caller, batch_id=existing.batch.pk, progress=stop)
print("not stopped")
"""

STATE = """
import json, sys, django
django.setup()
from sidms.changes.models import BatchApplication, Revision
from sidms.registry.models import Person
batch = BatchApplication.objects.get(pk=int(sys.argv[1]))
print(json.dumps({
    "persons": Person.objects.count(),
    "revisions": Revision.objects.filter(reference=f"BA{batch.pk}").count(),
    "status": batch.status,
    "ids": sorted(str(p.id_number) for p in Person.objects.all()),
}))
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SIDMS_") and k != "DJANGO_SETTINGS_MODULE"
    }
    (tmp_path / "var").mkdir(mode=0o700)
    env["SIDMS_DATA_DIR"] = str(tmp_path / "var")
    env["SIDMS_KEY_FILE"] = str(settings.SIDMS_KEY_FILE)
    scratch = ""
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.settings_dict
        scratch = f"{params['NAME']}_kill"[:63]
        base = f"postgres://{params['USER']}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
            admin.execute(f'CREATE DATABASE "{scratch}"')
        env["SIDMS_DATABASE_URL"] = f"{base}/{scratch}"
    yield env
    if scratch:
        import psycopg

        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def sidms(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidms.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def python(env: dict[str, str], script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={**env, "DJANGO_SETTINGS_MODULE": "sidms.settings"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_an_import_killed_halfway_leaves_nothing_and_its_rerun_imports_exactly_the_file(
    store: dict[str, str], tmp_path: Path
) -> None:
    migrated = sidms(store, "migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    numbers = [id_number(i % 1000, f"19{60 + i // 1000:02d}0101") for i in range(ROWS)]
    names = ["张三", "李四", "王五", "赵六"]
    file = tmp_path / "persons.csv"
    file.write_bytes(
        csv_bytes(
            [HEADER] + [[names[i % 4], n, "", "", "employee", "371002", ""] for i, n in enumerate(numbers)]
        )
    )
    batch = python(store, SETUP, str(file))

    marker = tmp_path / "stopped.json"
    process = subprocess.Popen(
        [sys.executable, "-c", STOPPED, str(file), str(marker), str(KILL_AFTER)],
        env={**store, "DJANGO_SETTINGS_MODULE": "sidms.settings"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None and not marker.exists():
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()[1].decode()[-3000:]
    stopped = json.loads(marker.read_text())
    # Stopped halfway: part of the file read, and its first chunk inserted in the transaction still open.
    assert stopped["done"] == KILL_AFTER and stopped["total"] == ROWS
    assert 0 < stopped["persons"] < ROWS
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    after_kill = json.loads(python(store, STATE, batch))
    assert after_kill["persons"] == 0 and after_kill["revisions"] == 0
    assert after_kill["status"] == "approved"  # still one execution to do

    progress = tmp_path / "progress.json"
    rerun = sidms(
        store, "import", str(file), "--kind", "persons", "--operator", "info_kill", "--progress-file", str(progress)
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert json.loads(progress.read_text()) == {"stage": "execute", "done": ROWS, "total": ROWS}
    assert f"BA{batch}" in rerun.stdout and f"已导入 {ROWS} 行" in rerun.stdout
    done = json.loads(python(store, STATE, batch))
    assert done["status"] == "executed" and done["persons"] == ROWS and done["revisions"] == ROWS
    assert done["ids"] == sorted(numbers)

    again = sidms(store, "import", str(file), "--kind", "persons", "--operator", "info_kill")
    assert again.returncode == 0 and "不再重复导入" in again.stdout
    verified = sidms(store, "audit", "verify")
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
