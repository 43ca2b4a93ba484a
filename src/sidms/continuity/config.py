"""Settings of continuity operations, read when an operation runs (documented in README.md, "Settings").

They are looked up as Django settings first (so tests and deployments may set them there) and then in the
environment, the same SIDMS_* names as every other setting.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from sidms.env import env_int, env_str


def _setting(name: str, default: Any) -> Any:
    value = getattr(settings, name, None)
    if value is not None:
        return value
    if isinstance(default, int):
        return env_int(name, default)
    return env_str(name, default)


def backup_dir() -> Path:
    """Where the embedded store's encrypted backups are written (a directory on the backup medium)."""
    return Path(_setting("SIDMS_BACKUP_DIR", str(Path(settings.DATA_DIR) / "backups"))).resolve()


def backup_keep() -> int:
    """How many of the newest backups the retention policy keeps (the newest one that passed a drill is
    always kept as well)."""
    return max(1, int(_setting("SIDMS_BACKUP_KEEP", 30)))


def backup_location() -> str:
    """Where the backup media are kept, as the register records it (e.g. "机房 A 备份柜")."""
    return str(_setting("SIDMS_BACKUP_LOCATION", "")) or f"本机 {backup_dir()}"


def backup_officer() -> str:
    """The login name of the named backup officer a scheduled `sidms backup` runs as (R18.1)."""
    return str(_setting("SIDMS_BACKUP_OFFICER", ""))


def pgbackrest_config() -> str:
    """pgBackRest's configuration file for the production cluster (its stanza, repository and passphrase)."""
    return str(_setting("SIDMS_PGBACKREST_CONFIG", "/etc/pgbackrest/pgbackrest.conf"))


def pgbackrest_stanza() -> str:
    return str(_setting("SIDMS_PGBACKREST_STANZA", "sidms"))


def drill_dir() -> Path:
    """Where restore drills make their scratch copies (must be reachable by the postgres user)."""
    return Path(_setting("SIDMS_DRILL_DIR", tempfile.gettempdir())).resolve()
