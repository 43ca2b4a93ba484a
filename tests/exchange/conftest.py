"""Files the import tests generate: CSV in each encoding Excel saves, and XLSX workbooks with what Excel
does to them (merged title rows, numeric ID cells, date serials)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook

from sidms.lib import idcard


def id_number(serial: int, born: str = "19600101", district: str = "371002") -> str:
    body = f"{district}{born}{serial:03d}"
    return body + idcard.check_digit(body)


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    import csv

    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(
    rows: list[list[Any]], *, title: str | None = None, text_columns: tuple[int, ...] = ()
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title is not None:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
        sheet.append([])
    for row in rows:
        sheet.append(row)
    for column in text_columns:
        for cells in sheet.iter_rows(min_col=column + 1, max_col=column + 1):
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.number_format = "@"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def report_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


HEADER = ["姓名", "公民身份号码", "性别", "出生日期", "人员类别", "行政区划代码", "联系电话"]
