"""What the benefit run's integrity check costs: the monthly ``pension`` run reads the entitlements it pays
through ``changes.inputs.RunInputs`` (each row's keyed digest and its latest revision's, computed in a forked
worker beside the run, and one query for a record missing from the selection; attack rounds 6 and 10).
Measured here: ``run_execute`` of an approved ``pension`` run over N active pensions with the check, against
the same run reading the same entitlements by one plain ORM query with no check, in the same process and
store, alternating (each run pays its own month, so each writes N entries).

    uv run python bench/benefit_run.py [--persons 2000] [--rounds 3]
        [--database-url postgres://postgres@127.0.0.1:5432/sidms_bench_benefit]

Seeded: the demo's persons through the pipeline's import batches, then one active pension for each adult
through an approved import batch of entitlements. Prints seconds per run and the ratio (baseline seconds ÷
checked seconds; 1.0 = free).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from pipeline import BENCH_DB_PREFIX, _postgres, isolate, say, setup_store


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help=f"postgres://…/{BENCH_DB_PREFIX}… (created and dropped here)")
    args = parser.parse_args()
    isolate(args)
    try:
        setup_store()
        run(args.persons, args.rounds)
    finally:
        if args.database_url:
            from django.db import connections

            connections.close_all()
            _postgres(args.database_url, create=False)


def run(persons: int, rounds: int) -> None:
    from sidms.business import benefits
    from sidms.business.ledger import run_apply, run_decide, run_execute
    from sidms.changes.batches import batch_apply_import, batch_decide, batch_execute
    from sidms.demo.generate import generate
    from sidms.demo.loader import ensure_accounts, load_demo
    from sidms.registry.models import Person, Staff

    ensure_accounts()
    load_demo(generate(persons=persons), progress=lambda _m: None)
    operator = Staff.objects.get(username="info_city")
    approver = Staff.objects.get(username="approver_city")
    ids = list(
        Person.objects.filter(birth_date__lte="2000-01-01").order_by("pk").values_list("pk", flat=True)
    )
    rows = [
        {"person_id": str(pk), "kind": "pension", "start_date": "2020-01-01", "monthly_amount": "3000.00",
         "basis": "bench", "status": "active", "certified_on": "2025-01-01"}
        for pk in ids
    ]  # fmt: skip
    batch = batch_apply_import(actor=operator, entity="entitlement", rows=iter(rows), reason="bench")
    batch_decide(actor=approver, batch_id=batch.pk, approve=True, reason="bench")
    batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: iter(rows))
    say(f"{len(ids):,} active pensions")

    from sidms.business.models import Entitlement

    checked = benefits._active

    def unchecked(inputs: object, first: object, last: object) -> list[benefits._Active]:
        rows = Entitlement.objects.filter(status="active", start_date__lte=last).order_by("pk")
        return [
            benefits._Active(
                e.pk, e.person_id, e.kind, e.start_date, e.end_date, e.certified_on, e.monthly_amount
            )
            for e in rows
        ]

    months = iter(f"2025-{m:02d}" for m in range(1, 13))
    times: dict[str, list[float]] = {"checked": [], "baseline": []}
    for _ in range(rounds):
        for name, check in (("baseline", unchecked), ("checked", checked)):
            benefits._active = check
            applied = run_apply(actor=operator, kind="pension", period=next(months))
            run_decide(actor=approver, run_id=applied.pk, approve=True)
            started = time.perf_counter()
            done = run_execute(actor=operator, run_id=applied.pk)
            times[name].append(time.perf_counter() - started)
            assert done.entries == len(ids), (done.entries, len(ids))
    benefits._active = checked
    best = {name: min(values) for name, values in times.items()}
    say(f"pension run over {len(ids):,} pensions, best of {rounds}: baseline {best['baseline']:.3f} s, "
        f"checked {best['checked']:.3f} s, ratio {best['baseline'] / best['checked']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
