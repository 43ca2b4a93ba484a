"""Read CSV and XLSX files that have been through Excel, repair what Excel did to them, report the rest (B3).

Agencies exchange person lists as spreadsheets. By the time a file reaches the import screen, Excel
has usually done some of these things to it, and this module undoes what can be undone and refuses
what cannot:

* **Encoding.** Chinese Excel saves "CSV (逗号分隔)" in GBK (code page 936); "CSV UTF-8" adds a BOM;
  "Unicode 文本" is UTF-16 with tabs. :func:`read_table` tries strict UTF-8 (BOM optional) first, then
  GB18030. The order is what makes this safe: UTF-8 is self-validating, and Chinese text in GBK is
  practically never valid UTF-8 (a GBK character is a lead byte 0x81-0xFE and a trail byte, and strict
  UTF-8 wants exact 10xxxxxx continuation runs; even the notorious "联通" = ``C1 AA CD A8`` is refused
  because ``C1`` can never start a UTF-8 sequence), while pure ASCII reads the same either way. The
  reverse order would be wrong: GB18030 decodes most UTF-8 Chinese into plausible-looking mojibake
  without an error. GB18030 rather than GBK because it is a superset (every GBK file decodes the same)
  that also has the characters GBK lacks (rare name characters such as 䶮 and the CJK extension
  ideographs such as 𠀀, which the 2022 edition of the standard requires). No statistical charset
  detector is used: the two strict decodes decide, so the result is deterministic.
* **Title rows.** Templates start with a merged title ("2024年参保人员名单") and a blank row; the header
  is found as the first of the top :data:`HEADER_SEARCH_ROWS` non-blank rows that contains at least
  two known column names.
* **Cells.** Small repair functions (:data:`REPAIRS`, chosen per field by a type mapping that is data,
  e.g. ``{"id_number": "idcard_text", "birth_date": "date", "phone": "text", "wage": "money"}``)
  return ``(value, note)`` or raise :class:`CellError`. ID numbers that Excel turned into numbers
  (``3.71002E+17``, ``371002196001010000.0``, a numeric XLSX cell) are refused, never "repaired": the
  last digits are gone and the clerk must re-enter them in a column formatted as text.
* **Report.** :func:`error_report` writes the refused rows back as an XLSX with a ``错误原因`` column.

XLSX is read with python-calamine (Rust), not openpyxl. ``bench/sheets.py`` read the same generated
100,000-row × 12-column workbook (8.9 MB) with both: calamine ``to_python()`` 83,400 rows/s, openpyxl
``read_only=True`` + ``iter_rows(values_only=True)`` 4,800 rows/s, so calamine is about 17× faster
(2-core shared machine, medians of 3; 1.2 s against 20.8 s for the file). openpyxl is still the writer
of the error report, where its write-only mode is what is needed.

Limits: only the first visible worksheet is read; multi-row headers are not supported (the header is
one row); Excel serial numbers follow the 1900 date system (a raw serial typed into a 1904-system Mac
workbook would be 1,462 days off; date-formatted cells are converted by calamine with the workbook's
own system); XLSX cells with formulas give their cached value (none if the file was never opened in
Excel).
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sidms.lib import idcard
from sidms.lib.errors import StandardError

__all__ = [
    "HEADER_SEARCH_ROWS",
    "REPAIRS",
    "CellError",
    "Repaired",
    "SheetError",
    "Table",
    "column_letter",
    "duplicates",
    "error_report",
    "map_columns",
    "normalise_header",
    "read_table",
    "repair_code",
    "repair_date",
    "repair_idcard",
    "repair_money",
    "repair_rows",
    "repair_text",
]

HEADER_SEARCH_ROWS = 10
# An XLSX is a ZIP: refuse one whose parts would inflate beyond this before a reader expands them.
DEFAULT_MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
# The reader (calamine) holds a worksheet as a dense grid from A1 to its last cell, so a 5 KB file with one
# cell in XFD1048576 would ask for 17 billion cells and abort the process: refuse a grid beyond this.
MAX_GRID_CELLS = 10_000_000
# A worksheet has at most 16,384 columns (XFD): a CSV row wider than that cannot be shown, nor written back
# into the error report (openpyxl refuses the column), so it is refused when read.
EXCEL_MAX_COLUMNS = 16_384


class SheetError(StandardError):
    """The file as a whole cannot be read as a table (format, encoding, header, columns)."""


class CellError(StandardError):
    """One cell's value cannot be used; the rest of the row and file may still be fine."""


@dataclass(frozen=True)
class Table:
    """A table as read from the file, before any repair.

    ``headers`` are the header cells as written (trimmed); ``rows`` the data rows below the header
    (blank rows dropped), each a list at least as long as ``headers``; ``row_numbers[i]`` is the
    spreadsheet's own row number of ``rows[i]`` (what Excel shows at the left, for error reports).
    Cells are what the file holds: ``str`` for CSV; ``str``, ``float``, ``int``, ``bool``, ``date``,
    ``datetime`` … for XLSX; ``None`` for an empty cell. ``encoding`` is ``utf-8``, ``utf-8-sig``
    (with BOM), ``gb18030`` or ``utf-16`` for CSV and ``None`` for XLSX.
    """

    headers: list[str]
    rows: list[list[Any]]
    row_numbers: list[int]
    header_row: int
    encoding: str | None
    format: str
    sheet: str | None = None


# --- small text helpers ------------------------------------------------------------------------------------

