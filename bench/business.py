"""Issue 8's ledger runs against plain SQL on the same tables, in one process per engine:

1. the assessment of one period (核定): ``run_execute`` of an approved assessment run (parameters read, base ×
   rate rounded per entry, keyed digest per entry, bulk insert, Merkle root, audit event) against one
   ``INSERT … SELECT`` computing the same pension amounts in SQL into the same ledger table;
2. the year-end interest run (month-product method) against an ``INSERT … SELECT`` summing each person's
   paid credits weighted by the months left in the year.

    uv run python bench/business.py [--persons 3000] [--database-url postgres://postgres@127.0.0.1:5432/sidms_bench_business]

Ratios are baseline seconds ÷ run seconds (1.0 = as fast as plain SQL; the issue's goal is ≥ 0.5). The store
is isolated and thrown away (bench/pipeline.py's set-up). Not measured here: the rights-record page under
load and statements per second (bench/statements.py measures the PDF engine alone).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import date
from decimal import Decimal
from typing import Any

from pipeline import BENCH_DB_PREFIX, _postgres, isolate, say, setup_store

PERIOD = "2025-03"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=3000, help="persons to generate (default 3,000)")
    parser.add_argument("--database-url", help=f"postgres://…/{BENCH_DB_PREFIX}… (created and dropped here)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each measured run")
    return parser.parse_args()


def enrol(operator: Any, approver: Any) -> int:
    """Every current employee enrolled in pension with a 2025 base, through approved import batches."""
    from sidms.business import calc
    from sidms.changes.batches import batch_apply_import, batch_decide, batch_execute
    from sidms.registry.models import Employment

    jobs = dict(
        Employment.objects.filter(end_date__isnull=True, person__birth_date__lte=date(2006, 1, 1))
        .order_by("pk")
        .values_list("person_id", "unit_id")
    )

    def load(entity: str, rows: list[dict[str, Any]]) -> None:
        batch = batch_apply_import(actor=operator, entity=entity, rows=iter(rows), reason="bench")
        batch_decide(actor=approver, batch_id=batch.pk, approve=True, reason="bench")
        batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: iter(rows))

    load("unit_enrolment", [{"unit_id": str(u), "insurance": "110", "status": "paying", "start_date": "2000-01-01"}
                            for u in sorted(set(jobs.values()))])  # fmt: skip
    load("person_enrolment", [{"person_id": str(p), "insurance": "110", "kind": "employee", "unit_id": str(u),
                               "status": "paying", "start_date": "2020-01-01"} for p, u in jobs.items()])  # fmt: skip
    rows = []
    for i, (p, u) in enumerate(jobs.items()):
        wage = Decimal(2800 + (i * 7919) % 16000)
        rows.append({"person_id": str(p), "unit_id": str(u), "year": "2025", "declared_wage": f"{wage:.2f}",
                     "base": f"{calc.clamp(wage, 2025).base:.2f}"})  # fmt: skip
    load("base_declaration", rows)
    return len(jobs)


def baseline_assessment(
    run_id: int, period: str, unit_rate: Decimal, ind_rate: Decimal, account: Decimal
) -> float:
    from django.db import connection, transaction

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
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            sql, [period, unit_rate, ind_rate, unit_rate, ind_rate, account, date(2025, 3, 31), run_id]
        )
    return time.perf_counter() - started


def baseline_interest(run_id: int, rate: Decimal) -> float:
    from django.db import connection, transaction

    uid = "lower(hex(randomblob(16)))" if connection.vendor == "sqlite" else "gen_random_uuid()"
    month = (
        "CAST(substr(period, 6, 2) AS INTEGER)"
        if connection.vendor == "sqlite"
        else "CAST(substr(period, 6, 2) AS integer)"
    )
    sql = f"""
        INSERT INTO business_ledgerentry (uid, version, row_digest, cipher_mac, created_at, updated_at, period,
            person_id, unit_id, insurance, kind, unit_amount, individual_amount, account_credit, entry_date, run_id)
        SELECT {uid}, 1, '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '2098-12', person_id, NULL, '110', 'interest',
            0, 0, ROUND(SUM(account_credit * (13 - {month})) * %s / 12, 2), %s, %s
        FROM business_ledgerentry WHERE kind = 'paid' AND insurance = '110' AND period BETWEEN '2025-01' AND '2025-12'
        GROUP BY person_id
    """
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [rate, date(2098, 12, 31), run_id])
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    isolate(args)
    setup_store()
    from django.db import connection

    from sidms.business import ledger
    from sidms.business.accounts import outstanding
    from sidms.business.parameters import value_at
    from sidms.demo.generate import generate
    from sidms.demo.loader import ensure_accounts, load_demo
    from sidms.registry.models import Staff

    ensure_accounts()
    load_demo(generate(persons=args.persons), progress=lambda _m: None)
    operator, approver = Staff.objects.get(username="info_city"), Staff.objects.get(username="approver_city")
    employees = enrol(operator, approver)
    say(f"business bench on {connection.vendor}: {args.persons:,} persons, {employees:,} enrolled in pension")

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
            pstats.Stats(profile).sort_stats("tottime").print_stats(20)
        return seconds, done.entries

    seconds, entries = timed_run("assessment", PERIOD)
    day = date(2025, 3, 1)
    scratch = ledger.run_apply(actor=operator, kind="correction", period="2099-01", reason="bench baseline")
    base_s = baseline_assessment(
        scratch.pk, "2099-01", value_at("rate.pension.unit", day), value_at("rate.pension.individual", day),
        value_at("rate.pension.account", day),
    )  # fmt: skip
    say(f"  assessment of one period: {entries:,} entries in {seconds:.2f} s ({entries / seconds:,.0f}/s); "
        f"INSERT … SELECT {base_s:.2f} s; ratio {base_s / seconds:.2f} (goal ≥ 0.5)")  # fmt: skip

    rows = [
        {"unit_id": u, "period": PERIOD, "amount": f"{t:.2f}", "paid_on": "2025-03-31"}
        for u, t in _unit_totals(outstanding().filter(period=PERIOD))
    ]
    timed_run("payment", PERIOD, params={"rows": rows})
    seconds, entries = timed_run("interest", "2025")
    base_s = baseline_interest(scratch.pk, value_at("account.interest_rate", date(2025, 12, 31)))
    say(f"  year-end interest: {entries:,} accounts in {seconds:.2f} s ({entries / seconds:,.0f}/s); "
        f"INSERT … SELECT {base_s:.2f} s; ratio {base_s / seconds:.2f} (goal ≥ 0.5)")  # fmt: skip
    if args.database_url:
        connection.close()
        _postgres(args.database_url, create=False)


def _unit_totals(rows: Any) -> list[tuple[int, Decimal]]:
    from django.db.models import Sum

    out = []
    for g in (
        rows.filter(unit__isnull=False)
        .values("unit_id")
        .annotate(u=Sum("unit_amount"), i=Sum("individual_amount"))
        .order_by()
    ):
        out.append((int(g["unit_id"]), (g["u"] or Decimal(0)) + (g["i"] or Decimal(0))))
    return out


if __name__ == "__main__":
    main()
