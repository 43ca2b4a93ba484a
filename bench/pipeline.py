"""Throughput of the change pipeline, against raw DB-API writes measured in the same run.

    uv run python bench/pipeline.py [--changes 100000] [--persons N] [--database-url URL] [--quick] [--profile]

Every figure is printed next to its baseline from the same process, on the same database and connection,
so that the ratio means something on any machine (absolute numbers drift; see bench/README.md):

1. load: an isolated store (a fresh temp dir as SIDMS_DATA_DIR; SQLite there, or a PostgreSQL database
   created and dropped here) filled with the Weihai demo data through the pipeline's import batches;
2. pipeline: one update batch (apply, city approval, execute) changing `address` of every active person;
   baseline: the same number of rows written with raw `executemany`, one transaction, no validation,
   no history;
3. single changes: `submit_change` of phone numbers by a window clerk (validated, applied, revision and
   audit event each, one transaction each); baseline: the raw rate of 2.;
4. verification: `verify_store()`, on the resulting store after appending extra audit events (each
   batch writes one event, so the store alone has too few for a chain rate); its chain part is compared
   with bare `chain.link` (and bare SM3) over the same payloads. Both run in a fresh child process (as
   `sidms audit verify` does in production) and again in this process; the summary and --json use the former.

`--profile` runs a second update batch under cProfile and prints where `batch_execute` spends its time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# Only databases with this prefix are ever created or dropped here: never `sidms`, `test_*` or `postgres`.
BENCH_DB_PREFIX = "sidms_bench"
# The commit measured, taken when the run starts (others may commit while it runs).
SOURCE = ["unknown"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, help="field changes in the update batch (default 100,000)")
    parser.add_argument("--persons", type=int, help="persons to load (default: as many as --changes)")
    parser.add_argument(
        "--database-url",
        help=f"postgres://user@host:port/{BENCH_DB_PREFIX}… (created and dropped here); default SQLite in a temp dir",
    )
    parser.add_argument("--imports", type=int, help="new persons in the import batch (default 20,000)")
    parser.add_argument("--singles", type=int, help="single submit_change calls (default 2,000)")
    parser.add_argument("--events", type=int, help="extra audit events to append (default 200,000)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (5,000 changes)")
    parser.add_argument("--profile", action="store_true", help="profile a second batch_execute (cProfile)")
    parser.add_argument("--json", help="also write the issue-7 ratios to this file (bench/spine.py reads it)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and the database afterwards")
    # Internal: run one measurement in a fresh process on the store of the calling run (see fresh()).
    parser.add_argument("--fresh", choices=["verify", "chain"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.changes = args.changes or (5_000 if quick else 100_000)
    args.persons = args.persons or args.changes
    args.imports = args.imports or (2_000 if quick else 20_000)
    args.singles = args.singles if args.singles is not None else (300 if quick else 2_000)
    args.events = args.events if args.events is not None else (20_000 if quick else 200_000)
    if args.persons < args.changes:
        parser.error(
            "--persons must be at least --changes (the batch changes one field of each selected row)"
        )
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


# --- an isolated store -----------------------------------------------------------------------------------


def _postgres_admin_url(url: str) -> tuple[str, str]:
    """The URL of the maintenance database on the same server, and the bench database's name."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in {"postgres", "postgresql"}:
        raise SystemExit("--database-url must be postgres://… (SQLite is the default)")
    if not name.startswith(BENCH_DB_PREFIX):
        raise SystemExit(
            f"refusing database {name!r}: the bench creates and drops its database, so its name must start "
            f"with {BENCH_DB_PREFIX!r}"
        )
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, "")), name