# Invisible characters that Excel, web pages and IMEs leave in cells; they are never data here.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_ZERO_WIDTH_TABLE = str.maketrans("", "", _ZERO_WIDTH)
_ALL_SPACE = re.compile(r"[\s\u00a0\u3000" + _ZERO_WIDTH + "]+")


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how Excel names a column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _trim(text: str) -> str:
    """Strip whitespace (str.strip() covers NBSP and the ideographic space) and zero-width characters."""
    if text.isprintable():  # the common case, and cheap: no zero-width, no NBSP, no line break
        return text.strip()
    return text.translate(_ZERO_WIDTH_TABLE).strip()


def _blank(cell: Any) -> bool:
    if cell is None:
        return True
    if cell.__class__ is not str:
        return False
    stripped = cell.strip()
    # Cheap for the usual cell (its first non-space character is visible); exact for the rest.
    return not stripped or (stripped[0] in _ZERO_WIDTH and not _trim(stripped))


def _cells(cells: Sequence[Any]) -> list[Any] | None:
    """A row with blank cells as None; None if the whole row is blank."""
    row = [None if _blank(cell) else cell for cell in cells]
    return row if any(cell is not None for cell in row) else None


def normalise_header(text: Any) -> str:
    """The comparable form of a header: NFKC (full-width to half-width), no whitespace at all, no ``*``.

    ``" 公民身份号码 "``, ``"公民身份\\n号码"`` (Alt+Enter in Excel) and ``"*姓名"`` (a template's mark
    for a required column) become ``公民身份号码`` and ``姓名``.
    """
    if text is None:
        return ""
    return _ALL_SPACE.sub("", unicodedata.normalize("NFKC", str(text))).strip("*")


# --- reading ---------------------------------------------------------------------------------------------


def _unsupported(found: str, found_en: str, hint: str = "") -> SheetError:
    return SheetError(
        "unsupported_format",
        f"文件内容实际是：{found}，无法导入。只支持 Excel 工作簿（.xlsx）和 CSV 文件。{hint}",
        f"the content is {found_en}; only XLSX workbooks and CSV files can be imported",
    )


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    elif b"\x00" in data[:4096]:
        raise _unsupported(
            "二进制数据（不是文本）", "binary data", "请在 Excel 中另存为 .xlsx 或 CSV 后重新导入。"
        )
    else:
        try:
            if data.startswith(b"\xef\xbb\xbf"):
                return data.decode("utf-8-sig"), "utf-8-sig"
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            pass
    raise SheetError(
        "encoding",
        "无法识别文件的文字编码（既不是 UTF-8，也不是 GBK/GB18030）；"
        "请在 Excel 中“另存为”选择“CSV UTF-8（逗号分隔）”或 .xlsx 后重新导入",
        "the file is neither UTF-8 nor GBK/GB18030",
    )


def _csv_rows(data: bytes) -> tuple[list[tuple[int, list[Any]]], str]:
    text, encoding = _decode(data)
    sample = text[:8192]
    delimiter = "\t" if encoding == "utf-16" or ("\t" in sample and "," not in sample) else ","
    # strict: a quote left open would otherwise swallow every following row into one cell, silently.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[Any]]] = []
    try:
        # The record index is the row number Excel shows, also when a quoted cell spans lines.
        for number, cells in enumerate(reader, start=1):
            if len(cells) > EXCEL_MAX_COLUMNS:
                raise SheetError(
                    "too_large",
                    f"CSV 文件第 {number} 行有 {len(cells)} 列，超过 Excel 的上限 {EXCEL_MAX_COLUMNS} 列；"
                    "请检查分隔符或删除多余的列后重新导入",
                    f"row {number} of the CSV file has {len(cells)} columns, more than Excel's "
                    f"{EXCEL_MAX_COLUMNS}",
                )
            rows.append((number, cells))
    except csv.Error:
        row = len(rows) + 1
        raise SheetError(
            "malformed_csv",
            f"CSV 文件第 {row} 行格式错误（引号不配对或字段过长），从这一行起无法可靠读取；"
            "请在 Excel 中检查该行后重新另存为 CSV",
            f"the CSV file is malformed in row {row} (unbalanced quotes or an oversized field)",
        ) from None
    return rows, encoding


