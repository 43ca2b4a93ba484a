"""How much of issue 7's write and verification goals SM3 alone takes: the keyed SM3 digests (HMAC-SM3, GB/T
39786's hash for integrity) that the bulk update, the import and the verification compute per row, priced on
this machine, against the raw baselines of bench/pipeline.py measured in the same run.

    uv run python bench/sm3_floor.py [--persons 20000] [--database-url postgres://…/sidms_bench_…]

1. The MAC's price: ``KeyRing.mac_function()`` (what the pipeline and verification call) over messages of
   0 to 2,048 bytes, fitted as a fixed cost per MAC plus a cost per byte; HMAC-SHA256 beside it, for scale.
2. An isolated store (bench/pipeline.py's set-up) with PERSONS persons; forked workers off, so that every MAC
   is counted in this process. Counted while it runs: one update batch (the address of every active person),
   one import batch (PERSONS ÷ 4 new persons), and ``verify_store(workers=1)``.
3. For each: MACs and bytes per row, their price per row, the raw baseline per row (raw ``executemany``
   UPDATE and INSERT of the same rows, as bench/pipeline.py does), and the highest ratio the door could reach
   if everything but the MACs were free: raw ÷ MACs. Issue 7's goal is ≥ 0.2 for the writes; for the
   verification, 100,000 revisions and rows a second on both cores.

The figures are a floor under the door's cost, not a profile: the door also encrypts (SM4), builds JSON and
writes two rows (the record and its revision) where the baseline writes one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pipeline as bench  # bench/pipeline.py: the isolated store and the baselines

SIZES = (0, 64, 256, 512, 1024, 2048)


def price(mac: Callable[[bytes], Any], rounds: int = 20000) -> tuple[float, float]:
    """(µs per MAC, µs per byte) of MAC, by least squares over SIZES (best of three runs each)."""
    points = []
    for size in SIZES:
        data = os.urandom(size)
        best = min(_time(mac, data, rounds) for _ in range(3))
        points.append((size, best))
    xs, ys = zip(*points, strict=True)
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope


def _time(mac: Callable[[bytes], Any], data: bytes, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        mac(data)
    return (time.perf_counter() - started) / rounds * 1e6


class Counter:
    """Counts what every MAC of the key ring is asked to cover (both of its entry points)."""

    def __init__(self) -> None:
        from sidms.lib.crypto import KeyRing

        self.macs = self.bytes = 0
        original_function, original_mac = KeyRing.mac_function, KeyRing.mac
        counter = self

        def counted(mac: Callable[[bytes], str]) -> Callable[[bytes], str]:
            def mac_counted(data: bytes) -> str:
                counter.macs += 1
                counter.bytes += len(data)
                return mac(data)

            return mac_counted

        KeyRing.mac_function = lambda ring: counted(original_function(ring))  # type: ignore[method-assign]
        KeyRing.mac = lambda ring, data: counted(lambda d: original_mac(ring, d))(data)  # type: ignore[method-assign]

    def take(self) -> tuple[int, int]:
        taken = (self.macs, self.bytes)
        self.macs = self.bytes = 0
        return taken


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    data_dir = bench.isolate(
        bench.parse_args(["--database-url", args.database_url] if args.database_url else [])
    )
    try:
        _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if args.database_url:
            bench._postgres(args.database_url, create=False)
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


def _run(args: argparse.Namespace) -> None:
    bench.setup_store()
    from django.conf import settings

    from sidms.changes.verify import verify_store
    from sidms.core.keys import keyring

    ring = keyring()
    fixed, per_byte = price(ring.mac_function())
    import hmac

    sha_fixed, sha_per_byte = price(lambda data: hmac.new(b"k" * 32, data, "sha256").hexdigest())
    print(f"HMAC-SM3 (the key ring's): {fixed:.2f} µs a MAC + {per_byte * 1000:.2f} µs per 1,000 bytes")
    print(
        f"HMAC-SHA256, for scale:    {sha_fixed:.2f} µs a MAC + {sha_per_byte * 1000:.2f} µs per 1,000 bytes"
    )
    bench.say(f"store: {os.environ['SIDMS_DATABASE_URL']}")
    bench.load(args.persons, {})
    settings.SIDMS_WORKERS = -1  # every MAC in this process, where it is counted
    counter = Counter()
    results: dict[str, Any] = {}
    rows = bench.pipeline_batch(results, address=bench.BATCH_ADDRESS.format(1))
    update = counter.take()
    bench.raw_baseline(results, final_address=bench.BATCH_ADDRESS.format(1), runs=3)
    bench.import_batch(results, args.persons // 4)
    imported = counter.take()
    report = verify_store(workers=1)
    verified = counter.take()
    checked = report.revisions + sum(report.rows.values())

    def line(name: str, count: int, taken: tuple[int, int], door_s: float, raw_rate: float | None) -> None:
        macs, size = taken[0] / count, taken[1] / count
        cost = macs * fixed + size * per_byte
        text = (f"  {name:<22} {count:>8,} rows: {macs:4.2f} MACs, {size:6,.0f} bytes a row = {cost:5.1f} µs of "
                f"SM3; the door {door_s / count * 1e6:6.1f} µs a row")  # fmt: skip
        if raw_rate:
            raw = 1e6 / raw_rate
            text += (
                f"; raw {raw:4.1f} µs a row: ratio ≤ {raw / cost:.2f} with nothing but the MACs (goal ≥ 0.2)"
            )
        else:
            text += f"; ≤ {2e6 / cost:,.0f} a second on two cores with nothing but the MACs (goal ≥ 100,000)"
        print(text)

    print("per row, counted in this process:")
    update_rows, update_s = results["pipeline"]
    line("bulk update", update_rows, update, update_s, bench.rate(*results["raw"]))
    import_rows, import_s = results["import"]
    line("import", import_rows, imported, import_s, bench.rate(*results["raw_insert"]))
    line("verification", checked, verified, report.seconds, None)
    print(f"(store: {rows:,} persons updated; verification {report.revisions:,} revisions + "
          f"{sum(report.rows.values()):,} rows, one process)")  # fmt: skip


if __name__ == "__main__":
    main()
