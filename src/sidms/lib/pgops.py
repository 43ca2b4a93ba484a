"""PostgreSQL continuity operations with the real tools: synchronous standby, failover drill, pgBackRest (R18).

This module drives PostgreSQL's own binaries (``initdb``, ``pg_ctl``, ``pg_basebackup``, ``pg_isready``),
``pgbackrest`` and psycopg 3; it implements no replication, backup or verification of its own. It serves
two purposes:

* drills: build a primary with a synchronous standby in a scratch directory, kill the primary with
  SIGKILL under write load, promote the standby and measure what was lost (RPO) and how long it took
  until the first write succeeded (RTO); back a cluster up with pgBackRest into an encrypted repository,
  verify it and restore it into a scratch directory;
* the same calls, pointed at production paths, document exactly what an operator runs
  (``docs/continuity.md``).

Every cluster created here runs as the ``postgres`` OS user when this process is root (``initdb``
refuses root), through ``runuser``; as any other user the tools run as that user. Directories created
here are owned by that user. Scratch clusters use ``trust`` authentication on the loopback interface and
a private socket directory: they are drill clusters, not production settings (production: scram-sha-256
or certificates over TLS, see the docs).

Subprocesses are always argument lists (never a shell) built from paths and fixed flags. PG* variables
are removed from their environment so a developer's ``PGHOST``/``PGPORT`` cannot redirect a tool to the
project's main cluster.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from sidms.lib.errors import StandardError

__all__ = [
    "DEFAULT_BIN_DIR",
    "BackupInfo",
    "BackupKind",
    "Cluster",
    "CommandFailed",
    "DrillResult",
    "PgBackRest",
    "PgOpsError",
    "SettingValue",
    "StopMode",
    "failover_drill",
    "free_port",
    "make_primary_with_sync_standby",
    "stop_clusters_under",
    "write_pgbackrest_config",
]

DEFAULT_BIN_DIR = Path("/usr/lib/postgresql/15/bin")
INCLUDE_FILE = "pgops.conf"  # our settings, included at the end of postgresql.conf (so they win)
SettingValue = str | int | float | bool
StopMode = Literal["smart", "fast", "immediate"]
BackupKind = Literal["full", "diff", "incr"]
_OUTPUT_TAIL = 4000  # characters of a failed command's output kept in the English message
_SHORT_TAIL = 800  # and in the Chinese one (str(exc)), which is what most logs and tracebacks show


class PgOpsError(StandardError):
    """A continuity operation failed.

    ``reason``: ``tool_missing``, ``command_failed``, ``timeout``, ``not_running``, ``not_synchronous``,
    ``unreachable``, ``config``, ``backup_failed``, ``verify_failed``, ``restore_failed``, ``drill``.
    """


class CommandFailed(PgOpsError):
    """A tool exited non-zero. ``command``, ``returncode`` and ``output`` (its stdout+stderr tail) say how."""

    command: tuple[str, ...]
    returncode: int
    output: str

    def __init__(
        self,
        reason: str,
        message: str,
        message_en: str,
        command: Sequence[str] = (),
        returncode: int = -1,
        output: str = "",
    ) -> None:
        super().__init__(reason, message, message_en)
        # Keep all constructor arguments in ``args`` so the exception pickles faithfully.
        self.args = (reason, message, message_en, tuple(command), returncode, output)
        self.command = tuple(command)
        self.returncode = returncode
        self.output = output


# --- processes ---------------------------------------------------------------------------------------


def _default_owner() -> str | None:
    """The OS user clusters run as: ``postgres`` when we are root (initdb refuses root), else ourselves."""
    return "postgres" if os.geteuid() == 0 else None


def _tool(name: str, bin_dir: Path | None = None) -> str:
    """The absolute path of a tool: from ``bin_dir`` only when given (never another major version's
    binary found on PATH, such as Debian's version-switching wrappers), else from PATH."""
    found = (str(bin_dir / name) if (bin_dir / name).exists() else None) if bin_dir else shutil.which(name)
    if found is None:
        where = bin_dir or "PATH"
        raise PgOpsError(
            "tool_missing", f"找不到程序 {name}（{where}）", f"{name} is not installed ({where})"
        )
    return found


def _clean_env() -> dict[str, str]:
    # PG* (libpq) and PGBACKREST_* variables are dropped: the arguments and config files we pass are the
    # whole truth, so nothing in the caller's environment can point a tool at another cluster or repository.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LANG", "C.UTF-8")
    return env


def _run(
    argv: Sequence[str],
    *,
    owner: str | None,
    timeout: float,
    reason: str = "command_failed",
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    command = list(argv)
    if owner is not None and os.geteuid() == 0:
        command = [_tool("runuser"), "-u", owner, "--", *command]
    try:
        # An argument list built here from absolute tool paths, our own paths and fixed flags; no shell.
        # cwd "/" so a tool running as postgres does not trip over root's unreadable working directory.
        result = subprocess.run(  # noqa: S603
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            env=_clean_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PgOpsError(
            "timeout",
            f"命令超时（{timeout:.0f} 秒）：{Path(argv[0]).name}",
            f"{shlex.join(argv)} did not finish within {timeout:.0f} s",
        ) from None
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-_OUTPUT_TAIL:]
        raise CommandFailed(
            reason,
            # The tool's own words go into both messages: an operator reads str(exc) first.
            f"命令执行失败：{Path(argv[0]).name}（退出码 {result.returncode}）：{output[-_SHORT_TAIL:]}",
            f"{shlex.join(argv)} exited with {result.returncode}: {output}",
            argv,
            result.returncode,
            output,
        )
    return result


def _make_dir(path: Path, owner: str | None, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    _chown(path, owner)
    return path


def _chown(path: Path, owner: str | None) -> None:
    if owner is not None and os.geteuid() == 0:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _check_reachable(path: Path, owner: str | None) -> None:
    """Fail early, with the reason, when ``owner`` cannot write ``path`` (e.g. under a 0700 root dir)."""
    if owner is None or os.geteuid() != 0:
        return
    result = _run(
        [_tool("test"), "-w", str(path), "-a", "-x", str(path)], owner=owner, timeout=10, check=False
    )
    if result.returncode != 0:
        raise PgOpsError(
            "unreachable",
            f"操作系统用户 {owner} 无法写入目录 {path}（上级目录权限不足？）",
            f"the OS user {owner} cannot write {path}: an ancestor directory is not traversable by it "
            "(pytest's tmp_path under /tmp/pytest-of-root is 0700, for instance)",
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (bind to port 0 and ask the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _proc_stat(pid: int | str) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None if gone."""
    try:
        # The command name is in parentheses and may contain anything, so split after the last ")".
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    fields = _proc_stat(pid)
    # A zombie (Z) has exited; only its parent's wait() is missing.
    return fields is not None and bool(fields) and fields[0] not in {b"Z", b"X"}


def _all_gone(pids: Iterable[int]) -> bool:
    return not any(_pid_alive(pid) for pid in pids)


def _reaped(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(entry.name)
            if fields and len(fields) > 1 and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _postmaster_pid(pid_file: Path) -> int | None:
    """The PID on the first line of a postmaster.pid (the file also holds paths, which may be non-ASCII)."""
    try:
        return int(pid_file.read_text(encoding="utf-8", errors="replace").splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None


def _sigkill(pids: Iterable[int]) -> None:
    """SIGKILL each process in order (a process that already exited is fine)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --- settings ----------------------------------------------------------------------------------------


def _render(value: SettingValue) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    # postgresql.conf strings: single quotes doubled, backslashes escaped.
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _read_include(path: Path) -> dict[str, str]:
    settings: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                name, value = line.split("=", 1)
                settings[name.strip()] = value.strip()
    return settings


# --- clusters ----------------------------------------------------------------------------------------


@dataclass
class Cluster:
    """One PostgreSQL cluster: its data directory, port, Unix-socket directory and server log file."""

    data_dir: Path
    port: int
    socket_dir: Path
    log_file: Path
    bin_dir: Path = DEFAULT_BIN_DIR
    owner: str | None = field(default_factory=_default_owner)
    superuser: str = "postgres"

    @classmethod
    def layout(cls, base_dir: Path, name: str, port: int, **kwargs: Any) -> Cluster:
        """``base_dir/name`` for data, ``base_dir/run`` for sockets, ``base_dir/log/name.log``."""
        base_dir = Path(base_dir).resolve()
        return cls(base_dir / name, port, base_dir / "run", base_dir / "log" / f"{name}.log", **kwargs)

    def _bin(self, name: str) -> str:
        return _tool(name, self.bin_dir)

    def _prepare_dirs(self) -> None:
        for directory in (self.data_dir.parent, self.socket_dir, self.log_file.parent):
            _make_dir(directory, self.owner, 0o700 if directory != self.data_dir.parent else 0o755)
        _check_reachable(self.data_dir.parent, self.owner)

    # -- lifecycle

    def init(
        self, *, settings: Mapping[str, SettingValue] | None = None, data_checksums: bool = True
    ) -> None:
        """``initdb`` (UTF-8, C locale, page checksums so pgBackRest can check every page) and our settings."""
        self._prepare_dirs()
        command = [
            self._bin("initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            self.superuser,
            "--auth",
            "trust",  # scratch cluster on loopback and a private socket dir; see the module docstring
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-instructions",
        ]
        if data_checksums:
            command.append("--data-checksums")
        _run(command, owner=self.owner, timeout=120)
        self.configure(settings or {})

    def configure(self, settings: Mapping[str, SettingValue]) -> None:
        """Merge ``settings`` into ``pgops.conf`` (included last by postgresql.conf) with this cluster's
        port, socket directory and ``listen_addresses=127.0.0.1``. Takes effect at the next (re)start;
        copies made by pg_basebackup or pgBackRest carry the source's file, which this rewrites."""
        main = self.data_dir / "postgresql.conf"
        include_line = f"include_if_exists = '{INCLUDE_FILE}'"
        text = main.read_text(encoding="utf-8")
        if include_line not in text:
            main.write_text(
                text.rstrip("\n") + f"\n\n# settings written by sidms.lib.pgops\n{include_line}\n"
            )
        include = self.data_dir / INCLUDE_FILE
        merged = _read_include(include)
        merged.update({name: _render(value) for name, value in settings.items()})
        merged.update(
            {
                "port": _render(self.port),
                "listen_addresses": _render("127.0.0.1"),
                "unix_socket_directories": _render(str(self.socket_dir)),
            }
        )
        include.write_text(
            "# written by sidms.lib.pgops: identity of this copy and its role settings\n"
            + "".join(f"{name} = {value}\n" for name, value in sorted(merged.items())),
            encoding="utf-8",
        )
        include.chmod(0o600)
        _chown(include, self.owner)

    def start(self, *, timeout: float = 60) -> None:
        """``pg_ctl start -w``; on failure the error carries the end of the server log."""
        self._prepare_dirs()
        try:
            _run(
                [
                    self._bin("pg_ctl"),
                    "start",
                    "--pgdata",
                    str(self.data_dir),
                    "--log",
                    str(self.log_file),
                    "--wait",
                    "--timeout",
                    str(int(timeout)),
                ],
                owner=self.owner,
                timeout=timeout + 10,
            )
        except CommandFailed as exc:
            raise CommandFailed(
                exc.reason,
                f"{exc.message}\n服务器日志 {self.log_file}：\n{self.log_tail(_SHORT_TAIL)}",
                f"{exc.message_en}\n--- {self.log_file} ---\n{self.log_tail()}",
                exc.command,
                exc.returncode,
                exc.output,
            ) from None

    def stop(self, mode: StopMode = "fast", *, timeout: float = 60) -> None:
        """``pg_ctl stop -m mode``; a cluster that is not running is left alone."""
        if self.pid() is None:
            return
        _run(
            [
                self._bin("pg_ctl"),
                "stop",
                "--pgdata",
                str(self.data_dir),
                "--mode",
                mode,
                "--wait",
                "--timeout",
                str(int(timeout)),
            ],
            owner=self.owner,
            timeout=timeout + 10,
        )

    def pid(self) -> int | None:
        """The postmaster's PID from postmaster.pid, if that process is alive."""
        pid = _postmaster_pid(self.data_dir / "postmaster.pid")
        return pid if pid is not None and _pid_alive(pid) else None

    def kill9(self, *, timeout: float = 10, reap_timeout: float = 5) -> int:
        """SIGKILL the postmaster and all its children at once (a crash, not a shutdown); return its PID.

        The postmaster is killed first so it cannot restart children; the data directory keeps its stale
        postmaster.pid, exactly as after a power cut. Returns once every process is dead, and waits up to
        ``reap_timeout`` more for the postmaster's parent (init, after pg_ctl exited) to reap it: a
        server started while the old PID is still a zombie would take the stale postmaster.pid for a
        live one and refuse to start.
        """
        pid = self.pid()
        if pid is None:
            raise PgOpsError("not_running", "集群未运行", f"the cluster in {self.data_dir} is not running")
        children = _children(pid)
        _sigkill([pid, *children])
        if not _wait(functools.partial(_all_gone, [pid, *children]), timeout=timeout):
            raise PgOpsError("timeout", "进程未能终止", f"postmaster {pid} or a child survived SIGKILL")
        _wait(functools.partial(_reaped, pid), timeout=reap_timeout)
        return pid

    def promote(self, *, timeout: float = 60) -> None:
        """``pg_ctl promote -w``: end recovery; returns once the server accepts writes."""
        _run(
            [
                self._bin("pg_ctl"),
                "promote",
                "--pgdata",
                str(self.data_dir),
                "--wait",
                "--timeout",
                str(int(timeout)),
            ],
            owner=self.owner,
            timeout=timeout + 10,
        )

    def is_ready(self) -> bool:
        """``pg_isready`` on this cluster's socket: True when it accepts connections."""
        result = _run(
            [self._bin("pg_isready"), "--host", str(self.socket_dir), "--port", str(self.port), "--quiet"],
            owner=None,
            timeout=15,
            check=False,
        )
        return result.returncode == 0

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string for this cluster (Unix socket, superuser)."""
        return make_conninfo(host=str(self.socket_dir), port=self.port, dbname=dbname, user=self.superuser)

    # -- SQL helpers

    def query(
        self, statement: str | sql.SQL | sql.Composed, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement in autocommit mode and return its rows ([] when it returns none)."""
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []

    def in_recovery(self) -> bool:
        return bool(self.query("SELECT pg_is_in_recovery()")[0][0])

    def log_tail(self, characters: int = _OUTPUT_TAIL) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")[-characters:]
        except OSError:
            return "(no server log)"


def stop_clusters_under(base_dir: Path, *, timeout: float = 30) -> list[Path]:
    """Stop every cluster whose data directory is under ``base_dir`` (drill teardown).

    Immediate shutdown (SIGQUIT) lets the postmaster remove its shared memory; SIGKILL only if it does
    not exit. A cluster that was killed earlier (``kill9``) leaves a System V segment behind; it is
    removed here once nothing is attached to it. Returns the data directories that were running.
    """
    stopped = []
    for pid_file in sorted(Path(base_dir).rglob("postmaster.pid")):
        pid = _postmaster_pid(pid_file)
        if pid is None:
            continue
        if _pid_alive(pid):
            stopped.append(pid_file.parent)
            os.kill(pid, signal.SIGQUIT)
            if _wait(functools.partial(_all_gone, [pid]), timeout=timeout):
                continue
            _sigkill([pid, *_children(pid)])
            _wait(functools.partial(_all_gone, [pid]), timeout=timeout)
        _release_shared_memory(pid_file)
    return stopped


def _release_shared_memory(pid_file: Path) -> None:
    """Remove the System V segment named in a dead postmaster's pid file, if nothing is attached."""
    try:
        fields = pid_file.read_text(encoding="utf-8", errors="replace").splitlines()[6].split()
        key, shmid = int(fields[0]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return
    listing = _run([_tool("ipcs"), "-m"], owner=None, timeout=10, check=False).stdout
    for line in listing.splitlines():
        # key shmid owner perms bytes nattch [status]; only our key, our id, and no one attached.
        columns = line.split()
        if len(columns) >= 6 and columns[:2] == [f"0x{key:08x}", str(shmid)] and columns[5] == "0":
            _run([_tool("ipcrm"), "-m", str(shmid)], owner=None, timeout=10, check=False)


# --- synchronous standby and the failover drill ------------------------------------------------------


def make_primary_with_sync_standby(
    base_dir: Path,
    primary_port: int,
    standby_port: int,
    *,
    application_name: str = "offsite",
    settings: Mapping[str, SettingValue] | None = None,
    timeout: float = 60,
) -> tuple[Cluster, Cluster]:
    """A running primary and a streaming standby that the primary waits for on every commit.

    Primary: ``wal_level=replica``, ``synchronous_standby_names='FIRST 1 (<application_name>)'``,
    ``synchronous_commit=on`` (a commit returns only after the standby has flushed its WAL), and a
    physical replication slot so the primary keeps WAL the standby has not received. Standby:
    ``pg_basebackup -R`` with ``application_name`` in ``primary_conninfo``; its own
    ``synchronous_standby_names`` is empty, so once promoted its commits do not wait for a standby that
    does not exist yet (re-attach a new standby after a failover). Returns once ``pg_stat_replication``
    reports the standby as ``sync``.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", application_name):
        # It names the replication slot too, and stays unquoted in synchronous_standby_names.
        raise PgOpsError(
            "config",
            f"备库名称 {application_name!r} 只能包含小写字母、数字和下划线",
            f"the standby name {application_name!r} must be lower-case letters, digits and underscores",
        )
    base_dir = Path(base_dir).resolve()
    owner = _default_owner()
    _make_dir(base_dir, owner, 0o755)
    primary = Cluster.layout(base_dir, "primary", primary_port)
    standby = Cluster.layout(base_dir, "standby", standby_port)
    primary.init(
        settings={
            "wal_level": "replica",
            "max_wal_senders": 10,
            "max_replication_slots": 10,
            "synchronous_standby_names": f"FIRST 1 ({application_name})",
            "synchronous_commit": "on",
            "hot_standby": True,
            **(settings or {}),
        }
    )
    primary.start(timeout=timeout)
    slot = application_name
    primary.query("SELECT pg_create_physical_replication_slot(%s)", [slot])
    _run(
        [
            primary._bin("pg_basebackup"),
            "--pgdata",
            str(standby.data_dir),
            "--dbname",
            make_conninfo(
                host=str(primary.socket_dir),
                port=primary.port,
                user=primary.superuser,
                application_name=application_name,
            ),
            "--wal-method",
            "stream",
            "--slot",
            slot,
            "--write-recovery-conf",
            "--checkpoint",
            "fast",
            "--no-password",
        ],
        owner=primary.owner,
        timeout=timeout * 5,
    )
    standby.configure({"synchronous_standby_names": ""})
    standby.start(timeout=timeout)
    _wait_for_sync(primary, application_name, timeout=timeout)
    return primary, standby


def _sync_state(primary: Cluster, application_name: str) -> str | None:
    rows = primary.query(
        "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'",
        [application_name],
    )
    return str(rows[0][0]) if rows else None


def _wait_for_sync(primary: Cluster, application_name: str, *, timeout: float) -> None:
    if not _wait(lambda: _sync_state(primary, application_name) == "sync", timeout=timeout, interval=0.1):
        raise PgOpsError(
            "not_synchronous",
            f"备库 {application_name} 未进入同步复制状态",
            f"the standby {application_name!r} did not become 'sync' in pg_stat_replication within {timeout:.0f} s "
            f"(state now: {_sync_state(primary, application_name)!r})",
        )


@dataclass(frozen=True)
class DrillResult:
    """What a failover drill measured.

    ``acknowledged``: rows whose COMMIT returned to the writer before the kill. ``lost_ids``: those missing
    on the promoted standby (must be empty with synchronous commit). ``in_doubt_id``: the row whose
    COMMIT was in flight when the primary died (either outcome is correct; ``in_doubt_present`` says
    which). ``rpo_seconds``: from the oldest lost acknowledgement to the kill (0 when nothing was lost).
    ``rto_seconds``: from the SIGKILL to the first committed write on the promoted standby; failure
    detection (a human or a cluster manager deciding to promote) is not included.
    """

    acknowledged: int
    present: int
    lost_ids: tuple[int, ...]
    in_doubt_id: int | None
    in_doubt_present: bool | None
    rpo_transactions: int
    rpo_seconds: float
    rto_seconds: float
    load_seconds: float
    writes_per_second: float
    promoted_dsn: str

    def summary(self) -> str:
        in_doubt = (
            "none"
            if self.in_doubt_id is None
            else f"id {self.in_doubt_id} ({'committed' if self.in_doubt_present else 'not committed'})"
        )
        return (
            f"RPO {self.rpo_transactions} transactions / {self.rpo_seconds:.3f} s; RTO {self.rto_seconds:.3f} s; "
            f"{self.acknowledged} acknowledged commits in {self.load_seconds:.1f} s "
            f"({self.writes_per_second:.0f}/s), {self.present} rows on the promoted standby, in doubt: {in_doubt}"
        )


class _Writer(threading.Thread):
    """Inserts numbered rows, one committed transaction each; an id is recorded only after COMMIT returns."""

    def __init__(self, dsn: str, table: str) -> None:
        super().__init__(name="drill-writer", daemon=True)
        self._dsn = dsn
        self._insert = sql.SQL("INSERT INTO {} (id) VALUES (%s)").format(sql.Identifier(table))
        self.acknowledged: list[tuple[int, float]] = []  # (id, time.monotonic() when COMMIT returned)
        self.in_flight: int | None = None
        self.error: BaseException | None = None
        self.started_writing = threading.Event()
        self.stop_requested = threading.Event()

    def run(self) -> None:
        try:
            with psycopg.connect(self._dsn, connect_timeout=10) as conn:
                next_id = 1
                while not self.stop_requested.is_set():
                    self.in_flight = next_id
                    conn.execute(self._insert, [next_id])
                    conn.commit()
                    self.acknowledged.append((next_id, time.monotonic()))
                    self.in_flight = None
                    self.started_writing.set()
                    next_id += 1
        except psycopg.Error as exc:  # the expected end: the primary died under us
            self.error = exc
        finally:
            self.started_writing.set()


def failover_drill(
    primary: Cluster,
    standby: Cluster,
    *,
    writer_seconds: float = 2.0,
    table: str = "continuity_drill",
    application_name: str = "offsite",
    require_sync: bool = True,
    after_promotion: Callable[[str], None] | None = None,
    timeout: float = 60,
) -> DrillResult:
    """Kill the primary with SIGKILL under write load, promote the standby, measure RPO and RTO.

    A writer thread commits one numbered row per transaction on the primary; after ``writer_seconds``
    the primary and its children get SIGKILL while the writer is still committing. The standby is
    promoted with ``pg_ctl promote``; the first successful write there stops the RTO clock; then every
    acknowledged id is looked up on the new primary. ``after_promotion(dsn)`` is then called with the
    promoted server's DSN, so a caller can run its own checks there (e.g. sidms's audit verification);
    its exceptions propagate. The old primary stays down (in production it must be fenced, never
    restarted as a primary).
    """
    if require_sync and _sync_state(primary, application_name) != "sync":
        _wait_for_sync(primary, application_name, timeout=timeout)
    ident = sql.Identifier(table)
    primary.query(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (id bigint PRIMARY KEY, payload text NOT NULL DEFAULT '', "
            "committed_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        ).format(ident)
    )
    if primary.query(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(ident))[0][0]:
        raise PgOpsError(
            "drill",
            f"演练表 {table} 不为空",
            f"the drill table {table!r} already has rows; give the drill a new table",
        )
    writer = _Writer(primary.dsn(), table)
    writer.start()
    if not writer.started_writing.wait(timeout) or not writer.acknowledged:
        writer.stop_requested.set()
        raise PgOpsError("drill", "演练写入未能开始", f"the drill writer committed nothing: {writer.error!r}")
    load_started = writer.acknowledged[0][1]
    time.sleep(writer_seconds)
    if not writer.is_alive():
        raise PgOpsError(
            "drill", "演练写入提前中断", f"the drill writer stopped before the kill: {writer.error!r}"
        )

    # The RTO clock starts before the SIGKILL (the few milliseconds of listing the children count against
    # us, never for us); reaping is not waited for, it is not part of a failover.
    killed_at = time.monotonic()
    primary.kill9(reap_timeout=0)
    writer.join(timeout)
    if writer.is_alive():
        writer.stop_requested.set()
        raise PgOpsError("drill", "演练写入未能结束", "the drill writer did not notice the primary's death")
    acknowledged = list(writer.acknowledged)
    in_doubt = writer.in_flight

    standby.promote(timeout=timeout)
    probe = sql.SQL("INSERT INTO {} (id, payload) VALUES (0, 'first write after promotion')").format(ident)
    last_error: BaseException | None = None

    def first_write() -> bool:
        nonlocal last_error
        try:
            with psycopg.connect(standby.dsn(), connect_timeout=5) as conn:
                conn.execute(probe)
            return True
        except psycopg.Error as exc:
            last_error = exc
            return False

    if not _wait(first_write, timeout=timeout, interval=0.02):
        raise PgOpsError(
            "drill", "提升后的备库无法写入", f"no write succeeded on the promoted standby: {last_error!r}"
        )
    written_at = time.monotonic()

    present = {int(row[0]) for row in standby.query(sql.SQL("SELECT id FROM {} WHERE id > 0").format(ident))}
    ack_times = dict(acknowledged)
    lost = tuple(sorted(set(ack_times) - present))
    rpo_seconds = killed_at - min(ack_times[i] for i in lost) if lost else 0.0
    load_seconds = killed_at - load_started
    result = DrillResult(
        acknowledged=len(acknowledged),
        present=len(present),
        lost_ids=lost,
        in_doubt_id=in_doubt,
        in_doubt_present=None if in_doubt is None else in_doubt in present,
        rpo_transactions=len(lost),
        rpo_seconds=rpo_seconds,
        rto_seconds=written_at - killed_at,
        load_seconds=load_seconds,
        writes_per_second=len(acknowledged) / load_seconds if load_seconds > 0 else 0.0,
        promoted_dsn=standby.dsn(),
    )
    if after_promotion is not None:
        after_promotion(standby.dsn())
    return result


# --- pgBackRest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupInfo:
    """One backup as ``pgbackrest info --output=json`` describes it.

    ``repository_size`` is the whole set a restore needs (for diff/incr: with its prior backups),
    ``repository_delta`` what this backup added to the repository. ``error`` is pgBackRest's flag for
    page-checksum errors found while copying the cluster (the backup itself still "succeeds").
    """

    label: str
    kind: str
    prior: str | None
    started_at: datetime
    stopped_at: datetime
    database_size: int
    repository_size: int
    repository_delta: int
    error: bool
    wal_start: str | None
    wal_stop: str | None
    lsn_start: str | None
    lsn_stop: str | None

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> BackupInfo:
        info = entry.get("info", {})
        archive = entry.get("archive", {})
        lsn = entry.get("lsn", {})
        timestamp = entry["timestamp"]
        return cls(
            label=str(entry["label"]),
            kind=str(entry["type"]),
            prior=entry.get("prior"),
            started_at=datetime.fromtimestamp(int(timestamp["start"]), UTC),
            stopped_at=datetime.fromtimestamp(int(timestamp["stop"]), UTC),
            database_size=int(info.get("size", 0)),
            repository_size=int(info.get("repository", {}).get("size", 0)),
            repository_delta=int(info.get("repository", {}).get("delta", 0)),
            error=bool(entry.get("error", False)),
            wal_start=archive.get("start"),
            wal_stop=archive.get("stop"),
            lsn_start=lsn.get("start"),
            lsn_stop=lsn.get("stop"),
        )


@dataclass(frozen=True)
class PgBackRest:
    """A pgBackRest configuration for one stanza; every command runs as the cluster's OS user."""

    config: Path
    stanza: str
    repo_path: Path
    owner: str | None = field(default_factory=_default_owner)
    executable: str = "pgbackrest"

    def _argv(self, command: str, *options: str) -> list[str]:
        return [
            _tool(self.executable),
            # --config-path also moves the include directory (default /etc/pgbackrest/conf.d) to ours,
            # so a host's own pgBackRest settings cannot leak into this stanza.
            f"--config-path={self.config.parent}",
            f"--config={self.config}",
            f"--stanza={self.stanza}",
            *options,
            command,
        ]

    def run(self, command: str, *options: str, timeout: float = 600, reason: str = "command_failed") -> str:
        """Any pgBackRest command for this stanza; returns its standard output."""
        return _run(self._argv(command, *options), owner=self.owner, timeout=timeout, reason=reason).stdout

    def archive_settings(self) -> dict[str, SettingValue]:
        """The cluster settings that ship every WAL segment to the repository (``archive-push``)."""
        command = shlex.join(
            [
                _tool(self.executable),
                f"--config-path={self.config.parent}",
                f"--config={self.config}",
                f"--stanza={self.stanza}",
                "archive-push",
            ]
        )
        return {"archive_mode": True, "archive_command": f"{command} %p", "wal_level": "replica"}

    def stanza_create(self, *, timeout: float = 120) -> None:
        self.run("stanza-create", timeout=timeout)

    def check(self, *, timeout: float = 120) -> None:
        """``pgbackrest check``: the cluster can archive into the repository (forces and waits for a WAL switch)."""
        self.run("check", timeout=timeout)

    def backups(self) -> list[BackupInfo]:
        """Every backup set in the repository, oldest first."""
        stanzas = json.loads(self.run("info", "--output=json", timeout=60))
        for stanza in stanzas:
            if stanza.get("name") == self.stanza:
                return [BackupInfo.from_json(entry) for entry in stanza.get("backup", [])]
        return []

    def cipher(self) -> str | None:
        """The repository's cipher as ``pgbackrest info`` reports it (``aes-256-cbc`` or ``none``)."""
        for stanza in json.loads(self.run("info", "--output=json", timeout=60)):
            if stanza.get("name") == self.stanza:
                return str(stanza.get("cipher"))
        return None

    def backup(self, kind: BackupKind = "full", *, timeout: float = 3600) -> BackupInfo:
        """Take a full, differential or incremental backup and return what the repository recorded."""
        before = {b.label for b in self.backups()}
        self.run("backup", f"--type={kind}", timeout=timeout, reason="backup_failed")
        new = [b for b in self.backups() if b.label not in before]
        if not new:
            raise PgOpsError(
                "backup_failed", "备份未出现在备份库中", "the backup finished but is not in `pgbackrest info`"
            )
        return new[-1]

    def verify(self, *, timeout: float = 3600) -> str:
        """``pgbackrest verify``: every backup and WAL file decrypts, decompresses and matches its checksum.

        Raises ``PgOpsError`` (reason ``verify_failed``) with pgBackRest's findings otherwise; returns the
        text report when everything is valid.
        """
        result = _run(
            self._argv("verify", "--output=text", "--verbose"),
            owner=self.owner,
            timeout=timeout,
            check=False,
        )
        report = (result.stdout + result.stderr).strip()
        if result.returncode != 0 or _verify_found_errors(report):
            raise PgOpsError(
                "verify_failed",
                "备份库校验未通过：备份文件缺失、损坏或被篡改",
                f"pgbackrest verify found problems in stanza {self.stanza!r} (exit {result.returncode}): "
                f"{report[-_OUTPUT_TAIL:]}",
            )
        return report

    def restore(
        self,
        target_dir: Path,
        *,
        port: int,
        set_label: str | None = None,
        socket_dir: Path | None = None,
        log_file: Path | None = None,
        start: bool = True,
        job_retry: int | None = None,
        timeout: float = 600,
    ) -> Cluster:
        """Restore a backup set (default: the latest) into an empty scratch directory and start it on ``port``.

        Recovery replays archived WAL to the end of the archive and then opens the cluster for writes.
        Archiving is switched off in the copy (``--archive-mode=off``) so a restored scratch cluster never
        pushes WAL into the production repository. Raises ``PgOpsError`` (``restore_failed``) when
        pgBackRest finds a damaged file or the restored cluster does not start.
        """
        target_dir = Path(target_dir).resolve()
        if target_dir.exists() and any(target_dir.iterdir()):
            raise PgOpsError(
                "config", f"恢复目标目录 {target_dir} 不为空", f"the restore target {target_dir} is not empty"
            )
        base = target_dir.parent
        cluster = Cluster(
            target_dir,
            port,
            socket_dir or base / "run",
            log_file or base / "log" / f"{target_dir.name}.log",
            owner=self.owner,
        )
        cluster._prepare_dirs()
        _make_dir(target_dir, self.owner)
        options = [f"--pg1-path={target_dir}", "--archive-mode=off", "--type=default"]
        if set_label is not None:
            options.append(f"--set={set_label}")
        if job_retry is not None:  # pgBackRest retries a failed file (default twice, 15 s apart)
            options.append(f"--job-retry={job_retry}")
        self.run("restore", *options, timeout=timeout, reason="restore_failed")
        # The copy carries the source's pgops.conf (port, socket, synchronous standby names): make it its own.
        cluster.configure({"synchronous_standby_names": ""})
        if start:
            try:
                cluster.start(timeout=timeout)
            except PgOpsError as exc:
                raise PgOpsError(
                    "restore_failed",
                    "恢复的集群无法启动",
                    f"the restored cluster in {target_dir} did not start: {exc.message_en}",
                ) from None
            if not _wait(lambda: not cluster.in_recovery(), timeout=timeout, interval=0.2):
                raise PgOpsError(
                    "restore_failed",
                    "恢复的集群未能完成恢复",
                    f"the restored cluster in {target_dir} is still in recovery after {timeout:.0f} s:\n"
                    f"{cluster.log_tail()}",
                )
        return cluster


_VERIFY_COUNTS = re.compile(r"(missing|checksum invalid|size invalid|other): (\d+)")


def _verify_found_errors(report: str) -> bool:
    """Whether a ``verify --output=text --verbose`` report lists any problem.

    pgBackRest 2.45 exits 0 even when it finds a corrupt file (it reports ``status: error`` for the stanza
    and ``status: invalid`` for the backup), so the exit code alone proves nothing. Fail closed: a report
    without a stanza status line is treated as a failure too.
    """
    statuses = re.findall(r"^\s*status: (\S+)", report, flags=re.MULTILINE)
    if not statuses or statuses[0] != "ok":
        return True
    if re.search(r"status: (?!valid\b|ok\b)\S+", report):
        return True
    return any(int(count) for _, count in _VERIFY_COUNTS.findall(report))


def write_pgbackrest_config(
    path: Path,
    *,
    stanza: str,
    repo_path: Path,
    pg_data: Path,
    pg_port: int,
    pg_socket: Path,
    cipher_pass: str,
    retention_full: int = 2,
    retention_diff: int | None = None,
    compress_type: str = "zst",
    process_max: int = 1,
    log_path: Path | None = None,
    lock_path: Path | None = None,
    pg_user: str = "postgres",
    owner: str | None = None,
) -> PgBackRest:
    """Write a pgBackRest configuration with an encrypted repository and return the stanza's handle.

    The repository is encrypted with ``aes-256-cbc`` under ``cipher_pass`` (pgBackRest encrypts every
    backup and WAL file and the info files). Keep the passphrase out of version control and out of
    backups of the repository itself: losing it makes every backup unreadable. The file is written 0600
    and owned by the OS user the cluster runs as, who also runs ``archive-push``.
    ``repo1-retention-full`` keeps that many full backups (and the WAL they need); older ones expire
    after each successful backup.
    """
    if len(cipher_pass) < 20 or any(c in cipher_pass for c in "\r\n"):
        raise PgOpsError(
            "config",
            "备份库加密口令过短或含换行",
            "the repository passphrase must have at least 20 characters and no line breaks "
            "(generate one with `openssl rand -base64 48`)",
        )
    owner = owner if owner is not None else _default_owner()
    path = Path(path).resolve()
    config_dir = _make_dir(path.parent, owner, 0o755)
    repo_path = _make_dir(Path(repo_path).resolve(), owner, 0o750)
    log_path = _make_dir(Path(log_path or config_dir / "log").resolve(), owner, 0o750)
    lock_path = _make_dir(Path(lock_path or config_dir / "lock").resolve(), owner, 0o750)
    _check_reachable(repo_path, owner)
    lines = [
        "# written by sidms.lib.pgops.write_pgbackrest_config — holds the repository passphrase: 0600",
        "[global]",
        f"repo1-path={repo_path}",
        "repo1-cipher-type=aes-256-cbc",
        f"repo1-cipher-pass={cipher_pass}",
        f"repo1-retention-full={retention_full}",
        *([f"repo1-retention-diff={retention_diff}"] if retention_diff is not None else []),
        f"compress-type={compress_type}",
        f"process-max={process_max}",
        "start-fast=y",
        f"log-path={log_path}",
        f"lock-path={lock_path}",
        "log-level-console=warn",
        "log-level-file=info",
        "",
        f"[{stanza}]",
        f"pg1-path={Path(pg_data).resolve()}",
        f"pg1-port={pg_port}",
        f"pg1-socket-path={Path(pg_socket).resolve()}",
        f"pg1-user={pg_user}",
        "",
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write("\n".join(lines))
    _chown(path, owner)
    return PgBackRest(config=path, stanza=stanza, repo_path=repo_path, owner=owner)