def _check_zip(data: bytes, max_unzipped_bytes: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise SheetError(
            "corrupt_xlsx",
            "Excel 工作簿已损坏或不完整，无法打开；请在 Excel 中重新保存后导入",
            "the XLSX workbook is corrupt",
        ) from None
    if "xl/workbook.xml" not in names:
        hint = "请在 WPS/Office 中另存为 Excel 工作簿（.xlsx）后重新导入。"
        raise _unsupported(
            "ZIP 压缩包或其他文档（不是 Excel 工作簿）", "a ZIP archive but not an XLSX workbook", hint
        )
    if inflated > max_unzipped_bytes:
        raise SheetError(
            "too_large",
            f"Excel 工作簿解压后超过 {max_unzipped_bytes // 1_048_576} MB，过大或异常；请拆分成几个文件后导入",
            f"the workbook inflates to more than {max_unzipped_bytes} bytes",
        )


_CELL_OR_ROW = re.compile(rb"<(?:\w+:)?(c|row)\b([^>]*)>")
_REF = re.compile(rb"""\br\s*=\s*["']([A-Za-z]{0,3})(\d{1,7})["']""")


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


# The places rows and cells name as Excel, WPS and openpyxl write them: the reference as the first attribute,
# double-quoted, no namespace prefix.
_ROW_REF = re.compile(rb'<row r="(\d{1,7})"')
_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')
_PREFIXED = (b":c ", b":c>", b":c/", b":row")


def _grid_extent(archive: zipfile.ZipFile, name: str) -> tuple[int, int]:
    """(rows, columns) of the dense grid a worksheet part makes the reader build: the furthest cell named
    by an ``r`` attribute, or reached by counting cells and rows that have none. Streamed, 1 MB at a time.

    Where every row and cell names its place (what Excel, WPS and openpyxl write) the furthest one is found
    by whole-chunk searches (a million-row sheet's eight million cells took half a minute one match at a
    time); a part with one tag that does not is counted again tag by tag."""
    extent = _named_extent(archive, name)
    return extent if extent is not None else _counted_extent(archive, name)


def _tag_chunks(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    """Part NAME of ARCHIVE read 1 MB at a time, each piece cut before its last ``<``, so that no tag is
    split between two pieces (the cut-off start goes to the front of the next piece)."""
    tail = b""
    with archive.open(name) as part:
        while chunk := part.read(1 << 20):
            text = tail + chunk
            cut = text.rfind(b"<")
            text, tail = (text[:cut], text[cut:]) if cut >= 0 else (text, b"")
            yield text


def _named_extent(archive: zipfile.ZipFile, name: str) -> tuple[int, int] | None:
    rows = columns = 0
    for text in _tag_chunks(archive, name):
        if any(prefixed in text for prefixed in _PREFIXED):
            return None
        row_refs = _ROW_REF.findall(text)
        cell_refs = _CELL_REF.findall(text)
        # Every <row and <c tag must be one of those found, else the part is counted tag by tag.
        if len(row_refs) != text.count(b"<row ") + text.count(b"<row>") + text.count(b"<row/"):
            return None
        if len(cell_refs) != text.count(b"<c ") + text.count(b"<c>") + text.count(b"<c/"):
            return None
        if row_refs:
            rows = max(rows, *map(int, row_refs))
        if cell_refs:
            letters, numbers = zip(*cell_refs, strict=True)
            rows = max(rows, *map(int, numbers))
            columns = max(columns, *map(_column_number, set(letters)))
    return rows, columns


def _counted_extent(archive: zipfile.ZipFile, name: str) -> tuple[int, int]:
    rows = columns = row = column = 0
    for text in _tag_chunks(archive, name):
        for match in _CELL_OR_ROW.finditer(text):
            ref = _REF.search(match.group(2))
            if match.group(1) == b"row":
                row = int(ref.group(2)) if ref else row + 1
                column = 0
                rows = max(rows, row)
            else:
                column = _column_number(ref.group(1)) if ref and ref.group(1) else column + 1
                if ref and ref.group(1):
                    row = max(row, int(ref.group(2)))
                    rows = max(rows, row)
                columns = max(columns, column)
    return rows, columns


def _check_extent(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            rows, columns = _grid_extent(archive, name)
            if rows * columns > MAX_GRID_CELLS:
                raise SheetError(
                    "too_large",
                    f"Excel 工作表的范围过大（{rows} 行 × {columns} 列，可能有远处的单元格被误填或格式化）；"
                    "请删除数据以外的行和列，或拆分成几个文件后导入",
                    f"the worksheet spans {rows} rows x {columns} columns, more than {MAX_GRID_CELLS} cells",
                )


def _xlsx_rows(data: bytes, max_unzipped_bytes: int) -> tuple[list[tuple[int, list[Any]]], str]:
    _check_zip(data, max_unzipped_bytes)
    _check_extent(data)
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    try:
        with CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
            visible = [
                meta.name
                for meta in workbook.sheets_metadata
                if meta.typ == SheetTypeEnum.WorkSheet and meta.visible == SheetVisibleEnum.Visible
            ]
            if not visible:
                raise SheetError(
                    "empty", "Excel 工作簿中没有可见的工作表", "the workbook has no visible worksheet"
                )
            sheet = workbook.get_sheet_by_name(visible[0])
            # skip_empty_area=False keeps the grid anchored at A1, so list index + 1 is Excel's row number.
            grid = sheet.to_python(skip_empty_area=False)
    except SheetError:
        raise
    except Exception:  # calamine raises CalamineError, XmlError, ZipError … on damaged workbooks
        raise SheetError(
            "corrupt_xlsx",
            "Excel 工作簿已损坏或不完整，无法读取；请在 Excel 中重新保存后导入",
            "the XLSX workbook could not be read",
        ) from None
    return [(number, row) for number, row in enumerate(grid, start=1)], visible[0]


def _header_index(rows: Sequence[tuple[int, list[Any]]], known_headers: Collection[str]) -> int:
    """Position (in ``rows``) of the header row."""
    top = rows[:HEADER_SEARCH_ROWS]
    if known_headers:
        known = {normalise_header(h) for h in known_headers}
        needed = min(2, len(known))
        for position, (_, cells) in enumerate(top):
            if sum(1 for cell in cells if normalise_header(cell) in known) >= needed:
                return position
        examples = "、".join(sorted(known_headers)[:4])
        raise SheetError(
            "header_not_found",
            f"在前 {HEADER_SEARCH_ROWS} 行中找不到表头（应包含“{examples}”等列名）；"
            "请使用导入模板，表头放在数据的上一行",
            f"no header row with known column names in the first {HEADER_SEARCH_ROWS} rows",
        )
    # Without known names: the first row filled as widely as any of the top rows (a merged title row
    # has one filled cell, the header has many).
    filled = [sum(1 for cell in cells if cell is not None) for _, cells in top]
    widest = max(filled, default=0)
    for position, count in enumerate(filled):
        if count and count >= min(2, widest):
            return position
    raise SheetError("empty", "文件中没有数据", "the file holds no data")


def read_table(
    data: bytes,
    *,
    filename_hint: str = "",
    known_headers: Collection[str] = (),
    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES,
) -> Table:
    """Read a CSV or XLSX file (decided by content; ``filename_hint`` only improves messages).

    ``known_headers`` (e.g. the keys of the column mapping) locate the header row below title rows:
    the first of the top :data:`HEADER_SEARCH_ROWS` non-blank rows with at least two of them. Without
    them the header is the first of those rows with two or more filled cells (a merged title has one).

    Raises :class:`SheetError` with ``reason`` ``empty``, ``unsupported_format``, ``encoding``,
    ``malformed_csv``, ``corrupt_xlsx``, ``too_large`` or ``header_not_found``.
    """
    if not data.strip():
        raise SheetError("empty", "文件是空的", "the file is empty")
    sheet: str | None = None
    encoding: str | None
    if data.startswith(b"PK\x03\x04"):
        rows, sheet = _xlsx_rows(data, max_unzipped_bytes)
        fmt, encoding = "xlsx", None
    elif data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise _unsupported(
            "旧版 Excel 工作簿（.xls）或加密的工作簿",
            "a legacy .xls or an encrypted workbook",
            "请在 Excel 中取消密码并“另存为”Excel 工作簿（.xlsx）后重新导入。",
        )
    elif data.startswith((b"%PDF-", b"\x89PNG", b"\xff\xd8\xff", b"MZ", b"\x7fELF")):
        raise _unsupported("PDF、图片或程序", "a PDF, an image or a program")
    else:
        if filename_hint.lower().endswith((".xlsx", ".xlsm")):
            # Named like a workbook but not a ZIP: most often a damaged download.
            raise SheetError(
                "corrupt_xlsx",
                "文件名是 .xlsx，但内容不是 Excel 工作簿（文件可能已损坏）；请在 Excel 中重新保存后导入",
                "named .xlsx but the content is not an XLSX workbook",
            )
        rows, encoding = _csv_rows(data)
        fmt = "csv"

    rows = [(number, cleaned) for number, cells in rows if (cleaned := _cells(cells)) is not None]
    if not rows:
        raise SheetError("empty", "文件中没有数据", "the file holds no data")
    position = _header_index(rows, known_headers)
    header_row, header_cells = rows[position]
    headers = ["" if cell is None else _trim(str(cell)) for cell in header_cells]
    while headers and not headers[-1]:
        headers.pop()
    width = len(headers)
    body = rows[position + 1 :]
    return Table(
        headers=headers,
        rows=[cells + [None] * (width - len(cells)) if len(cells) < width else cells for _, cells in body],
        row_numbers=[number for number, _ in body],
        header_row=header_row,
        encoding=encoding,
        format=fmt,
        sheet=sheet,
    )


# --- columns -------------------------------------------------------------------------------------------


def map_columns(
    headers: Sequence[str], mapping: Mapping[str, str], required: Collection[str]
) -> dict[int, str]:
    """Which column holds which field: ``{column index: field}``.

    ``mapping`` is data, Chinese header -> field, several headers may name one field
    (``{"公民身份号码": "id_number", "身份证号码": "id_number", "姓名": "name"}``). Headers are compared
    after :func:`normalise_header`. Columns with unknown headers are left out. Raises
    :class:`SheetError` ``duplicate_column`` when two columns name the same field, and
    ``missing_column`` when a ``required`` field has no column.
    """
    fields = {normalise_header(header): name for header, name in mapping.items()}
    unknown = set(required) - set(mapping.values())
    if unknown:
        raise ValueError(f"required fields {sorted(unknown)} are not in the mapping")
    label: dict[str, str] = {}  # field -> its first Chinese header in the mapping, for messages
    for text, target in mapping.items():
        label.setdefault(target, text)

    columns: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, header in enumerate(headers):
        name = fields.get(normalise_header(header))
        if name is None:
            continue
        if name in seen:
            first = seen[name]
            raise SheetError(
                "duplicate_column",
                f"第 {column_letter(first)} 列“{headers[first]}”和第 {column_letter(index)} 列“{header}”"
                f"都是“{label[name]}”，请删除其中一列后重新导入",
                f"columns {column_letter(first)} and {column_letter(index)} both hold {name}",
            )
        seen[name] = index
        columns[index] = name

    missing = [name for name in label if name in required and name not in seen]
    if missing:
        described = []
        for name in missing:
            others = [h for h, n in mapping.items() if n == name and h != label[name]]
            described.append(label[name] + (f"（或写作“{'”“'.join(others)}”）" if others else ""))
        raise SheetError(
            "missing_column",
            f"缺少必需的列：{'、'.join(described)}；请检查表头是否与导入模板一致",
            f"missing required columns: {', '.join(missing)}",
        )
    return columns


# --- cell repairs -----------------------------------------------------------------------------------------

Repair = Callable[[Any], tuple[Any, "str | None"]]


# Full-width digits and Latin letters (U+FF10-FF19, FF21-FF3A, FF41-FF5A) to ASCII: they never belong
# in a name, and CJK characters and punctuation are left alone (unlike NFKC, which also rewrites them).
_FULLWIDTH_ALNUM = {
    code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
}
_HAS_FULLWIDTH_ALNUM = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def _whole_number_text(value: float) -> str | None:
    if value.is_integer() and abs(value) < 2**53:  # exact in a double
        return str(int(value))
    return None


def repair_text(value: Any) -> tuple[str | None, str | None]:
    """Free text such as a name, an address or a phone number: trimmed, otherwise nearly untouched.

    Leading and trailing spaces (also non-breaking and ideographic ones) and zero-width characters are
    removed, and full-width digits and Latin letters (``１３８``, ``Ｘ``) become ASCII. Nothing else
    changes: a name is what the person's ID card says, including a middle dot ("阿依古丽·买买提"), inner
    spaces or a rare character, so no Unicode normalisation is applied to the rest.
    """
    if value is None:
        return None, None
    if isinstance(value, str):
        trimmed = _trim(value)
        halved = trimmed.translate(_FULLWIDTH_ALNUM) if _HAS_FULLWIDTH_ALNUM.search(trimmed) else trimmed
        if halved == value:
            return value, None
        note = "全角数字或字母已转换为半角" if halved != trimmed else "已去除首尾空格或不可见字符"
        return (halved or None), note
    if isinstance(value, bool):
        return ("是" if value else "否"), None
    if isinstance(value, float):
        whole = _whole_number_text(value)
        return (whole if whole is not None else repr(value)), "数字单元格已按文本读取"
    if isinstance(value, int):
        return str(value), "数字单元格已按文本读取"
    if isinstance(value, (date, datetime)):
        return value.isoformat(), "日期单元格已按文本读取"
    return str(value), None


def repair_code(value: Any) -> tuple[str | None, str | None]:
    """A code or number written as text (phone, card number, credit code): NFKC, no spaces at all.

    NFKC turns full-width digits, letters and hyphens into ASCII; none of these columns may contain a
    character that NFKC would change into a *different* symbol, and the validators that run afterwards
    check the result.
    """
    if isinstance(value, str):
        cleaned = _ALL_SPACE.sub("", unicodedata.normalize("NFKC", value))
        if cleaned == value:
            return value, None
        return (cleaned or None), "已去除空格，全角字符已转换为半角"
    return repair_text(value)


_NUMBER_TO_TEXT_ZH = (
    "身份证号码被 Excel 当成了数字（显示为 3.71002E+17 或末几位变成 0），后几位数字已经丢失，无法自动恢复。"
    "请把该列单元格格式设置为“文本”后重新录入身份证号码"
)
_NUMBER_TO_TEXT_EN = (
    "Excel stored the ID number as a number and its last digits are lost; format the column as text "
    "and enter the numbers again"
)
_SCIENTIFIC = re.compile(r"\d+(?:\.\d*)?E[+-]?\d+", re.IGNORECASE | re.ASCII)
_DECIMAL = re.compile(r"\d+\.\d*", re.ASCII)
_ID_PLAIN = re.compile(r"\d{17}[\dXx]|\d{15}", re.ASCII)


def repair_idcard(value: Any, *, today: date | None = None) -> tuple[str | None, str | None]:
    """An ID number column that must hold text; the result is the validated 18-character number.

    Repaired (with a note): full-width digits and ``Ｘ``, spaces anywhere (also non-breaking and
    zero-width ones), Excel's text tricks ``'371002…`` and ``="371002…"``, and 15-digit numbers (upgraded
    by :func:`sidms.lib.idcard.parse`). NFKC is safe for this column because its alphabet is only the
    digits and X: every character NFKC maps into that alphabet is a compatibility form of the same
    digit or letter (full-width ``３``, ``Ｘ``, the Roman numeral ``Ⅹ``), and the check digit then verifies
    the whole number, so a wrong repair cannot pass unnoticed.

    Refused (:class:`CellError` ``id_number_as_number``): a numeric cell, scientific notation
    (``3.71002E+17``), a decimal form (``371002196001010000.0``) and an 18-digit number ending in
    ``000`` whose check digit fails, all signs that the number went through a floating-point value
    and lost its last digits. Other defects raise :class:`sidms.lib.idcard.InvalidIdNumber`.
    """
    if value is None:
        return None, None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise CellError("id_number_as_number", _NUMBER_TO_TEXT_ZH, _NUMBER_TO_TEXT_EN)
    text = str(value)
    notes: list[str] = []
    if not _ID_PLAIN.fullmatch(text):
        cleaned = _ALL_SPACE.sub("", unicodedata.normalize("NFKC", text))
        if cleaned.startswith('="') and cleaned.endswith('"'):
            cleaned = cleaned[2:-1]
        cleaned = cleaned.lstrip("'")
        if not cleaned:
            return None, None
        if _SCIENTIFIC.fullmatch(cleaned) or _DECIMAL.fullmatch(cleaned):
            raise CellError("id_number_as_number", _NUMBER_TO_TEXT_ZH, _NUMBER_TO_TEXT_EN)
        if cleaned != text:
            notes.append("身份证号码中的空格、全角字符或 Excel 文本标记已修正")
        text = cleaned
    try:
        parsed = idcard.parse(text, today=today)
    except idcard.InvalidIdNumber as error:
        if error.reason == "check_digit" and len(text) == 18 and text.endswith("000"):
            raise CellError("id_number_as_number", _NUMBER_TO_TEXT_ZH, _NUMBER_TO_TEXT_EN) from None
        raise
    notes.extend(parsed.warnings)
    return parsed.number, ("；".join(notes) or None)


EARLIEST_DATE = date(1880, 1, 1)
LATEST_DATE = date(2099, 12, 31)
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 61 and later; Excel counts a 29 Feb 1900 that never was
# Patterns use re.ASCII: \d alone would also match full-width and other scripts' digits.
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?" + _TIME, re.ASCII)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_SERIAL_TEXT = re.compile(r"(\d{5})(?:\.0*)?", re.ASCII)
# Day-month or month-day order (1/5/2024), or a two-digit year (24/1/5, 24年1月5日: 1924 or 2024?).
_AMBIGUOUS = re.compile(
    r"(?:\d{1,2}[-/.]\d{1,2}[-/.]\d{1,4}|\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日?)" + _TIME, re.ASCII
)


def _excel_serial(serial: float) -> tuple[date, str]:
    if not math.isfinite(serial):
        raise CellError("invalid_date", "这里应填写日期，例如 2024-01-05", "a date was expected")
    if serial != int(serial):
        note = "Excel 日期序列号带有时间部分，已忽略时间"
    else:
        note = "Excel 日期序列号已转换为日期"
    whole = int(serial)
    if whole == 60:
        raise CellError(
            "impossible_date",
            "Excel 日期序列号 60 对应 1900 年 2 月 29 日，这一天并不存在（Excel 的历史遗留错误）；请填写正确的日期",
            "Excel serial 60 is 1900-02-29, a day that does not exist",
        )
    if whole < 1 or whole > 2_958_465:  # 9999-12-31
        raise CellError(
            "date_out_of_range",
            "日期数值超出范围，无法识别为日期；请填写如 2024-01-05 的日期",
            f"serial {whole} is outside Excel's date range",
        )
    day = date(1899, 12, 31) + timedelta(days=whole) if whole < 60 else _EXCEL_EPOCH + timedelta(days=whole)
    return day, note


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError(
            "impossible_date",
            f"日期 {year} 年 {month} 月 {day} 日不存在，请核对",
            f"{year:04d}-{month:02d}-{day:02d} is not a real date",
        ) from None


def repair_date(
    value: Any, *, earliest: date = EARLIEST_DATE, latest: date = LATEST_DATE
) -> tuple[date | None, str | None]:
    """A date as Excel and people write it, as ``datetime.date``.

    Accepted: XLSX date and datetime cells; Excel serial numbers (1900 system: serial 1 is 1900-01-01,
    serial 61 is 1900-03-01) as numbers or 5-digit text; ``2024/1/5``, ``2024-1-5``, ``2024.1.5``,
    ``2024年1月5日``, ``20240105``, each optionally followed by a time of day (ignored), full-width digits
    included. Refused (:class:`CellError`): ``impossible_date`` (2024-02-30, and Excel's phantom
    1900-02-29, serial 60), ``ambiguous_date`` (``1/5/2024``: day-month or month-day? ``24/1/5``: which century?),
    ``date_out_of_range`` (before ``earliest`` or after ``latest``), ``invalid_date`` (anything else).
    Messages never repeat unrecognised text: a cell in the wrong column may hold an ID number.
    """
    note: str | None = None
    if value is None:
        return None, None
    if isinstance(value, datetime):
        if value.time() != time(0, 0):
            note = "已忽略日期中的时间部分"
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, bool):
        raise CellError("invalid_date", "这里应填写日期，例如 2024-01-05", "a date was expected")
    elif isinstance(value, (int, float)):
        day, note = _excel_serial(value)
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).translate(_ZERO_WIDTH_TABLE).strip()
        if not text:
            return None, None
        if match := _YMD.fullmatch(text):
            day = _make_date(int(match[1]), int(match[2]), int(match[3]))
            if not (len(match[2]) == 2 and len(match[3]) == 2 and text[4] == "-" and len(text) == 10):
                note = "日期已统一为 YYYY-MM-DD 格式"
        elif match := _COMPACT.fullmatch(text):
            day = _make_date(int(match[1]), int(match[2]), int(match[3]))
            note = "日期已统一为 YYYY-MM-DD 格式"
        elif match := _SERIAL_TEXT.fullmatch(text):
            day, note = _excel_serial(int(match[1]))
        elif _AMBIGUOUS.fullmatch(text):
            raise CellError(
                "ambiguous_date",
                "日期写法有歧义（无法判断哪一部分是年、月、日，或两位数年份属于哪个世纪），"
                "请按“年-月-日”填写四位年份，例如 2024-01-05",
                "the date is ambiguous (day-month order or a two-digit year); write it as YYYY-MM-DD",
            )
        else:
            raise CellError(
                "invalid_date",
                "无法识别的日期，请按“年-月-日”填写，例如 2024-01-05",
                "not a recognisable date; write it as YYYY-MM-DD",
            )
    else:
        raise CellError("invalid_date", "这里应填写日期，例如 2024-01-05", "a date was expected")
    if not earliest <= day <= latest:
        raise CellError(
            "date_out_of_range",
            f"日期 {day.isoformat()} 超出允许范围（{earliest.isoformat()} 至 {latest.isoformat()}），请核对",
            f"{day.isoformat()} is outside {earliest.isoformat()}..{latest.isoformat()}",
        )
    return day, note


_CENT = Decimal("0.01")
# At most 15 integer digits (a quadrillion yuan): beyond that Decimal's 28-digit context would overflow
# in quantize(), and no amount in social insurance comes near it.
_MONEY_GROUPED = re.compile(r"-?\d{1,3}(?:,\d{3}){1,4}(?:\.\d{1,12})?", re.ASCII)
_MONEY_PLAIN = re.compile(r"-?\d{1,15}(?:\.\d{1,12})?", re.ASCII)
_MONEY_FLOAT_LIMIT = 1e15
_CURRENCY = re.compile(r"^(?:¥|RMB|CNY)|元$", re.IGNORECASE)


def _invalid_money() -> CellError:
    return CellError(
        "invalid_money",
        "无法识别的金额，请填写数字，例如 5234.50（可以带千位分隔符和 ¥）",
        "not a recognisable amount of money",
    )


def repair_money(value: Any) -> tuple[Decimal | None, str | None]:
    """An amount in yuan as ``Decimal`` with at most two decimals (fen).

    Repaired: thousands separators (``5,234.50``), ``¥``/``￥``/``RMB``/``元``, full-width digits, spaces;
    a float from XLSX carrying binary noise (``0.30000000000000004``) is rounded to the fen. Refused
    (:class:`CellError`): ``money_precision`` for more than two decimals, ``invalid_money`` otherwise.
    """
    if value is None:
        return None, None
    if isinstance(value, bool):
        raise _invalid_money()
    if isinstance(value, int):
        return Decimal(value), None
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= _MONEY_FLOAT_LIMIT:
            raise _invalid_money()
        exact = Decimal(repr(value))
        cents = exact.quantize(_CENT)
        if exact == cents:
            return exact, None
        if abs(exact - cents) > Decimal("1e-6"):
            raise _too_precise()
        return cents, "金额的浮点误差已按分四舍五入"
    if not isinstance(value, str):
        raise _invalid_money()
    text = _ALL_SPACE.sub("", unicodedata.normalize("NFKC", value))
    if not text:
        return None, None
    stripped = _CURRENCY.sub("", text)
    if _MONEY_GROUPED.fullmatch(stripped):
        stripped = stripped.replace(",", "")
    elif not _MONEY_PLAIN.fullmatch(stripped):
        raise _invalid_money()
    amount = Decimal(stripped)  # the patterns above admit only valid, bounded literals
    if amount != amount.quantize(_CENT):
        raise _too_precise()
    return amount, ("金额中的千位分隔符、货币符号或空格已去除" if stripped != value else None)


def _too_precise() -> CellError:
    return CellError(
        "money_precision",
        "金额最多保留两位小数（到“分”），请核对",
        "an amount of money has at most two decimals",
    )


REPAIRS: dict[str, Repair] = {
    "text": repair_text,
    "code": repair_code,
    "idcard_text": repair_idcard,
    "date": repair_date,
    "money": repair_money,
}


@dataclass(frozen=True)
class Repaired:
    """One data row after the repairs: ``values`` by field; ``notes`` say what was repaired;
    ``errors`` map a field to the refusal of its cell (the field's value is then left out)."""

    row_number: int
    values: dict[str, Any]
    notes: tuple[str, ...] = ()
    errors: dict[str, StandardError] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def error_text(self) -> str:
        """All refusals of the row as one Chinese sentence for the error report."""
        return "；".join(
            f"{self.labels.get(name, name)}：{error.message}" for name, error in self.errors.items()
        )


def repair_rows(table: Table, columns: Mapping[int, str], types: Mapping[str, str]) -> list[Repaired]:
    """Apply the repair named by ``types[field]`` (default ``"text"``) to every mapped cell of every row."""
    return repair_cells(table.headers, table.row_numbers, table.rows, columns, types)


def column_labels(headers: Sequence[str], columns: Mapping[int, str]) -> dict[str, str]:
    """How a report names each mapped field's column: 第 B 列“公民身份号码”."""
    return {
        name: f"第 {column_letter(index)} 列“{headers[index] if index < len(headers) else ''}”"
        for index, name in columns.items()
    }


def repair_cells(
    headers: Sequence[str],
    row_numbers: Sequence[int],
    rows: Sequence[Sequence[Any]],
    columns: Mapping[int, str],
    types: Mapping[str, str],
) -> list[Repaired]:
    """``repair_rows`` over some of a table's rows (ROWS, numbered ROW_NUMBERS, under HEADERS): each row is
    repaired on its own, so a large table can be repaired in parts."""
    unknown = {kind for kind in types.values() if kind not in REPAIRS}
    if unknown:
        raise ValueError(f"unknown column types {sorted(unknown)}; known: {sorted(REPAIRS)}")
    plan = [(index, name, REPAIRS[types.get(name, "text")]) for index, name in columns.items()]
    labels = column_labels(headers, columns)
    results = []
    for number, cells in zip(row_numbers, rows, strict=True):
        values: dict[str, Any] = {}
        notes: list[str] = []
        errors: dict[str, StandardError] = {}
        for index, name, repair in plan:
            try:
                value, note = repair(cells[index] if index < len(cells) else None)
            except StandardError as error:
                errors[name] = error
                continue
            values[name] = value
            if note:
                notes.append(f"{labels[name]}：{note}")
        results.append(Repaired(number, values, tuple(notes), errors, labels))
    return results


# --- duplicates ------------------------------------------------------------------------------------------


def duplicates(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    key_fields: Sequence[str],
    *,
    idcard_fields: Collection[str] = ("id_number",),
) -> dict[int, int]:
    """Rows that repeat an earlier row's key: ``{row number: row number of its first occurrence}``.

    ``rows`` are ``(row number, values)`` pairs (e.g. from :func:`repair_rows`). Key values in
    ``idcard_fields`` go through :func:`sidms.lib.idcard.normalise`, so a 15-digit and the 18-digit
    number of one person collide; other values are trimmed. Rows whose key is entirely empty are
    never duplicates.
    """
    first: dict[tuple[str, ...], int] = {}
    repeats: dict[int, int] = {}
    for number, values in rows:
        key = []
        for name in key_fields:
            value = values.get(name)
            text = "" if value is None else _trim(str(value))
            key.append(idcard.normalise(text) if name in idcard_fields and text else text)
        key_tuple = tuple(key)
        if not any(key_tuple):
            continue
        if key_tuple in first:
            repeats[number] = first[key_tuple]
        else:
            first[key_tuple] = number
    return repeats


# --- error report -------------------------------------------------------------------------------------


_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def error_report(
    table: Table,
    errors: Mapping[int, str],
    *,
    sheet_title: str,
    all_rows: bool = False,
) -> bytes:
    """An XLSX of the rows in ``errors`` (all rows with ``all_rows``), as staff expect to receive it.

    Columns: ``原行号`` (the row number in the uploaded file), the original columns with their original
    values, and ``错误原因``. The header is bold and frozen; the reason column is wide and wrapped; text
    cells are formatted as text (``@``) so that an ID number the clerk corrects there stays text. Cell
    values starting with ``=`` are written as text, never as formulas: they came from an uploaded file.
    The corrected report can be imported again as it is: its extra columns are not in any mapping.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook(write_only=True)
    title = _TITLE_FORBIDDEN.sub("_", sheet_title).strip("'")[:31] or "错误报告"
    sheet = workbook.create_sheet(title=title)
    width = max([len(table.headers), *(len(row) for row in table.rows)])
    headers = ["原行号", *table.headers, *[""] * (width - len(table.headers)), "错误原因"]

    # Write-only sheets take column widths and panes before the first row.
    sheet.column_dimensions["A"].width = 8
    for index, header in enumerate(table.headers, start=1):
        sheet.column_dimensions[column_letter(index)].width = max(12, min(40, 2 * len(header) + 4))
    reason_column = column_letter(len(headers) - 1)
    sheet.column_dimensions[reason_column].width = 60
    sheet.freeze_panes = "B2"

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    red = Font(color="C00000")

    def header_cell(text: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))
        cell.data_type = "s"  # the headers came from the uploaded file too: never a formula
        cell.font = bold
        cell.fill = fill
        return cell

    def value_cell(value: Any) -> WriteOnlyCell:
        if isinstance(value, str):
            # A control character (NUL, ESC, …) cannot be written to a worksheet; shown as U+FFFD instead
            # so that the report of the row it made fail can still be downloaded.
            value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, even when it starts with "="
            cell.number_format = "@"
        elif isinstance(value, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
        elif isinstance(value, date):
            cell.number_format = "yyyy-mm-dd"
        return cell

    sheet.append([header_cell(text) for text in headers])
    for number, row in zip(table.row_numbers, table.rows, strict=True):
        if number not in errors and not all_rows:
            continue
        reason = WriteOnlyCell(sheet, value=errors.get(number, ""))
        reason.data_type = "s"
        reason.alignment = wrap
        reason.font = red
        padded = list(row) + [None] * (width - len(row))
        sheet.append([number, *(value_cell(value) for value in padded), reason])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- blank import templates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateColumn:
    """One column of a blank import template: its header, whether it must be filled, how its cells are
    formatted (``"text"``, ``"date"`` or ``"money"``), the values it may take (a drop-down list when
    given), and the note and other accepted headers shown on the instructions sheet."""

    header: str
    required: bool
    kind: str = "text"
    choices: tuple[str, ...] = ()
    note: str = ""
    aliases: tuple[str, ...] = ()


TEMPLATE_ROWS = 1000  # rows formatted (and validated) below the header


def blank_template(
    columns: Sequence[TemplateColumn],
    *,
    sheet_title: str,
    instructions_title: str,
    instructions_headers: tuple[str, str, str, str],
    required_mark: tuple[str, str],
) -> bytes:
    """An XLSX a unit or a clerk fills in and imports as it is: the header row, then TEMPLATE_ROWS rows whose
    cells are already formatted as the import reads them — every text and code column (an ID number, a
    credit code, a phone number) as text (``@``), so that Excel never turns an ID number into 3.71002E+17 or
    drops a leading zero; dates as text written yyyy-mm-dd; money as 0.00 — with a drop-down list where a
    column takes one of a few words (男/女), and a second sheet that says, per column, whether it is required,
    what it holds and which other headers are accepted. Required headers are bold and shaded.

    Written with openpyxl's regular (not write-only) workbook: data validations and column formats need it,
    and a template is small."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _TITLE_FORBIDDEN.sub("_", sheet_title).strip("'")[:31] or "导入模板"
    bold, plain = Font(bold=True), Font(bold=False)
    shaded, light = PatternFill("solid", fgColor="FCE4D6"), PatternFill("solid", fgColor="DDEBF7")
    formats = {"text": "@", "date": "@", "money": "0.00"}
    for index, column in enumerate(columns):
        letter = column_letter(index)
        cell = sheet.cell(row=1, column=index + 1, value=column.header)
        cell.data_type = "s"
        cell.font = bold if column.required else plain
        cell.fill = shaded if column.required else light
        sheet.column_dimensions[letter].width = max(12, min(40, 2 * len(column.header) + 6))
        number_format = formats.get(column.kind, "@")
        # The whole column too: the rows Excel adds below the formatted ones take the column's format, not
        # General (attack round 12: an ID number pasted in row 1,002 became 3.71002E+17).
        sheet.column_dimensions[letter].number_format = number_format
        for row in range(2, TEMPLATE_ROWS + 2):
            sheet.cell(row=row, column=index + 1).number_format = number_format
        if column.choices:
            validation = DataValidation(
                type="list", formula1='"' + ",".join(column.choices) + '"', allow_blank=not column.required
            )
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"

    notes = workbook.create_sheet(_TITLE_FORBIDDEN.sub("_", instructions_title)[:31] or "填写说明")
    wrap = Alignment(wrap_text=True, vertical="top")
    notes.append(list(instructions_headers))
    for cell in notes[1]:
        cell.font = bold
        cell.fill = light
    for column in columns:
        notes.append([column.header, required_mark[0] if column.required else required_mark[1], column.note,
                      "、".join(column.aliases)])  # fmt: skip
    for letter, width in zip("ABCD", (18, 8, 70, 30), strict=True):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.data_type = "s"
            cell.alignment = wrap
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
