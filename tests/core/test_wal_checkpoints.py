"""A served process checkpoints SQLite's write-ahead log in a thread of its own (core.sqlite.checkpoints), so
no request's commit copies the log into the database while it holds the writers' lock: the periodic 5–100 ms
requests of bench/business.py's page. Each test runs in a fresh interpreter on a database file, as
`sidms serve` does (the test suite's own database is in memory and has no log)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.req("B5"), pytest.mark.engine_independent]

_WRITE = """
    import os, time
    from django.db import connection, transaction
    with connection.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, blob BLOB)")
    def commit():
        with transaction.atomic():
            with connection.cursor() as c:
                c.execute("INSERT INTO t (blob) VALUES (%s)", [os.urandom(5000)])
    for n in range(3000):  # ~2 pages a commit: ~6,000 pages, past SQLite's 1,000, short of the backstop
        commit()
    settle()  # the writer idle a moment, as between requests
    commit()  # a writer starts the log afresh once everything in it is in the database
    with connection.cursor() as c:
        c.execute("PRAGMA wal_autocheckpoint")
        pages = c.fetchone()[0]
        c.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, frames, copied = c.fetchone()  # frames: the log's length now
"""


def _run(tmp_path: Path, *parts: str, **env: str) -> str:
    environment = {
        **os.environ,
        "SIDMS_DATA_DIR": str(tmp_path),
        "SIDMS_DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}",
        "SIDMS_SQLITE_CHECKPOINT_INTERVAL": "0.05",
        **env,
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(textwrap.dedent(part) for part in parts)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_a_served_process_keeps_the_log_short_without_checkpointing_in_its_commits(tmp_path: Path) -> None:
    out = _run(tmp_path, """
        from sidms import wsgi  # what granian loads in each worker
        from sidms.core.sqlite import checkpoints
        from django.conf import settings
        name = str(settings.DATABASES["default"]["NAME"])
        assert checkpoints.background_for(name)
        thread = checkpoints._started[name]
        def settle():  # until a checkpoint has begun and ended after the last commit (however loaded the machine)
            import time
            seen, deadline = thread.checkpoints, time.monotonic() + 60
            while thread.checkpoints < seen + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    """, _WRITE, """
        assert pages == checkpoints.BACKSTOP_PAGES, pages  # the commits checkpoint only as a backstop
        assert thread.checkpoints >= 2, thread.checkpoints
        assert frames < 100, frames  # the thread copied the log into the database: it started afresh
        print("ok")
    """)  # fmt: skip
    assert out == "ok"


def test_without_the_thread_the_same_commits_grow_the_log_to_the_backstop(tmp_path: Path) -> None:
    """The control: what the thread does. The same writes with the thread stopped and the commits' threshold
    raised as in a served process leave a log of thousands of pages."""
    out = _run(tmp_path, """
        from sidms import wsgi
        from sidms.core.sqlite import checkpoints
        from django.db import connection
        checkpoints.stop_all()
        connection.ensure_connection()
        connection.connection.execute(f"PRAGMA wal_autocheckpoint={checkpoints.BACKSTOP_PAGES}")
        def settle():
            import time
            time.sleep(0.5)
    """, _WRITE, """
        assert frames > 5000, frames
        print("ok")
    """)  # fmt: skip
    assert out == "ok"


def test_the_thread_is_off_when_set_to_zero_and_never_stops_a_fork(tmp_path: Path) -> None:
    out = _run(tmp_path, """
        from sidms import wsgi
        from sidms.core.sqlite import checkpoints
        from sidms.core.workers import ordered_map, worker_count
        from django.conf import settings
        from django.db import connection
        name = str(settings.DATABASES["default"]["NAME"])
        assert not checkpoints.background_for(name)
        with connection.cursor() as c:
            c.execute("PRAGMA wal_autocheckpoint")
            assert c.fetchone()[0] == 1000  # SQLite's default: the commits checkpoint
        connection.close()
        thread = checkpoints.start(name, 0.01)  # as a served process with the thread
        assert worker_count(10_000, unit=100) > 0  # an import started from a page still forks its workers
        assert list(ordered_map(abs, [-1, -2, -3, -4], 2)) == [1, 2, 3, 4]
        assert thread.is_alive()
        print("ok")
    """, SIDMS_SQLITE_CHECKPOINT_INTERVAL="0")  # fmt: skip
    assert out == "ok"


_LARGE = """
    import os
    from pathlib import Path
    from django.db import connection, transaction
    wal = Path(name + "-wal")
    def commit(rows):
        with transaction.atomic():
            with connection.cursor() as c:
                for _ in range(rows):
                    c.execute("INSERT INTO t (blob) VALUES (%s)", [os.urandom(3000)])
    with connection.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, blob BLOB)")
        c.execute("PRAGMA journal_size_limit")
        limit = c.fetchone()[0]
    commit(6000)  # one large transaction (a demo's load, an import): ~6,000 pages, a log of ~24 MB
    grown = wal.stat().st_size
    settle()  # a checkpoint copies the log into the database
    commit(1)  # the next writer starts the log afresh, and cuts the file back to the limit
    shrunk = wal.stat().st_size
    with connection.cursor() as c:
        c.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, frames, copied = c.fetchone()
"""


def test_a_log_a_large_transaction_stretched_shrinks_back_under_the_limit_after_a_checkpoint(
    tmp_path: Path,
) -> None:
    """SQLite reuses its log file after a checkpoint rather than shrinking it: without journal_size_limit a
    served process kept a log the size of its largest transaction (the demo's ~21 MB). With the limit the
    checkpoint thread's passive checkpoints still copy the log, and the next commit cuts the file back."""
    out = _run(tmp_path, """
        from sidms import wsgi
        from sidms.core.sqlite import checkpoints
        from django.conf import settings
        name = str(settings.DATABASES["default"]["NAME"])
        thread = checkpoints._started[name]
        def settle():
            import time
            seen, deadline = thread.checkpoints, time.monotonic() + 60
            while thread.checkpoints < seen + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    """, _LARGE, """
        assert grown > 20 * 1024 * 1024, grown
        assert thread.checkpoints >= 2 and frames < 100, (thread.checkpoints, frames)
        assert shrunk <= 8 * 1024 * 1024, shrunk
        assert limit == 8 * 1024 * 1024, limit
        print("ok", grown, shrunk)
    """)  # fmt: skip
    assert out.startswith("ok")


def test_a_command_lines_log_shrinks_back_under_the_limit_after_sqlites_own_checkpoint(
    tmp_path: Path,
) -> None:
    """The same in a process without the thread (the command line: `sidms demo`, `sidms import`), where the
    large commit itself checkpoints (SQLite's wal_autocheckpoint)."""
    out = _run(tmp_path, """
        import os, django
        os.environ["DJANGO_SETTINGS_MODULE"] = "sidms.settings"
        django.setup()
        from django.conf import settings
        name = str(settings.DATABASES["default"]["NAME"])
        def settle():
            pass  # the commit past 1,000 pages checkpointed on its way out
    """, _LARGE, """
        assert grown > 20 * 1024 * 1024, grown
        assert shrunk <= 8 * 1024 * 1024, shrunk
        assert limit == 8 * 1024 * 1024, limit
        print("ok", grown, shrunk)
    """)  # fmt: skip
    assert out.startswith("ok")
