"""Importing person rows from CSV and from XLSX through the whole door, against raw executemany, in one run.

    uv run python bench/imports.py [--rows 100000] [--database-url postgres://…/sidms_bench…] [--quick]
    uv run python bench/imports.py --rows 1000000

On an isolated store (a fresh temp dir; SQLite there, or a PostgreSQL database created and dropped here —
bench/pipeline.py's set-up), the same kind of generated person rows (valid ID numbers; dates written the
ways clerks write them; a merged title row; 男/女 and 在职职工 in words) are written once as a GBK CSV and
once as an XLSX (different people, so the second file does not collide with the first). Generation is not
timed. Then, for each file, the whole door of sidms.exchange.imports as a user goes through it:

1. check: ``check_file`` — read (encoding, title rows, header), repair, the collection rules, duplicates in
   the file and in the registry (what the dry run shows);
2. apply: ``apply_import`` — the rows' digest, the file stored encrypted, the batch application;
3. approve: ``batch_decide`` by a second person;
4. execute: ``execute_import`` — the stored file decrypted and read again, the rows validated, numbered,
   encrypted and inserted with one revision each, in one transaction.

Baseline: the stored columns of the rows just imported (unique ones made fresh) written back with raw
DB-API ``executemany`` INSERT into the same table on the same connection, in a transaction rolled back
(median of 3). The ratio is the door's rows/s over the raw rows/s (goal ≥ 0.2 for CSV, issue 9).

Readers: openpyxl ``read_only=True`` + ``iter_rows(values_only=True)`` against python-calamine
``to_python()`` on the same XLSX bytes (bench/sheets.py measured it at 100,000 rows; repeated here on the
file imported). ``--no-openpyxl`` skips openpyxl (it reads ~5,000 rows/s: 200 s for a million rows).
"""

from __future__ import annotations

