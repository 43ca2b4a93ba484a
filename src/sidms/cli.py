"""The `sidms` operator command. It wraps Django's management commands, so every command reads the same
settings (SIDMS_DATABASE_URL and the rest) and `sidms help` lists them all.

    sidms demo [--port N] [--persons N]     set up ./var, migrate, load demo data, serve
    sidms serve [--port N]                  serve the staff UI through granian (WSGI)
    sidms totp USERNAME                     print a demo account's current TOTP code
    sidms keys init                         create the key file
    sidms audit verify                      verify the audit chain and the live rows
    sidms audit verify --since-checkpoint   nightly: what was appended since the last verification, plus
                                            a random sample of live rows (--sample N per entity)
    sidms backup / sidms restore-drill      back up the store; restore a backup into a scratch copy and verify it
    sidms keys rotate [--index]             rotate the encryption (or blind-index) key and re-encrypt
    sidms alerts run                        evaluate the violation rules (every minute, from a timer)
    sidms archives orphans --operator U     the archive store's orphans (files no item names, items without
                                            their file); --sweep deletes purged items' leftover files
    sidms ledger partitions --until YEAR    PostgreSQL: add the ledger's yearly partitions up to YEAR (idempotent)
    sidms import FILE --kind persons        check a CSV/XLSX file row by row (--dry-run, --report) and apply
                                            for an import batch; --execute BA<n> carries out the approved one
    sidms import --sweep                    remove the sealed rows of import applications that have ended and
                                            the temporary files of cut-short writes (an audit event)
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

# Two-word operator commands map onto management commands named with an underscore.
_GROUPS = {"audit", "keys", "alerts", "archives", "ledger"}
# Hyphenated operator commands map onto management commands named with an underscore.
_HYPHENATED = {"restore-drill": "restore_drill", "import": "import_file"}


def prepare_data_dir() -> None:
    """Create the data directory and a persistent secret key before Django reads its settings, so that
    every server worker signs sessions with the same key."""
    data_dir = Path(os.environ.get("SIDMS_DATA_DIR", "var")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    if os.environ.get("SIDMS_SECRET_KEY") or os.environ.get("SIDMS_SECRET_KEY_FILE"):
        return
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(64))


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidms.settings")
    if args and args[0] in {"demo", "serve"}:
        prepare_data_dir()
    if len(args) >= 2 and args[0] in _GROUPS and not args[1].startswith("-"):
        args = [f"{args[0]}_{args[1]}", *args[2:]]
    if args and args[0] in _HYPHENATED:
        args = [_HYPHENATED[args[0]], *args[1:]]
    from django.core.management import execute_from_command_line

    execute_from_command_line(["sidms", *args])


if __name__ == "__main__":
    main()
