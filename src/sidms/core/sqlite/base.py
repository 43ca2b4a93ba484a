"""Django's SQLite backend, with writers queued on a file lock instead of SQLite's busy handler.

Every transaction starts with BEGIN IMMEDIATE (settings.py), so two writers never fail half-way. But a
writer that finds the database locked waits in SQLite's busy handler, which sleeps and polls — 1, 2, 5, 10 …
up to 100 ms at a time. Under a load of short transactions (every page view appends an audit event) those
sleeps, not the work, made the p99 latency of a page a full second. Here each transaction first takes an
exclusive flock on a lock file beside the database, held until it commits or rolls back: a waiting writer
is woken by the kernel the moment the lock is free, and writers are served in turn. A process that dies
loses its lock with its file descriptor. In-memory databases (the test suite) need no lock.

In a served process a thread checkpoints the WAL (core.sqlite.checkpoints); connections opened there leave
checkpoints to it, so no request copies the log into the database while it holds the writers' lock.

A statement's text is turned from Django's ``%s`` placeholders into SQLite's ``?`` once per text, not on every
execution (:class:`_CursorWrapper`).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from typing import Any

from django.db.backends.sqlite3 import base

from sidms.core.sqlite import checkpoints

_QMARK = re.compile(r"(?<!%)%s")  # Django's FORMAT_QMARK_REGEX (a lazy object, dearer to call)
_CONVERTED: dict[str, str] = {}
_CONVERTED_MAX = 2048  # texts kept: the fixed statements; a bulk insert's texts vary with their row count


class _CursorWrapper(base.SQLiteCursorWrapper):
    """Django's SQLite cursor, with the ``%s`` → ``?`` conversion of a statement's text remembered. Django
    converts it by a regular expression on every execution, a fixed statement's as well: a tenth of a
    page's database calls (bench/README.md, the rights-record page). The conversion is a function of the
    text alone; named ("pyformat") parameters take Django's own path."""

    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is not None:
            return str(super().convert_query(query, param_names=param_names))
        converted = _CONVERTED.get(query)
        if converted is None:
            converted = _QMARK.sub("?", query).replace("%%", "%")
            if len(_CONVERTED) >= _CONVERTED_MAX:
                _CONVERTED.clear()
            _CONVERTED[query] = converted
        return converted


class DatabaseWrapper(base.DatabaseWrapper):
    _lock_fd: int | None = None
    _locked = False

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=_CursorWrapper)

    def get_new_connection(self, conn_params: dict[str, Any]) -> sqlite3.Connection:
        connection = super().get_new_connection(conn_params)
        if checkpoints.background_for(str(self.settings_dict.get("NAME") or "")):
            connection.execute(f"PRAGMA wal_autocheckpoint={checkpoints.BACKSTOP_PAGES}")
        return connection

    def _lock_path(self) -> str | None:
        name = str(self.settings_dict.get("NAME") or "")
        if not name or name == ":memory:" or "mode=memory" in name:
            return None
        return name + ".writers.lock"

    def _acquire(self) -> None:
        path = self._lock_path()
        if path is None or self._locked:
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._locked = True

    def _release(self) -> None:
        if self._locked and self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._locked = False

    def _start_transaction_under_autocommit(self) -> None:
        self._acquire()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._release()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._release()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._release()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
