"""History (R9.2): a record's timeline, and the record rebuilt as it was at any instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models

from sidms.changes.models import Revision
from sidms.changes.services import field_label
from sidms.core.kernel import EntitySpec, reveal, spec_for


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: Any
    new: Any


@dataclass(frozen=True)
class TimelineEntry:
    revision: Revision
    changes: tuple[FieldChange, ...]


def timeline(entity: str, record: models.Model) -> list[TimelineEntry]:
    """Every revision of the record, newest first, with old → new values (decrypted; mask before display).
    A re-encryption that changed no value shows no field."""
    spec = spec_for(entity)
    uid = record.uid  # type: ignore[attr-defined]
    entries = []
    for revision in Revision.objects.filter(entity=entity, record_id=record.pk).order_by("-version"):
        changes = tuple(
            FieldChange(
                name,
                field_label(spec, name, record),  # as the record's page names it (Declaration.apart)
                _value(spec, name, pair[0], uid),
                _value(spec, name, pair[1], uid),
            )
            for name, pair in revision.changes.items()
            if name in spec.fields and _differs(pair)
        )
        entries.append(TimelineEntry(revision, changes))
    return entries


def _differs(pair: list[Any]) -> bool:
    old, new = pair
    if isinstance(old, dict) and isinstance(new, dict) and "idx" in old and "idx" in new:
        return bool(old["idx"] != new["idx"])
    return True


def as_of(entity: str, record: models.Model, moment: datetime) -> dict[str, Any] | None:
    """The record's governed fields as they were at MOMENT, or None if it did not exist yet."""
    spec = spec_for(entity)
    revision = (
        Revision.objects.filter(entity=entity, record_id=record.pk, at__lte=moment)
        .order_by("-version")
        .first()
    )
    if revision is None:
        return None
    uid = record.uid  # type: ignore[attr-defined]
    state = {name: _value(spec, name, revision.state.get(name), uid) for name in spec.fields}
    state["version"] = revision.version
    return state


def _value(spec: EntitySpec, name: str, represented: Any, uid: Any) -> Any:
    return reveal(spec, name, represented, uid)
