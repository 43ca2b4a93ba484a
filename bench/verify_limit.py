"""The public statement-verification page's rate limit (/verify/statement/): what the two counters (per
client address and global, one INSERT … ON CONFLICT DO UPDATE … RETURNING each, sidms.security.limits.hit)
add to a lookup, against the same view with the limiter switched off, in the same process and store.

    uv run python bench/verify_limit.py [--lookups 2000]
        [--database-url postgres://postgres@127.0.0.1:5432/sidms_bench_verify]

Each lookup is the view function called with a request from its own address (under the limit) and an
unknown number (the verification audited as not found, the page rendered), the way an enumeration attempt
looks. Prints lookups per second with and without the limiter, and the ratio (1.0 = free).
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
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--database-url", help=f"postgres://…/{BENCH_DB_PREFIX}… (created and dropped here)")
    args = parser.parse_args()
    isolate(args)
    try:
        setup_store()
        run(args.lookups)
    finally:
        if args.database_url:
            from django.db import connections

            connections.close_all()
            _postgres(args.database_url, create=False)


def run(lookups: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import RequestFactory

    from sidms.web.business import views

    settings.SIDMS_VERIFY_PER_ADDRESS = 10
    settings.SIDMS_VERIFY_GLOBAL = 10 * lookups  # never reached: every lookup is served
    factory = RequestFactory(HTTP_HOST="127.0.0.1")

    def lookups_per_second(offset: int) -> float:
        requests = [
            factory.get("/verify/statement/", {"number": f"{i:020d}"}, REMOTE_ADDR=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
            for i in range(offset, offset + lookups)
        ]  # fmt: skip
        started = time.perf_counter()
        for request in requests:
            assert views.verify_statement(request).status_code == 200
        return lookups / (time.perf_counter() - started)

    limited = views._verify_refused
    lookups_per_second(0)  # warm-up (templates, first queries)
    with_limit = lookups_per_second(100_000)
    views._verify_refused = lambda request: False  # type: ignore[assignment]
    try:
        without = lookups_per_second(200_000)
    finally:
        views._verify_refused = limited  # type: ignore[assignment]
    say(f"verification page on {connection.vendor}, {lookups:,} lookups of unknown numbers, one address each")
    say(f"  without the limiter {without:8.0f} lookups/s")
    say(f"  with the limiter    {with_limit:8.0f} lookups/s   ratio {with_limit / without:.2f}")


if __name__ == "__main__":
    main()