def _postgres(url: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    admin, name = _postgres_admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def isolate(args: argparse.Namespace) -> Path:
    """Point every SIDMS_* path at a fresh temp dir before Django reads its settings."""
    data_dir = Path(tempfile.mkdtemp(prefix="sidms-bench-"))
    os.environ["SIDMS_DATA_DIR"] = str(data_dir)
    os.environ["SIDMS_KEY_FILE"] = str(data_dir / "sidms.keys")
    os.environ["SIDMS_CHECKPOINT_DIR"] = str(data_dir / "checkpoints")
    os.environ["DJANGO_SETTINGS_MODULE"] = "sidms.settings"
    if args.database_url:
        _postgres(args.database_url, create=True)
        os.environ["SIDMS_DATABASE_URL"] = args.database_url
    else:
        # Set explicitly: a SIDMS_DATABASE_URL in the caller's environment must not send the bench elsewhere.
        os.environ["SIDMS_DATABASE_URL"] = f"sqlite:///{data_dir / 'sidms.sqlite3'}"
    return data_dir


def setup_store() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from sidms.core.keys import ensure_key_file

    # The accounts exist only for this run: PBKDF2's deliberate slowness would only lengthen the set-up.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    ensure_key_file(Path(settings.SIDMS_KEY_FILE), suite=settings.SIDMS_CRYPTO_SUITE)
    call_command("migrate", interactive=False, verbosity=0)


# --- 1. load ---------------------------------------------------------------------------------------------


def load(persons: int, results: dict[str, Any]) -> None:
    from sidms.demo.generate import generate
    from sidms.demo.loader import ensure_accounts, link_agencies, load_demo

    ensure_accounts()
    marks: list[tuple[float, str]] = []
    started = time.perf_counter()

    def progress(message: str) -> None:
        marks.append((time.perf_counter(), message))

    data = generate(persons=persons)
    counts = load_demo(data, progress=progress)
    seconds = time.perf_counter() - started
    link_agencies()
    with timed() as one_pass:
        for _row in data.rows():
            pass
    # load_demo reports "<entity>: applying …" and "<entity>: N rows": the time between them is the entity's.
    per_entity: dict[str, float] = {}
    for (t0, m0), (t1, _m1) in zip(marks[::2], marks[1::2], strict=True):
        per_entity[m0.strip().split(":", 1)[0]] = t1 - t0
    total = sum(counts.values())
    say(
        f"load through the pipeline (generate + apply + approve + execute import batches): "
        f"{total:,} records in {seconds:.1f} s = {rate(total, seconds):,.0f} records/s"
    )
    for entity, n in counts.items():
        say(
            f"  {entity:<20} {n:>9,} rows {per_entity[entity]:7.1f} s {rate(n, per_entity[entity]):>9,.0f} rows/s"
        )
    # load_demo generates the person stream four times: hashed at application and stored at execution,
    # for persons and again for employments.
    say(
        f"  (generating the person/employment stream once takes {one_pass[0]:.1f} s; the load made 4 passes: "
        f"{4 * one_pass[0]:.1f} s; without them {rate(total, seconds - 4 * one_pass[0]):,.0f} records/s)"
    )
    results["load"] = (total, seconds)
    results["load_persons"] = (counts["person"], per_entity["person"])


# --- 1b. an import through an approved batch, and its raw baseline -----------------------------------------


def import_batch(results: dict[str, Any], count: int) -> None:
    """COUNT new persons imported through an approved batch (not a legacy migration: every row is validated
    and refused on any error), against raw executemany INSERT of the same stored columns into the same table
    (same indexes), rolled back. The rows are generated and converted before the clock starts."""
    from django.db import connection, transaction

    from sidms.changes.batches import batch_apply_import, batch_decide, batch_execute
    from sidms.demo.generate import DEFAULT_SEED, generate
    from sidms.demo.loader import _person
    from sidms.registry.models import Person, Staff

    operator = Staff.objects.get(username="info_city")
    approver = Staff.objects.get(username="approver_city")
    id_index = Person._meta.get_field("id_number_index")
    taken = set(Person.objects.values_list("id_number_index", flat=True))
    rows: list[dict[str, Any]] = []
    for record in generate(persons=3 * count, seed=DEFAULT_SEED + 1).persons:
        if record.anomalies:
            continue
        index = id_index.index_of(record.id_number)
        if index in taken:
            continue
        taken.add(index)
        row = _person(record)
        del row["person_no"]  # assigned by the system
        rows.append(row)
        if len(rows) == count:
            break
    with timed() as apply_s:
        batch = batch_apply_import(
            actor=operator, entity="person", rows=rows, reason="基准测试：新参保人员导入"
        )
    with timed() as decide_s:
        batch_decide(actor=approver, batch_id=batch.pk, approve=True, reason="基准测试")
    with timed() as execute_s:
        executed = batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: rows)
    n = executed.rows
    say(f"pipeline import batch (new persons, validated, numbered, encrypted, one revision each): {n:,} rows")
    say(f"  batch_apply_import {apply_s[0]:6.2f} s   batch_decide {decide_s[0]:6.2f} s")
    say(f"  batch_execute      {execute_s[0]:6.2f} s = {rate(n, execute_s[0]):,.0f} rows/s")
    results["import"] = (n, execute_s[0])
    results["import_end_to_end"] = (n, apply_s[0] + decide_s[0] + execute_s[0])

    # The baseline: the stored columns of the rows just imported, with the unique ones made fresh, written
    # back with raw executemany in a transaction that is rolled back.
    fields = [f for f in Person._meta.concrete_fields if not f.primary_key]
    columns = [str(f.column) for f in fields]
    connection.ensure_connection()
    raw = connection.connection
    mark = "%s" if connection.vendor == "postgresql" else "?"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM registry_person ORDER BY id DESC LIMIT %s",
            [n],
        )
        stored = [list(r) for r in cursor.fetchall()]
    fresh = {"uid": lambda i, v: uuid_like(v, i), "person_no": lambda i, v: f"B{i:011d}",
             "id_number_index": lambda i, v: f"{i:064x}"}  # fmt: skip
    for position, column in enumerate(columns):
        if column in fresh:
            for i, row in enumerate(stored):
                row[position] = fresh[column](i, row[position])
    sql = f"INSERT INTO registry_person ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    times = []
    for _ in range(3):
        with timed() as seconds, transaction.atomic():
            cursor = raw.cursor()
            cursor.executemany(sql, stored)
            cursor.close()
            transaction.set_rollback(True)
        times.append(seconds[0])
    median = statistics.median(times)
    results["raw_insert"] = (n, median)
    results["raw_insert_rows"] = (sql, stored)
    say(
        f"raw executemany INSERT baseline, same {len(columns)} columns, same table, rolled back: {n:,} rows, "
        f"median {median:.2f} s = {rate(n, median):,.0f} rows/s"
    )
    say(f"  ratio = {rate(n, execute_s[0]) / rate(n, median):.3f}")


