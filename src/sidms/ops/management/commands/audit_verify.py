from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from sidms.changes.verify import verify_store


class Command(BaseCommand):
    help = (
        "Verify the audit chain, the checkpoints, the history and every live row. Exit 1 on the first break."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_store()
        rows = ", ".join(f"{entity} {count}" for entity, count in report.rows.items())
        if report.ok:
            self.stdout.write(
                f"完整 / intact: {report.events} audit events ({report.events_per_second:,.0f}/s), "
                f"{report.checkpoints} checkpoints, {report.revisions} revisions, rows: {rows or 'none'} "
                f"— {report.seconds:.1f} s"
            )
            return
        problem = report.problem
        assert problem is not None
        self.stderr.write(f"被破坏 / BROKEN at {problem.where}\n  {problem.message}\n  {problem.message_en}")
        sys.exit(1)
