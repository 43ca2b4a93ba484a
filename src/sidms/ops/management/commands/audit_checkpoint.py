from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sidms.audit.checkpoints import checkpoint_file, write_checkpoint


class Command(BaseCommand):
    help = "Append the audit chain's head to the checkpoint file; copy that file off the host (cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        point = write_checkpoint()
        if point is None:
            self.stdout.write("the audit chain is empty; no checkpoint written")
        else:
            self.stdout.write(f"checkpoint #{point.seq} {point.hash[:16]}… appended to {checkpoint_file()}")
