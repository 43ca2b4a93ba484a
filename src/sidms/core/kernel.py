"""The kernel's registry of governed entities, built from the models' declarations when the apps are ready,
and the one representation of a record's state that history, digests and verification share.

A value's representation is plain JSON for ordinary fields; an encrypted field is ``{"enc": base64 token,
"idx": blind index}`` — the ciphertext (never the plain value) and the keyed index of the plain value. The
record's ``uid`` is part of the state, and so is each of its flags (``EntitySpec.flags``) that is set. The keyed digest of a state covers every field, the blind indexes and
the uid, but not the ciphertext bytes themselves: a ciphertext is bound to its record and field by its
associated data and to its value by the index, so re-encrypting under a new key version (sidms keys rotate)
leaves every digest as it was, while a ciphertext copied from elsewhere no longer decrypts, and an older
ciphertext of the same field no longer agrees with the index (sidms.changes.integrity checks both).

Revisions written before the uid existed (format 1) hold no "uid" and no "idx"; their digest covered the
ciphertexts and their associated data named only the field. ``view`` and ``reveal`` still read them.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from sidms.core.declare import Declaration
from sidms.core.fields import BlindIndexField, Ciphertext, EncryptedTextField, Sealed
from sidms.core.governed import Governed, LedgerFact
from sidms.core.keys import keyring
from sidms.lib import chain

REGISTRY = "registry"
LEDGER = "ledger"


@dataclass(frozen=True)
class Encrypted:
    domain: str
    index: BlindIndexField


@dataclass(frozen=True, eq=False)
class EntitySpec:
    model: type[Governed]
    declaration: Declaration

    @property
    def name(self) -> str:
        return self.declaration.entity

    @property
    def fields(self) -> tuple[str, ...]:
        return self.declaration.fields

    @property
    def label_field(self) -> str:
        return self.declaration.key

    @property
    def kind(self) -> str:
        return LEDGER if issubclass(self.model, LedgerFact) else REGISTRY

    def field(self, name: str) -> models.Field[Any, Any]:
        attname = name[:-3] if name.endswith("_id") else name
        return self.model._meta.get_field(attname)  # type: ignore[return-value]

    @cached_property
    def encrypted_fields(self) -> dict[str, Encrypted]:
        """Encrypted fields with their domains and blind indexes, looked up once (bulk paths ask per row)."""
        indexes = {f.source: f for f in self.model._meta.concrete_fields if isinstance(f, BlindIndexField)}
        out = {}
        for name in self.fields:
            field = self.field(name)
            if isinstance(field, EncryptedTextField):
                if name not in indexes:
                    raise ImproperlyConfigured(f"{self.name}.{name} is encrypted but has no blind index")
                out[name] = Encrypted(field.domain, indexes[name])
        return out

    @cached_property
    def flags(self) -> tuple[str, ...]:
        """Stored boolean columns outside the declared fields that still decide something: the flag of each
        ``database_unique`` field, which takes a record out of the database's unique key (a unit's
        credit_code_duplicate). A flag is part of the state, under its column's name, only while it is set,
        so a record never flagged has the state and digest it always had; one flipped in SQL, either way,
        no longer matches its revision."""
        return tuple(self.declaration.database_unique.values())

    @property
    def domains(self) -> dict[str, str]:
        return {name: enc.domain for name, enc in self.encrypted_fields.items()}

    def encrypted(self, name: str) -> str | None:
        """The encryption domain of an encrypted field, or None."""
        enc = self.encrypted_fields.get(name)
        return enc.domain if enc else None

    def label(self, instance: models.Model) -> str:
        return str(getattr(instance, self.label_field))

    @cached_property
    def key_lookup(self) -> str:
        return "pk" if self.label_field == "pk" else self.label_field

    # -- data scope

    @cached_property
    def district_lookup(self) -> str | None:
        """The queryset lookup of the record's district code ("district_id", "person__district_id")."""
        path = self.declaration.district
        return None if path is None else f"{path}_id"

    @cached_property
    def district_owner(self) -> str | None:
        """The reference ("person") to the record this one reads its district from, when its declared path
        goes through another record ("person__district"); None when the district is its own."""
        path = self.declaration.district or ""
        return path.split("__")[0] if "__" in path else None

    def district_of(self, instance: models.Model) -> str | None:
        """The district of a stored record, following the declared path (None for city-wide data)."""
        path = self.declaration.district
        if path is None:
            return None
        target: Any = instance
        *hops, last = path.split("__")
        for hop in hops:
            target = getattr(target, hop, None)
            if target is None:
                return None
        value = getattr(target, f"{last}_id", None)
        return None if value is None else str(value)

    def district_for_values(self, values: dict[str, Any]) -> str | None:
        """The district a new record with VALUES would belong to: the first hop of the path is one of its
        own fields; further hops are read from the record it points to."""
        path = self.declaration.district
        if path is None:
            return None
        first, *rest = path.split("__")
        value = values.get(f"{first}_id")
        if value in (None, ""):
            return None
        if not rest:
            return str(value)
        related = self.field(f"{first}_id").related_model
        assert related is not None
        target = related._default_manager.filter(pk=value).first()
        if target is None:
            return None
        remaining = "__".join(rest)
        other = spec_of_model(related)
        if other is not None and other.declaration.district == remaining:
            return other.district_of(target)
        for hop in rest[:-1]:
            target = getattr(target, hop, None)
            if target is None:
                return None
        district = getattr(target, f"{rest[-1]}_id", None)
        return None if district is None else str(district)

    # -- the record each record is about (Declaration.subject)

    @cached_property
    def subject(self) -> tuple[str, EntitySpec] | None:
        """(the reference, the spec of the entity it points to) of the declared subject: an employment's
        ("person", the person's spec); None when none is declared."""
        reference = self.declaration.subject
        if not reference:
            return None
        related = self.field(f"{reference}_id").related_model
        target = spec_of_model(related) if isinstance(related, type) else None
        if target is None or not target.declaration.access_record:
            raise ImproperlyConfigured(
                f"{self.name}.subject: {reference} is not a reference to an entity with an access record"
            )
        return reference, target

    def subject_key(self, instance: models.Model) -> str | None:
        """The key of the record INSTANCE is about (its person's number), or None (no subject, or none set)."""
        subject = self.subject
        if subject is None:
            return None
        target = getattr(instance, subject[0], None)
        return None if target is None else subject[1].label(target)

    # -- columns for raw (bulk and verification) paths

    @cached_property
    def raw_columns(self) -> list[str]:
        """Database columns in the order raw_state reads them: the fields, then the indexes, then the flags,
        then uid."""
        columns = [str(self.field(name).column) for name in self.fields]
        columns += [str(enc.index.column) for enc in self.encrypted_fields.values()]
        columns += [str(self.field(flag).column) for flag in self.flags]
        return [*columns, "uid"]