def uuid_like(value: Any, i: int) -> Any:
    """A fresh uuid in the form the driver returned (SQLite: 32 hex digits; PostgreSQL: a UUID)."""
    import uuid

    new = uuid.uuid4()
    return new.hex if isinstance(value, str) else new


# --- 2. the pipeline's bulk path, 3. the raw baseline ----------------------------------------------------

BATCH_ADDRESS = "山东省威海市环翠区新威路{}号（批量更正）"


def pipeline_batch(results: dict[str, Any], *, address: str, profile: cProfile.Profile | None = None) -> int:
    from sidms.changes.batches import batch_apply_update, batch_decide, batch_execute
    from sidms.registry.models import Staff

    operator = Staff.objects.get(username="info_city")
    approver = Staff.objects.get(username="approver_city")
    with timed() as apply_s:
        batch = batch_apply_update(
            actor=operator, entity="person", selection={"status": "active"}, change={"address": address},
            reason="基准测试：批量更正地址",
        )  # fmt: skip
    with timed() as decide_s:
        batch_decide(actor=approver, batch_id=batch.pk, approve=True, reason="基准测试")
    if profile is not None:
        profile.enable()
    with timed() as execute_s:
        executed = batch_execute(actor=operator, batch_id=batch.pk)
    if profile is not None:
        profile.disable()
    rows = executed.rows
    fields = 1
    if profile is None:
        say(
            f"pipeline batch (address of every active person): {rows:,} rows × {fields} field = "
            f"{rows * fields:,} field changes"
        )
        say(f"  batch_apply_update {apply_s[0]:6.2f} s   batch_decide {decide_s[0]:6.2f} s")
        say(f"  batch_execute      {execute_s[0]:6.2f} s = {rate(rows, execute_s[0]):,.0f} rows/s")
        total = apply_s[0] + decide_s[0] + execute_s[0]
        say(f"  apply + approve + execute {total:6.2f} s = {rate(rows, total):,.0f} rows/s")
        results["pipeline"] = (rows * fields, execute_s[0])
        results["pipeline_end_to_end"] = (rows * fields, total)
    return rows


def _psycopg_class(cursor: Any) -> str:
    """The psycopg cursor class underneath Django's subclass (ClientCursor unless server_side_binding)."""
    return next(c.__name__ for c in type(cursor).__mro__ if c.__module__.startswith("psycopg"))


def raw_baseline(results: dict[str, Any], *, final_address: str, runs: int = 3) -> None:
    """The same rows written with raw DB-API executemany on Django's own connection, one transaction each.

    Each run writes a value different from the one before; the last run writes the batch's value back, so
    the live rows agree with their history again and the store still verifies. On PostgreSQL two cursors
    are measured: the one Django's connection hands out (psycopg's ClientCursor, client-side binding, what
    the pipeline's executemany gets) and psycopg's plain server-binding Cursor on the same connection;
    the faster one is the baseline of the ratio."""
    from django.db import connection, transaction

    from sidms.registry.models import Person

    ids = list(Person.objects.filter(status="active").order_by("pk").values_list("pk", flat=True))
    connection.ensure_connection()
    raw = connection.connection  # the DB-API connection itself (sqlite3 or psycopg), same settings
    cursors: dict[str, Callable[[], Any]] = {"connection.cursor()": raw.cursor}
    mark = "?"
    if connection.vendor == "postgresql":
        import psycopg

        mark = "%s"
        cursors = {
            f"connection.cursor() ({_psycopg_class(raw.cursor())}, what Django uses)": raw.cursor,
            "psycopg.Cursor(connection) (server-side binding)": lambda: psycopg.Cursor(raw),
        }
    sql = f"UPDATE registry_person SET address = {mark} WHERE id = {mark}"
    values = [f"山东省威海市环翠区统一路{n}号（原始写入）" for n in range(1, runs)] + [final_address]
    best: tuple[int, float] | None = None
    for label, make_cursor in cursors.items():
        times = []
        for value in values:
            with timed() as seconds, transaction.atomic():
                cursor = make_cursor()
                cursor.executemany(sql, [(value, pk) for pk in ids])
                cursor.close()
            times.append(seconds[0])
        median = statistics.median(times)
        say(
            f"raw executemany baseline, {label}: {len(ids):,} rows, {runs} runs "
            f"({', '.join(f'{t:.2f}' for t in times)} s), median {median:.2f} s = {rate(len(ids), median):,.0f} rows/s"
        )
        results[f"raw {label}"] = (len(ids), median)
        if best is None or median < best[1]:
            best = (len(ids), median)
    assert best is not None
    results["raw"] = best
    pipeline = rate(*results["pipeline"])
    raw_rate = rate(*results["raw"])
    say(f"  pipeline rows/s {pipeline:,.0f}   raw rows/s {raw_rate:,.0f}   ratio = {pipeline / raw_rate:.3f}")


