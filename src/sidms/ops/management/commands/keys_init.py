from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from sidms.core.keys import ensure_key_file


class Command(BaseCommand):
    help = "Create the field-encryption key file (SIDMS_KEY_FILE) if it does not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.SIDMS_KEY_FILE)
        if ensure_key_file(path, suite=settings.SIDMS_CRYPTO_SUITE):
            self.stdout.write(f"created {path} (suite {settings.SIDMS_CRYPTO_SUITE}, mode 0600)")
        else:
            self.stdout.write(f"{path} exists; left as it is")
