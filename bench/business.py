"""Issue 8's must-show bench items, in one run per engine:

1. the assessment of one period (核定): ``run_execute`` of an approved assessment run (parameters read, base ×
   rate rounded per entry, keyed digest per entry, bulk insert, Merkle root, audit event) against one
   ``INSERT … SELECT`` computing the same pension amounts in SQL into the same ledger table;
2. the year-end interest run (month-product method) against an ``INSERT … SELECT`` summing each person's
   paid credits weighted by the months left in the year (the previous years' balance for 12 months);
3. the rights-record page (/persons/<no>/rights/?cut_off=2025-12-31) of one person with three years of
   history, served by ``sidms serve`` (granian, 2 workers) and loaded by wrk at c=16 with clerk_hc's
   signed-in session cookie: p50 and p99 (goal p99 ≤ 50 ms);
4. statements per second: the yearly batch's selector (persons with contributions in 2025) and its
   ``rights.issue_checked`` in chunks of 25 (the printed records checked against their history, read models,
   digests, verification numbers, the stored IssuedStatements with one audit event per chunk, each PDF by lib/statement.py) in 2 worker processes,
   each warmed on 200 other persons' statements (goal ≥ 100/s).

    uv run python bench/business.py [--persons 3000] [--statements 300] [--seconds 10]
        [--database-url postgres://postgres@127.0.0.1:5432/sidms_bench_business] [--profile]
        [--threads N] [--workers N] [--store DIR [--seed-only]] [--no-page] [--page-profile N]
        [--history-months M] [--full-history N]

``--store DIR`` keeps the seeded store (the SQLite file and key file in DIR, or the PostgreSQL database) and,
when DIR already holds one, measures only the rights-record page on it: for trying server settings or a
change to the page without seeding again. ``--store DIR --seed-only`` seeds and stops before the measured
runs; a later ``--store DIR`` measures the runs on that store (then the page and statements, unless
``--no-page`` and ``--statements 0``): to compare two versions of a run on one store, copy DIR (and, on
PostgreSQL, the database: ``CREATE DATABASE sidms_bench_b TEMPLATE sidms_bench_a``) before each. ``--page-profile N`` requests the page N times in this process
through Django's test client (signed in as clerk_hc) under cProfile, with the SQL queries of one request.
With ``--callgrind`` as well, and the script run under ``valgrind --tool=callgrind --instr-atstart=no``
(``.venv/bin/python``, not ``uv run``), callgrind counts only those N requests (after 20 warm ones): instructions
a request, which the machine's load does not change, for judging a change to the page on a busy machine.

What is seeded how (printed too): persons, units and employments through the pipeline's approved import
batches (``load_demo``, as every bench does: this is the slow part, ~150 persons/s, so 1,000,000 persons
takes hours and ``--persons`` chooses the size); unit and person enrolments and 2025 bases through approved
import batches (``changes.batches``); the ledger history 2023-01 … 2025-12 through ledger runs themselves
(one assessment run per month, applied, approved and executed, and one ``payment`` run per month paying
every unit's and flexible worker's outstanding amount), so every entry is written by ``run_execute`` with
its Merkle root. Bases of 2023 and 2024 are the 2025 ones (one declaration per year, same import path).
The 2025-03 assessment is the measured one; it runs with the other 35 months already in the ledger.

``--history-months M`` (below 36) seeds a shorter history for most persons, for sizes where 36 months of
ledger runs for everyone would take too long: each employee's pension enrolment starts M months before
2026-01 (bases declared from that year on), so the monthly runs before that assess and pay only the
``--full-history N`` employees (Huancui's first N, enrolled from 2020 with a base every year), whose
three years the rights page and the statements read. Everything is still written by import batches and
ledger runs; the measured 2025-03 assessment assesses every employee, and the 2025 interest run every
account (with M ≥ 13, each has a 2024 credit as its balance before the year).

Ratios are baseline seconds ÷ run seconds (1.0 = as fast as plain SQL; the issue's goal is ≥ 0.5). The store
is isolated and thrown away (bench/pipeline.py's set-up).
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline import BENCH_DB_PREFIX, _postgres, _postgres_admin_url, isolate, say, setup_store

PERIOD = "2025-03"
CHUNK = 25  # statements per chunk of the yearly batch (one audit event each)
WARM = 200  # other persons' statements each worker renders before the clock starts (glyph cache)
YEARS = (2023, 2024, 2025)
BENCH = Path(__file__).resolve().parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=3000, help="persons to generate (default 3,000)")
    parser.add_argument("--database-url", help=f"postgres://…/{BENCH_DB_PREFIX}… (created and dropped here)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each measured run")
    parser.add_argument("--statements", type=int, default=300, help="statements to issue (default 300)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk seconds for the page (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="granian workers for the page (default 2)")
    parser.add_argument(
        "--threads", type=int, help="threads per worker (sidms serve --threads; default serve's)"
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="keep the store in DIR; if DIR holds one, measure only the page and statements",
    )
    parser.add_argument(
        "--history-months", type=int, default=36, metavar="M",
        help="months of ledger history for all but --full-history persons (default 36: everyone 2023–2025)",
    )  # fmt: skip
    parser.add_argument(
        "--full-history", type=int, default=1000, metavar="N",
        help="employees (Huancui's first) with the full 36 months whatever --history-months (default 1,000)",
    )  # fmt: skip
    parser.add_argument("--no-page", dest="page", action="store_false",
                        help="skip the rights-record page (the runs and the statements only)")  # fmt: skip
    parser.add_argument("--seed-only", action="store_true",
                        help="seed the store given by --store and stop; a later run with --store DIR measures "
                        "the runs on it (copy DIR, or the database, first to measure again)")  # fmt: skip
    parser.add_argument(
        "--page-profile",
        type=int,
        default=0,
        metavar="N",
        help="profile N requests of the page through the test client instead of serving it",
    )
    parser.add_argument("--callgrind", action="store_true",
                        help="with --page-profile, under valgrind: count the instructions of the N requests only")  # fmt: skip
    return parser.parse_args()


def enrol(operator: Any, approver: Any, history_months: int = 36, full_history: int = 0) -> tuple[int, int]:
    """Every current employee enrolled in pension with yearly bases, through approved import batches.

    With HISTORY_MONTHS < 36, an employee's enrolment starts HISTORY_MONTHS months before 2026-01 (so the
    ledger runs before that month do not assess them, and they declare bases only for the years from
    then), except FULL_HISTORY employees (Huancui's first, then any, employed by January 2020), enrolled from
    2020 with every year's base: the rights page's and the statements' persons. No one is enrolled before the
    month their job began (the entry rule, 社会保险法 Art. 58). Returns (employees, of them with full
    history)."""
    from sidms.business import calc
    from sidms.business.parameters import cached_parameters
    from sidms.changes.batches import batch_apply_import, batch_decide, batch_execute
    from sidms.registry.models import Employment

    # Employees 16 or older at their 2020 enrolment (the entry rule imports obey since feat/gaps8).
    employed = (
        Employment.objects.filter(end_date__isnull=True, person__birth_date__lte=date(2004, 1, 1))
        .order_by("pk")
        .values_list("person_id", "unit_id", "person__district_id", "start_date")
    )
    jobs: dict[int, int] = {}
    hired: dict[int, date] = {}  # the first of the month the current job began: no enrolment before it
    huancui: list[int] = []
    in_huancui: set[int] = set()
    for person_id, unit_id, district, began in employed.iterator(chunk_size=20000):
        jobs[person_id] = unit_id
        hired[person_id] = began.replace(day=1)
        # The rights page's and the statements' persons have their history from 2020: employed by then.
        if district == "371002" and person_id not in in_huancui and began < date(2020, 2, 1):
            huancui.append(person_id)
            in_huancui.add(person_id)
    if history_months >= 36:
        full = set(jobs)
    else:
        picked = huancui[:full_history]
        chosen = set(picked)
        picked += [p for p in jobs if p not in chosen and hired[p] <= date(2020, 1, 1)][
            : full_history - len(picked)
        ]
        full = set(picked)
    first_month = 2026 * 12 - history_months  # month index of the others' first assessed month
    late_start = date(first_month // 12, first_month % 12 + 1, 1)

    def start(person_id: int) -> date:
        # Enrolled no earlier than the month the job began (社会保险法 Art. 58, the entry rule).
        return max(date(2020, 1, 1) if person_id in full else late_start, hired[person_id])

    def load(entity: str, rows: list[dict[str, Any]]) -> None:
        batch = batch_apply_import(actor=operator, entity=entity, rows=iter(rows), reason="bench")
        batch_decide(actor=approver, batch_id=batch.pk, approve=True, reason="bench")
        batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: iter(rows))

    load("unit_enrolment", [{"unit_id": str(u), "insurance": "110", "status": "paying", "start_date": "2000-01-01"}
                            for u in sorted(set(jobs.values()))])  # fmt: skip
    load("person_enrolment", [{"person_id": str(p), "insurance": "110", "kind": "employee", "unit_id": str(u),
                               "status": "paying", "start_date": start(p).isoformat()}
                              for p, u in jobs.items()])  # fmt: skip
    with cached_parameters():  # the clamp reads the year's limits: once per year, not per row
        for year in YEARS:
            rows = []
            for i, (p, u) in enumerate(jobs.items()):
                if start(p).year > year:
                    continue
                wage = Decimal(2800 + (i * 7919) % 16000)
                rows.append({"person_id": str(p), "unit_id": str(u), "year": str(year),
                             "declared_wage": f"{wage:.2f}", "base": f"{calc.clamp(wage, year).base:.2f}"})  # fmt: skip
            if rows:
                load("base_declaration", rows)
    return len(jobs), len(full)


def baseline_assessment(
    run_id: int, period: str, unit_rate: Decimal, ind_rate: Decimal, account: Decimal
) -> float:
    from django.db import connection

    uid = "lower(hex(randomblob(16)))" if connection.vendor == "sqlite" else "gen_random_uuid()"
    num = "REAL" if connection.vendor == "sqlite" else "numeric"
    sql = f"""
        INSERT INTO business_ledgerentry (uid, version, row_digest, cipher_mac, created_at, updated_at, period,
            person_id, unit_id, insurance, kind, base, unit_rate, individual_rate, unit_amount, individual_amount,
            account_credit, entry_date, run_id)
        SELECT {uid}, 1, '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, %s, e.person_id, e.unit_id, '110',
            'assessed', CAST(b.base AS {num}), %s, %s, ROUND(CAST(b.base AS {num}) * %s, 2),
            ROUND(CAST(b.base AS {num}) * %s, 2), ROUND(CAST(b.base AS {num}) * %s, 2), %s, %s
        FROM business_personenrolment e
        JOIN business_basedeclaration b ON b.person_id = e.person_id AND b.unit_id = e.unit_id AND b.year = '2025'
        WHERE e.status = 'paying' AND e.kind = 'employee' AND e.insurance = '110'
    """
    return _timed(sql, [period, unit_rate, ind_rate, unit_rate, ind_rate, account, date(2025, 3, 31), run_id])


def baseline_interest(run_id: int, rate: Decimal, year: int, period: str) -> float:
    from django.db import connection

    uid = "lower(hex(randomblob(16)))" if connection.vendor == "sqlite" else "gen_random_uuid()"
    month = "CAST(substr(period, 6, 2) AS INTEGER)"
    sql = f"""
        INSERT INTO business_ledgerentry (uid, version, row_digest, cipher_mac, created_at, updated_at, period,
            person_id, unit_id, insurance, kind, unit_amount, individual_amount, account_credit, entry_date, run_id)
        SELECT {uid}, 1, '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, %s, person_id, NULL, '110', 'interest',
            0, 0, ROUND(SUM(account_credit * (CASE WHEN period < %s THEN 12 ELSE 13 - {month} END)) * %s / 12, 2),
            %s, %s
        FROM business_ledgerentry
        WHERE insurance IN ('110', '120') AND kind IN ('paid', 'transfer_account', 'interest') AND period <= %s
        GROUP BY person_id
    """
    return _timed(sql, [period, f"{year}-01", rate, date(year, 12, 31), run_id, f"{year}-12"])


def _timed(sql: str, params: list[Any]) -> float:
    """Seconds of one baseline statement, to its commit as the run's timing goes to the run's.

    On PostgreSQL it writes where the run writes (baseline_periods: the run's own period, so the same
    partition with its millions of rows and indexes) and is rolled back, so that the store keeps only what
    came through the door; the commit it then skips is a flush of the WAL the statement already wrote
    (tens of milliseconds; checkpoints run in the background). Until 2026-11-30 the baselines wrote 2098-12
    and 2099-01 into PostgreSQL's empty default partition: 8.7 s against 11.6 s into the run's own partition
    at 200,000 persons (README "A million persons").

    On SQLite the ledger is one table, where the period changes nothing of where rows go, and a commit is
    not free: it writes the transaction's pages into the WAL and, past 1,000 pages, checkpoints them into
    the database file — 3.0 s of 14.8 s for the assessment's 388,757 rows at a million persons (11.3 s
    rolled back). So there the baseline commits, under periods nothing shows (baseline_periods), and its rows
    are deleted once both baselines are measured (_forget_baselines: the rights record reads a person's
    whole ledger and refuses an entry no run vouches for)."""
    from django.db import connection, transaction

    keep = connection.vendor == "sqlite"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not keep:
            seconds = time.perf_counter() - started
            transaction.set_rollback(True)
    return time.perf_counter() - started if keep else seconds


def _forget_baselines(run_id: int) -> None:
    """Delete the rows the baselines committed on SQLite (_timed), once both are measured: entries that no
    run wrote, with no digest, which the rights record and the statements read with the person's others and
    refuse (ledger.forged_rows: the page answered 409 for a person the baseline assessed). The append-only
    guard is lifted for the deletion and put back in the same transaction. PostgreSQL rolled them back."""
    from django.db import connection, transaction

    from sidms.core.guards import append_only_sql

    if connection.vendor != "sqlite":
        return
    table = "business_ledgerentry"
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in append_only_sql(connection.vendor, table, create=False):
            cursor.execute(statement)
        cursor.execute(f"DELETE FROM {table} WHERE run_id = %s", [run_id])
        for statement in append_only_sql(connection.vendor, table, create=True):
            cursor.execute(statement)


def baseline_periods() -> tuple[str, str]:
    """The periods the assessment's and the interest's baselines write (_timed): the runs' own on
    PostgreSQL (rolled back), periods nothing shows on SQLite (committed, then deleted: _forget_baselines)."""
    from django.db import connection

    return ("2020-01", "2098-12") if connection.vendor == "sqlite" else (PERIOD, "2025")


def periods() -> list[str]:
    return [f"{y}-{m:02d}" for y in YEARS for m in range(1, 13)]


def pay(operator: Any, approver: Any, period: str) -> int:
    """One payment run settling every unit's (and flexible worker's) outstanding amount for PERIOD."""
    from sidms.business import ledger
    from sidms.business.accounts import outstanding

    rows = [
        {"unit_id": u, "period": period, "amount": f"{t:.2f}", "paid_on": period_end(period)}
        for u, t in _unit_totals(outstanding(period))
    ]
    if not rows:
        return 0
    return ledger.run_through(operator, approver, "payment", period, params={"rows": rows}).entries


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f}"


def period_end(period: str) -> str:
    from sidms.business.ledger import month_bounds

    return month_bounds(period)[1].isoformat()


def main() -> None:
    args = parse_args()
    if args.store is not None and (args.store / SEEDED).exists():
        page_only(args)
        return
    if args.store is not None and (args.store / HISTORY).exists():
        # Seeded by --seed-only: measure the runs (and the rest) on it.
        if args.database_url:
            _postgres_admin_url(args.database_url)  # refuses a name outside the bench's
        _point_at(args.store, args)
        import django

        django.setup()
        say(f"runs on the kept store {args.store} ({(args.store / HISTORY).read_text().strip()}); {_load()}")
        measure(args, args.store)
        return
    data_dir = isolate(args)
    if args.store is not None:
        args.store.mkdir(parents=True, exist_ok=True)
        for name in os.listdir(data_dir):
            os.rename(data_dir / name, args.store / name)
        data_dir.rmdir()
        data_dir = args.store
        _point_at(data_dir, args)
    elif args.seed_only:
        raise SystemExit("--seed-only keeps the store: give --store DIR")
    setup_store()
    from django.db import connection

    from sidms.business import ledger
    from sidms.demo.generate import generate
    from sidms.demo.loader import ensure_accounts, link_agencies, load_demo
    from sidms.registry.models import Staff

    started = time.perf_counter()
    ensure_accounts()
    load_demo(generate(persons=args.persons), progress=lambda _m: None)
    link_agencies()
    took = time.perf_counter() - started
    say(f"business bench on {connection.vendor}: {args.persons:,} persons")
    say(f"  seeded: persons, units, employments by load_demo (approved import batches) "
        f"in {took:,.0f} s ({args.persons / took:,.0f} persons/s); {_load()}")  # fmt: skip
    operator, approver = Staff.objects.get(username="info_city"), Staff.objects.get(username="approver_city")
    started = time.perf_counter()
    employees, full = enrol(operator, approver, args.history_months, args.full_history)
    took = time.perf_counter() - started
    say(f"  seeded: {employees:,} pension enrolments ({full:,} from 2020 or their job's month, the others "
        f"{'too' if args.history_months >= 36 else f'for the last {args.history_months} months'}) and their "
        f"bases for {YEARS[0]}–{YEARS[-1]} by approved import batches in {took:,.0f} s "
        f"({employees / took:,.0f} employees/s); {_load()}")  # fmt: skip
    started = time.perf_counter()
    history = 0
    for period in periods():
        if period != PERIOD:
            history += ledger.run_through(operator, approver, "assessment", period).entries
            history += pay(operator, approver, period)
    took = time.perf_counter() - started
    say(f"  seeded: ledger history {periods()[0]} … {periods()[-1]} (but {PERIOD}) by ledger runs "
        f"(assessment + payment per month): {history:,} entries in {took:,.0f} s ({history / took:,.0f}/s); "
        f"{_load()}")  # fmt: skip
    if args.seed_only:
        assert args.store is not None
        (data_dir / HISTORY).write_text(f"{args.persons} persons, history {args.history_months} months\n")
        say(f"  kept in {data_dir}: measure the runs with --store {data_dir} (on a copy, to measure again)")
        return
    measure(args, data_dir)


def measure(args: argparse.Namespace, data_dir: Path) -> None:
    """The measured runs (assessment of PERIOD, interest of 2025) against their baselines, then the page and
    the statements, on the store seeded in DATA_DIR."""
    from django.db import connection

    from sidms.business import ledger
    from sidms.business.parameters import value_at
    from sidms.registry.models import Staff

    operator, approver = Staff.objects.get(username="info_city"), Staff.objects.get(username="approver_city")

    def timed_run(kind: str, period: str, **kw: Any) -> tuple[float, int]:
        run = ledger.run_apply(actor=operator, kind=kind, period=period, **kw)
        ledger.run_decide(actor=approver, run_id=run.pk, approve=True)
        profile = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        done = ledger.run_execute(actor=operator, run_id=run.pk)
        seconds = time.perf_counter() - started
        if profile is not None:
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return seconds, done.entries

    day = date(2025, 3, 1)
    # A scratch run to name in the baselines' rows (a past month no history reaches: runs ahead of today's
    # month are refused). Each baseline runs just before the run it is compared with, on the same store
    # (_timed: where the run writes and rolled back on PostgreSQL, committed on SQLite).
    scratch = ledger.run_apply(actor=operator, kind="assessment", period="2020-01", reason="bench baseline")
    assessment_period, interest_period = baseline_periods()
    base_s = baseline_assessment(
        scratch.pk, assessment_period, value_at("rate.pension.unit", day),
        value_at("rate.pension.individual", day), value_at("rate.pension.account", day),
    )  # fmt: skip
    seconds, entries = timed_run("assessment", PERIOD)
    results = {"assessment": base_s / seconds}
    say(f"  1. assessment of one period: {entries:,} entries in {seconds:.2f} s ({entries / seconds:,.0f}/s); "
        f"INSERT … SELECT {base_s:.2f} s; ratio {base_s / seconds:.2f} (goal ≥ 0.5); {_load()}")  # fmt: skip

    pay(operator, approver, PERIOD)
    base_s = baseline_interest(
        scratch.pk, value_at("account.interest_rate", date(2025, 12, 31)), 2025, interest_period
    )
    seconds, entries = timed_run("interest", "2025")
    results["interest"] = base_s / seconds
    say(f"  2. year-end interest: {entries:,} accounts in {seconds:.2f} s ({entries / seconds:,.0f}/s); "
        f"INSERT … SELECT {base_s:.2f} s; ratio {base_s / seconds:.2f} (goal ≥ 0.5); {_load()}")  # fmt: skip
    _forget_baselines(scratch.pk)

    if args.profile:
        profile_reads()
    if args.store is not None:
        (data_dir / HISTORY).unlink(missing_ok=True)
        (data_dir / SEEDED).write_text(f"{args.persons} persons\n")
    if args.page:
        rights_page(args, data_dir)
    if args.statements:
        statements_per_second(args)
    if args.database_url and args.store is None:
        connection.close()
        _postgres(args.database_url, create=False)


SEEDED = "business-bench-seeded"
HISTORY = "business-bench-history"  # seeded by --seed-only, the runs not measured yet


def _point_at(data_dir: Path, args: argparse.Namespace) -> None:
    """The SIDMS_* paths (and the database) of a store kept in DATA_DIR (isolate's settings, another dir)."""
    os.environ["SIDMS_DATA_DIR"] = str(data_dir)
    os.environ["SIDMS_KEY_FILE"] = str(data_dir / "sidms.keys")
    os.environ["SIDMS_CHECKPOINT_DIR"] = str(data_dir / "checkpoints")
    os.environ["DJANGO_SETTINGS_MODULE"] = "sidms.settings"
    os.environ["SIDMS_DATABASE_URL"] = args.database_url or f"sqlite:///{data_dir / 'sidms.sqlite3'}"


def page_only(args: argparse.Namespace) -> None:
    """The rights-record page on the store kept in ARGS.store (seeded by an earlier run with --store)."""
    if args.database_url:
        _postgres_admin_url(args.database_url)  # refuses a name outside the bench's
    _point_at(args.store, args)
    import django

    django.setup()
    say(f"rights-record page and statements on the kept store {args.store} "
        f"({(args.store / SEEDED).read_text().strip()})")  # fmt: skip
    if args.page or args.page_profile:
        rights_page(args, args.store)
    if args.statements and not args.page_profile:
        statements_per_second(args)


def rights_page(args: argparse.Namespace, data_dir: Path) -> None:
    """wrk at c=16 against the rights-record page of an enrolled person of clerk_hc's district."""
    from django.db import connections

    from sidms.business.models import LedgerEntry
    from sidms.registry.models import Person
    from sidms.security.models import SealedTOTPDevice

    sys.path.insert(0, str(BENCH))
    from pages import _sign_in, free_port, server_cpu, wrk

    person_id = (
        LedgerEntry.objects.filter(person__district_id="371002", period="2023-01", kind="paid")
        .order_by("person_id")
        .values_list("person_id", flat=True)
        .first()
    )
    if person_id is None:
        say("  3. rights-record page: no person of 371002 with history (too few persons); skipped")
        return
    person = Person.objects.get(pk=person_id)
    history = LedgerEntry.objects.filter(person_id=person_id).count()
    say(f"  3. its ledger query (rights.rights_records): {ledger_plan(person_id)}")
    device = SealedTOTPDevice.objects.get(user__username="clerk_hc", confirmed=True)
    password = dict(
        line.split("\t", 1)
        for line in (data_dir / "demo-accounts.txt").read_text().splitlines()
        if "\t" in line
    )["clerk_hc"]
    path = f"/persons/{person.person_no}/rights/?cut_off=2025-12-31"
    if args.page_profile:
        _profile_page(args.page_profile, path, password, device, callgrind=args.callgrind)
        return
    postmaster = _postmaster()
    connections.close_all()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="business_settings",
               PYTHONPATH=f"{BENCH}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # fmt: skip
    port = free_port()
    threads = ["--threads", str(args.threads)] if args.threads else []
    shape = f"{args.workers} workers × {args.threads or 'default'} threads"
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sidms.cli", "serve", "--port", str(port), "--workers", str(args.workers), *threads],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        cookie = _sign_in(port, password, device)
        url = f"http://127.0.0.1:{port}{path}"
        wrk(url, cookie, 16, 2)  # warm-up: both workers' imports, templates, fonts
        cpu, db_cpu = server_cpu(server.pid), server_cpu(postmaster) if postmaster else 0.0
        rate, p50, p99 = wrk(url, cookie, 16, args.seconds)
        requests = max(1.0, rate * args.seconds)
        cpu_ms = (server_cpu(server.pid) - cpu) * 1000 / requests
        db = f", PostgreSQL {(server_cpu(postmaster) - db_cpu) * 1000 / requests:.1f}" if postmaster else ""
        say(f"  3. rights-record page (person with {history} ledger entries 2023–2025), sidms serve {shape}, "
            f"wrk c=16 {args.seconds} s: {rate:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms (goal p99 ≤ 50 ms), "
            f"server CPU {cpu_ms:.1f}{db} ms/request; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=20)


def _postmaster() -> int | None:
    """The local PostgreSQL server's main process, whose children are the backends serving the page (their
    processor time is the database's share of a request), or None (SQLite, or a server elsewhere)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def ledger_plan(person_id: int) -> str:
    """How the database reads one person's ledger (the rights record's query): on PostgreSQL, EXPLAIN ANALYZE
    summarised — the partitions read, by which scans, planning and execution time; on SQLite, the plan."""
    import re

    from django.db import connection

    from sidms.business.models import LedgerEntry

    query = (
        LedgerEntry.objects.filter(person_id__in=[person_id])
        .values_list("person_id", "pk", "period", "insurance", "kind", "base", "entry_date", "settles_id",
                     "corrects_id", "account_credit", "unit_amount", "individual_amount")
        .order_by("person_id", "pk")
    )  # fmt: skip
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "; ".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {sql}", params)
        lines = [row[0] for row in cursor.fetchall()]
    tables = {
        m.group(1)
        for line in lines
        if (
            m := re.search(
                r"(?:Seq Scan|Index Scan using \w+|Index Only Scan using \w+|Bitmap Heap Scan) on (\w+)", line
            )
        )
    }
    index = [
        m.group(1) or m.group(2)
        for line in lines
        if (m := re.search(r"Index (?:Only )?Scan using (\w+)|Bitmap Index Scan on (\w+)", line))
    ]
    seq = sum("Seq Scan" in line for line in lines)
    only = sum("Index Only Scan" in line for line in lines)
    fetches = sum(int(m.group(1)) for line in lines if (m := re.search(r"Heap Fetches: (\d+)", line)))
    # The first Buffers line is the top node's: the whole query's pages, found in shared buffers or read.
    buffers = next((line.strip() for line in lines if "Buffers:" in line), "")
    times = " ".join(line.strip() for line in lines if line.startswith(("Planning Time", "Execution Time")))
    return (
        f"{len(tables)} tables/partitions read, {len(index)} index scans ({only} index-only, {fetches} heap "
        f"fetches; {sorted(set(index))[:1]} …), {seq} sequential; {buffers}; {times}"
    )


def _profile_page(count: int, path: str, password: str, device: Any, *, callgrind: bool = False) -> None:
    """The page COUNT times through Django's test client in this process: the queries of one request, the
    processor time per request, and where it goes (cProfile); or, with CALLGRIND, only the COUNT requests
    under callgrind's instrumentation."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_otp.oath import TOTP

    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, "django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client(SERVER_NAME="127.0.0.1")
    client.post("/login/", {"username": "clerk_hc", "password": password})
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    device.refresh_from_db()
    while totp.t() <= device.last_t:  # a code is accepted once: an earlier run may have used this step's
        time.sleep(1)
    response = client.post("/login/otp/", {"token": f"{totp.token():06d}"})
    assert response.status_code == 302, response.content[:500]
    for _ in range(3):
        assert client.get(path).status_code == 200
    if callgrind:
        for _ in range(20):
            client.get(path)
        toggle = ["callgrind_control", "-i"]
        subprocess.run([*toggle, "on", str(os.getpid())], capture_output=True, check=True)  # noqa: S603
        for _ in range(count):
            client.get(path)
        subprocess.run([*toggle, "off", str(os.getpid())], capture_output=True, check=True)  # noqa: S603
        say(f"  page: {count} requests counted by callgrind")
        return
    with CaptureQueriesContext(connection) as queries:
        size = len(client.get(path).content)
    say(f"  page: {len(queries)} queries, {size:,} bytes")
    for query in queries.captured_queries:
        say(f"    {query['time']}s {query['sql'][:300]}")
    cpu = time.process_time()
    took = []
    for _ in range(count):
        began = time.perf_counter()
        client.get(path)
        took.append(time.perf_counter() - began)
    say(f"  page: {(time.process_time() - cpu) / count * 1000:.2f} ms of processor time per request")
    # One request at a time, so no queue: a tail here is the request's own (a collection, SQLite's WAL
    # checkpoint, the audit checkpoint), the part of the served p99 that fewer threads cannot remove.
    took.sort()
    say(
        "  page: one at a time, ms: p50 {:.2f}, p99 {:.2f}, p99.9 {:.2f}, max {:.2f}".format(
            *(took[min(len(took) - 1, int(len(took) * q))] * 1000 for q in (0.5, 0.99, 0.999, 1.0))
        )
    )
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        client.get(path)
    profile.disable()
    dump = Path(tempfile.gettempdir()) / "sidms-rights-page.prof"
    profile.dump_stats(dump)
    say(f"  page: cProfile stats in {dump}")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(60)
    pstats.Stats(profile).sort_stats("tottime").print_stats(30)


def profile_reads() -> None:
    """cProfile of 20 rights-record reads (as the page makes them) and 20 issued statements, in process."""
    from sidms.business import rights
    from sidms.business.models import LedgerEntry
    from sidms.core.caller import Caller
    from sidms.registry.models import Person, Staff

    ids = list(
        LedgerEntry.objects.filter(period="2025-01", kind="paid", person__district_id="371002")
        .values_list("person_id", flat=True)
        .order_by("person_id")[:20]
    )
    clerk = Staff.objects.get(username="clerk_hc")
    _warm(list(  # fonts loaded and glyphs converted before the clock starts, as in the measured workers
        LedgerEntry.objects.filter(period="2025-01", kind="paid").exclude(person_id__in=ids)
        .values_list("person_id", flat=True).order_by("person_id")[:WARM]
    ))  # fmt: skip
    numbers = list(Person.objects.filter(pk__in=ids).values_list("person_no", flat=True))
    for name, call in (
        ("rights_record_for", lambda: [rights.rights_record_for(actor=clerk, person_key=n, cut_off=date(2025, 12, 31))
                                       for n in numbers]),
        ("issue_many", lambda: rights.issue_many(Caller("system:statements", request_id=""),
                                                 list(Person.objects.filter(pk__in=ids).select_related("district")),
                                                 date(2025, 12, 31))),
    ):  # fmt: skip
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        call()
        profile.disable()
        say(f"  profile: {len(ids)} × {name} in {time.perf_counter() - started:.2f} s")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)


