"""Checkpoints of the audit chain: (sequence, hash) pairs appended to a file that operators copy off the
host. Someone able to rewrite the whole database — triggers dropped, chain recomputed — still cannot make
it agree with checkpoints already copied elsewhere (R20, the "witness" of a transparency log)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from sidms.audit.models import ChainHead
from sidms.core.keys import keyring
from sidms.core.workers import fork_safe
from sidms.lib import chain

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_due = threading.Condition(_lock)  # the writer thread waits on it for a deadline
_last_written = 0.0
_deadline: float | None = None  # when the writer thread writes next (time.monotonic()); None: nothing due
_writer: CheckpointWriter | None = None
# Writers of this process that died with it forked (a child inherits a writer's object but not its thread):
# kept referenced, so that a child never finalises the connection a thread of its parent opened.
_retired: list[CheckpointWriter] = []
# Held by the writer thread while it writes a checkpoint (or closes its connection), and taken before every
# fork of this process (sidms.core.workers forks computing workers beside it): a child never inherits the
# key ring, OpenSSL or the thread's connection in the middle of the thread's work.
_writing = threading.Lock()
os.register_at_fork(
    before=_writing.acquire, after_in_parent=_writing.release, after_in_child=_writing.release
)


def after_commit() -> None:
    """Have the chain head reach the checkpoint file soon after this transaction commits: at once if the
    last checkpoint of this process is older than SIDMS_CHECKPOINT_INTERVAL seconds, otherwise by the writer
    thread when the interval is up. So a tail cut from the chain is caught by `sidms audit verify` (the file
    names a later event than the chain holds), except for what was appended in the last interval — the window
    that remains, which copying the file to another host closes (docs/architecture.md)."""
    # One callback per event: cheap, and the interval (not the callback count) decides how often the file is
    # written.
    transaction.on_commit(_on_commit)


def _on_commit() -> None:
    global _writer, _last_written, _deadline
    interval = float(settings.SIDMS_CHECKPOINT_INTERVAL)
    with _lock:
        wait = _last_written + interval - time.monotonic()
        if wait <= 0:
            _last_written = time.monotonic()
            write_checkpoint()
            return
        if _writer is None or not _writer.is_alive():
            if _writer is not None:
                _retired.append(_writer)
            _writer = CheckpointWriter()
            _writer.start()
        if _deadline is None:
            _deadline = time.monotonic() + wait
            _due.notify()


class CheckpointWriter(threading.Thread):
    """The thread that writes the checkpoint a quiet interval left due (one per process, started at the first
    commit that needs it). It keeps one database connection from one checkpoint to the next — a thread and a
    connection a second, opened and closed each time, cost more than the checkpoint — and closes it after an
    error, so the next checkpoint opens it again. The connection stays open beside forks: a child never uses
    it (it is this thread's, not the forking thread's) nor finalises it (the object stays referenced), and
    the thread only touches it holding ``_writing``, which every fork takes first."""

    def __init__(self) -> None:
        super().__init__(name="audit-checkpoint", daemon=True)
        self.stopped = False
        self.written = 0  # checkpoints this thread wrote, for tests and diagnostics
        self.database: Any = None  # this thread's connection (kept referenced: see above)
        fork_safe(self)

    def run(self) -> None:
        global _deadline, _last_written
        self.database = connections[DEFAULT_DB_ALIAS]
        try:
            while True:
                with _lock:
                    while not self.stopped and (_deadline is None or _deadline > time.monotonic()):
                        _due.wait(None if _deadline is None else _deadline - time.monotonic())
                    if self.stopped:
                        return
                    _deadline = None
                    _last_written = time.monotonic()
                with _writing:
                    self._write()
        finally:
            with _writing:
                self._close()

    def _write(self) -> None:
        """One checkpoint; after an error (the server ended the connection, say) once more on a new one."""
        for attempt in (1, 2):
            try:
                self.database.close_if_unusable_or_obsolete()
                write_checkpoint()
            except Exception:
                self._close()
                if attempt == 2:
                    logger.exception("audit checkpoint not written (the next commit tries again)")
                else:
                    logger.warning(
                        "audit checkpoint failed; trying once more on a new connection", exc_info=True
                    )
                continue
            self.written += 1
            return

    def _close(self) -> None:
        try:
            self.database.close()
        except Exception:
            logger.exception("closing the audit checkpoint writer's connection")

    def stop(self) -> None:
        with _lock:
            self.stopped = True
            _due.notify_all()
        self.join()


def stop_writer() -> None:
    """Stop this process's writer thread, its connection closed (tests: no thread outlives a test's
    database). A checkpoint still due is left unwritten."""
    global _writer, _deadline
    with _lock:
        writer, _writer, _deadline = _writer, None, None
    if writer is not None:
        writer.stop()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    algorithm: str
    at: str
    mac: str

    def body(self) -> bytes:
        return chain.canonical(
            {"seq": self.seq, "hash": self.hash, "algorithm": self.algorithm, "at": self.at}
        )


def checkpoint_file() -> Path:
    return Path(settings.SIDMS_CHECKPOINT_DIR) / "audit-checkpoints.jsonl"


def write_checkpoint() -> Checkpoint | None:
    """Append the current chain head to the checkpoint file (0600). Returns None for an empty chain."""
    head = ChainHead.objects.filter(pk=1).first()
    if head is None or head.seq == 0:
        return None
    point = Checkpoint(head.seq, head.hash, head.algorithm, timezone.now().isoformat(), mac="")
    point = Checkpoint(point.seq, point.hash, point.algorithm, point.at, keyring().mac(point.body()))
    body = {"seq": point.seq, "hash": point.hash, "algorithm": point.algorithm, "at": point.at}
    path = checkpoint_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({**body, "mac": point.mac}, ensure_ascii=False) + "\n")
    return point


def read_checkpoints(path: Path | None = None) -> list[Checkpoint]:
    path = path or checkpoint_file()
    if not path.exists():
        return []
    points = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            points.append(Checkpoint(data["seq"], data["hash"], data["algorithm"], data["at"], data["mac"]))
    return points


@dataclass(frozen=True)
class VerifiedPoint:
    """How far the last successful `sidms audit verify` reached: the last event it proved (with its hash)
    and the last revision id. `sidms audit verify --since-checkpoint` starts there. Kept beside the
    checkpoints, off the database, with a keyed MAC: moving it forward would hide what it skips."""

    seq: int
    hash: str
    revision: int
    rows: dict[str, int]  # the highest row id of each entity
    at: str
    incremental: bool
    mac: str = ""

    def body(self) -> bytes:
        return chain.canonical(
            {"seq": self.seq, "hash": self.hash, "revision": self.revision, "rows": self.rows, "at": self.at,
             "incremental": self.incremental}
        )  # fmt: skip


def verified_file() -> Path:
    return Path(settings.SIDMS_CHECKPOINT_DIR) / "audit-verified.json"


def write_verified(
    seq: int, digest: str, revision: int, rows: dict[str, int], *, incremental: bool
) -> VerifiedPoint:
    point = VerifiedPoint(seq, digest, revision, dict(rows), timezone.now().isoformat(), incremental)
    point = VerifiedPoint(**{**point.__dict__, "mac": keyring().mac(point.body())})
    path = verified_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(point.__dict__, ensure_ascii=False) + "\n")
    os.replace(temporary, path)  # a crash leaves the old point or the new one, never half of one
    return point


def read_verified() -> VerifiedPoint | None:
    """The last verified point, or None if there is none. A point whose MAC does not match raises
    ValueError: it was altered, and nothing it claims can be trusted."""
    path = verified_file()
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    point = VerifiedPoint(**data)
    if not keyring().verify_mac(point.body(), point.mac):
        raise ValueError("the verified point was altered")
    return point
