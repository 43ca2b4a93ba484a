from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from sidms.continuity.alerts import alerts_run


class Command(BaseCommand):
    help = (
        "Evaluate the violation rules over the audit events since the last run and raise alerts to the supervising "
        "department; open and close vendor maintenance windows; keep staff agreements in line with the register. "
        "Run every minute (systemd timer or cron), or with --every N as a service."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds instead of once")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            result = alerts_run()
            if result.raised or options["every"] == 0:
                self.stdout.write(
                    f"scanned {result.scanned} events up to #{result.last_seq}; raised {len(result.raised)} alerts"
                    + "".join(f"\n  AL{a.pk} {a.rule} {a.subject}: {a.summary}" for a in result.raised)
                )
            if not options["every"]:
                return
            close_old_connections()
            time.sleep(options["every"])
