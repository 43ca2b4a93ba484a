from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
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
        parser.add_argument(
            "--standby",
            action="store_true",
            help="instead: the off-site standby drill with sidms on scratch clusters of this host (PostgreSQL 15)",
        )
        parser.add_argument(
            "--seconds", type=float, default=5.0, help="write load before the kill (--standby)"
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
        if options["standby"]:
            self._standby(caller, options["seconds"])
            return
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

    def _standby(self, caller: Any, seconds: float) -> None:
        """A primary and a synchronous standby in a scratch directory, sidms writing to them, kill -9, promotion,
        checks (sidms.continuity.failover); the drill is recorded in this store's register."""
        from django.conf import settings

        from sidms.continuity import failover
        from sidms.continuity.backups import failover_drill_record
        from sidms.lib import pgops

        config.drill_dir().mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="sidms-standby-drill-", dir=config.drill_dir()))
        base.chmod(0o755)  # the clusters run as the postgres user
        env = {
            "SIDMS_KEY_FILE": str(settings.SIDMS_KEY_FILE),
            "SIDMS_CHECKPOINT_DIR": str(base / "checkpoints"),
            "SIDMS_CHECKPOINT_INTERVAL": "0",
            "SIDMS_DATA_DIR": str(base / "data"),
        }
        try:
            self.stdout.write(f"building a primary and a synchronous standby under {base} …")
            primary, standby = pgops.make_primary_with_sync_standby(
                base / "repl", pgops.free_port(), pgops.free_port(), settings={"shared_buffers": "64MB"}
            )
            failover.prepare(primary, "sidms_drill", env)
            self.stdout.write(f"sidms writing for {seconds:.0f} s, then kill -9 of the primary …")
            result = failover.run(primary, standby, "sidms_drill", env, load_seconds=seconds)
        except (pgops.PgOpsError, RuntimeError) as error:
            raise CommandError(str(error)) from None
        finally:
            pgops.stop_clusters_under(base)
            shutil.rmtree(base, ignore_errors=True)
        passed = result.verified and result.rpo_transactions == 0
        failover_drill_record(
            actor=caller, result=result, passed=passed, message_en=result.summary(),
            message=(
                f"主库 kill -9 后提升备库：丢失已确认写入 {result.rpo_transactions} 笔，RTO {result.rto_seconds:.2f} 秒，"
                f"审计链{'完整' if result.verified else '被破坏'}"
            ),
        )  # fmt: skip
        self.stdout.write(result.summary())
        if not passed:
            sys.exit(1)
