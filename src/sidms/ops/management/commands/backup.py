from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sidms.continuity import config
from sidms.continuity.backups import backup_take
from sidms.continuity.models import StorageMedium
from sidms.core.errors import SidmsError
from sidms.ops.management.commands._operator import operator


class Command(BaseCommand):
    help = (
        "Take a consistent online backup (SQLite backup API, or pgBackRest for PostgreSQL), encrypted and "
        "checksummed, register it (officer, time, size, digest, chain head, record counts, where the media is "
        "kept) and prune what the retention policy no longer keeps."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--operator", default="", help="the backup officer's login (default SIDMS_BACKUP_OFFICER)"
        )
        parser.add_argument(
            "--location", default="", help="where the backup media is kept (default SIDMS_BACKUP_LOCATION)"
        )
        parser.add_argument("--medium", default="", help="asset number of the registered storage medium")
        parser.add_argument(
            "--type", default="full", choices=("full", "diff", "incr"), help="PostgreSQL only"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        caller = operator(options["operator"] or config.backup_officer(), what="备份管理员 / backup officer")
        medium = None
        if options["medium"]:
            medium = StorageMedium.objects.filter(asset_no=options["medium"]).first()
            if medium is None:
                raise CommandError(
                    f"登记簿中没有存储介质 {options['medium']} / no registered medium {options['medium']!r}"
                )
        try:
            backup = backup_take(
                actor=caller,
                location=options["location"],
                medium=medium,
                kind=options["type"],
                progress=self.stdout.write,
            )
        except SidmsError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"备份完成 / backup {backup.label}: {backup.size:,} bytes, sha256 {backup.digest}, "
            f"chain head #{backup.chain_seq}, kept at {backup.location}"
        )
