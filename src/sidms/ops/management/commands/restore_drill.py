from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from sidms.continuity import config
from sidms.continuity.backups import inspect_here, restore_drill
from sidms.continuity.models import Backup, DrillResult
from sidms.core.errors import SidmsError
from sidms.ops.management.commands._operator import operator


class Command(BaseCommand):
    help = (
        "Restore the newest (or a named) backup into a scratch database, verify it there, compare its chain head "
        "and record counts with the register, and record the drill. Exit 1 when the drill fails."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--backup", default="", help="the backup's label or number (default: the newest)")
        parser.add_argument(
            "--operator", default="", help="the backup officer's login (default SIDMS_BACKUP_OFFICER)"
        )
        # Internal: run by the drill itself, in a process pointed at the restored copy.
        parser.add_argument(
            "--inspect", action="store_true", help="verify this database and print JSON (internal)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["inspect"]:
            self.stdout.write(json.dumps(inspect_here(), ensure_ascii=False))
            return
        caller = operator(options["operator"] or config.backup_officer(), what="备份管理员 / backup officer")
        backup = None
        if options["backup"]:
            key = options["backup"]
            backup = Backup.objects.filter(Q(label=key) | Q(pk=int(key) if key.isdigit() else -1)).first()
            if backup is None:
                raise CommandError(f"登记簿中没有备份 {key} / no registered backup {key!r}")
        try:
            drill = restore_drill(actor=caller, backup=backup, progress=self.stdout.write)
        except SidmsError as error:
            raise CommandError(str(error)) from None
        if drill.result == DrillResult.PASSED:
            self.stdout.write(f"演练通过 / drill passed: {drill.message} ({drill.seconds:.1f} s)")
            return
        self.stderr.write(f"演练未通过 / DRILL FAILED: {drill.message}\n  {drill.message_en}")
        sys.exit(1)
