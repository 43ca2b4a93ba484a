"""The thread that writes the audit checkpoint a quiet interval left due (audit.checkpoints.CheckpointWriter)
keeps one database connection from one checkpoint to the next, instead of a new thread and a new connection
each time (up to one a second under load), and writes every checkpoint that falls to it; a connection that
fails is replaced, and the checkpoint it was writing is still written.

It runs in a fresh interpreter on a database file, as a served process does: the thread reads what other
connections committed, which the suite's own database (each test one uncommitted transaction) never holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [pytest.mark.req("R20"), pytest.mark.engine_independent]

_SCRIPT = """
    import json, os, threading, time, django
    os.environ["DJANGO_SETTINGS_MODULE"] = "sidms.settings"
    django.setup()
    from django.core.management import call_command
    from django.db.backends.signals import connection_created
    from sidms.audit import checkpoints
    from sidms.audit.models import ChainHead
    from sidms.audit.services import audit_record

    opened = []  # the connections the writer thread opened (from the migration's own events on)
    connection_created.connect(
        lambda sender, connection, **kw: opened.append(id(connection))
        if threading.current_thread().name == "audit-checkpoint" else None,
        weak=False,
    )
    call_command("migrate", verbosity=0)

    def append_and_wait():
        # One event committed; back once the checkpoint file names it (written at once by this thread when
        # the last checkpoint is older than the interval, otherwise by the writer thread).
        audit_record("test.checkpoint_writer", actor="system:test")
        seq = ChainHead.objects.get(pk=1).seq
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            points = checkpoints.read_checkpoints()
            if points and points[-1].seq == seq:
                return seq
            time.sleep(0.02)
        raise AssertionError(f"no checkpoint of event #{seq}")

    def ticks(count):
        # Events appended one after another until the writer thread has written COUNT checkpoints.
        deadline = time.monotonic() + 120
        while (checkpoints._writer is None or checkpoints._writer.written < count) and time.monotonic() < deadline:
            append_and_wait()
        return checkpoints._writer

    writer = ticks(2)
    # Workers forked beside the thread and its open connection (an import started from a page): they run,
    # and the thread goes on on the same connection after them.
    from sidms.core.workers import ordered_map, worker_count
    assert worker_count(10_000, unit=100) > 0
    assert list(ordered_map(abs, [-1, -2, -3, -4], 2)) == [1, 2, 3, 4]
    ticks(4)
    result = {"written": writer.written, "opened": len(opened), "open": writer.database.connection is not None}
    with checkpoints._writing:  # between two checkpoints, the connection fails under the thread
        writer.database.connection.close()
    ticks(writer.written + 2)
    seqs = [point.seq for point in checkpoints.read_checkpoints()]
    result.update(after=writer.written, reopened=len(opened), same_thread=checkpoints._writer is writer,
                  seqs=seqs, head=ChainHead.objects.get(pk=1).seq)
    checkpoints.stop_writer()
    print(json.dumps(result))
"""


def test_the_writer_keeps_one_connection_across_checkpoints_and_replaces_one_that_failed(
    tmp_path: Path,
) -> None:
    (tmp_path / "var").mkdir(mode=0o700)
    environment = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SIDMS_") and k != "DJANGO_SETTINGS_MODULE"
        },
        "SIDMS_DATA_DIR": str(tmp_path / "var"),
        "SIDMS_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'audit.sqlite3'}",
        "SIDMS_KEY_FILE": str(settings.SIDMS_KEY_FILE),
        "SIDMS_CHECKPOINT_INTERVAL": "0.3",
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SCRIPT)],
        capture_output=True, text=True, timeout=600, check=False, env=environment,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (
        result["written"] >= 4 and result["opened"] == 1 and result["open"]
    )  # four checkpoints, one connection
    assert result["after"] >= result["written"] + 2  # it went on writing after the failure …
    assert result["reopened"] == 2 and result["same_thread"]  # … on one new connection, in the same thread
    assert result["seqs"] == sorted(result["seqs"]) and result["seqs"][-1] == result["head"]
