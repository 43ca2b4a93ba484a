from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve sidms through granian (WSGI, several worker processes): a production server, not runserver."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument(
            "--threads", type=int, default=THREADS,
            help=f"threads per worker that run requests, each with its own database connection (default {THREADS})",
        )  # fmt: skip

    def handle(self, *args: Any, host: str, port: int, workers: int, threads: int, **options: Any) -> None:
        serve(host=host, port=port, workers=workers, threads=threads, stdout=self.stdout)


# Threads per worker process that run requests (granian's "blocking threads"). Granian's own default for WSGI
# is half its backpressure, 256 per worker: as many requests as clients run at once, each thread holding a
# database connection of its own (Django keeps one per thread) — 2 workers at 64 clients open 128, beyond
# PostgreSQL's max_connections of 100, and the threads only contend for one interpreter lock per worker
# anyway. A few threads per worker keep both cores busy while one request waits on the database; the other
# requests wait in granian's queue, holding no connection.
THREADS = 8


def serve(*, host: str, port: int, workers: int, threads: int = THREADS, stdout: Any) -> None:
    granian = shutil.which("granian", path=str(Path(sys.executable).parent)) or shutil.which("granian")
    if granian is None:
        raise CommandError("granian 未安装 / granian is not installed")
    stdout.write(
        f"serving on http://{host}:{port}/ (granian, {workers} workers × {threads} threads) — Ctrl+C to stop"
    )
    stdout.flush()
    argv = [
        granian, "--interface", "wsgi", "--host", host, "--port", str(port), "--workers", str(workers),
        "--blocking-threads", str(threads), "--no-ws", "sidms.wsgi:application",
    ]  # fmt: skip
    os.execv(granian, argv)  # noqa: S606  (replaces this process: signals reach granian directly)