# Filled once, from the models' declarations, when the apps are ready (CoreConfig.ready).
ENTITIES: dict[str, EntitySpec] = {}
_BY_MODEL: dict[type[models.Model], EntitySpec] = {}


def governed_models() -> list[type[Governed]]:
    """Every concrete model derived from the governed base."""
    return [m for m in apps.get_models() if issubclass(m, Governed) and not m._meta.abstract]


def build() -> None:
    """Fill the registry from the models' declarations (called by CoreConfig.ready)."""
    ENTITIES.clear()
    _BY_MODEL.clear()
    for model in governed_models():
        declaration = getattr(model, "governance", None)
        if not isinstance(declaration, Declaration):
            raise ImproperlyConfigured(f"{model.__name__} is governed but declares no governance")
        if declaration.entity in ENTITIES:
            raise ImproperlyConfigured(f"two governed models claim the entity {declaration.entity!r}")
        spec = EntitySpec(model, declaration)
        for name in declaration.fields:
            spec.field(name)  # a typo in a declaration fails at start-up, not in a clerk's hands
        spec.encrypted_fields  # noqa: B018  (checks that every encrypted field has an index)
        ENTITIES[declaration.entity] = spec
        _BY_MODEL[model] = spec
    for spec in ENTITIES.values():
        spec.subject  # noqa: B018  (a subject that names no record with an access record fails at start-up)


def spec_for(entity: str) -> EntitySpec:
    spec = ENTITIES.get(entity)
    if spec is None:
        raise ValueError(f"not a governed entity: {entity!r}")
    return spec


