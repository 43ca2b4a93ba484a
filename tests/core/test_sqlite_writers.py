"""The embedded SQLite store queues writers on a file lock (sidms.core.sqlite): a second writer waits until
the first commits, however short SQLite's own busy timeout, instead of failing with "database is locked"
or sleeping in SQLite's busy handler."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sidms.core.sqlite.base import DatabaseWrapper


@pytest.fixture
def unblocked(django_db_blocker: Any) -> Any:
    """These databases are the test's own files, not the test database."""
    with django_db_blocker.unblock():
        yield


def _wrapper(path: Path, alias: str) -> DatabaseWrapper:
    return DatabaseWrapper(
        {
            "ENGINE": "sidms.core.sqlite", "NAME": str(path), "USER": "", "PASSWORD": "", "HOST": "",
            "PORT": "", "ATOMIC_REQUESTS": False, "AUTOCOMMIT": True, "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False, "TIME_ZONE": None, "TEST": {},
            # SQLite alone would give up after 10 ms.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 0.01},
        },
        alias=alias,
    )  # fmt: skip


@pytest.mark.req("R13")
def test_a_second_writer_waits_for_the_first_to_commit(tmp_path: Path, unblocked: None) -> None:
    path = tmp_path / "store.sqlite3"
    first = _wrapper(path, "first")
    with first.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("CREATE TABLE t (n INTEGER)")
    order: list[str] = []
    failures: list[BaseException] = []

    def write_second() -> None:
        second = _wrapper(path, "second")  # a connection belongs to its thread
        try:
            second.ensure_connection()
            second._start_transaction_under_autocommit()  # blocks on the lock, not in SQLite
            with second.cursor() as cursor:
                cursor.execute("INSERT INTO t VALUES (2)")
            order.append("second wrote")
            second._commit()
        except BaseException as exc:
            failures.append(exc)
        finally:
            second.close()

    first.ensure_connection()
    first._start_transaction_under_autocommit()
    with first.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (1)")
    thread = threading.Thread(target=write_second)
    thread.start()
    time.sleep(0.3)  # thirty times SQLite's own timeout
    order.append("first commits")
    first._commit()
    thread.join(timeout=10)

    assert failures == []
    assert order == ["first commits", "second wrote"]
    with first.cursor() as cursor:
        cursor.execute("SELECT n FROM t ORDER BY n")
        assert [row[0] for row in cursor.fetchall()] == [1, 2]
    first.close()


@pytest.mark.req("R13")
def test_a_writer_that_rolls_back_or_closes_frees_the_lock(tmp_path: Path, unblocked: None) -> None:
    path = tmp_path / "store.sqlite3"
    first = _wrapper(path, "first")
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE t (n INTEGER)")
    first._start_transaction_under_autocommit()
    first._rollback()
    first._start_transaction_under_autocommit()
    first.close()  # a connection closed mid-transaction (a worker that dies) releases the lock too
    done: list[Any] = []

    def write_second() -> None:
        second = _wrapper(path, "second")
        second.ensure_connection()
        second._start_transaction_under_autocommit()
        done.append(1)
        second._rollback()
        second.close()

    thread = threading.Thread(target=write_second)
    thread.start()
    thread.join(timeout=5)
    assert done == [1]
