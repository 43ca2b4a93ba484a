"""CSV and XLSX import (sidms.lib.sheets): encodings, title rows, Excel's damage, the error report.

Every file is generated in the test: CSV text encoded the way each Excel "save as" choice encodes it,
and workbooks written with openpyxl (merged title rows, numeric ID cells, date cells).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from sidms.lib import idcard, sheets
from sidms.lib.errors import StandardError
from sidms.lib.sheets import CellError, SheetError

pytestmark = pytest.mark.req("B3")

MAPPING = {
    "姓名": "name",
    "公民身份号码": "id_number",
    "身份证号码": "id_number",
    "出生日期": "birth_date",
    "联系电话": "phone",
    "缴费工资": "wage",
}
TYPES = {"id_number": "idcard_text", "birth_date": "date", "phone": "text", "wage": "money"}
REQUIRED = {"name", "id_number"}

ID_1960 = "371002196001010011"  # 环翠区, born 1960-01-01, valid check digit
ID_15 = "371002600101001"  # the same person's 15-digit number (GB 11643-1989)
ID_X = "11010519491231002X"  # the standard's example, ends in X
TODAY = date(2025, 6, 30)


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return "\r\n".join(lines).encode(encoding) + b"\r\n"


def workbook_bytes(rows: list[list[Any]], *, title_row: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title_row is not None:
        sheet.append([title_row])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
        sheet.append([])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def repaired(table: sheets.Table) -> list[sheets.Repaired]:
    return sheets.repair_rows(table, sheets.map_columns(table.headers, MAPPING, REQUIRED), TYPES)


def cell_refusal(repair: Any, value: Any) -> CellError | StandardError:
    with pytest.raises(StandardError) as info:
        repair(value)
    return info.value


# --- encodings --------------------------------------------------------------------------------------------

PEOPLE = ["姓名,公民身份号码,出生日期", f"张三,{ID_1960},1960-01-01", f"李四,{ID_X},1949-12-31"]


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_csv_in_utf8_with_or_without_bom_and_in_gbk_is_read_alike(encoding: str, detected: str) -> None:
    table = sheets.read_table(csv_bytes(PEOPLE, encoding))
    assert table.format == "csv"
    assert table.encoding == detected
    assert table.headers == ["姓名", "公民身份号码", "出生日期"]  # no BOM glued to the first header
    assert table.rows == [["张三", ID_1960, "1960-01-01"], ["李四", ID_X, "1949-12-31"]]
    assert table.row_numbers == [2, 3]


def test_gbk_text_is_not_mistaken_for_utf8_even_the_notepad_case() -> None:
    # "联通" in GBK (C1 AA CD A8) famously fooled Notepad's detection; strict UTF-8 refuses C1.
    table = sheets.read_table(csv_bytes(["姓名,单位名称", "王五,联通公司"], "gbk"))
    assert table.encoding == "gb18030"
    assert table.rows == [["王五", "联通公司"]]


def test_characters_that_only_gb18030_has_survive() -> None:
    for name in ("刘䶮", "王𠀀"):  # 䶮 (U+4DAE, a real given name) and 𠀀 (Ext. B) are not in GBK
        with pytest.raises(UnicodeEncodeError):
            name.encode("gbk")
        table = sheets.read_table(csv_bytes(["姓名,公民身份号码", f"{name},{ID_1960}"], "gb18030"))
        assert table.encoding == "gb18030"
        assert table.rows[0][0] == name


def test_excel_unicode_text_is_utf16_with_tabs() -> None:
    data = "\r\n".join(["姓名\t公民身份号码", f"张三\t{ID_1960}"]).encode("utf-16")
    table = sheets.read_table(data)
    assert table.encoding == "utf-16"
    assert table.rows == [["张三", ID_1960]]


def test_bytes_in_no_known_encoding_are_refused() -> None:
    with pytest.raises(SheetError) as info:
        sheets.read_table(b"name,id\r\n\xff\x81\x20,1\r\n")
    assert info.value.reason == "encoding"
    assert "CSV UTF-8" in info.value.message


@pytest.mark.parametrize(
    ("data", "hint", "reason", "says"),
    [
        (b"", "", "empty", "空"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "人员.xls", "unsupported_format", ".xlsx"),
        (b"%PDF-1.7\n", "", "unsupported_format", "PDF"),
        (b"abc\x00\x01\x02" * 10, "", "unsupported_format", "二进制"),
        (b"name,id\r\n", "人员.xlsx", "corrupt_xlsx", ".xlsx"),
    ],
)
def test_what_is_not_a_table_is_refused_by_content(data: bytes, hint: str, reason: str, says: str) -> None:
    with pytest.raises(SheetError) as info:
        sheets.read_table(data, filename_hint=hint)
    assert info.value.reason == reason
    assert says in info.value.message


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    out = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(SheetError) as info:
        sheets.read_table(out.getvalue())
    assert info.value.reason == "unsupported_format"
    assert "不是 Excel 工作簿" in info.value.message


def test_a_workbook_that_inflates_too_far_is_refused_before_reading() -> None:
    data = workbook_bytes([["姓名"], *[["张三"]] * 100])
    with pytest.raises(SheetError) as info:
        sheets.read_table(data, max_unzipped_bytes=1_000)
    assert info.value.reason == "too_large"


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param('李四,"371002196001010011,1949-12-31', id="quote-never-closed"),
        pytest.param('李四,"3710"02,1949-12-31', id="text-after-closing-quote"),
    ],
)
def test_a_broken_quote_in_a_csv_is_refused_with_its_row_not_swallowed(broken: str) -> None:
    lines = ["姓名,公民身份号码,出生日期", f"张三,{ID_1960},1960-01-01", broken, f"王五,{ID_X},1949-12-31"]
    with pytest.raises(SheetError) as info:
        sheets.read_table(csv_bytes(lines))
    assert info.value.reason == "malformed_csv"
    assert "第 3 行" in info.value.message and "引号" in info.value.message


def test_a_quoted_cell_spanning_lines_counts_as_one_row() -> None:
    table = sheets.read_table(csv_bytes(["姓名,户籍地址", '张三,"威海市\n环翠区"', "李四,荣成市"]))
    assert table.rows == [["张三", "威海市\n环翠区"], ["李四", "荣成市"]]
    assert table.row_numbers == [2, 3]


# --- XLSX -----------------------------------------------------------------------------------------------


def test_xlsx_is_detected_by_content_and_typed_cells_come_through() -> None:
    data = workbook_bytes([["姓名", "公民身份号码", "出生日期"], ["张三", ID_1960, date(1960, 1, 1)]])
    table = sheets.read_table(data, filename_hint="名单.csv")  # the name is wrong; the content decides
    assert (table.format, table.encoding, table.sheet) == ("xlsx", None, "Sheet")
    assert table.rows == [["张三", ID_1960, date(1960, 1, 1)]]


def test_hidden_sheets_are_skipped() -> None:
    workbook = Workbook()
    hidden = workbook.active
    assert hidden is not None
    hidden.title = "说明"
    hidden.append(["请勿修改"])
    hidden.sheet_state = "hidden"
    visible = workbook.create_sheet("人员")
    visible.append(["姓名", "公民身份号码"])
    visible.append(["张三", ID_1960])
    out = io.BytesIO()
    workbook.save(out)
    table = sheets.read_table(out.getvalue())
    assert table.sheet == "人员"
    assert table.rows == [["张三", ID_1960]]


# --- title rows and headers ---------------------------------------------------------------------------------


def test_merged_title_rows_above_the_header_are_skipped_in_xlsx() -> None:
    data = workbook_bytes(
        [["姓名", "公民身份号码", "出生日期"], ["张三", ID_1960, "1960/1/1"], ["李四", ID_X, "1949/12/31"]],
        title_row="2024年参保人员名单",
    )
    table = sheets.read_table(data, known_headers=MAPPING)
    assert table.header_row == 3
    assert table.headers == ["姓名", "公民身份号码", "出生日期"]
    assert table.row_numbers == [4, 5]  # what Excel shows at the left


def test_title_rows_are_skipped_in_csv_and_blank_rows_keep_their_numbers() -> None:
    lines = [
        "2024年参保人员名单,,",
        ",,",
        "姓名,公民身份号码,出生日期",
        f"张三,{ID_1960},1960-01-01",
        ",,",
        f"李四,{ID_X},1949-12-31",
    ]
    for known in (MAPPING, ()):
        table = sheets.read_table(csv_bytes(lines), known_headers=known)
        assert table.header_row == 3
        assert table.row_numbers == [4, 6]


def test_a_title_that_mentions_no_column_name_is_not_the_header_even_if_wide() -> None:
    lines = [
        "威海市社会保险事业中心,制表：张三,2024年",
        "姓名,公民身份号码,出生日期",
        f"张三,{ID_1960},1960-01-01",
    ]
    assert sheets.read_table(csv_bytes(lines), known_headers=MAPPING).header_row == 2


def test_no_header_in_the_first_rows_is_refused() -> None:
    lines = ["甲,乙,丙", *[f"{n},{n},{n}" for n in range(20)]]
    with pytest.raises(SheetError) as info:
        sheets.read_table(csv_bytes(lines), known_headers=MAPPING)
    assert info.value.reason == "header_not_found"
    assert "表头" in info.value.message


def test_headers_are_matched_through_spaces_full_width_line_breaks_and_required_marks() -> None:
    headers = [" 姓 名 ", "公民身份\n号码", "＊出生日期", "联系电话\u00a0", "备注"]
    assert sheets.map_columns(headers, MAPPING, REQUIRED) == {
        0: "name",
        1: "id_number",
        2: "birth_date",
        3: "phone",
    }
    assert sheets.normalise_header("ＩＤ　号码") == "ID号码"


def test_a_missing_required_column_is_named_with_its_other_spellings() -> None:
    with pytest.raises(SheetError) as info:
        sheets.map_columns(["姓名", "出生日期"], MAPPING, REQUIRED)
    assert info.value.reason == "missing_column"
    assert "公民身份号码" in info.value.message and "身份证号码" in info.value.message


def test_two_columns_for_one_field_are_refused_with_their_letters() -> None:
    with pytest.raises(SheetError) as info:
        sheets.map_columns(["姓名", "公民身份号码", "出生日期", "身份证号码"], MAPPING, REQUIRED)
    assert info.value.reason == "duplicate_column"
    assert "第 B 列" in info.value.message and "第 D 列" in info.value.message


def test_a_required_field_outside_the_mapping_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not in the mapping"):
        sheets.map_columns(["姓名"], MAPPING, {"name", "nonexistent"})


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")])
def test_column_letters(index: int, letters: str) -> None:
    assert sheets.column_letter(index) == letters


# --- ID numbers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(3.71002196001e17, id="xlsx-numeric-cell"),
        pytest.param(371002196001010011, id="int"),
        pytest.param("3.71002E+17", id="scientific"),
        pytest.param("3.71002196001E17", id="scientific-long"),
        pytest.param("371002196001010000.0", id="float-text"),
        pytest.param("371002196001010000", id="trailing-zeros"),  # 15 significant digits kept, check fails
    ],
)
def test_id_numbers_that_went_through_a_number_are_refused_not_repaired(value: Any) -> None:
    error = cell_refusal(sheets.repair_idcard, value)
    assert error.reason == "id_number_as_number"
    assert "“文本”" in error.message  # tells the clerk to format the column as text
    assert "丢失" in error.message


def test_numeric_id_cells_in_xlsx_are_refused_in_the_row_report() -> None:
    data = workbook_bytes([["姓名", "公民身份号码"], ["张三", 371002196001010011], ["李四", ID_X]])
    rows = repaired(sheets.read_table(data, known_headers=MAPPING))
    assert rows[0].errors["id_number"].reason == "id_number_as_number"
    assert "第 B 列“公民身份号码”" in rows[0].error_text
    assert rows[1].values["id_number"] == ID_X and not rows[1].errors


def test_scientific_ids_in_csv_are_refused_in_the_row_report() -> None:
    table = sheets.read_table(csv_bytes(["姓名,身份证号码", "张三,3.71002E+17", f"李四,{ID_1960}"], "gbk"))
    rows = repaired(table)
    assert [row.row_number for row in rows if row.errors] == [2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("３７１００２１９６００１０１００１１", ID_1960),  # full-width digits
        ("１１０１０５１９４９１２３１００２Ｘ", ID_X),  # full-width X
        (" 371002 1960 0101 0011 ", ID_1960),
        ("\u00a0371002196001010011\u200b", ID_1960),  # NBSP and zero-width space from a web page
        ("'371002196001010011", ID_1960),  # Excel's text apostrophe
        ('="371002196001010011"', ID_1960),  # the CSV trick that keeps Excel from converting
    ],
)
def test_id_numbers_with_repairable_damage_are_repaired_with_a_note(value: str, expected: str) -> None:
    number, note = sheets.repair_idcard(value, today=TODAY)
    assert number == expected
    assert note


def test_a_clean_id_number_needs_no_note() -> None:
    assert sheets.repair_idcard(ID_1960, today=TODAY) == (ID_1960, None)
    assert sheets.repair_idcard("11010519491231002x", today=TODAY) == (ID_X, None)  # idcard upper-cases


def test_a_15_digit_number_is_upgraded_with_idcards_note() -> None:
    number, note = sheets.repair_idcard(ID_15, today=TODAY)
    assert number == idcard.normalise(ID_15) == ID_1960
    assert note is not None and "15 位" in note


def test_other_id_defects_keep_idcards_own_reason() -> None:
    error = cell_refusal(sheets.repair_idcard, ID_1960[:-1] + "2")
    assert isinstance(error, idcard.InvalidIdNumber)
    assert error.reason == "check_digit"


def test_empty_cells_are_left_to_the_collection_rules() -> None:
    for repair in sheets.REPAIRS.values():
        assert repair(None) == (None, None)
    assert sheets.repair_idcard(" \u200b ") == (None, None)


# --- text ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "noted"),
    [
        ("阿依古丽·买买提", "阿依古丽·买买提", False),  # middle dot untouched
        ("欧阳　娜娜", "欧阳　娜娜", False),  # inner ideographic space untouched
        ("\u3000张三\u00a0", "张三", True),
        ("张\u200b三", "张三", True),
        ("１３８１２３４５６７８", "13812345678", True),
        ("王（小）五", "王（小）五", False),  # full-width punctuation is not digits or letters: untouched
    ],
)
def test_text_is_trimmed_and_only_full_width_alphanumerics_change(
    value: str, expected: str, noted: bool
) -> None:
    text, note = sheets.repair_text(value)
    assert text == expected
    assert bool(note) is noted


def test_a_numeric_phone_cell_from_xlsx_becomes_its_digits() -> None:
    assert sheets.repair_text(13812345678.0) == ("13812345678", "数字单元格已按文本读取")


def test_codes_lose_every_space_and_full_width_form() -> None:
    assert sheets.repair_code("138 １２３４ 5678")[0] == "13812345678"
    assert sheets.repair_code("0631－5234567")[0] == "0631-5234567"


# --- dates --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-05", date(2024, 1, 5)),
        ("2024/1/5", date(2024, 1, 5)),
        ("2024-1-5", date(2024, 1, 5)),
        ("2024年1月5日", date(2024, 1, 5)),
        ("2024 年 1 月 5 日", date(2024, 1, 5)),
        ("20240105", date(2024, 1, 5)),
        ("2024.1.5", date(2024, 1, 5)),
        ("２０２４／１／５", date(2024, 1, 5)),
        ("2024/1/5 0:00:00", date(2024, 1, 5)),  # a datetime cell saved as CSV
        ("45296", date(2024, 1, 5)),  # a serial from a General-formatted cell, as CSV text
        (45296.0, date(2024, 1, 5)),  # a serial as an XLSX number
        (45296, date(2024, 1, 5)),
        (1, date(1900, 1, 1)),
        (59, date(1900, 2, 28)),
        (61, date(1900, 3, 1)),  # after Excel's phantom 29 February 1900
        (datetime(2024, 1, 5, 0, 0), date(2024, 1, 5)),
        (date(2024, 1, 5), date(2024, 1, 5)),
    ],
)
def test_dates_are_repaired_to_a_date(value: Any, expected: date) -> None:
    assert sheets.repair_date(value)[0] == expected


def test_an_iso_date_needs_no_note_and_a_serial_gets_one() -> None:
    assert sheets.repair_date("2024-01-05") == (date(2024, 1, 5), None)
    assert sheets.repair_date(45296)[1] == "Excel 日期序列号已转换为日期"


@pytest.mark.parametrize(
    ("value", "reason", "says"),
    [
        ("2024-02-30", "impossible_date", "2024 年 2 月 30 日不存在"),
        ("2023年2月29日", "impossible_date", "不存在"),
        ("20241301", "impossible_date", "不存在"),
        (60, "impossible_date", "1900 年 2 月 29 日"),  # Excel's leap-year bug
        ("1/5/2024", "ambiguous_date", "歧义"),
        ("05/01/2024", "ambiguous_date", "歧义"),
        ("24/1/5", "ambiguous_date", "歧义"),
        ("24年1月5日", "ambiguous_date", "世纪"),
        ("1870-01-01", "date_out_of_range", "超出允许范围"),
        ("2150-01-01", "date_out_of_range", "超出允许范围"),
        (0, "date_out_of_range", "超出范围"),
        (-5.0, "date_out_of_range", "超出范围"),
        ("2024-01", "invalid_date", "无法识别"),
        ("明年", "invalid_date", "无法识别"),
        (ID_1960, "invalid_date", "无法识别"),  # an ID number in the date column: refused, not echoed
        (True, "invalid_date", "日期"),
        (float("nan"), "invalid_date", "日期"),
    ],
)
def test_impossible_ambiguous_and_out_of_range_dates_are_refused(value: Any, reason: str, says: str) -> None:
    error = cell_refusal(sheets.repair_date, value)
    assert isinstance(error, CellError)
    assert error.reason == reason
    assert says in error.message
    assert ID_1960 not in error.message


def test_date_range_is_the_callers_to_narrow() -> None:
    with pytest.raises(CellError) as info:
        sheets.repair_date("2030-01-01", latest=TODAY)
    assert info.value.reason == "date_out_of_range"


# --- money --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5,234.50", Decimal("5234.50")),
        ("¥1,234", Decimal("1234")),
        ("￥1234.5", Decimal("1234.5")),
        ("1234元", Decimal("1234")),
        ("RMB 12,345,678.90", Decimal("12345678.90")),
        ("５２３４．５", Decimal("5234.5")),
        ("-300.00", Decimal("-300.00")),
        (5234.5, Decimal("5234.5")),
        (5234, Decimal("5234")),
        (0.1 + 0.2, Decimal("0.30")),  # a formula's binary noise, rounded to the fen
    ],
)
def test_money_becomes_decimal(value: Any, expected: Decimal) -> None:
    amount, _ = sheets.repair_money(value)
    assert amount == expected
    assert isinstance(amount, Decimal)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1.234", "money_precision"),
        (1.2345, "money_precision"),
        ("1,23,4", "invalid_money"),
        ("一千元", "invalid_money"),
        ("1.2万", "invalid_money"),
        (True, "invalid_money"),
        ("9" * 40, "invalid_money"),  # beyond Decimal's context: refused, not a crash
        (1e300, "invalid_money"),
        (float("nan"), "invalid_money"),
    ],
)
def test_money_that_is_not_an_amount_in_fen_is_refused(value: Any, reason: str) -> None:
    assert cell_refusal(sheets.repair_money, value).reason == reason


# --- rows, duplicates, the report -------------------------------------------------------------------------


def test_repair_rows_collects_values_notes_and_errors_per_row() -> None:
    lines = [
        "2024年参保人员名单,,,,",
        "姓名,公民身份号码,出生日期,联系电话,缴费工资",
        f'张三,{ID_1960},1960/1/1,13812345678,"5,234.50"',
        "李四,3.71002E+17,2024-02-30,１３８１２３４５６７８,1.234",
    ]
    rows = repaired(sheets.read_table(csv_bytes(lines, "gbk"), known_headers=MAPPING))
    first, second = rows
    assert first.row_number == 3 and not first.errors
    assert first.values == {
        "name": "张三",
        "id_number": ID_1960,
        "birth_date": date(1960, 1, 1),
        "phone": "13812345678",
        "wage": Decimal("5234.50"),
    }
    assert any("出生日期" in note for note in first.notes)
    assert second.row_number == 4
    assert set(second.errors) == {"id_number", "birth_date", "wage"}
    assert second.values["phone"] == "13812345678"
    assert "第 B 列“公民身份号码”" in second.error_text and "第 E 列“缴费工资”" in second.error_text


def test_an_unknown_column_type_is_a_programming_error() -> None:
    table = sheets.read_table(csv_bytes(PEOPLE))
    with pytest.raises(ValueError, match="unknown column types"):
        sheets.repair_rows(table, {0: "name"}, {"name": "nonsense"})


def test_duplicates_match_15_and_18_digit_forms_of_one_person() -> None:
    rows = [
        (4, {"id_number": ID_1960, "name": "张三"}),
        (5, {"id_number": ID_X, "name": "李四"}),
        (6, {"id_number": ID_15, "name": "张三"}),  # the same person, old number
        (7, {"id_number": f" {ID_1960.lower()} ", "name": "张三"}),
        (8, {"id_number": None, "name": ""}),
        (9, {"id_number": "", "name": None}),  # empty keys are never duplicates of each other
    ]
    assert sheets.duplicates(rows, ["id_number"]) == {6: 4, 7: 4}
    assert sheets.duplicates(rows, ["id_number", "name"]) == {6: 4, 7: 4}


def test_duplicates_within_a_read_file() -> None:
    table = sheets.read_table(
        csv_bytes(["姓名,公民身份号码", f"张三,{ID_1960}", f"李四,{ID_X}", f"张三,{ID_15}"])
    )
    rows = repaired(table)
    assert sheets.duplicates([(row.row_number, row.values) for row in rows], ["id_number"]) == {4: 2}


def test_the_error_report_is_an_xlsx_staff_can_correct_and_import_again() -> None:
    lines = [
        "姓名,公民身份号码,出生日期,联系电话,缴费工资",
        f"张三,{ID_1960},1960/1/1,13812345678,5234.50",
        '李四,3.71002E+17,2024-02-30,=HYPERLINK("http://evil.example"),1.234',
        f"王五,{ID_X},1949-12-31,,100",
    ]
    table = sheets.read_table(csv_bytes(lines, "gbk"), known_headers=MAPPING)
    rows = repaired(table)
    errors = {row.row_number: row.error_text for row in rows if row.errors}
    assert list(errors) == [3]
    data = sheets.error_report(table, errors, sheet_title="导入错误[2024/01]")

    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    assert sheet.title == "导入错误_2024_01_"
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == ["原行号", *table.headers, "错误原因"]
    assert len(values) == 2  # the header and the one refused row
    assert values[1][:6] == [
        3,
        "李四",
        "3.71002E+17",
        "2024-02-30",
        '=HYPERLINK("http://evil.example")',
        "1.234",
    ]
    assert values[1][6] == errors[3] and "“文本”" in values[1][6]

    header, row = sheet[1], sheet[2]
    assert all(cell.font.bold for cell in header)
    reason = row[6]
    assert reason.alignment.wrap_text
    assert sheet.column_dimensions["G"].width >= 50
    assert row[4].data_type == "s"  # the formula-like cell is text, not a live formula
    assert row[2].number_format == "@"  # the ID column stays text when the clerk retypes it
    assert sheet.freeze_panes == "B2"

    # Read back through this module: the report imports again, its extra columns ignored.
    again = sheets.read_table(data, known_headers=MAPPING)
    assert again.row_numbers == [2]
    columns = sheets.map_columns(again.headers, MAPPING, REQUIRED)
    assert set(columns.values()) == {"name", "id_number", "birth_date", "phone", "wage"}


def test_the_error_report_can_carry_every_row() -> None:
    table = sheets.read_table(csv_bytes(PEOPLE))
    data = sheets.error_report(table, {3: "示例"}, sheet_title="", all_rows=True)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.title == "错误报告"
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == [2, 3]
    assert [row[-1].value for row in sheet.iter_rows(min_row=2)] == [None, "示例"]


def _parts(data: bytes) -> list[tuple[Any, str]]:
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(data))
    return [(archive, n) for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]


@pytest.mark.req("B3")
def test_the_grid_extent_found_by_whole_chunk_searches_is_the_counted_one() -> None:
    """A sheet larger than one read (1 MB) with a stray far cell: the searches and the tag-by-tag count agree."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for n in range(40_000):
        sheet.append(["张三", f"37100219600101{n:04d}", n, "2024-01-05"])
    sheet["AB41000"] = "远处"
    out = io.BytesIO()
    workbook.save(out)
    ((archive, name),) = _parts(out.getvalue())
    assert archive.getinfo(name).file_size > 1 << 20
    assert sheets._named_extent(archive, name) == sheets._counted_extent(archive, name) == (41_000, 28)


@pytest.mark.req("B3")
def test_a_sheet_whose_cells_do_not_name_their_place_is_counted_tag_by_tag() -> None:
    import zipfile

    rows = "".join(f"<row>{'<c><v>1</v></c>' * 3}</row>" for _ in range(5))
    rows += '<row r="9"><c r="E9"><v>1</v></c><c><v>2</v></c></row>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", f"<worksheet><sheetData>{rows}</sheetData></worksheet>")
    ((archive, name),) = _parts(out.getvalue())
    assert sheets._named_extent(archive, name) is None
    assert sheets._grid_extent(archive, name) == sheets._counted_extent(archive, name) == (9, 6)
