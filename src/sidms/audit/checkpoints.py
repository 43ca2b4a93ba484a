"""Checkpoints of the audit chain: (sequence, hash) pairs appended to a file that operators copy off the
host. Someone able to rewrite the whole database — triggers dropped, chain recomputed — still cannot make
it agree with checkpoints already copied elsewhere (R20, the "witness" of a transparency log)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sidms.audit.models import ChainHead
from sidms.core.keys import keyring
from sidms.core.workers import fork_safe
from sidms.lib import chain

_lock = threading.Lock()
_last_written = 0.0
_timer: threading.Timer | None = None
# Held by the timer's thread while it writes a checkpoint, and taken before every fork of this process
# (sidms.core.workers forks computing workers beside the timer): a child never inherits the key ring or
# OpenSSL in the middle of the timer's work.
_writing = threading.Lock()
os.register_at_fork(
    before=_writing.acquire, after_in_parent=_writing.release, after_in_child=_writing.release
)


def after_commit() -> None:
    """Have the chain head reach the checkpoint file soon after this transaction commits: at once if the
    last checkpoint of this process is older than SIDMS_CHECKPOINT_INTERVAL seconds, otherwise by a timer
    when the interval is up. So a tail cut from the chain is caught by `sidms audit verify` (the file names a
    later event than the chain holds), except for what was appended in the last interval — the window that
    remains, which copying the file to another host closes (docs/architecture.md)."""
    # One callback per event: cheap, and the interval (not the callback count) decides how often the file is
    # written.
    transaction.on_commit(_on_commit)


def _on_commit() -> None:
    global _timer, _last_written
    interval = float(settings.SIDMS_CHECKPOINT_INTERVAL)
    with _lock:
        wait = _last_written + interval - time.monotonic()
        if wait <= 0:
            _last_written = time.monotonic()
            write_checkpoint()
        elif _timer is None:
            _timer = threading.Timer(wait, _on_timer)
            _timer.daemon = True
            fork_safe(_timer)
            _timer.start()


def _on_timer() -> None:
    global _timer, _last_written
    with _lock:
        _timer = None
        _last_written = time.monotonic()
    with _writing:  # closing the connection too (its TLS state) happens outside any fork
        try:
            write_checkpoint()
        finally:
            connection.close()  # the timer's thread opened its own connection


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
