"""Progress of a long import step where another process can read it: a small JSON file under the data
directory, replaced atomically, named by a token the page chose (the upload form carries it, and the page's
script polls it while the request runs). It holds counts only, never a value from the file."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from django.conf import settings

_TOKEN = re.compile(r"[0-9a-f]{32}")


def progress_path(token: str) -> Path | None:
    """Where the progress of TOKEN is kept (None for anything but a 32-hex-digit token)."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    return Path(settings.DATA_DIR) / "progress" / f"{token}.json"


class ProgressFile:
    """A progress callback ``(stage, done, total)`` that writes at most every INTERVAL seconds (and always
    at a stage's start and end)."""

    def __init__(self, path: Path, interval: float = 0.2) -> None:
        self.path = path
        self.interval = interval
        self._last = 0.0
        self._stage = ""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == self._stage and now - self._last < self.interval and done != total:
            return
        self._stage, self._last = stage, now
        temporary = self.path.with_suffix(".part")
        temporary.write_text(json.dumps({"stage": stage, "done": done, "total": total}), encoding="utf-8")
        os.replace(temporary, self.path)


def read_progress(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}
