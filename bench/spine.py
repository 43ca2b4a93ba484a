"""Every ratio of issue 7's table in one run per engine: bench/pipeline.py (bulk update, import, chain
verification, revisions and rows verified per second) and bench/pages.py (the person page, full stack ÷ plain
rendering, c=64), each in its own process on a fresh store of the same engine, then one table.

    uv run python bench/spine.py [--quick] [--database-url postgres://postgres@127.0.0.1:5432/sidms_bench]

The figures are ratios to baselines measured in the same run (see each script), so they mean something on
any machine; the absolute rates are printed too. Nothing here is asserted: the goals are shown beside the
measures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def run(script: str, args: list[str], out: Path) -> dict[str, float]:
    command = [sys.executable, str(BENCH / script), *args, "--json", str(out)]
    print(f"$ {' '.join(command)}", flush=True)
    subprocess.run(command, check=True)  # noqa: S603  (our own scripts)
    return dict(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small runs (a smoke test of the scripts)")
    parser.add_argument("--database-url", help="postgres://…/sidms_bench… (each script creates and drops it)")
    parser.add_argument("--persons", type=int, help="persons for the page benchmark (default 3000)")
    args = parser.parse_args()
    engine = ["--database-url", args.database_url] if args.database_url else []
    with tempfile.TemporaryDirectory() as folder:
        pipeline = run(
            "pipeline.py", [*engine, *(["--quick"] if args.quick else [])], Path(folder) / "p.json"
        )
        page_args = [*engine, "--seconds", "5" if args.quick else "10"]
        if args.persons:
            page_args += ["--persons", str(args.persons)]
        pages = run("pages.py", page_args, Path(folder) / "w.json")
    print()
    print(f"issue 7, one run on {pipeline['database']}")
    print(f"  {'measure':<66} {'measured':>10}  goal")
    rows = [
        ("bulk update path ÷ raw executemany UPDATE", f"{pipeline['update']:.3f}", "≥ 0.2"),
        (
            "  its writes alone, rows + revisions ÷ rows (the door's ceiling)",
            f"{pipeline['update_floor']:.3f}",
            "",
        ),
        ("import through approved batches ÷ raw executemany INSERT", f"{pipeline['import']:.3f}", "≥ 0.2"),
        (
            "  its writes alone, rows + revisions ÷ rows (the door's ceiling)",
            f"{pipeline['import_floor']:.3f}",
            "",
        ),
        ("chain verification ÷ bare chain.link over the same payloads", f"{pipeline['chain']:.3f}", "≥ 0.7"),
        (
            "revisions and rows verified per second (both cores)",
            f"{pipeline['verified_per_s']:,.0f}",
            "≥ 100,000",
        ),
        ("person page, full stack ÷ plain rendering, c=64", f"{pages['pages']:.2f}", "≥ 0.5"),
        ("person page, full stack, p99 at c=64 (ms)", f"{pages['full_p99_ms']:.0f}", "≤ 50"),
    ]
    for label, value, goal in rows:
        print(f"  {label:<66} {value:>10}  {goal}")
    print(
        f"  (update {pipeline['update_rows_per_s']:,.0f} rows/s, import {pipeline['import_rows_per_s']:,.0f} rows/s; "
        f"pages {pages['full_per_s']:,.0f} vs {pages['plain_per_s']:,.0f} req/s, plain p99 {pages['plain_p99_ms']:.0f} ms; "
        f"verification over {pipeline['events']:,.0f} events and {pipeline['revisions_and_rows']:,.0f} revisions + rows)"
    )


if __name__ == "__main__":
    main()
