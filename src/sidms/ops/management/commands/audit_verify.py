from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sidms.changes.verify import record_verified, verify_since_checkpoint, verify_store


class Command(BaseCommand):
    help = (
        "Verify the audit chain, the checkpoints, the history and every live row. Exit 1 on the first break. "
        "With --since-checkpoint (nightly): only what was appended since the last verified point, plus a "
        "random sample of live rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since-checkpoint",
            action="store_true",
            help="check what was appended since the last verification that found nothing, plus --sample rows",
        )
        parser.add_argument(
            "--sample", type=int, default=1000, help="random live rows of each entity (default 1000)"
        )

    def handle(self, *args: Any, since_checkpoint: bool, sample: int, **options: Any) -> None:
        report = verify_since_checkpoint(sample=sample) if since_checkpoint else verify_store()
        rows = ", ".join(f"{entity} {count}" for entity, count in report.rows.items())
        if report.ok:
            record_verified(report)
            if report.incremental:
                self.stdout.write(
                    f"完整 / intact since audit event #{report.since_seq}: {report.events} new events, "
                    f"{report.checkpoints} checkpoints, {report.revisions} revisions, rows checked: "
                    f"{rows or 'none'} (of which {report.sampled} drawn at random) — {report.seconds:.1f} s"
                )
                return
            if since_checkpoint:
                self.stdout.write(
                    "没有上次验证的记录，已执行完整验证 / no verified point yet: verified everything"
                )
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
