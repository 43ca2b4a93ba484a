from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP

from sidms.security.models import SealedTOTPDevice


class Command(BaseCommand):
    help = "Print the current TOTP code of an enrolled account (for demo accounts and drills)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        device = SealedTOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is None:
            raise CommandError(
                f"没有已绑定的动态口令设备：{username} / no enrolled TOTP device for {username}"
            )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
