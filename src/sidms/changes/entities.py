"""What the pipeline governs: for each entity, its model, governed fields and how values are represented.

A value's representation is what history and digests hold: plain JSON for ordinary fields, and for
encrypted fields the ciphertext ({"enc": base64}), never the plain value.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from django.db import models

from sidms.lib import chain
from sidms.registry.models import Agency, Employment, Governed, Person, ServiceInstitution, Unit
from sidms.security.fields import EncryptedTextField, Sealed, seal, unseal
from sidms.security.keys import keyring


@dataclass(frozen=True)
class EntitySpec:
    name: str
    model: type[Governed]
    fields: tuple[str, ...]  # attribute names (FKs as *_id)
    label_field: str  # natural key shown to people

    def field(self, name: str) -> models.Field[Any, Any]:
        attname = name[:-3] if name.endswith("_id") else name
        return self.model._meta.get_field(attname)  # type: ignore[return-value]

    def encrypted(self, name: str) -> str | None:
        """The encryption domain of an encrypted field, or None."""
        return self.domains.get(name)

    @cached_property
    def domains(self) -> dict[str, str]:
        """Encrypted fields and their domains, looked up once (the bulk paths ask per row and field)."""
        out = {}
        for name in self.fields:
            field = self.field(name)
            if isinstance(field, EncryptedTextField):
                out[name] = field.domain
        return out

    def label(self, instance: models.Model) -> str:
        return str(getattr(instance, self.label_field))


ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "person",
            Person,
            (
                "person_no", "id_number", "name", "sex", "birth_date", "category", "district_id", "phone",
                "email", "address", "postcode", "bank_account", "status",
            ),
            "person_no",
        ),
        EntitySpec(
            "unit",
            Unit,
            (
                "unit_no", "name", "credit_code", "org_code", "unit_type", "district_id", "address", "postcode",
                "contact_person", "phone", "email", "industry_risk_class", "status",
            ),
            "unit_no",
        ),
        EntitySpec("employment", Employment, ("person_id", "unit_id", "start_date", "end_date"), "pk"),
        EntitySpec(
            "service_institution",
            ServiceInstitution,
            ("code", "name", "kind", "district_id", "credit_code", "address", "phone", "status"),
            "code",
        ),
        EntitySpec("agency", Agency, ("code", "name", "level", "district_id"), "code"),
    )
}  # fmt: skip


def spec_for(entity: str) -> EntitySpec:
    try:
        return ENTITIES[entity]
    except KeyError:
        raise ValueError(f"not a governed entity: {entity!r}") from None


def represent(spec: EntitySpec, name: str, value: Any) -> Any:
    """The JSON representation of a field value, as history and digests hold it."""
    domain = spec.encrypted(name)
    if value is None or value == "":
        # An empty encrypted field is NULL in the database and "" once loaded: one representation for both.
        return "" if (domain is not None or value == "") else None
    if domain is not None:
        sealed = value if isinstance(value, Sealed) else seal(domain, str(value))
        return {"enc": base64.b64encode(sealed.token).decode("ascii")}
    if isinstance(value, date):
        return value.isoformat()
    if name.endswith("_id"):
        # Foreign keys: the same text whether the value came from a form ("12") or the database (12).
        return str(value)
    if isinstance(value, bool | int | str):
        return value
    return str(value)


def reveal(spec: EntitySpec, name: str, represented: Any) -> Any:
    """The Python value of a representation (decrypting encrypted fields)."""
    if represented is None:
        return None
    domain = spec.encrypted(name)
    if domain is not None:
        if represented == "":
            return ""
        return unseal(domain, base64.b64decode(represented["enc"]))
    field = spec.field(name)
    if isinstance(field, models.DateField) and isinstance(represented, str):
        return date.fromisoformat(represented)
    return represented


def state_of(spec: EntitySpec, instance: models.Model) -> dict[str, Any]:
    return {name: represent(spec, name, getattr(instance, name)) for name in spec.fields}


def represent_raw(spec: EntitySpec, name: str, value: Any) -> Any:
    """The same representation as `represent`, from a raw column value as the database driver returns it:
    ciphertexts stay ciphertexts, so bulk paths and verification need no decryption."""
    if spec.encrypted(name):
        return "" if value is None else {"enc": base64.b64encode(bytes(value)).decode("ascii")}
    if value is not None and name.endswith("_id"):
        return str(value)
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def raw_state(spec: EntitySpec, raw: Any) -> dict[str, Any]:
    """`represent_raw` over a whole row of raw values in `spec.fields` order, with the per-field decision
    taken once per entity rather than once per value."""
    out: dict[str, Any] = {}
    for name, value in zip(spec.fields, raw, strict=True):
        if name in spec.domains:
            out[name] = "" if value is None else {"enc": base64.b64encode(bytes(value)).decode("ascii")}
        elif value is None or isinstance(value, str) or (isinstance(value, int) and not name.endswith("_id")):
            out[name] = value
        else:
            out[name] = represent_raw(spec, name, value)
    return out


def state_digest(entity: str, version: int, canonical_state: bytes) -> str:
    """The keyed digest of a record's governed state at a version (principle 4): the MAC of exactly the
    bytes chain.canonical gives {"entity", "state", "version"} (keys sorted), built around state bytes that
    are serialised once. The primary key is not in it: verification compares a live row with the revisions
    of that same key. Rows, revisions and collection rules all use this one formula."""
    body = (
        b'{"entity":'
        + json.dumps(entity, ensure_ascii=False).encode("utf-8")
        + b',"state":'
        + canonical_state
    )
    return keyring().mac(body + b',"version":' + str(version).encode("ascii") + b"}")


def digest(spec: EntitySpec, version: int, state: dict[str, Any]) -> str:
    return state_digest(spec.name, version, chain.canonical(state))