def _revision_copies(count: int) -> tuple[str, list[list[Any]]]:
    """The INSERT of the last COUNT revisions written (the batch just executed) as raw rows, each made a new
    version of its record: the bytes the door wrote besides the rows themselves."""
    from django.db import connection

    from sidms.changes.models import Revision

    fields = [f for f in Revision._meta.concrete_fields if not f.primary_key]
    columns = [str(f.column) for f in fields]
    mark = "%s" if connection.vendor == "postgresql" else "?"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM changes_revision ORDER BY id DESC LIMIT %s", [count]
        )
        stored = [list(row) for row in cursor.fetchall()]
    version = columns.index("version")
    for row in stored:
        row[version] += 1_000_000
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        for position, field in enumerate(fields):
            if field.get_internal_type() == "JSONField":
                for row in stored:
                    row[position] = (
                        Jsonb(row[position]) if not isinstance(row[position], str) else row[position]
                    )
    sql = f"INSERT INTO changes_revision ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    return sql, stored


def write_floor(results: dict[str, Any], *, kind: str) -> None:
    """What the door must write, and nothing else: the baseline's rows, and beside them the revisions the door
    wrote for them (copied as raw rows, made new versions), by raw executemany in one transaction, rolled back
    — against the baseline alone, rolled back the same way. Their ratio is the most the door could reach if
    validating, digesting, sealing and encrypting cost nothing: issue 7's goal of 0.2 is out of reach by
    code alone where this is near it."""
    from django.db import connection, transaction

    from sidms.registry.models import Person

    connection.ensure_connection()
    raw = connection.connection
    mark = "%s" if connection.vendor == "postgresql" else "?"
    if kind == "update":
        ids = list(Person.objects.filter(status="active").order_by("pk").values_list("pk", flat=True))
        base_sql = f"UPDATE registry_person SET address = {mark} WHERE id = {mark}"
        base_rows: list[Any] = [("山东省威海市环翠区统一路1号（原始写入）", pk) for pk in ids]
        count = len(ids)
    else:
        base_sql, base_rows = results["raw_insert_rows"]
        count = len(base_rows)
    revisions_sql, revisions = _revision_copies(count)
    times: dict[str, list[float]] = {"rows": [], "rows + revisions": []}
    for _ in range(3):
        for label in times:
            with timed() as seconds, transaction.atomic():
                cursor = raw.cursor()
                cursor.executemany(base_sql, base_rows)
                if label != "rows":
                    cursor.executemany(revisions_sql, revisions)
                cursor.close()
                transaction.set_rollback(True)
            times[label].append(seconds[0])
    alone, both = (statistics.median(t) for t in times.values())
    results[f"floor_{kind}"] = (count, both, alone)
    say(
        f"writes alone ({kind}): {count:,} rows, raw executemany, rolled back: the rows {alone:.2f} s, the rows and "
        f"their revisions {both:.2f} s; at most {alone / both:.3f} of raw if nothing else cost anything"
    )


# --- 4. single changes -----------------------------------------------------------------------------------


def single_changes(results: dict[str, Any], count: int, *, quiet: bool = False) -> None:
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change
    from sidms.registry.models import Person, Staff

    clerk = Staff.objects.get(username="clerk_hc")  # a Huancui (371002) window clerk
    people = list(Person.objects.filter(district_id=clerk.district_id).order_by("pk")[:count])
    if not people:
        raise SystemExit(f"no persons in district {clerk.district_id}")
    applied = 0
    with timed() as seconds:
        for n in range(count):
            slot = n % len(people)
            outcome = submit_change(
                actor=clerk, channel=Channel.WINDOW, entity="person",
                values={"phone": f"139{10_000_000 + n:08d}"},
                record=people[slot],
            )  # fmt: skip
            applied += len(outcome.applied)
            people[slot] = outcome.record  # the next change of this person starts from its new version
    if quiet:
        return
    results["singles"] = (applied, seconds[0])
    per_second = rate(applied, seconds[0])
    say(
        f"single changes (submit_change, phone, review level system, clerk_hc): {applied:,} in "
        f"{seconds[0]:.2f} s = {per_second:,.0f} changes/s ({1000 * seconds[0] / max(applied, 1):.2f} ms each)"
    )
    say(f"  ratio to raw rows/s = {per_second / rate(*results['raw']):.4f}")


# --- 5. verification -------------------------------------------------------------------------------------


def fresh(task: str) -> dict[str, Any]:
    """Run TASK (`verify` or `chain`) in a new Python process on this store (same interpreter, environment
    and data dir) and return what it printed as JSON. Verification runs so in production (`sidms audit
    verify`, the nightly `--since-checkpoint`): in this process the heap left by loading and batching is
    large and fragmented, the forked verification workers inherit it, and every allocation costs more."""
    import json
    import subprocess

    command = [sys.executable, str(Path(__file__).resolve()), "--fresh", task]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  (this script)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return dict(json.loads(done.stdout.splitlines()[-1]))  # the JSON is the last line it prints


def verify_fresh() -> dict[str, Any]:
    """The `--fresh verify` child: verify_store() once, its Report as JSON (without the problem: it stops)."""
    import dataclasses

    from sidms.changes.verify import verify_store

    report = verify_store()
    if not report.ok:
        assert report.problem is not None
        raise SystemExit(f"verify_store found a problem: {report.problem.where}: {report.problem.message_en}")
    return {k: v for k, v in dataclasses.asdict(report).items() if k != "problem"}


