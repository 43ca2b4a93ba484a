"""Unit imports (issue 9, B3, R6.2): one unit per 统一社会信用代码. A credit code already registered to a unit
(in any district) and a credit code repeated within the file are refused row by row, with the reason in the
error report's 错误原因 column; the other rows import."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.exchange import imports
from sidms.registry.models import Unit
from tests.exchange.conftest import csv_bytes, report_rows
from tests.exchange.test_imports import apply_approve_execute

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2"), pytest.mark.req("R7.3")]

HEADER = ["单位名称", "统一社会信用代码", "单位类型", "行政区划代码"]
TAKEN = "91371082775260043P"  # registered to a 荣成 unit below
FREE = "91370000163040525U"  # a valid code no unit has


def test_a_registered_or_repeated_credit_code_is_refused_row_by_row(
    make_unit: Any, importers: tuple[Any, Any]
) -> None:
    make_unit(unit_no="U371082001", name="荣成某公司", district="371082", credit_code=TAKEN)
    data = csv_bytes(
        [
            HEADER,
            ["威海甲公司", TAKEN, "企业", "371002"],
            ["威海乙公司", FREE, "企业", "371002"],
            ["威海丙公司", FREE.lower(), "企业", "371002"],
            ["威海丁公司", TAKEN.lower(), "企业", "371002"],
        ]
    )
    with translation.override("zh-hans"):
        checked = imports.check_file(data, kind="units", filename="单位.csv")
        errors = checked.errors()
        report = report_rows(checked.report())
    assert sorted(errors) == [2, 4, 5]
    assert "统一社会信用代码" in errors[2] and "已登记" in errors[2]
    assert "第 3 行" in errors[4]  # the repeat names the first row of the file
    assert "第 2 行" in errors[5] and "已登记" not in errors[5]  # a repeat is named as the repeat it is
    header = report[0] if "错误原因" in report[0] else report[1]
    reason = header.index("错误原因")
    name = header.index("单位名称")
    by_name = {r[name]: r[reason] for r in report if r[name] in ("威海甲公司", "威海丙公司")}
    assert "已登记" in by_name["威海甲公司"] and "第 3 行" in by_name["威海丙公司"]
    assert apply_approve_execute(importers, data, checked) == 1
    assert Unit.objects.filter(credit_code=FREE).count() == 1
    assert Unit.objects.filter(credit_code=TAKEN).count() == 1
