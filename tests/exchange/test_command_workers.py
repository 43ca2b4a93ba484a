"""`sidms import` itself uses the workers: a dry run of a file of several units forks as ``check_file``
called directly does. The command's progress bar must leave no thread running beside the import (rich
redraws from a thread of its own unless told not to), or no worker would ever be forked (B3, R6.2)."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from sidms.exchange.imports import REPAIR_UNIT
from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [
    pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2"),
    pytest.mark.usefixtures("idle_threads_fork_safe"),
]  # fmt: skip

FORKS = [0]
os.register_at_fork(after_in_parent=lambda: FORKS.__setitem__(0, FORKS[0] + 1))

ROWS = 2 * REPAIR_UNIT + 1


def _row(i: int) -> list[str]:
    born = date(1960, 1, 1) + timedelta(days=i // 900)
    number = id_number(i % 900 + 1, born=born.strftime("%Y%m%d"))
    return [
        "测试" + "".join("零一二三四五六七八九"[int(d)] for d in str(i)),
        number,
        "",
        f"{born.year}/{born.month}/{born.day}",
        "在职职工",
        "371002",
        "",
    ]


def test_the_command_checks_a_large_file_in_workers(tmp_path: Path) -> None:
    file = tmp_path / "名单.csv"
    file.write_bytes(csv_bytes([HEADER, *(_row(i) for i in range(ROWS))], "gbk"))
    out = io.StringIO()
    forks = FORKS[0]
    call_command("import_file", str(file), "--kind", "persons", "--dry-run", stdout=out)
    assert f"{ROWS} 行数据，{ROWS} 行可以导入，0 行有错误" in out.getvalue()
    assert FORKS[0] > forks  # the rows were checked in workers, as by check_file called directly