def spec_of_model(model: type[models.Model]) -> EntitySpec | None:
    return _BY_MODEL.get(model)


def by_slug(slug: str) -> EntitySpec | None:
    for spec in ENTITIES.values():
        if spec.declaration.slug == slug:
            return spec
    return None


# --------------------------------------------------------------------------------------------------------
# Representation


def _b64(token: bytes) -> str:
    return base64.b64encode(token).decode("ascii")


def represent(spec: EntitySpec, name: str, value: Any) -> Any:
    """The JSON representation of a field value, as history and digests hold it. An encrypted value must
    already be sealed to its record (a Sealed or a stored Ciphertext): plain text has no place here."""
    enc = spec.encrypted_fields.get(name)
    if enc is not None:
        if value is None or value == "":
            # An empty encrypted field is NULL in the database and "" once loaded: one representation.
            return ""
        if isinstance(value, Sealed):
            return {"enc": _b64(value.token), "idx": enc.index.index_of(str(value))}
        raise TypeError(f"{spec.name}.{name}: represent a sealed value (use state_of for stored rows)")
    if value is None or value == "":
        return None if value is None else ""
    if isinstance(value, date):
        return value.isoformat()
    if name.endswith("_id"):
        # Foreign keys: the same text whether the value came from a form ("12") or the database (12).
        return str(value)
    if isinstance(value, bool | int | str):
        return value
    return str(value)


def state_of(spec: EntitySpec, instance: models.Model) -> dict[str, Any]:
    """The record's state: every governed field's representation, and its uid. A stored ciphertext that was
    not decrypted is represented with the stored index (the integrity check compares the two)."""
    state: dict[str, Any] = {}
    for name in spec.fields:
        enc = spec.encrypted_fields.get(name)
        if enc is not None:
            value = instance.__dict__.get(name)
            if isinstance(value, Ciphertext):
                state[name] = {"enc": _b64(value.token), "idx": getattr(instance, enc.index.attname)}
                continue
        state[name] = represent(spec, name, getattr(instance, name))
    for flag in spec.flags:
        if getattr(instance, flag):
            state[flag] = True
    state["uid"] = str(instance.uid)  # type: ignore[attr-defined]
    return state


def raw_state(spec: EntitySpec, raw: Iterable[Any]) -> dict[str, Any]:
    """The same state from a raw row of ``spec.raw_columns`` as the database driver returns it: ciphertexts
    stay ciphertexts, so bulk paths and verification need no decryption."""
    values = list(raw)
    n = len(spec.fields)
    f = n + len(spec.encrypted_fields)
    indexes = dict(zip(spec.encrypted_fields, values[n:f], strict=True))
    out: dict[str, Any] = {}
    for name, value in zip(spec.fields, values[:n], strict=True):
        if name in indexes:
            out[name] = "" if value is None else {"enc": _b64(bytes(value)), "idx": indexes[name] or ""}
        elif value is None or isinstance(value, str) or (isinstance(value, int) and not name.endswith("_id")):
            out[name] = value
        elif name.endswith("_id"):
            out[name] = str(value)
        elif isinstance(value, date):
            out[name] = value.isoformat()
        else:
            out[name] = str(value)
    for flag, value in zip(spec.flags, values[f:-1], strict=True):
        if value:  # SQLite gives 1, PostgreSQL True
            out[flag] = True
    out["uid"] = uid_text(values[-1])
    return out


