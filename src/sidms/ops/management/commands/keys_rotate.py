from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sidms.continuity.keys import key_census, keys_rotate, keys_rotate_index
from sidms.core.errors import SidmsError
from sidms.lib.errors import StandardError
from sidms.ops.management.commands._operator import operator


class Command(BaseCommand):
    help = (
        "Add an encryption key version and re-encrypt every encrypted value under it, in resumable batches, while "
        "the system runs; with --index, replace the blind-index key and re-index every record (a maintenance "
        "operation: stop the application servers first). --census shows which key versions still hold values."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--operator", default="", help="the security administrator's login")
        parser.add_argument("--index", action="store_true", help="rotate the blind-index key instead")
        parser.add_argument(
            "--resume", action="store_true", help="continue an interrupted rotation (no new key)"
        )
        parser.add_argument("--chunk", type=int, default=500, help="rows per batch")
        parser.add_argument(
            "--census", action="store_true", help="only show how many values each key version holds"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["census"]:
            self.stdout.write(json.dumps(key_census(), ensure_ascii=False, indent=2))
            return
        caller = operator(options["operator"], what="安全管理员 / security administrator")
        try:
            if options["index"]:
                keys_rotate_index(actor=caller, resume=options["resume"], progress=self.stdout.write)
            else:
                keys_rotate(
                    actor=caller, resume=options["resume"], chunk=options["chunk"], progress=self.stdout.write
                )
        except (SidmsError, StandardError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(json.dumps(key_census(), ensure_ascii=False))
