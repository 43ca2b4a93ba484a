"""Reading person lists from CSV and XLSX: sidms.lib.sheets against the bare readers, in one run.

    uv run python bench/sheets.py [--rows 100000] [--runs 3] [--quick]

The same generated person rows (12 columns, seeded, valid ID numbers, dates and amounts written the
ways clerks write them) are written once as a GBK CSV (what Chinese Excel saves as "CSV (逗号分隔)")
and once as an XLSX (openpyxl write-only). Generation is not timed. Then, medians of ``--runs``:

1. CSV: the limit, a bare ``bytes.decode`` + ``csv.reader`` into lists; ``read_table`` (encoding
   detection, header search, padding); ``read_table`` + ``repair_rows`` with the person column types
   (ID numbers validated through ``idcard.parse``, dates and money parsed). Ratios against the limit.
2. XLSX: openpyxl ``load_workbook(read_only=True, data_only=True)`` + ``iter_rows(values_only=True)``
   against python-calamine ``to_python()``, both into lists of rows of the same workbook bytes;
   the ratio calamine ÷ openpyxl decides which reader ``read_table`` uses. Then ``read_table`` itself
   on the XLSX, and ``read_table`` + ``repair_rows``.

No database, no Django: sidms.lib is a pure library.

Figures measured on this machine (2026-11-29, 2 cores shared, Python 3.11.7, openpyxl 3.1.5,
python-calamine 0.9.1, 100,000 rows, medians of 3; two runs, the second under a load average of 3-4):

    measure                              run 1 (b7a8b75)            run 2 (15d1ecc)
    CSV bare decode + csv.reader         554,000 rows/s             561,000 rows/s
    CSV read_table                        80,400 rows/s  0.145      110,000 rows/s  0.196 of bare
    CSV read_table + repair_rows          25,600 rows/s  0.046       25,900 rows/s  0.046 of bare
    XLSX openpyxl read-only                4,820 rows/s                2,800 rows/s
    XLSX python-calamine                  83,400 rows/s  17.3×        65,900 rows/s  23.6× openpyxl
    XLSX read_table (calamine)            56,500 rows/s  11.7×        43,100 rows/s  15.4× openpyxl
    XLSX read_table + repair_rows         28,800 rows/s   6.0×        13,800 rows/s   4.9× openpyxl

calamine wins by 17-24×, so read_table uses it. Parse + repair (ID numbers validated, two dates, one
amount per row) runs at ~26,000 rows/s, ten times the 2,400 rows/s of the import through approved
batches, so it is not the import's bottleneck; idcard.parse is the largest single cost in it.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from sidms.lib import idcard, sheets

COLUMNS = [
    "姓名",
    "公民身份号码",
    "性别",
    "出生日期",
    "民族",
    "联系电话",
    "户籍地址",
    "参保日期",
    "缴费工资",
    "单位名称",
    "人员类别",
    "备注",
]
MAPPING = {
    "姓名": "name",
    "公民身份号码": "id_number",
    "身份证号码": "id_number",
    "性别": "sex",
    "出生日期": "birth_date",
    "民族": "ethnicity",
    "联系电话": "phone",
    "户籍地址": "address",
    "参保日期": "enrolled_on",
    "缴费工资": "wage",
    "单位名称": "unit",
    "人员类别": "category",
    "备注": "remark",
}
TYPES = {
    "id_number": "idcard_text",
    "birth_date": "date",
    "enrolled_on": "date",
    "wage": "money",
    "phone": "code",
}
SOURCE = ["unknown"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, help="person rows (default 100,000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measure; the median is printed")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (10,000 rows, 1 run)")
    args = parser.parse_args(argv)
    args.rows = args.rows or (10_000 if args.quick else 100_000)
    if args.quick:
        args.runs = 1
    return args


# --- output ----------------------------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


@contextmanager
def timed() -> Iterator[list[float]]:
    box = [0.0]
    started = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - started


def median_seconds(label: str, runs: int, work: Callable[[], int], expected: int) -> float:
    times = []
    for _ in range(runs):
        with timed() as seconds:
            count = work()
        if count != expected:
            raise SystemExit(f"{label}: {count} rows read, {expected} expected")
        times.append(seconds[0])
    median = statistics.median(times)
    say(f"  {label:<52} {rate(expected, median):>10,.0f} rows/s  ({median:.2f} s, median of {runs})")
    return median


# --- generated persons ------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志海燕鹏飞波斌浩宇晨欣怡子涵梓轩"
DISTRICTS = ["371002", "371003", "371082", "371083", "371081"]
ETHNICITIES = ["汉族"] * 18 + ["回族", "满族"]
CATEGORIES = ["在职", "退休", "灵活就业"]
STREETS = ["统一路", "新威路", "青岛路", "昆明路", "文化中路", "海滨北路", "世昌大道"]


def person(rng: random.Random, today: date) -> list[Any]:
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
    body = rng.choice(DISTRICTS) + birth.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    enrolled = birth + timedelta(days=365 * 18 + rng.randrange(8_000))
    enrolled = min(enrolled, today)
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return [
        name,
        body + idcard.check_digit(body),
        "男" if int(body[16]) % 2 else "女",
        birth,
        rng.choice(ETHNICITIES),
        "1" + rng.choice("35789") + f"{rng.randrange(10**9):09d}",
        f"山东省威海市{rng.choice(STREETS)}{rng.randrange(1, 300)}号",
        enrolled,
        round(rng.uniform(3_000, 25_000), 2),
        f"威海市第{rng.randrange(1, 500)}制造有限公司",
        rng.choice(CATEGORIES),
        "" if rng.random() < 0.9 else "补缴",
    ]


def as_csv_cell(value: Any, rng: random.Random) -> str:
    """Dates and amounts the ways clerks and Excel write them."""
    if isinstance(value, date):
        style = rng.randrange(4)
        if style == 0:
            return f"{value.year}/{value.month}/{value.day}"
        if style == 1:
            return value.isoformat()
        if style == 2:
            return f"{value.year}年{value.month}月{value.day}日"
        return value.strftime("%Y%m%d")
    if isinstance(value, float):
        return f"{value:,.2f}" if rng.random() < 0.5 else f"{value:.2f}"
    return str(value)


def generate(rows: int) -> tuple[bytes, bytes]:
    from openpyxl import Workbook

    rng = random.Random(20241)
    today = date(2026, 1, 1)
    people = [person(rng, today) for _ in range(rows)]

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(["2024年参保人员名单"] + [""] * (len(COLUMNS) - 1))
    writer.writerow([""] * len(COLUMNS))
    writer.writerow(COLUMNS)
    for row in people:
        writer.writerow([as_csv_cell(value, rng) for value in row])
    csv_bytes = text.getvalue().encode("gbk")

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("参保人员")
    sheet.append(["2024年参保人员名单"])
    sheet.append([])
    sheet.append(COLUMNS)
    for row in people:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return csv_bytes, out.getvalue()


# --- readers ------------------------------------------------------------------------------------------------


def bare_csv(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode("gb18030"), newline=""))) - 3


def openpyxl_read_only(data: bytes) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()
    return sum(1 for row in rows if any(cell is not None for cell in row)) - 2


def calamine(data: bytes) -> int:
    from python_calamine import CalamineWorkbook

    with CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    return sum(1 for row in rows if any(cell != "" for cell in row)) - 2


def table_only(data: bytes) -> int:
    return len(sheets.read_table(data, known_headers=MAPPING).rows)


def table_and_repair(data: bytes) -> int:
    table = sheets.read_table(data, known_headers=MAPPING)
    columns = sheets.map_columns(table.headers, MAPPING, required={"name", "id_number"})
    repaired = sheets.repair_rows(table, columns, TYPES)
    refused = sum(1 for row in repaired if row.errors)
    if refused:
        raise SystemExit(f"{refused} generated rows were refused: the generator and the repairs disagree")
    return len(repaired)


# --- summary ---------------------------------------------------------------------------------------------


def _source() -> str:
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)  # noqa: S603, S607
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return commit + (" + uncommitted changes in src/" if dirty else "")


def machine() -> dict[str, str]:
    from importlib.metadata import version

    return {
        "date": date.today().isoformat(),
        "source": SOURCE[0],
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "python": platform.python_version(),
        "openpyxl": version("openpyxl"),
        "calamine": version("python-calamine"),
        "command": " ".join(["uv run python", *sys.argv]),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    SOURCE[0] = _source()
    started = time.perf_counter()
    n = args.rows
    say(f"generating {n:,} person rows × {len(COLUMNS)} columns …")
    with timed() as seconds:
        csv_bytes, xlsx_bytes = generate(n)
    say(
        f"  CSV (GBK) {len(csv_bytes) / 1e6:.1f} MB, XLSX {len(xlsx_bytes) / 1e6:.1f} MB, in {seconds[0]:.1f} s"
    )

    say("CSV")
    bare = median_seconds("bare decode + csv.reader (the limit)", args.runs, lambda: bare_csv(csv_bytes), n)
    table = median_seconds("read_table", args.runs, lambda: table_only(csv_bytes), n)
    repair = median_seconds(
        "read_table + repair_rows (parse + repair)", args.runs, lambda: table_and_repair(csv_bytes), n
    )

    say("XLSX")
    opx = median_seconds(
        "openpyxl read-only, values_only", args.runs, lambda: openpyxl_read_only(xlsx_bytes), n
    )
    cal = median_seconds("python-calamine to_python", args.runs, lambda: calamine(xlsx_bytes), n)
    xtable = median_seconds("read_table (calamine)", args.runs, lambda: table_only(xlsx_bytes), n)
    xrepair = median_seconds("read_table + repair_rows", args.runs, lambda: table_and_repair(xlsx_bytes), n)

    say()
    say("summary")
    for key, value in machine().items():
        say(f"  {key:<9} {value}")
    say(f"  {'measure':<46} {'rows':>9} {'seconds':>8} {'rows/s':>11}  ratio")

    def line(label: str, seconds: float, base: float | None = None, of: str = "") -> None:
        ratio = f"{base / seconds:6.3f} {of}" if base else ""
        say(f"  {label:<46} {n:>9,} {seconds:8.2f} {rate(n, seconds):>11,.0f}  {ratio}")

    line("CSV bare decode + csv.reader", bare)
    line("CSV read_table", table, bare, "of bare")
    line("CSV read_table + repair_rows", repair, bare, "of bare")
    line("XLSX openpyxl read-only", opx)
    line("XLSX python-calamine", cal, opx, "× openpyxl")
    line("XLSX read_table (calamine)", xtable, opx, "× openpyxl")
    line("XLSX read_table + repair_rows", xrepair, opx, "× openpyxl")
    winner = "python-calamine" if cal < opx else "openpyxl read-only"
    say(f"  faster XLSX reader: {winner}, {max(cal, opx) / min(cal, opx):.1f}× the other")
    say(f"  whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