def uid_text(value: Any) -> str | None:
    """SQLite keeps a UUID as 32 hex digits, PostgreSQL as a uuid: one text form for both. A text already in
    that form (PostgreSQL's ``uid::text``) is kept as it is; a digest over any other text fails its check."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID):  # psycopg's: already one
        return str(value)
    if isinstance(value, str):
        if len(value) == 32:
            return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
        if len(value) == 36 and value.islower():  # PostgreSQL's text of a uuid (uid::text) is this form
            return value
    return str(uuid.UUID(str(value)))


def view(state: dict[str, Any]) -> dict[str, Any]:
    """What a digest covers: the state with each encrypted value reduced to its blind index. A format-1
    state (no uid) is its own view."""
    if "uid" not in state:
        return state
    return {k: (v["idx"] if isinstance(v, dict) and "enc" in v else v) for k, v in state.items()}


def state_digest(entity: str, version: int, canonical_view: bytes) -> str:
    """The keyed digest of a record's state at a version (principle 4): the MAC of exactly the bytes
    chain.canonical gives {"entity", "state", "version"} (keys sorted), built around view bytes that are
    serialised once. Rows, revisions and versioned rules all use this one formula."""
    body = (
        b'{"entity":' + json.dumps(entity, ensure_ascii=False).encode("utf-8") + b',"state":' + canonical_view
    )
    return keyring().mac(body + b',"version":' + str(version).encode("ascii") + b"}")


def state_digester(entity: str) -> Callable[[int, bytes], str]:
    """``state_digest`` for many states of one ENTITY (verification digests every revision): the same bytes
    and MAC, with the constant part encoded once and the key ring looked up once."""
    head = b'{"entity":' + json.dumps(entity, ensure_ascii=False).encode("utf-8") + b',"state":'
    mac = keyring().mac_function()

    def state_digest_of(version: int, canonical_view: bytes) -> str:
        return mac(b'%s%s,"version":%d}' % (head, canonical_view, version))  # %d: str(version)'s digits

    return state_digest_of


def digest(spec: EntitySpec, version: int, state: dict[str, Any]) -> str:
    return state_digest(spec.name, version, chain.canonical(view(state), parsed=True))


def cipher_mac(spec: EntitySpec, uid: Any, tokens: Iterable[bytes | None]) -> str:
    """The keyed MAC of a record's ciphertexts, in the order of ``spec.encrypted_fields`` ("" without any).
    Each token is length-prefixed, so no two lists of tokens give the same bytes."""
    if not spec.encrypted_fields:
        return ""
    return keyring().mac(_ciphertext_bytes(_ciphertext_head(spec), str(uid), tokens))


def cipher_macer(spec: EntitySpec) -> Callable[[str, Iterable[bytes | None]], str]:
    """``cipher_mac`` for many records of one SPEC (verification checks every live row's): the same bytes and
    MAC, with the constant part encoded and the key ring looked up once. UID is the record's uid as text."""
    if not spec.encrypted_fields:
        return lambda uid, tokens: ""
    head = _ciphertext_head(spec)
    mac = keyring().mac_function()
    return lambda uid, tokens: mac(_ciphertext_bytes(head, str(uid), tokens))


def _ciphertext_head(spec: EntitySpec) -> bytes:
    return b"sidms-ciphertexts\x00" + spec.name.encode() + b"\x00"


def _ciphertext_bytes(head: bytes, uid: str, tokens: Iterable[bytes | None]) -> bytes:
    """What ``cipher_mac`` MACs: HEAD, the uid, and each token length-prefixed."""
    parts = [head, uid.encode()]
    for token in tokens:
        data = (token if token.__class__ is bytes else bytes(token)) if token else b""
        parts.append(len(data).to_bytes(4, "big"))
        parts.append(data)
    return b"".join(parts)


def tokens_of(spec: EntitySpec, instance: models.Model) -> list[bytes | None]:
    """The ciphertext bytes a loaded or sealed instance stores, in ``spec.encrypted_fields`` order."""
    out: list[bytes | None] = []
    for name in spec.encrypted_fields:
        value = instance.__dict__.get(name)
        out.append(value.token if isinstance(value, Sealed | Ciphertext) else None)
    return out


def reveal(spec: EntitySpec, name: str, represented: Any, uid: Any = None) -> Any:
    """The Python value of a representation (decrypting encrypted fields with the record's uid; a format-1
    representation, written before records had one, was bound to its field only)."""
    from sidms.core.fields import aad

    if represented is None:
        return None
    enc = spec.encrypted_fields.get(name)
    if enc is not None:
        if represented == "":
            return ""
        token = base64.b64decode(represented["enc"])
        bound = aad(enc.domain, uid) if "idx" in represented else enc.domain.encode()
        return Sealed(keyring().decrypt(token, aad=bound), token)
    field = spec.field(name)
    if isinstance(field, models.DateField) and isinstance(represented, str):
        return date.fromisoformat(represented)
    return represented
