"""Second-factor devices whose TOTP secret is encrypted at rest.

django-otp's TOTPDevice keeps the shared secret as plain hex in its table: anyone with a database dump
could then generate every staff member's codes. This proxy keeps django-otp's verification, throttling and
replay protection, but stores the secret as a key-ring ciphertext, bound by its associated data to its
purpose and to its account: a sealed secret copied onto another account does not decrypt there, so one
person's authenticator cannot sign in as another. Only this class can read such a key.
"""

from __future__ import annotations

from base64 import b32encode, b64decode, b64encode, b85decode, b85encode
from os import urandom
from typing import Any

from django.db import models
from django_otp.plugins.otp_totp.models import TOTPDevice

from sidms.core.keys import keyring

# django-otp's key column holds 80 characters: the 20-byte secret, base64 inside an SM4-GCM token (60 bytes),
# base85 outside, fits in 76.
_PREFIX = "$"


def _aad(user_id: Any) -> bytes:
    return f"otp.totp.key:{user_id}".encode()


class SealedTOTPDevice(TOTPDevice):
    class Meta:
        proxy = True
        verbose_name = "TOTP device (sealed key)"

    @classmethod
    def enrol(cls, user: Any, *, name: str, confirmed: bool) -> SealedTOTPDevice:
        device = cls(user=user, name=name, confirmed=confirmed)
        secret = b64encode(urandom(20)).decode("ascii")
        device.key = seal_secret(secret, user.pk)
        device.save()
        return device

    @property
    def secret_base32(self) -> str:
        """The secret as authenticator apps take it when typed in by hand."""
        return b32encode(self.bin_key).decode("ascii").rstrip("=")

    @property
    def bin_key(self) -> bytes:
        if not self.key.startswith(_PREFIX):
            raise ValueError("TOTP key is not sealed; enrol the device again")
        return b64decode(keyring().decrypt(b85decode(self.key[len(_PREFIX) :]), aad=_aad(self.user_id)))


def seal_secret(secret_b64: str, user_id: Any) -> str:
    """A TOTP secret (base64) as the key column stores it, bound to its account."""
    return _PREFIX + b85encode(keyring().encrypt(secret_b64, aad=_aad(user_id))).decode("ascii")


class RateCount(models.Model):
    """Requests counted per bucket and fixed time window (a public page's rate limit, shared by every
    server process because it lives in the database; see :func:`sidms.security.limits.hit`)."""

    bucket = models.CharField(max_length=100)
    slot = models.BigIntegerField()  # the window's start, in seconds since the epoch / the window's length
    hits = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "slot"], name="security_ratecount_once")]
        indexes = [models.Index(fields=["slot"], name="security_ratecount_slot")]

    def __str__(self) -> str:
        return f"{self.bucket} @{self.slot}: {self.hits}"