import argparse
import csv
import io
import platform
import secrets
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import _postgres, isolate, setup_store

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志海燕鹏飞波斌浩宇晨欣怡子涵梓轩"
DISTRICTS = ["371002", "371003", "371082", "371083"]
HEADER = ["姓名", "公民身份号码", "性别", "出生日期", "人员类别", "行政区划代码", "联系电话", "通讯地址"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, help="person rows per file (default 100,000)")
    parser.add_argument(
        "--database-url", help="postgres://user@host:port/sidms_bench… (created and dropped here)"
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (2,000 rows)")
    parser.add_argument(
        "--baseline-runs", type=int, default=3,
        help="raw INSERT runs whose median is the baseline (default 3; 1 is enough at a million rows)",
    )  # fmt: skip
    parser.add_argument("--no-openpyxl", action="store_true", help="skip the openpyxl reader comparison")
    parser.add_argument(
        "--csv-only", action="store_true", help="only the CSV door and the baseline (no XLSX, no readers)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and the database afterwards")
    parser.add_argument(
        "--profile", action="store_true",
        help="cProfile the check and the execution of each file (top functions), and time each SQL shape",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.rows = args.rows or (2_000 if args.quick else 100_000)
    return args


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


# --- files --------------------------------------------------------------------------------------------


def people(start: int, count: int) -> Iterator[list[Any]]:
    """COUNT distinct persons from position START (the ID number is unique by position)."""
    from sidms.lib import idcard

    for i in range(start, start + count):
        district = DISTRICTS[i % len(DISTRICTS)]
        born = date(1950, 1, 1) + timedelta(days=(i // (len(DISTRICTS) * 900)) % 20_000)
        serial = 100 + (i // len(DISTRICTS)) % 900
        body = f"{district}{born:%Y%m%d}{serial:03d}"
        name = (
            SURNAMES[i % len(SURNAMES)]
            + GIVEN[(i // 7) % len(GIVEN)]
            + GIVEN[(i // 13) % len(GIVEN)][: i % 2]
        )
        style = i % 4
        written = (
            f"{born.year}/{born.month}/{born.day}",
            born.isoformat(),
            f"{born.year}年{born.month}月{born.day}日",
            born.strftime("%Y%m%d"),
        )[style]
        yield [
            name,
            body + idcard.check_digit(body),
            "男" if int(body[16]) % 2 else "女",
            written,
            "在职职工",
            district,
            f"139{i % 100_000_000:08d}",
            f"山东省威海市新威路{i % 300 + 1}号",
        ]


def csv_file(start: int, count: int) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(["2026年参保人员名单"] + [""] * (len(HEADER) - 1))
    writer.writerow(HEADER)
    writer.writerows(people(start, count))
    return text.getvalue().encode("gbk")  # what Chinese Excel saves as "CSV (逗号分隔)"


def xlsx_file(start: int, count: int) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("名单")
    sheet.append(["2026年参保人员名单"])
    sheet.append(HEADER)
    for row in people(start, count):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- the door ------------------------------------------------------------------------------------------


PROFILE = False


@contextmanager
def profiled(label: str) -> Iterator[None]:
    """With --profile: cProfile's top functions (by own time) and the SQL statements by shape (literals and
    IN lists folded) with their count and wall time, for the block."""
    if not PROFILE:
        yield
        return
    import cProfile
    import pstats
    import re

    from django.db import connection

    shapes: dict[str, list[float]] = {}

    def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = re.sub(r"(%s|\?)(, *(%s|\?))+", "…", sql)[:160]
            box = shapes.setdefault(shape, [0, 0.0])
            box[0] += 1
            box[1] += time.perf_counter() - started

    profile = cProfile.Profile()
    with connection.execute_wrapper(timer):
        profile.enable()
        try:
            yield
        finally:
            profile.disable()
    say(f"--- profile: {label}")
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    say(out.getvalue()[-6000:])
    say(f"--- SQL of {label} (count, seconds, shape), by time:")
    for shape, (count, seconds) in sorted(shapes.items(), key=lambda kv: -kv[1][1])[:12]:
        say(f"  {count:7d} {seconds:8.2f} s  {shape}")


def through_the_door(label: str, data: bytes, filename: str, staff: tuple[Any, Any], expected: int) -> float:
    from sidms.changes.batches import batch_decide
    from sidms.exchange import imports

    operator, approver = staff
    with timed() as check_s, profiled(f"{label} check"):
        checked = imports.check_file(data, kind="persons", filename=filename)
    if checked.failing:
        first = checked.failing[0]
        raise SystemExit(
            f"{label}: {len(checked.failing)} rows refused, e.g. row {first.number}: {first.errors}"
        )
    with timed() as apply_s:
        imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="基准测试：导入")
    with timed() as decide_s:
        batch_decide(actor=approver, batch_id=imported.batch_id, approve=True, reason="基准测试")
    with timed() as execute_s, profiled(f"{label} execute"):
        done = imports.execute_import(actor=operator, batch_id=imported.batch_id)
    if done.rows != expected:
        raise SystemExit(f"{label}: {done.rows} rows imported, {expected} expected")
    total = check_s[0] + apply_s[0] + decide_s[0] + execute_s[0]
    say(f"{label}: {expected:,} rows, {len(data) / 1e6:.1f} MB, through the whole door in {total:.1f} s "
        f"= {rate(expected, total):,.0f} rows/s")  # fmt: skip
    for name, seconds in (("check (dry run)", check_s[0]), ("apply", apply_s[0]), ("approve", decide_s[0]),
                          ("execute", execute_s[0])):  # fmt: skip
        say(f"  {name:<16} {seconds:8.2f} s  {rate(expected, seconds):>10,.0f} rows/s")
    return total


def raw_insert(count: int, runs: int = 3) -> float:
    """Median seconds of RUNS raw executemany INSERTs of the stored columns of the last COUNT persons (fresh
    unique values), each rolled back."""
    import uuid

    from django.db import connection, transaction

    from sidms.registry.models import Person

    fields = [f for f in Person._meta.concrete_fields if not f.primary_key]
    columns = [str(f.column) for f in fields]
    connection.ensure_connection()
    mark = "%s" if connection.vendor == "postgresql" else "?"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM registry_person ORDER BY id DESC LIMIT %s", [count])
        stored = [list(r) for r in cursor.fetchall()]
    for position, column in enumerate(columns):
        for i, row in enumerate(stored):
            if column == "uid":
                row[position] = uuid.uuid4().hex if isinstance(row[position], str) else uuid.uuid4()
            elif column == "person_no":
                row[position] = f"B{i:011d}"
            elif column == "id_number_index":
                row[position] = f"{i:064x}"
    sql = f"INSERT INTO registry_person ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    times = []
    for _ in range(runs):
        with timed() as seconds, transaction.atomic():
            cursor = connection.connection.cursor()
            cursor.executemany(sql, stored)
            cursor.close()
            transaction.set_rollback(True)
        times.append(seconds[0])
    median = statistics.median(times)
    say(f"raw executemany INSERT, same {len(columns)} columns, same table, rolled back: {count:,} rows, "
        f"median of {runs} {median:.2f} s = {rate(count, median):,.0f} rows/s")  # fmt: skip
    return median


def readers(data: bytes, rows: int, *, openpyxl: bool) -> None:
    from python_calamine import CalamineWorkbook

    with timed() as calamine_s, CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
        grid = workbook.get_sheet_by_index(0).to_python()
    read = len(grid) - 2
    del grid
    say(f"XLSX readers on the imported workbook ({rows:,} rows):")
    say(
        f"  python-calamine to_python()          {calamine_s[0]:7.2f} s  {rate(read, calamine_s[0]):>10,.0f} rows/s"
    )
    if not openpyxl:
        say("  openpyxl read-only                   skipped (--no-openpyxl)")
        return
    from openpyxl import load_workbook

    with timed() as openpyxl_s:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        count = sum(1 for _ in sheet.iter_rows(values_only=True)) - 2
        workbook.close()
    say(
        f"  openpyxl read_only + iter_rows       {openpyxl_s[0]:7.2f} s  {rate(count, openpyxl_s[0]):>10,.0f} rows/s"
    )
    say(f"  calamine is {openpyxl_s[0] / calamine_s[0]:.1f}× faster: sidms.lib.sheets reads XLSX with it")


def main(argv: list[str] | None = None) -> None:
    global PROFILE
    args = parse_args(argv)
    PROFILE = args.profile
    data_dir = isolate(args)
    try:
        setup_store()
        from datetime import date as day

        from django.db import connection

        from sidms.security.accounts import staff_create

        staff = tuple(
            staff_create(
                actor="system:bench",
                username=name,
                password=secrets.token_urlsafe(16),  # accounts of this run only
                district="371000",
                posts=(post,),
                agreement_signed_on=day(2026, 1, 1),
            )
            for name, post in (("info_bench", "info_centre"), ("approver_bench", "approver"))
        )
        say(
            f"bench/imports.py on {connection.vendor}, Python {platform.python_version()}, {args.rows:,} rows per file"
        )
        with timed() as gen_s:
            csv_data = csv_file(0, args.rows)
            xlsx_data = b"" if args.csv_only else xlsx_file(args.rows, args.rows)
        say(f"(files generated in {gen_s[0]:.1f} s, not timed below)")
        csv_total = through_the_door("CSV (GBK)", csv_data, "persons.csv", staff, args.rows)
        raw = raw_insert(args.rows, args.baseline_runs)
        say(f"  CSV ratio (door rows/s ÷ raw rows/s) = {raw / csv_total:.3f}   (goal ≥ 0.2)")
        if args.csv_only:
            return
        xlsx_total = through_the_door("XLSX", xlsx_data, "persons.xlsx", staff, args.rows)
        say(f"  XLSX ratio (door rows/s ÷ raw rows/s) = {raw / xlsx_total:.3f}")
        readers(xlsx_data, args.rows, openpyxl=not args.no_openpyxl)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
            if args.database_url:
                _postgres(args.database_url, create=False)


if __name__ == "__main__":
    main()
