"""Instruction counts of one bulk update or one import batch_execute, for judging a change on a loaded machine.

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.update \\
        .venv/bin/python bench/bulk_callgrind.py update [--rows 1000]   (not `uv run`: valgrind would trace uv)
    callgrind_annotate --inclusive=yes /tmp/cg.update | head -60

On a quick store of pipeline.py (SQLite in a temp dir, thrown away afterwards) with ROWS persons, callgrind's
instrumentation is switched on (``callgrind_control -i on``) only around ``_execute_update`` (an update
batch over every active person), ``_execute_import`` (ROWS new persons) or ``check_file`` (the dry run of a CSV
of ROWS new persons). Instruction counts do not depend
on the load of the machine, unlike the timings of pipeline.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pipeline


def _toggle(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], capture_output=True)  # noqa: S603, S607


def _instrumented(function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        _toggle(True)
        try:
            return function(*args, **kwargs)
        finally:
            _toggle(False)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", choices=["update", "import", "check"])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    options = pipeline.parse_args(["--quick", "--persons", str(args.rows), "--changes", str(args.rows)])
    data_dir = pipeline.isolate(options)
    try:
        pipeline.setup_store()
        pipeline.load(args.rows, {})
        from sidms.changes import batches

        if args.path == "update":
            batches._execute_update = _instrumented(batches._execute_update)  # type: ignore[method-assign]
            pipeline.pipeline_batch({}, address=pipeline.BATCH_ADDRESS.format(1))
        elif args.path == "check":
            # The dry run of a GBK CSV of ROWS new persons (bench/imports.py's file): read, repair, the
            # collection rules, the entry rules, duplicates in the file and in the registry.
            import imports as bench_imports
            from sidms.exchange import imports

            data = bench_imports.csv_file(10_000_000, args.rows)
            checked = _instrumented(imports.check_file)(data, kind="persons", filename="bench.csv")
            print(f"checked {len(checked.rows)} rows, {len(checked.failing)} failing")
        else:
            batches._execute_import = _instrumented(batches._execute_import)  # type: ignore[method-assign]
            pipeline.import_batch({}, args.rows)
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
