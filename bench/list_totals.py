"""What agreeing with the rows withheld costs: the person list page (its total counts what it shows when the
list fits on the page, else says how many of it the page withheld), what an exact total of a longer list
would cost (every record of the list read and checked against its history on each page view), and an export
request above the threshold, whose count is checked record by record up to the threshold, against the same
request counted in SQL only and against the build of its file.

    uv run python bench/list_totals.py [--persons 2000] [--repeat 200]
        [--database-url postgres://postgres@127.0.0.1:5432/sidms_bench_totals]

Run it on two checkouts for the list page before and after (``PYTHONPATH=<other checkout>/src``); the export
figures that need the bounded check are skipped where there is none. The store is isolated and thrown away
(bench/pipeline.py's set-up).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline  # bench/pipeline.py: isolate, setup_store, load


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database-url", default="")
    return parser.parse_args()


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


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
    from datetime import date

    from django.db import connection, transaction
    from django.utils import timezone

    from sidms.access.policies import record_list, record_scope, withhold
    from sidms.audit.services import buffered_reads
    from sidms.core.caller import Caller
    from sidms.core.kernel import spec_for
    from sidms.exchange import exports
    from sidms.registry.models import Staff
    from sidms.security.accounts import staff_create

    pipeline.load(args.persons, {})
    spec = spec_for("person")
    clerk = Staff.objects.get(username="clerk_hc")
    city = staff_create(actor="system:bench", username="bench_city", password="bench-Passw0rd!", district="371000",  # noqa: S106
                        posts=("window_clerk",), full_name="市级导出", agreement_signed_on=date(2026, 1, 1))  # fmt: skip
    threshold = exports.export_threshold()
    print(f"source: {sys.modules['sidms'].__file__}, engine {connection.vendor}")
    print(f"list reader {clerk.username} ({clerk.district_id}, {record_scope(clerk, spec).count()} persons), "
          f"exporter {city.username} (city level, {record_scope(city, spec).count()}), threshold {threshold}")  # fmt: skip

    for _ in range(20):  # warm the caches and the compiled statements
        with buffered_reads():
            record_list(actor=clerk, spec=spec, page=1, per_page=50)
    page_ms = {}
    for per_page in (50, 200):
        times = []
        for i in range(args.repeat):
            started = time.perf_counter()
            with buffered_reads():  # as a page: its read event appended at the end, in its own transaction
                record_list(actor=clerk, spec=spec, page=1 + i % 2, per_page=per_page)
            times.append(time.perf_counter() - started)
        page_ms[per_page] = median_ms(times)
        print(f"person list page, {per_page} a page, {args.repeat} runs: median {page_ms[per_page]:.2f} ms")

    for who, staff in (("district clerk", clerk), ("city level", city)):
        times, kept = [], 0
        for _ in range(5):
            started = time.perf_counter()
            part, kept = [], 0
            for record in record_scope(staff, spec).order_by("pk").iterator(chunk_size=500):
                part.append(record)
                if len(part) == 500:
                    kept += len(part) - len(withhold(spec, part, Caller.of(staff)))
                    part = []
            kept += len(part) - len(withhold(spec, part, Caller.of(staff)))
            times.append(time.perf_counter() - started)
        cost = median_ms(times)
        print(f"an exact total ({who}: every one of {kept} records read and checked): median {cost:.1f} ms "
              f"= {cost / kept * 1000:.0f} µs a record, {cost / page_ms[50]:.1f}× the page of 50")  # fmt: skip

    if not hasattr(exports, "_shown_up_to"):
        return
    caller = Caller.of(city)
    records = exports._selected(caller, spec, "", {})
    counted, checked = [], []
    for _ in range(5):
        started = time.perf_counter()
        total = records.count()
        counted.append(time.perf_counter() - started)
        started = time.perf_counter()
        shown = exports._shown_up_to(caller, spec, records, threshold + 1)
        checked.append(time.perf_counter() - started)
    print(f"export decision on {total} rows: SQL count median {median_ms(counted):.2f} ms; checked up to "
          f"{threshold + 1} ({shown} found) median {median_ms(checked):.1f} ms")  # fmt: skip
    asked = exports.request_export(actor=city, entity="person", purpose="bench", fmt="csv").request
    times = []
    for _ in range(3):
        started = time.perf_counter()
        with transaction.atomic():
            _data, rows = exports._build(caller, asked, timezone.now())
        times.append(time.perf_counter() - started)
    print(f"its file ({rows} rows) built at download: median {median_ms(times):.0f} ms; the check is "
          f"{median_ms(checked) / median_ms(times):.2f} of it")  # fmt: skip


if __name__ == "__main__":
    main()
