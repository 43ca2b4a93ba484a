from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "List the archive store's orphans for the information centre: stored files no live archive item "
        "references, and items whose file is missing (exit status 1 when there are any). --sweep also deletes "
        "the files of purged items that a purge left behind, and temporary files of writes a crash cut short "
        "(an hour old)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--operator", default="", help="the information-centre staff member")
        parser.add_argument(
            "--sweep",
            action="store_true",
            help="delete purged items' leftover files and stale temporary files",
        )

    def handle(self, *args: Any, operator: str, sweep: bool, **options: Any) -> None:
        from sidms.archives.retention import orphans, purge_sweep, temporary_sweep
        from sidms.core.errors import NotPermitted
        from sidms.ops.management.commands._operator import operator as as_operator

        caller = as_operator(operator, what="信息中心工作人员 / information-centre staff member")
        try:
            found = orphans(actor=caller)
        except NotPermitted as refused:
            raise CommandError(str(refused)) from None
        if sweep:
            self.stdout.write(f"已删除已销毁条目的遗留文件 / leftover files deleted: {purge_sweep(caller)}")
            self.stdout.write(
                f"已删除中断写入的临时文件 / temporary files of cut-short writes deleted: {temporary_sweep(caller)}"
            )
            found = orphans(actor=caller)
        self.stdout.write(f"无条目引用的存储文件 / stored files no item references: {len(found.files)}")
        for name in found.files:
            self.stdout.write(f"  {name}")
        self.stdout.write(f"文件缺失的条目 / items whose file is missing: {len(found.missing)}")
        for pk in found.missing:
            self.stdout.write(f"  #{pk}")
        if found.files or found.missing:
            raise SystemExit(1)
