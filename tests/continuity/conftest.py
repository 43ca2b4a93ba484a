"""Scratch directories for continuity drills: real PostgreSQL clusters and pgBackRest repositories.

Nothing here touches the project's main cluster on port 5432: every cluster is created by initdb in a
directory made for the test, on ports the kernel reports free, and is stopped (with its shared memory
released) and deleted afterwards.

The directories are made with ``tempfile.mkdtemp`` rather than pytest's ``tmp_path``: when the suite runs
as root, clusters run as the ``postgres`` user, who cannot enter pytest's 0700 /tmp/pytest-of-root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sidms.lib import pgops

INITDB = pgops.DEFAULT_BIN_DIR / "initdb"


def _missing_postgres() -> str | None:
    if not INITDB.exists():
        return f"PostgreSQL 15 server binaries are not installed ({INITDB} is absent): apt-get install -y postgresql-15"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no 'postgres' OS user to run the clusters as"
    return None


def _missing_pgbackrest() -> str | None:
    if shutil.which("pgbackrest") is None:
        return "pgBackRest is not installed (no pgbackrest on PATH): apt-get install -y pgbackrest"
    return None


@contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)  # traversable by the postgres user; pgops makes the subdirectories 0700 and its own
    try:
        yield base
    finally:
        pgops.stop_clusters_under(base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_scratch() -> Iterator[Path]:
    """An empty directory for clusters; skips when PostgreSQL 15's binaries are missing."""
    reason = _missing_postgres()
    if reason:
        pytest.skip(reason)
    with _scratch("sidms-continuity-") as base:
        yield base


@pytest.fixture(scope="module")
def backrest_scratch() -> Iterator[Path]:
    """A module-wide directory for a cluster and its pgBackRest repository; skips without the tools."""
    reason = _missing_postgres() or _missing_pgbackrest()
    if reason:
        pytest.skip(reason)
    with _scratch("sidms-backrest-") as base:
        yield base


# --- personas of continuity and supervision (one per post, city level unless named otherwise) ---------------


@pytest.fixture
def officer(make_staff):  # type: ignore[no-untyped-def]
    """The named backup officer (R18.1)."""
    return make_staff(
        "backup_city", posts=("backup_officer",), district="371000", full_name="备份管理员 郭强"
    )


@pytest.fixture
def security_admin(make_staff):  # type: ignore[no-untyped-def]
    return make_staff(
        "security_city", posts=("security_admin",), district="371000", full_name="安全管理员 林峰"
    )


@pytest.fixture
def security_admin2(make_staff):  # type: ignore[no-untyped-def]
    return make_staff(
        "security2_city", posts=("security_admin",), district="371000", full_name="安全管理员 何静"
    )


@pytest.fixture
def city_admin(make_staff):  # type: ignore[no-untyped-def]
    return make_staff("admin_city", posts=("city_admin",), district="371000", full_name="系统管理员 陈晨")


@pytest.fixture
def supervisor(make_staff):  # type: ignore[no-untyped-def]
    return make_staff(
        "supervisor_city", posts=("supervisor",), district="371000", full_name="人社局监督 冯雪"
    )


@pytest.fixture
def supervisor2(make_staff):  # type: ignore[no-untyped-def]
    return make_staff(
        "supervisor2_city", posts=("supervisor",), district="371000", full_name="人社局监督 孟凡"
    )


@pytest.fixture
def info_centre(make_staff):  # type: ignore[no-untyped-def]
    return make_staff("info_city", posts=("info_centre",), district="371000", full_name="信息机构 郑伟")


@pytest.fixture
def audit_admin(make_staff):  # type: ignore[no-untyped-def]
    return make_staff("audit_city", posts=("auditor",), district="371000", full_name="审计管理员 吴刚")


@pytest.fixture
def key_file(settings, tmp_path):  # type: ignore[no-untyped-def]
    """A copy of the session's key ring for this test alone: rotations must not leak into other tests."""
    from sidms.core.keys import keyring

    path = tmp_path / "keys" / "sidms.keys"
    path.parent.mkdir()
    shutil.copy2(settings.SIDMS_KEY_FILE, path)
    settings.SIDMS_KEY_FILE = path
    keyring.cache_clear()
    yield path
    keyring.cache_clear()
