"""Model fields for personal data: encrypted at rest, bound to their record, with a blind index for lookup.

Why our own field: the maintained Django packages either break on Django 5 (django-cryptography), offer
only Fernet, i.e. AES-CBC rather than SM4 (django-fernet-encrypted-fields), or index with an unkeyed hash
(django-secured-fields). GB/T 39786 wants SM4 and a keyed index, so the field is small and our own; the
cryptography lives in sidms.lib.crypto.

Binding. A ciphertext's associated data names the field's domain (``person.bank_account``) and the record's
stable identity (its ``uid``): a ciphertext copied to another row, or to another field, does not decrypt.
Because Django's ``from_db_value`` does not see the row, a loaded value stays a ``Ciphertext`` until the
attribute is read; the field's descriptor then decrypts it with the instance's uid (and caches the result).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from sidms.core.errors import damaged_value
from sidms.core.keys import keyring
from sidms.lib import idcard
from sidms.lib.crypto import DecryptionError


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


def aad(domain: str, uid: Any) -> bytes:
    """The associated data of a ciphertext: its field's domain and its record's identity."""
    return f"{domain}:{uid}".encode()


class Sealed(str):
    """A plain value that remembers its ciphertext. Saving it again reuses the ciphertext, and the change
    pipeline records the ciphertext, so history never holds the plain value."""

    token: bytes

    def __new__(cls, plaintext: str, token: bytes) -> Sealed:
        obj = super().__new__(cls, plaintext)
        obj.token = token
        return obj

    def __reduce__(self) -> Any:
        return (Sealed, (str(self), self.token))


class Ciphertext:
    """A stored token not decrypted yet (the row's uid is needed, see the module's docstring)."""

    __slots__ = ("token",)

    def __init__(self, token: bytes) -> None:
        self.token = token

    def __repr__(self) -> str:
        return "Ciphertext(…)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ciphertext) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)


def seal(domain: str, uid: Any, plaintext: str) -> Sealed:
    return Sealed(plaintext, keyring().encrypt(plaintext, aad=aad(domain, uid)))


def unseal(domain: str, uid: Any, token: bytes) -> Sealed:
    return Sealed(keyring().decrypt(token, aad=aad(domain, uid)), token)


class _Decrypting(DeferredAttribute):
    """A data descriptor (it has __set__), so that reads go through it even when the loaded value sits in the
    instance's __dict__."""

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Ciphertext):
            try:
                value = unseal(self.field.domain, instance.uid, value.token)  # type: ignore[attr-defined]
            except DecryptionError:
                # Not this record's ciphertext: an integrity alert naming it, never a server error.
                raise damaged_value(type(instance), instance.pk, self.field.attname) from None
            instance.__dict__[self.field.attname] = value
        return value


class EncryptedTextField(models.BinaryField):
    """A text value stored only as ciphertext bound to its record (the model needs a ``uid`` field)."""

    descriptor_class = _Decrypting

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

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return ""
        return Ciphertext(bytes(value))

    def to_python(self, value: Any) -> Any:
        return "" if value is None else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = model_instance.__dict__.get(self.attname)
        if isinstance(value, str) and value != "" and not isinstance(value, Sealed):
            value = seal(self.domain, model_instance.uid, value)  # type: ignore[attr-defined]
            model_instance.__dict__[self.attname] = value
        return value

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, Sealed | Ciphertext):
            return super().get_db_prep_value(value.token, connection, prepared)
        # Plain text reaches here only from code that bypassed pre_save (a queryset update): without the
        # record's identity it cannot be bound, so it is refused rather than stored unbound.
        raise ValueError(f"{self.domain}: plain values are encrypted when the record is saved")

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

    def index_of(self, value: str) -> str:
        return blind_index(self.domain, value, self.normaliser) if value else ""

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        digest = self.index_of(getattr(model_instance, self.source) or "")
        setattr(model_instance, self.attname, digest)
        return digest
