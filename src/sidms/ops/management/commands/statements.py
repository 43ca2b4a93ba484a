from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from sidms.core.errors import ChangeRefused


class Command(BaseCommand):
    help = (
        "Issue the yearly 社会保险个人权益记录单 of every person with contributions in YEAR (社会保险法 Art. 74), "
        "each stored for public verification, the PDFs written to --out."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("year", type=int)
        parser.add_argument("--out", type=Path, required=True, help="folder for the PDFs (created)")

    def handle(self, *args: Any, year: int, out: Path, **options: Any) -> None:
        from sidms.business.rights import yearly_statements

        out.mkdir(parents=True, exist_ok=True)

        def bar(done: int, total: int) -> None:
            filled = 30 * done // max(total, 1)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
            if done == total:
                sys.stderr.write("\n")

        count = 0
        try:
            batch = yearly_statements(year, progress=bar)
            for issued in batch:
                (out / f"{issued.row.statement_id}.pdf").write_bytes(issued.pdf)
                count += 1
        except ChangeRefused as refused:  # a year that has not ended
            with translation.override("zh-hans"):
                chinese = refused.localized()
            with translation.override("en"):
                english = refused.localized()
            raise CommandError(f"{chinese} / {english}") from None
        self.stdout.write(f"{count} statements for {year} in {out}")
        if batch.withheld:
            # Each withheld statement's record is named by an integrity alert (the audit log) as well.
            self.stdout.write(
                f"{len(batch.withheld)} withheld: a record they print does not match its history "
                "(integrity alerts in the audit log; tell the information centre)"
            )
            for person_no, record in batch.withheld:
                self.stdout.write(f"  {person_no}: {record}")
