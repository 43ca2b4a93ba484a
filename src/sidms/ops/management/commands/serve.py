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

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        serve(host=host, port=port, workers=workers, stdout=self.stdout)


def serve(*, host: str, port: int, workers: int, stdout: Any) -> None:
    granian = shutil.which("granian", path=str(Path(sys.executable).parent)) or shutil.which("granian")
    if granian is None:
        raise CommandError("granian 未安装 / granian is not installed")
    stdout.write(f"serving on http://{host}:{port}/ (granian, {workers} workers) — Ctrl+C to stop")
    stdout.flush()
    argv = [
        granian, "--interface", "wsgi", "--host", host, "--port", str(port), "--workers", str(workers),
        "--no-ws", "sidms.wsgi:application",
    ]  # fmt: skip
    os.execv(granian, argv)  # noqa: S606  (replaces this process: signals reach granian directly)