def _report(fields: dict[str, Any]) -> Any:
    from sidms.audit.verify import Report

    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    return Report(**values)


def verify(results: dict[str, Any], events: int) -> None:
    """verify_store once in a fresh process and once in this one, on the store the pipeline left plus the
    extra events: the chain part then has enough events for a rate, and the revision and row parts are the
    store's own (the events add none). The fresh process's figures are the ones the summary and --json use."""
    from sidms.changes.verify import verify_store

    results["verify"] = _report(fresh("verify"))
    report = results["verify_inproc"] = verify_store()
    if not report.ok:
        assert report.problem is not None
        raise SystemExit(f"verify_store found a problem: {report.problem.where}: {report.problem.message_en}")
    report = results["verify"]
    say(
        f"verify_store in a fresh process (the pipeline's store + {events:,} extra events): {report.events:,} "
        f"events, {report.checkpoints} checkpoints, {report.revisions:,} revisions, "
        f"{sum(report.rows.values()):,} live rows in {report.seconds:.1f} s"
    )
    for where, report in (("", results["verify"]), ("in the bench process: ", results["verify_inproc"])):
        rows = sum(report.rows.values())
        rest = report.seconds - report.chain_seconds
        say(
            f"  {where}chain part {report.chain_seconds:6.2f} s = {report.events_per_second:,.0f} events/s; "
            f"checkpoints, revisions and live rows {rest:6.2f} s = {rate(report.revisions + rows, rest):,.0f} "
            "revisions + rows/s"
        )
        chain_busiest, rest_busiest = busiest(report)
        say(
            f"  {where}processor time ({report.processes} processes; busiest process, i.e. wall time on an "
            f"idle machine): chain {chain_busiest:.2f} s of {sum(report.chain_cpu):.2f} s, the rest "
            f"{rest_busiest:.2f} s of {sum(report.cpu) - sum(report.chain_cpu):.2f} s = "
            f"{rate(report.revisions + rows, rest_busiest):,.0f} revisions + rows/s"
        )


def busiest(report: Any) -> tuple[float, float]:
    """Processor seconds of the busiest process in the chain part and in the rest of verify_store: this
    process's own, or its workers' shared among them. Unlike wall time, it does not grow with whatever else
    the machine runs (a shared machine under load gives each process a fraction of a core), and it is what
    the wall time would be on an idle machine with a core per process."""
    workers = max(1, report.processes - 1)
    chain_own, chain_children = report.chain_cpu
    own, children = report.cpu[0] - chain_own, report.cpu[1] - chain_children
    return max(chain_own, chain_children / workers), max(own, children / workers)


def verify_nightly(results: dict[str, Any], singles: int, sample: int = 1000) -> None:
    """The nightly run after the full one: SINGLES more changes, then verify_since_checkpoint with SAMPLE
    random rows per entity."""
    from sidms.changes.verify import record_verified, verify_since_checkpoint

    record_verified(results["verify_inproc"])
    single_changes({}, singles, quiet=True)
    report = verify_since_checkpoint(sample=sample)
    if not report.ok:
        assert report.problem is not None
        raise SystemExit(f"verify_since_checkpoint found a problem: {report.problem.where}")
    rows = sum(report.rows.values())
    say(
        f"verify --since-checkpoint after {singles:,} more changes: {report.events:,} new events, "
        f"{report.revisions:,} revisions, {rows:,} rows ({report.sampled:,} drawn at random) in {report.seconds:.2f} s"
    )
    results["verify_nightly"] = report


def _event_body(seq: int, now: Any, n: int) -> dict[str, Any]:
    """An event as audit_record writes it for a window clerk reading one person (access.policies)."""
    return {
        "seq": seq, "at": now.isoformat(), "actor": "clerk_hc", "action": "read.person",
        "object_type": "person", "object_id": f"3710{n:012d}", "outcome": "ok", "ip": "10.63.1.17",
        "channel": "", "detail": {},
    }  # fmt: skip


