"""`sidms import` in process: the dry run lists every failing row and writes the error report; a file with
failing rows is applied for only with --skip-failing, and then exactly its valid rows (B3, R6.2)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sidms.changes.models import BatchApplication
from sidms.exchange.models import ImportFile
from tests.exchange.conftest import HEADER, id_number, report_rows, xlsx_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]


def test_dry_run_report_and_skip_failing(importers: tuple[Any, Any], tmp_path: Path) -> None:
    operator, _approver = importers
    file = tmp_path / "名单.xlsx"
    file.write_bytes(
        xlsx_bytes(
            [
                HEADER,
                ["张三", id_number(11), "男", 21916, "employee", "371002", ""],
                ["李四", 371002196001010000, "男", 21916, "employee", "371002", ""],
            ],
            title="参保人员名单",
        )
    )
    report = tmp_path / "错误报告.xlsx"
    out = io.StringIO()
    call_command(
        "import_file", str(file), "--kind", "persons", "--dry-run", "--report", str(report), stdout=out
    )
    text = out.getvalue()
    assert "2 行数据，1 行可以导入，1 行有错误" in text and "第 5 行" in text and "文本" in text
    assert [row[0] for row in report_rows(report.read_bytes())[1:]] == [5]
    assert not BatchApplication.objects.exists()

    with pytest.raises(CommandError, match="--skip-failing"):
        call_command(
            "import_file",
            str(file),
            "--kind",
            "persons",
            "--operator",
            operator.username,
            "--reason",
            "申报",
            stdout=io.StringIO(),
        )
    assert not BatchApplication.objects.exists()
    out = io.StringIO()
    call_command(
        "import_file", str(file), "--kind", "persons", "--operator", operator.username, "--reason", "申报",
        "--skip-failing", stdout=out,
    )  # fmt: skip
    imported = ImportFile.objects.get()
    assert imported.rows_kept == 1 and imported.excluded == [5]
    assert f"BA{imported.batch_id}" in out.getvalue()
    out = io.StringIO()
    call_command("import_file", str(file), "--kind", "persons", "--operator", operator.username, stdout=out)
    assert "等待审批" in out.getvalue() and BatchApplication.objects.count() == 1