def _warm(ids: list[int]) -> None:
    """Fonts loaded, and the glyphs of other persons' statements converted, as in a worker some way into the
    yearly batch: the writer converts each character's outline once per process (~10 ms each, cached), so
    a short run would otherwise time mostly first conversions of the names' characters. IDS are persons
    outside the measured sample; their statements are rendered, not issued."""
    from django.db import connections

    from sidms.business.rights import rights_records
    from sidms.lib import statement as st
    from sidms.registry.models import Person

    connections.close_all()
    now, cut_off = datetime.now(UTC), date(2025, 12, 31)
    st.render_statement(st.example_record(0), number="0" * 20, qr_url="/v/", issued_at=now, cut_off=cut_off,
                        agency="warm-up")  # fmt: skip
    for data in rights_records(list(Person.objects.filter(pk__in=ids)), cut_off).values():
        st.render_statement(
            data, number="0" * 20, qr_url="/v/", issued_at=now, cut_off=cut_off, agency="warm-up"
        )
    connections.close_all()


def _issue_some(ids: list[int]) -> int:
    """One chunk of the yearly batch, as ``rights.yearly_statements`` issues it (``issue_checked``: the printed
    records checked against their history, then ``issue_many``)."""
    from sidms.business.rights import issue_checked
    from sidms.core.caller import Caller
    from sidms.registry.models import Person

    caller = Caller("system:statements", request_id="")
    persons = list(Person.objects.filter(pk__in=ids).select_related("district").order_by("pk"))
    issued, withheld = issue_checked(caller, persons, date(2025, 12, 31))
    assert not withheld, withheld
    return sum(one.pdf.startswith(b"%PDF") for one in issued)


