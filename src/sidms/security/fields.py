"""Model fields for personal data: encrypted at rest, with a blind index for exact-match lookup.

Why our own field: the maintained Django packages either break on Django 5 (django-cryptography), offer
only Fernet, i.e. AES-CBC rather than SM4 (django-fernet-encrypted-fields), or index with an unkeyed hash
(django-secured-fields). GB/T 39786 wants SM4 and a keyed index, so the field is small and our own; the
cryptography lives in sidms.lib.crypto.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import models

from sidms.lib import idcard
from sidms.security.keys import keyring


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _text(value: str) -> str:
    return value.strip()


# Normalisers are named, not passed as callables, so that migrations can serialise the field.
NORMALISERS: dict[str, Callable[[str], str]] = {
    "idcard": idcard.normalise,
    "digits": _digits,
    "text": _text,
}


def blind_index(domain: str, value: str, normaliser: str = "text") -> str:
    """The index that a field of this domain stores for VALUE; use it to look a value up."""
    return keyring().blind_index(NORMALISERS[normaliser](value), domain=domain)


class Sealed(str):
    """A decrypted value that remembers its ciphertext. Saving it again reuses the ciphertext, and the
    change pipeline digests and records the ciphertext, so history never holds the plain value."""

    token: bytes

    def __new__(cls, plaintext: str, token: bytes) -> Sealed:
        obj = super().__new__(cls, plaintext)
        obj.token = token
        return obj

    def __reduce__(self) -> Any:
        return (Sealed, (str(self), self.token))


def seal(domain: str, plaintext: str) -> Sealed:
    return Sealed(plaintext, keyring().encrypt(plaintext, aad=domain.encode()))


def unseal(domain: str, token: bytes) -> Sealed:
    return Sealed(keyring().decrypt(token, aad=domain.encode()), token)


class EncryptedTextField(models.BinaryField):
    """A text value stored only as ciphertext. The domain is bound as associated data, so a ciphertext
    copied into another column (or another field) does not decrypt."""

    def __init__(self, *args: Any, domain: str = "", **kwargs: Any) -> None:
        self.domain = domain
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs["editable"] = True
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["domain"] = self.domain
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str:
        if value is None:
            return ""
        return unseal(self.domain, bytes(value))

    def to_python(self, value: Any) -> Any:
        return "" if value is None else value

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, Sealed):
            return super().get_db_prep_value(value.token, connection, prepared)
        token = keyring().encrypt(str(value), aad=self.domain.encode())
        return super().get_db_prep_value(token, connection, prepared)

    def get_lookup(self, lookup_name: str) -> Any:
        # Ciphertexts are randomised: any comparison in SQL would silently match nothing. Use the index.
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def value_to_string(self, obj: models.Model) -> str:
        return str(self.value_from_object(obj))


class BlindIndexField(models.CharField):
    """The keyed digest of another field's normalised value, kept in step on every save."""

    def __init__(
        self, *args: Any, source: str = "", domain: str = "", normaliser: str = "text", **kwargs: Any
    ):
        self.source = source
        self.domain = domain
        self.normaliser = normaliser
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("blank", True)
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source, domain=self.domain, normaliser=self.normaliser)
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = getattr(model_instance, self.source) or ""
        digest = blind_index(self.domain, value, self.normaliser) if value else ""
        setattr(model_instance, self.attname, digest)
        return digest
