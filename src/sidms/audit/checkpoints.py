"""Checkpoints of the audit chain: (sequence, hash) pairs appended to a file that operators copy off the
host. Someone able to rewrite the whole database — triggers dropped, chain recomputed — still cannot make
it agree with checkpoints already copied elsewhere (R20, the "witness" of a transparency log)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from sidms.audit.models import ChainHead
from sidms.core.keys import keyring
from sidms.lib import chain

# A checkpoint is written automatically every this many events (and by `sidms audit checkpoint`).
EVERY = 1000


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