def append_events(results: dict[str, Any], total: int) -> None:
    """Append TOTAL events: a sample through audit_record itself (its rate is printed), the rest through a
    loop that builds the same bodies with the same chain.canonical and chain.link but inserts them with
    executemany, 1,000 per statement, in one transaction."""
    from django.db import connection, transaction
    from django.utils import timezone

    from sidms.audit.checkpoints import write_checkpoint
    from sidms.audit.models import ChainHead
    from sidms.audit.services import audit_record
    from sidms.lib import chain

    sample = min(total, max(500, total // 100))
    with timed() as seconds, transaction.atomic():
        for n in range(sample):
            audit_record("read.person", actor="clerk_hc", object_type="person", object_id=f"3710{n:012d}")
    say(
        f"append {sample:,} audit events via audit_record (one transaction): {seconds[0]:.2f} s = "
        f"{rate(sample, seconds[0]):,.0f} events/s"
    )
    results["append_service"] = (sample, seconds[0])

    rest = total - sample
    columns = "seq, at, actor, action, object_type, object_id, outcome, payload, prev_hash, hash"
    insert = f"INSERT INTO audit_auditevent ({columns}) VALUES ({', '.join(['%s'] * 10)})"
    with timed() as seconds, transaction.atomic(), connection.cursor() as cursor:
        head = ChainHead.objects.select_for_update().get(pk=1)
        seq, prev = head.seq, head.hash
        rows: list[tuple[Any, ...]] = []
        for n in range(sample, sample + rest):
            seq += 1
            now = timezone.now()
            payload = chain.canonical(_event_body(seq, now, n))
            digest = chain.link(prev, payload, algorithm=head.algorithm)
            rows.append(
                (seq, connection.ops.adapt_datetimefield_value(now), "clerk_hc", "read.person", "person",
                 f"3710{n:012d}", "ok", payload.decode("utf-8"), prev, digest)
            )  # fmt: skip
            prev = digest
            if len(rows) == 1000:
                cursor.executemany(insert, rows)
                rows = []
        if rows:
            cursor.executemany(insert, rows)
        # As audit_record moves the head, with its keyed MAC.
        head.seq, head.hash = seq, prev
        ChainHead.objects.filter(pk=1).update(seq=seq, hash=prev, mac=head.expected_mac())
    write_checkpoint()
    say(
        f"append {rest:,} audit events, same bodies, canonical() + link() + executemany: {seconds[0]:.2f} s = "
        f"{rate(rest, seconds[0]):,.0f} events/s"
    )
    results["append_bulk"] = (rest, seconds[0])


def _bare_hash(algorithm: str) -> Callable[[bytes], Any]:
    """The hash function alone, as sidms.lib.chain picks it (hashlib, or cryptography's SM3 without it)."""
    import hashlib

    if algorithm == "sha256":
        return lambda data: hashlib.sha256(data).digest()
    if "sm3" in hashlib.algorithms_available:
        return lambda data: hashlib.new("sm3", data).digest()
    from cryptography.hazmat.primitives import hashes

    def sm3(data: bytes) -> bytes:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()

    return sm3


def chain_timings() -> dict[str, Any]:
    """Hash the stored payloads with bare chain.link (and bare SM3/SHA-256) in a loop: the chain part of
    verify_store does this plus reading, comparing and collecting claims. Only the loops are timed."""
    from sidms.audit.models import AuditEvent, ChainHead
    from sidms.lib import chain

    algorithm = ChainHead.objects.get(pk=1).algorithm
    events = [
        (prev, payload.encode("utf-8"))
        for prev, payload in AuditEvent.objects.order_by("seq")
        .values_list("prev_hash", "payload")
        .iterator(5000)
    ]
    link = chain.link
    digest = _bare_hash(algorithm)
    link_cpu = time.process_time()
    with timed() as link_s:
        for prev, payload in events:
            link(prev, payload, algorithm=algorithm)
    link_cpu = time.process_time() - link_cpu

    with timed() as bare_s:
        for prev, payload in events:
            digest(bytes.fromhex(prev) + payload)
    return {
        "algorithm": algorithm,
        "events": len(events),
        "size": sum(len(p) for _, p in events) / max(len(events), 1),
        "link_s": link_s[0],
        "link_cpu": link_cpu,
        "bare_s": bare_s[0],
    }


def chain_baseline(results: dict[str, Any]) -> None:
    """The chain baseline in a fresh process (against the fresh verify_store) and in this one (against the
    verify_store of this process)."""
    for key, timings in (("", fresh("chain")), ("_inproc", chain_timings())):
        n, algorithm = timings["events"], timings["algorithm"]
        report = results["verify" + key]
        verified = report.events_per_second
        link_rate, bare_rate = rate(n, timings["link_s"]), rate(n, timings["bare_s"])
        chain_busiest, _rest = busiest(report)
        cpu_ratio = timings["link_cpu"] / chain_busiest if chain_busiest else 0
        if not key:
            say(
                f"chain baseline over the same {n:,} payloads ({algorithm}, {timings['size']:.0f} bytes on "
                "average), in a fresh process, against the fresh verify_store:"
            )
            say(f"  bare chain.link      {timings['link_s']:6.2f} s = {link_rate:,.0f} events/s")
            say(f"  bare {algorithm} hashing    {timings['bare_s']:6.2f} s = {bare_rate:,.0f} events/s")
            say(
                f"  verify_store chain part {verified:,.0f} events/s: ratio {verified / link_rate:.3f} of "
                f"chain.link, {verified / bare_rate:.3f} of bare {algorithm}"
            )
            say(
                f"  by processor time: chain.link {timings['link_cpu']:.2f} s, verify_store chain part "
                f"{chain_busiest:.2f} s in its busiest process: ratio {cpu_ratio:.3f}"
            )
        else:
            say(
                f"  in the bench process: bare chain.link {link_rate:,.0f} events/s, verify_store chain part "
                f"{verified:,.0f} events/s: ratio {verified / link_rate:.3f}; by processor time "
                f"{timings['link_cpu']:.2f} s ÷ {chain_busiest:.2f} s = {cpu_ratio:.3f}"
            )
        results["chain_link" + key] = (n, timings["link_s"])
        results["chain_link_cpu" + key] = timings["link_cpu"]
        results["chain_bare" + key] = (n, timings["bare_s"])
        results["algorithm"] = algorithm


# --- profiling -------------------------------------------------------------------------------------------


def _callees(stats: pstats.Stats, parent: tuple[str, int, str]) -> list[tuple[float, float, int, str]]:
    """(cumulative seconds along the edge, own seconds, calls, name) of what PARENT called directly."""
    out = []
    for func, (_cc, _nc, _tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if parent in callers:
            _cc, nc, tt, ct = callers[parent]
            out.append((ct, tt, nc, pstats.func_std_string(func)))
    return sorted(out, reverse=True)


def profile_batch(results: dict[str, Any]) -> None:
    profile = cProfile.Profile()
    pipeline_batch(results, address=BATCH_ADDRESS.format(2), profile=profile)
    stats = pstats.Stats(profile)
    stats.strip_dirs()
    keys = {(f[0], f[2]): f for f in stats.stats}  # type: ignore[attr-defined]
    root = keys.get(("batches.py", "batch_execute"))
    if root is None:
        say("profile: batch_execute not found")
        return
    total = stats.stats[root][3]  # type: ignore[attr-defined]
    say(
        f"profile of a second batch_execute under cProfile: {total:.1f} s (cProfile inflates Python-heavy parts)"
    )
    for name in ("batch_execute", "_execute_update", "_insert_revisions", "state_of", "digest"):
        func = keys.get(("batches.py", name)) or keys.get(("entities.py", name))
        if func is None:
            continue
        say(f"  {name} ({stats.stats[func][3]:.2f} s cumulative, {stats.stats[func][2]:.2f} s own) calls:")  # type: ignore[attr-defined]
        for ct, _tt, calls, callee in _callees(stats, func)[:9]:
            say(f"    {ct:7.2f} s {100 * ct / total:5.1f}%  {calls:>9,}×  {callee}")
    say("  top functions by own time:")
    own = sorted(
        ((tt, nc, pstats.func_std_string(f)) for f, (_cc, nc, tt, _ct, _c) in stats.stats.items()),  # type: ignore[attr-defined]
        reverse=True,
    )
    for tt, calls, name in own[:15]:
        say(f"    {tt:7.2f} s {100 * tt / total:5.1f}%  {calls:>9,}×  {name}")


# --- summary ---------------------------------------------------------------------------------------------


def _source() -> str:
    """The commit measured, and whether the checkout had uncommitted changes (they change the figures)."""
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
    import django
    from django.db import connection

    engine = connection.vendor
    if engine == "postgresql":
        version = connection.cursor().connection.info.server_version
        engine = f"PostgreSQL {version // 10000}.{version % 10000}"
    else:
        engine = f"SQLite {sqlite3.sqlite_version} (WAL)"
    return {
        "date": date.today().isoformat(),
        "source": SOURCE[0],
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "python": platform.python_version(),
        "django": django.get_version(),
        "sqlite": sqlite3.sqlite_version,
        "database": engine,
        "command": " ".join(["uv run python", *sys.argv]),
    }


def summary(results: dict[str, Any]) -> None:
    raw_rate = rate(*results["raw"])
    link_rate = rate(*results["chain_link"])
    say()
    say("summary")
    for key, value in machine().items():
        say(f"  {key:<9} {value}")
    say(f"  {'measure':<46} {'count':>9} {'seconds':>8} {'per second':>11}  ratio")

    def line(label: str, count: int, seconds: float, base: float | None = None, of: str = "") -> None:
        per_second = rate(count, seconds)
        ratio = ""
        if base:
            value = per_second / base
            ratio = f"{value:6.3f} {of}" if value >= 0.01 else f"{value:6.4f} {of}"
        say(f"  {label:<46} {count:>9,} {seconds:8.2f} {per_second:>11,.0f}  {ratio}")

    line("load: all records (import batches)", *results["load"])
    line("load: person batch", *results["load_persons"])
    for key in [k for k in results if k.startswith("raw ")]:
        label = "raw executemany UPDATE" + (", client binding" if "Client" in key else "")
        label += ", server binding" if "server-side" in key else ""
        line(label, *results[key], raw_rate, "of raw")
    line("batch_execute: field changes", *results["pipeline"], raw_rate, "of raw  (goal ≥ 0.2)")
    count, both, alone = results["floor_update"]
    line("  the rows and their revisions alone (floor)", count, both, rate(count, alone), "of the rows alone")
    insert_rate = rate(*results["raw_insert"])
    line("raw executemany INSERT, person columns", *results["raw_insert"], insert_rate, "of raw INSERT")
    line("import batch_execute: new persons", *results["import"], insert_rate, "of raw INSERT  (goal ≥ 0.2)")
    count, both, alone = results["floor_import"]
    line("  the rows and their revisions alone (floor)", count, both, rate(count, alone), "of the rows alone")
    line("import apply + approve + execute", *results["import_end_to_end"], insert_rate, "of raw INSERT")
    line("batch apply + approve + execute", *results["pipeline_end_to_end"], raw_rate, "of raw")
    line("submit_change: one phone each", *results["singles"], raw_rate, "of raw")
    line("audit_record: events appended", *results["append_service"])
    line("bulk append: canonical + link + executemany", *results["append_bulk"])
    say("  verify_store and the chain.link baseline each in a fresh process, as `sidms audit verify` runs:")
    line("bare chain.link over the stored payloads", *results["chain_link"], link_rate, "of chain.link")
    line(
        f"bare {results['algorithm']} over the stored payloads",
        *results["chain_bare"],
        link_rate,
        "of chain.link",
    )
    report = results["verify"]
    line("verify_store: chain part, events", report.events, report.chain_seconds, link_rate, "of chain.link")
    line(
        "verify_store: the rest, revisions + rows",
        report.revisions + sum(report.rows.values()),
        report.seconds - report.chain_seconds,
    )
    line(
        "verify_store: whole, events + revisions + rows",
        report.events + report.revisions + sum(report.rows.values()),
        report.seconds,
    )
    chain_busiest, rest_busiest = busiest(report)
    line(
        "verify_store: chain part, busiest process CPU",
        report.events,
        chain_busiest,
        rate(report.events, results["chain_link_cpu"]),
        "of chain.link CPU",
    )
    line(
        "verify_store: the rest, busiest process CPU",
        report.revisions + sum(report.rows.values()),
        rest_busiest,
    )
    inproc = results["verify_inproc"]
    say("  the same in the bench process (its large heap inherited by the verification workers):")
    line("bare chain.link, in the bench process", *results["chain_link_inproc"])
    line(
        "verify_store: chain part, in the bench process",
        inproc.events,
        inproc.chain_seconds,
        rate(*results["chain_link_inproc"]),
        "of chain.link",
    )
    line(
        "verify_store: the rest, in the bench process",
        inproc.revisions + sum(inproc.rows.values()),
        inproc.seconds - inproc.chain_seconds,
    )
    line(
        "verify_store: chain, busiest CPU, in bench",
        inproc.events,
        busiest(inproc)[0],
        rate(inproc.events, results["chain_link_cpu_inproc"]),
        "of chain.link CPU",
    )
    line(
        "verify_store: rest, busiest CPU, in bench",
        inproc.revisions + sum(inproc.rows.values()),
        busiest(inproc)[1],
    )
    nightly = results["verify_nightly"]
    line(
        "verify --since-checkpoint: events + revisions + rows",
        nightly.events + nightly.revisions + sum(nightly.rows.values()),
        nightly.seconds,
    )


def write_ratios(results: dict[str, Any], path: Path) -> None:
    """The figures of issue 7's table, for bench/spine.py; verification's from the fresh processes."""
    import json

    report = results["verify"]
    rest = report.seconds - report.chain_seconds
    figures = {
        "database": machine()["database"],
        "update": rate(*results["pipeline"]) / rate(*results["raw"]),
        "update_rows_per_s": rate(*results["pipeline"]),
        "import": rate(*results["import"]) / rate(*results["raw_insert"]),
        "import_rows_per_s": rate(*results["import"]),
        "chain": report.events_per_second / rate(*results["chain_link"]),
        "verified_per_s": rate(report.revisions + sum(report.rows.values()), rest),
        # The same two by processor time of the busiest process (what an idle machine would give).
        "chain_cpu": results["chain_link_cpu"] / busiest(report)[0] if busiest(report)[0] else 0.0,
        "verified_per_s_cpu": rate(report.revisions + sum(report.rows.values()), busiest(report)[1]),
        # The same two in the bench process, whose heap the verification workers inherit (printed, not goals).
        "chain_inproc": results["verify_inproc"].events_per_second / rate(*results["chain_link_inproc"]),
        "verified_per_s_inproc": rate(
            results["verify_inproc"].revisions + sum(results["verify_inproc"].rows.values()),
            results["verify_inproc"].seconds - results["verify_inproc"].chain_seconds,
        ),
        "events": report.events,
        "revisions_and_rows": report.revisions + sum(report.rows.values()),
        # The most each door could reach if only its writes cost anything (write_floor).
        "update_floor": results["floor_update"][2] / results["floor_update"][1],
        "import_floor": results["floor_import"][2] / results["floor_import"][1],
    }
    path.write_text(json.dumps(figures, indent=1))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.fresh:  # a child of fresh(): the environment names the store already
        import json

        import django

        django.setup()
        print(json.dumps(verify_fresh() if args.fresh == "verify" else chain_timings()))
        return
    SOURCE[0] = _source()
    data_dir = isolate(args)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    try:
        setup_store()
        say(f"store: {os.environ['SIDMS_DATABASE_URL']} (data dir {data_dir})")
        load(args.persons, results)
        import_batch(results, args.imports)
        write_floor(results, kind="import")
        pipeline_batch(results, address=BATCH_ADDRESS.format(1))
        raw_baseline(results, final_address=BATCH_ADDRESS.format(1))
        write_floor(results, kind="update")
        single_changes(results, args.singles)
        append_events(results, args.events)
        verify(results, args.events)
        chain_baseline(results)
        verify_nightly(results, min(args.singles, 200))
        if args.profile:
            profile_batch(results)
        summary(results)
        say(f"  whole run {time.perf_counter() - started:.0f} s")
        if args.json:
            write_ratios(results, Path(args.json))
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            say(f"kept {data_dir}" + (f" and {args.database_url}" if args.database_url else ""))
        else:
            if args.database_url:
                _postgres(args.database_url, create=False)
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