def statements_per_second(args: argparse.Namespace) -> None:
    """The yearly batch's selector, then ``rights.issue_checked`` per chunk in 2 forked worker processes."""
    from django.db import connections

    from sidms.business.models import LedgerEntry

    # Persons with contributions in 2025 (the batch's selector) and three years of history (all of them
    # unless --history-months gave most persons fewer months).
    everyone = list(
        LedgerEntry.objects.filter(
            period__startswith="2025-",
            person_id__in=LedgerEntry.objects.filter(period="2023-01", kind="assessed").values("person_id"),
        )
        .values_list("person_id", flat=True)
        .distinct()
        .order_by("person_id")
    )
    people, others = everyone[: args.statements], everyone[args.statements :][:WARM]
    connections.close_all()
    chunks = [people[i : i + CHUNK] for i in range(0, len(people), CHUNK)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_warm, [others, others], chunksize=1)
        started = time.perf_counter()
        done = sum(pool.map(_issue_some, chunks, chunksize=1))
        seconds = time.perf_counter() - started
    say(f"  4. statements: {done:,} issued (selector + rights.issue_checked in chunks of {CHUNK}: records checked, read "
        f"models, stored rows, one audit event per chunk, lib/statement PDF each) in {seconds:.2f} s with 2 processes, each "
        f"warmed on {len(others)} other persons' statements: {done / seconds:,.1f}/s (goal ≥ 100/s)")  # fmt: skip


def _unit_totals(rows: Any) -> list[tuple[int, Decimal]]:
    from django.db.models import Sum

    out = []
    for g in (
        rows.filter(unit__isnull=False)
        .values("unit_id")
        .annotate(u=Sum("unit_amount"), i=Sum("individual_amount"))
        .order_by()
    ):
        # Quantized: SQLite's SUM of a DECIMAL column is a float (see accounts._cents).
        out.append(
            (int(g["unit_id"]), (Decimal(g["u"] or 0) + Decimal(g["i"] or 0)).quantize(Decimal("0.01")))
        )
    return out


if __name__ == "__main__":
    main()
