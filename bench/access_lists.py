"""What the audit log's subject index (B1, ``sidms.audit.subjects``) costs: the person list page's read and
an export's reads, each with its audit events appended as a page view appends them; the index's own insert
of one 100,000-row export's names; the access record's query of a person on a log grown with list events;
and the chain verification of that log (which now checks the index too).

    uv run python bench/access_lists.py [--persons 2000] [--lists 20000] [--repeat 300]
        [--database-url postgres://postgres@127.0.0.1:5432/sidms_bench_access]

Run it on two checkouts for before and after: the figures that need the index are skipped where there is
none (``PYTHONPATH=<other checkout>/src`` runs the other code with this script). The store is isolated and
thrown away (bench/pipeline.py's set-up).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline  # bench/pipeline.py: isolate, setup_store, load


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument(
        "--lists", type=int, default=20000, help="list events of 50 persons to grow the log by"
    )
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--database-url", default="")
    return parser.parse_args()


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.2f} ms, mean {statistics.fmean(values) * 1000:.2f} ms"


def main() -> None:
    args = parse_args()
    pipeline.isolate(args)
    try:
        pipeline.setup_store()
        run(args)
    finally:
        if args.database_url:
            from django.db import connections

            connections.close_all()
            pipeline._postgres(args.database_url, create=False)


def run(args: argparse.Namespace) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from sidms.access.policies import record_list
    from sidms.audit.models import AuditEvent
    from sidms.audit.services import audit_record, buffered_reads
    from sidms.audit.verify import Report, verify_chain
    from sidms.core.caller import Caller
    from sidms.core.kernel import spec_for
    from sidms.exchange import exports
    from sidms.exchange.models import ExportRequest
    from sidms.registry.models import Person, Staff

    try:
        from sidms.audit import subjects
    except ImportError:
        subjects = None  # type: ignore[assignment]
    pipeline.load(args.persons, {})
    print(
        f"source: {sys.modules['sidms'].__file__}, engine {connection.vendor}, subject index: {subjects is not None}"
    )
    spec = spec_for("person")
    from datetime import date

    from sidms.security.accounts import staff_create

    clerk = Staff.objects.get(username="clerk_hc")
    city = staff_create(actor="system:bench", username="bench_city", password="bench-Passw0rd!", district="371000",  # noqa: S106
                        posts=("window_clerk",), full_name="市级导出", agreement_signed_on=date(2026, 1, 1))  # fmt: skip
    shown = record_list(actor=clerk, spec=spec, page=1, per_page=200).page.object_list
    print(f"{clerk.username}'s first page holds {len(shown)} of 200")
    print(f"list reader {clerk.username} ({clerk.district_id}), exporter {city.username} (city level)")

    for listed, per_page in (("person", 50), ("person", 200), ("employment", 50)):
        # An employment list names its rows' persons as well (Declaration.subject): their access records list it.
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            with buffered_reads():  # as a page: its read event appended at the end, in its own transaction
                record_list(actor=clerk, spec=spec_for(listed), page=1, per_page=per_page)
            times.append(time.perf_counter() - started)
        print(
            f"{listed} list page, {per_page} a page (read door + audit append), {args.repeat} runs: {ms(times)}"
        )

    persons = Person.objects.count()
    request = ExportRequest(pk=10**6, entity="person", query="", filters={}, sort="", format="csv",
                            encoding="utf-8-sig", purpose="bench", requester=city)  # fmt: skip
    times = []
    for _ in range(5):
        started = time.perf_counter()
        with transaction.atomic():
            _data, rows = exports._build(Caller.of(city), request, timezone.now())
        times.append(time.perf_counter() - started)
    print(
        f"export of {rows:,} persons (CSV, reads of 1,000 a page with their audit events), 5 runs: {ms(times)}"
    )
    print(f"  = {statistics.median(times) / rows * 1e6:.1f} µs a row")

    if subjects is not None:
        names = [("person", f"37{n:08d}", 0) for n in range(100_000)]
        times = []
        for _ in range(3):
            head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
            rows_ = [(e, k, head + 1 + i // 1000) for i, (e, k, _s) in enumerate(names)]
            with transaction.atomic():
                started = time.perf_counter()
                subjects.insert(rows_)
                times.append(time.perf_counter() - started)
                transaction.set_rollback(True)
        print(f"subject index insert of 100,000 rows (one export of 100,000 persons' names): {ms(times)}")

    # Grow the log: list events of 50 persons each, named at random, as many clerks' pages would.
    numbers = list(Person.objects.values_list("person_no", flat=True))
    rng = random.Random(7)
    started = time.perf_counter()
    done = 0
    while done < args.lists:
        with transaction.atomic():
            for _ in range(min(1000, args.lists - done)):
                audit_record("read.person_list", actor=clerk, object_type="person",
                             detail={"by": "all", "shown": rng.sample(numbers, 50)})  # fmt: skip
                done += 1
    seconds = time.perf_counter() - started
    print(f"grew the log by {args.lists:,} list events of 50 persons: {seconds:.1f} s "
          f"({seconds / args.lists * 1000:.2f} ms an event, audit_record in transactions of 1,000)")  # fmt: skip
    events = AuditEvent.objects.count()
    print(f"log: {events:,} events, {persons:,} persons")

    if subjects is not None:
        from sidms.web.records import access

        wanted = Person.objects.filter(person_no=numbers[0]).get()
        times = []
        for _ in range(50):
            started = time.perf_counter()
            found = access.events_about(wanted)
            total = found.count()
            page = [row["seq"] for row in found[:50]]
            access.events_of(page)
            times.append(time.perf_counter() - started)
        print(f"access record of one person ({total:,} events): count + first page of 50: {ms(times)}")

    for _ in range(1):
        report = Report()
        started = time.perf_counter()
        verify_chain(report, workers=2)
        seconds = time.perf_counter() - started
        print(f"chain verification (2 workers) of {report.events:,} events: {seconds:.2f} s = "
              f"{report.events / seconds:,.0f} events/s")  # fmt: skip


if __name__ == "__main__":
    main()
