from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from sidms.core.keys import ensure_key_file


class Command(BaseCommand):
    help = (
        "Set up ./var (SQLite in WAL mode, a generated key file), migrate, load the deterministic Weihai demo "
        "data through the change pipeline, create one account per post, and serve on 127.0.0.1."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--persons", type=int, default=3000, help="persons to generate (up to 1,000,000)")
        parser.add_argument("--no-serve", action="store_true", help="prepare everything, then exit")

    def handle(self, *args: Any, port: int, host: str, persons: int, no_serve: bool, **options: Any) -> None:
        if not 1 <= persons <= 1_000_000:
            self.stderr.write("--persons 须在 1 到 1,000,000 之间 / must be between 1 and 1,000,000")
            raise SystemExit(2)
        key_file = Path(settings.SIDMS_KEY_FILE)
        if ensure_key_file(key_file, suite=settings.SIDMS_CRYPTO_SUITE):
            self.stdout.write(
                f"generated key file {key_file} (suite {settings.SIDMS_CRYPTO_SUITE}, mode 0600)"
            )
        self.stdout.write(f"database: {_where()}")
        self.stdout.write("migrating …")
        call_command("migrate", interactive=False, verbosity=0)

        # Imported here: these modules read the database and the key ring, which exist only from here on.
        from sidms.audit.checkpoints import write_checkpoint
        from sidms.demo.generate import generate
        from sidms.demo.loader import ensure_accounts, link_agencies, load_demo
        from sidms.registry.models import Person

        if Person.objects.exists() and Person.objects.filter(cipher_mac="").exists():
            # Written before encryption was bound to each record: its ciphertexts do not decrypt as this
            # version reads them, and no upgrade re-encrypts them yet (docs/architecture.md, known gaps).
            self.stderr.write(
                f"{settings.DATA_DIR} 中的演示数据来自旧版本（加密数据未绑定到记录），本版本无法读取。"
                "请将该目录移走后重新运行 `uv run sidms demo`。\n"
                f"The demo data in {settings.DATA_DIR} predates record-bound encryption and cannot be read by "
                "this version. Move that directory aside and run `uv run sidms demo` again."
            )
            raise SystemExit(2)
        accounts = ensure_accounts()
        if Person.objects.exists():
            self.stdout.write(f"demo data present ({Person.objects.count()} persons): kept as it is")
        else:
            self.stdout.write(f"loading Weihai demo data ({persons} persons) through the change pipeline …")
            started = time.perf_counter()
            counts = load_demo(generate(persons=persons), progress=self.stdout.write)
            from sidms.demo.business import load_business

            self.stdout.write(
                "loading contributions, payments, interest and benefits from 2023 to last month …"
            )
            counts.update(load_business(progress=self.stdout.write))
            elapsed = time.perf_counter() - started
            self.stdout.write(f"loaded {sum(counts.values())} records in {elapsed:.1f} s")
            write_checkpoint()
        link_agencies()
        self._print_accounts(accounts)
        if no_serve:
            return
        from sidms.ops.management.commands.serve import serve

        serve(host=host, port=port, workers=2, stdout=self.stdout)

    def _print_accounts(self, accounts: list[Any]) -> None:
        self.stdout.write("")
        self.stdout.write(
            "演示账号 / demo accounts (password, then the 6-digit code of `uv run sidms totp USERNAME`)"
        )
        self.stdout.write(f"{'username':<16} {'password':<18} {'TOTP secret (base32)':<34} role")
        for account, password, secret in accounts:
            self.stdout.write(f"{account.username:<16} {password:<18} {secret:<34} {account.role}")
        self.stdout.write(
            f"(passwords are kept in {Path(settings.DATA_DIR) / 'demo-accounts.txt'}, mode 0600)"
        )
        self.stdout.write("")


def _where() -> str:
    db = settings.DATABASES["default"]
    if "sqlite" in db["ENGINE"]:
        return f"SQLite {db['NAME']} (WAL)"
    return f"{db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST', '')}/{db['NAME']}"
