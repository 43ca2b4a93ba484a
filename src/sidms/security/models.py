"""Second-factor devices whose TOTP secret is encrypted at rest.

django-otp's TOTPDevice keeps the shared secret as plain hex in its table: anyone with a database dump
could then generate every staff member's codes. This proxy keeps django-otp's verification, throttling and
replay protection, but stores the secret as a key-ring ciphertext (`enc:` + base64), bound to its purpose
by the associated data. Only this class can read such a key; the plain TOTPDevice class cannot.
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from binascii import unhexlify
from typing import Any

from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from sidms.security.keys import keyring

_PREFIX = "enc:"
_AAD = b"otp.totp.key"


class SealedTOTPDevice(TOTPDevice):
    class Meta:
        proxy = True
        verbose_name = "TOTP device (sealed key)"

    @classmethod
    def enrol(cls, user: Any, *, name: str, confirmed: bool) -> SealedTOTPDevice:
        device = cls(user=user, name=name, confirmed=confirmed)
        device.key = _PREFIX + b64encode(keyring().encrypt(random_hex(20), aad=_AAD)).decode("ascii")
        device.save()
        return device

    @property
    def bin_key(self) -> bytes:
        if not self.key.startswith(_PREFIX):
            raise ValueError("TOTP key is not sealed; enrol the device again")
        return unhexlify(keyring().decrypt(b64decode(self.key[len(_PREFIX) :]), aad=_AAD).encode("ascii"))
