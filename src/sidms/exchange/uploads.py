"""An uploaded file between the dry run and the application, on the upload page: kept encrypted under the
data directory, bound to the page's token and to the staff member who uploaded it (another account's
token opens nothing), never in plain text. Removed after a day by ``sweep``."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

from django.conf import settings

from sidms.core.keys import keyring
from sidms.exchange.progress import progress_path

MAX_AGE = 24 * 3600


def _path(token: str) -> Path | None:
    if progress_path(token) is None:  # the same token shape: 32 hex digits
        return None
    return Path(settings.DATA_DIR) / "uploads" / f"{token}.sealed"


def _aad(token: str, staff_pk: int) -> bytes:
    return f"exchange.upload:{token}:{staff_pk}".encode()


def stash(token: str, staff_pk: int, *, data: bytes, kind: str, filename: str) -> None:
    path = _path(token)
    if path is None:
        raise ValueError("bad upload token")
    body = json.dumps({"kind": kind, "filename": filename, "data": base64.b64encode(data).decode("ascii")})
    token_bytes = keyring().encrypt(body, aad=_aad(token, staff_pk))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(token_bytes)
    sweep()


def unstash(token: str, staff_pk: int) -> tuple[bytes, str, str] | None:
    """(data, kind, filename) of the upload, or None (no such upload, or not this staff member's)."""
    path = _path(token)
    if path is None:
        return None
    try:
        body = json.loads(keyring().decrypt(path.read_bytes(), aad=_aad(token, staff_pk)))
    except (OSError, ValueError):
        return None
    return base64.b64decode(body["data"]), str(body["kind"]), str(body["filename"])


def discard(token: str) -> None:
    path = _path(token)
    if path is not None:
        path.unlink(missing_ok=True)


def sweep() -> None:
    folder = Path(settings.DATA_DIR) / "uploads"
    limit = time.time() - MAX_AGE
    for old in folder.glob("*.sealed"):
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except OSError:
            pass
