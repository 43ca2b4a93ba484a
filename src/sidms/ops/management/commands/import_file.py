"""`sidms import FILE --kind persons --operator USER [--dry-run]` (B3, R6.2).

Checks every row and prints the failing ones (with ``--report PATH``, the XLSX error report: 原行号, the
original columns, 错误原因). Without ``--dry-run`` it applies for an import batch of the valid rows — only
if every row is valid, or with ``--skip-failing`` (and ``--exclude`` for rows to leave out as well). A second
person approves the batch (the batch pages); then ``sidms import --execute BA12 --operator USER`` carries it
out. The same file is recognised by its digest: run again, the command says where its application stands
and, once approved, executes it — so an execution that was killed is completed by running it again.
``sidms import --sweep [--operator USER]`` removes the sealed rows of applications that ended without removing
them (an approval whose window closed unused; see ``imports.sweep_rows``) and the temporary files of writes a
crash cut short, recorded as one audit event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sidms.core.errors import SidmsError
from sidms.exchange import imports
from sidms.exchange.kinds import KINDS
from sidms.exchange.progress import ProgressFile
from sidms.lib.errors import StandardError
from sidms.ops.management.commands._operator import operator

_STAGES = {"read": "读取文件", "check": "逐行检查", "execute": "写入登记库"}


class Command(BaseCommand):
    help = "Import a CSV or XLSX file of persons, units or employments through an approved import batch."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", nargs="?", help="CSV (UTF-8, with or without BOM, or GBK) or XLSX file")
        parser.add_argument("--kind", choices=sorted(KINDS), default="persons")
        parser.add_argument("--operator", default="", help="the staff member who applies (or executes)")
        parser.add_argument("--dry-run", action="store_true", help="check every row; apply for nothing")
        parser.add_argument("--report", default="", help="write the XLSX error report here")
        parser.add_argument("--reason", default="", help="the reason for the import (required to apply)")
        parser.add_argument("--skip-failing", action="store_true", help="apply for the valid rows only")
        parser.add_argument("--exclude", default="", help="row numbers to leave out, e.g. 5,9,12")
        parser.add_argument("--execute", default="", help="execute the approved import batch BA<n>")
        parser.add_argument("--progress-file", default="", help="also write the progress (JSON) to this file")
        parser.add_argument(
            "--sweep", action="store_true", help="remove the sealed rows of applications that have ended"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(stderr=True)
        try:
            if options["sweep"]:
                self._sweep(options)
            elif options["execute"]:
                self._execute(console, options)
            elif options["file"]:
                self._import(console, options)
            else:
                raise CommandError("请给出要导入的文件 / name the file to import")
        except (SidmsError, StandardError) as error:
            raise CommandError(str(error)) from None

    def _sweep(self, options: dict[str, Any]) -> None:
        """The sweep acts as the named operator, or (run unattended) as the system's sweeper."""
        caller = (
            operator(options["operator"], what="清理的工作人员 / operator") if options["operator"] else None
        )
        swept = imports.sweep_rows(actor=caller)
        named = ", ".join(f"BA{pk}" for pk in swept.batches)
        self.stdout.write(
            f"已删除不再使用的预检行 {swept.stores} 个 / sealed rows removed: {swept.stores}"
            + (f"（导入申请 / applications: {named}）" if named else "")
        )
        self.stdout.write(
            f"已删除中断写入遗留的临时文件 {swept.parts} 个 / temporary files removed: {swept.parts}"
        )
        self.stdout.write(
            f"已删除一天前的导入进度文件 {swept.progress} 个 / progress files removed: {swept.progress}"
        )

    def _progress(self, console: Console) -> Progress:
        return Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            # Redrawn by each update (tick) rather than by rich's refresh thread: no worker is forked beside
            # a thread not marked fork-safe (sidms.core.workers), so that thread would keep the import on one
            # core.
            console=console, transient=False, auto_refresh=False,
        )  # fmt: skip

    def _execute(self, console: Console, options: dict[str, Any]) -> None:
        caller = operator(options["operator"], what="执行导入的工作人员 / executor")
        batch_id = int(str(options["execute"]).upper().removeprefix("BA"))
        with self._progress(console) as bar:
            task = bar.add_task(_STAGES["execute"], total=None)

            also = ProgressFile(Path(options["progress_file"])) if options.get("progress_file") else None

            def tick(stage: str, done: int, total: int) -> None:
                bar.update(
                    task, description=_STAGES.get(stage, stage), completed=done, total=total or None,
                    refresh=True,
                )  # fmt: skip
                if also is not None:
                    also(stage, done, total)

            done = imports.execute_import(actor=caller, batch_id=batch_id, progress=tick)
        self.stdout.write(f"BA{batch_id}: 已导入 {done.rows} 行 / imported {done.rows} rows")

    def _import(self, console: Console, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"无法读取文件 / cannot read {path}: {error.strerror}") from None
        kind = options["kind"]
        existing = imports.same_file(imports.file_digest(data), kind)
        if existing is not None and not options["dry_run"]:
            self._resume(existing, options)
            return
        with self._progress(console) as bar:
            task = bar.add_task(_STAGES["read"], total=None)

            def tick(stage: str, done: int, total: int) -> None:
                bar.update(
                    task, description=_STAGES.get(stage, stage), completed=done, total=total or None,
                    refresh=True,
                )  # fmt: skip

            checker = (
                operator(options["operator"], what="导入的工作人员 / operator")
                if options["operator"]
                else None
            )
            checked = imports.check_file(data, kind=kind, filename=path.name, progress=tick, actor=checker)
        failing = checked.failing
        self.stdout.write(
            f"{path.name}: {len(checked.rows)} 行数据，{len(checked.valid)} 行可以导入，{len(failing)} 行有错误"
            f" / {len(checked.rows)} rows, {len(checked.valid)} valid, {len(failing)} failing"
        )
        for row in failing:
            self.stdout.write(f"  第 {row.number} 行：{'；'.join(row.errors)}")
        if options["report"]:
            Path(options["report"]).write_bytes(checked.report())
            self.stdout.write(f"错误报告 / error report: {options['report']}")
        if options["dry_run"]:
            return
        if failing and not options["skip_failing"]:
            raise CommandError(
                "有错误的行，未提交导入申请；改正后重新导入，或用 --skip-failing 只导入正确的行"
                " / rows fail: nothing applied for (use --skip-failing to import the valid rows)"
            )
        caller = operator(options["operator"], what="申请导入的工作人员 / applicant")
        exclude = [int(n) for n in str(options["exclude"]).replace("，", ",").split(",") if n.strip()]
        imported = imports.apply_import(
            actor=caller, data=data, checked=checked, reason=options["reason"], exclude=exclude
        )
        self.stdout.write(
            f"已提交导入申请 BA{imported.batch_id}（{imported.rows_kept} 行），待市级审批人批准后执行"
            f" / applied for import batch BA{imported.batch_id} ({imported.rows_kept} rows); a city-level"
            " approver decides next"
        )

    def _resume(self, existing: Any, options: dict[str, Any]) -> None:
        batch = existing.batch
        step = imports.resume(existing)
        if step == "done":
            self.stdout.write(
                f"该文件已于 BA{batch.pk} 导入（{batch.executed_rows} 行），不再重复导入"
                f" / this file was imported by BA{batch.pk} ({batch.executed_rows} rows)"
            )
        elif step == "approve":
            self.stdout.write(
                f"该文件的导入申请 BA{batch.pk} 正在等待审批 / the application BA{batch.pk} awaits approval"
            )
        else:
            self.stdout.write(
                f"该文件的导入申请 BA{batch.pk} 已批准，开始执行 / BA{batch.pk} is approved: executing"
            )
            self._execute(Console(stderr=True), {**options, "execute": str(batch.pk)})
