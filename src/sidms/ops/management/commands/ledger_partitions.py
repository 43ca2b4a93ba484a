from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction


class Command(BaseCommand):
    help = (
        "PostgreSQL: add the contribution ledger's yearly partitions up to --until YEAR (sidms ledger partitions "
        "--until 2045). Idempotent; rows of the new years already in the default partition move into them. "
        "Without --until, list the partitions."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--until", type=int, help="last year that must have its own partition")

    def handle(self, *args: Any, until: int | None, **options: Any) -> None:
        from sidms.audit.services import audit_record
        from sidms.business import partitions as lp
        from sidms.core.caller import Caller

        if connection.vendor != "postgresql":
            raise CommandError(
                f"账务表只在 PostgreSQL 上按期间分区；此库是 {connection.vendor}，账务表为单表，无需操作 / the "
                f"ledger is partitioned on PostgreSQL only: this store is {connection.vendor}, whose ledger is "
                "one table; nothing to do"
            )
        with connection.cursor() as cursor:
            if not lp.is_partitioned(cursor):
                raise CommandError(
                    f"{lp.TABLE} 未分区：请先执行迁移 / {lp.TABLE} is not partitioned: migrate first"
                )
        if until is not None:
            if not lp.FIRST_YEAR <= until <= 9998:
                raise CommandError(
                    f"--until 须在 {lp.FIRST_YEAR} 至 9998 之间 / --until must lie in {lp.FIRST_YEAR}…9998"
                )
            with transaction.atomic():
                added = lp.add_years(connection, until)
                if added:
                    audit_record(
                        "business.ledger.partitions", actor=Caller("system:ledger-partitions", request_id=""),
                        object_type="ledger", object_id=lp.TABLE, detail={"added": added, "until": until},
                    )  # fmt: skip
            self.stdout.write(
                f"新增分区 / partitions added: {', '.join(map(str, added))}" if added
                else f"已有至 {until} 年的分区 / partitions up to {until} already exist"
            )  # fmt: skip
        with connection.cursor() as cursor:
            for name, bound in lp.partitions(cursor).items():
                self.stdout.write(f"  {name}  {bound}")
