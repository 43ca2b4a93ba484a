"""SQLite's WAL checkpoints taken off the request path of a served process.

In WAL mode every commit appends its pages to the write-ahead log, and by default the commit that takes
the log past 1,000 pages (``wal_autocheckpoint``) copies the log into the database file and syncs it before
it returns. On the served rights-record page each request appends one audit event (~9 pages), so every
~108th request of a worker did that copy: 5–12 ms more than the page's ~3.7 ms, now and then ~100 ms when
the sync waited on the disk, and all of it while that request held the writers' lock (core.sqlite.base), so
the other worker's writes waited too. Measured one request at a time through the test client on a
20,000-person store (``bench/business.py --page-profile``): p99 8.3 ms with the automatic checkpoints, 6.2
ms without; the slow requests came every 106–110 requests.

Here a thread of the served process checkpoints every ``interval`` seconds on its own connection, with
``PRAGMA wal_checkpoint(PASSIVE)``: it copies what no reader still needs and never waits for a lock, so
readers and the writer go on (SQLite releases the interpreter lock while it copies and syncs). The
process's own connections then checkpoint only as a backstop, when the log passes ``BACKSTOP_PAGES`` (the
thread stopped, or far behind). Processes without the thread (the command line, the tests) keep SQLite's
default.

This is SQLite's own mechanism (https://sqlite.org/wal.html, "Application-initiated checkpoints"); it is
written here because Django has no setting for it and Python's sqlite3 module exposes no WAL hook.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from sidms.core.workers import fork_safe

# The log's size, in pages, at which a commit of this process checkpoints anyway (SQLite's default is
# 1,000): 40 MB at 4 KiB pages, a few seconds of the busiest load measured.
BACKSTOP_PAGES = 10_000

_started: dict[str, WalCheckpointer] = {}
_guard = threading.Lock()


class WalCheckpointer(threading.Thread):
    """Checkpoints the WAL of the database file PATH every INTERVAL seconds until stopped."""

    def __init__(self, path: str, interval: float) -> None:
        super().__init__(name=f"wal-checkpoint {os.path.basename(path)}", daemon=True)
        self.path = path
        self.interval = interval
        self.stopped = threading.Event()
        self.checkpoints = 0  # completed PRAGMA calls, for tests and diagnostics
        # Held around each checkpoint and taken before every fork of this process (core.workers forks
        # beside it): a child never inherits SQLite's or the connection's locks half-taken.
        self.working = threading.Lock()
        fork_safe(self)

    def run(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            while not self.stopped.wait(self.interval):
                with self.working:
                    try:
                        if db is None:  # the file must exist: this thread never creates a database
                            db = sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=rw", uri=True, timeout=0,
                                                 check_same_thread=False, isolation_level=None)  # fmt: skip
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:
                        # No database yet, or the file replaced or damaged: the next tick opens it again. The
                        # thread never dies of it (its connections' backstop would then do all the work).
                        if db is not None:
                            db.close()
                            db = None
                        continue
                    self.checkpoints += 1
        finally:
            if db is not None:
                db.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def start(path: str, interval: float) -> WalCheckpointer:
    """Start (once per database file and process) the thread that checkpoints PATH's WAL, and have this
    process's SQLite connections opened from now on leave checkpoints to it (``background_for``)."""
    with _guard:
        running = _started.get(path)
        if running is not None and running.is_alive():
            return running
        thread = WalCheckpointer(path, interval)
        os.register_at_fork(before=thread.working.acquire, after_in_parent=thread.working.release,
                            after_in_child=thread.working.release)  # fmt: skip
        thread.start()
        _started[path] = thread
        return thread


def background_for(path: str) -> bool:
    """Whether a thread of this process checkpoints PATH's WAL (its connections then only as a backstop)."""
    running = _started.get(path)
    return running is not None and running.is_alive()


def stop_all() -> None:
    """Stop every checkpointing thread of this process (tests)."""
    with _guard:
        threads = list(_started.values())
        _started.clear()
    for thread in threads:
        thread.stop()
