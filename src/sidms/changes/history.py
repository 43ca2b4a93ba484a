"""History (R9.2): a record's timeline, and the record rebuilt as it was at any instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models

from sidms.changes.entities import EntitySpec, reveal, spec_for
from sidms.changes.models import Revision


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
    """Every revision of the record, newest first, with old → new values (decrypted; mask before display)."""
    spec = spec_for(entity)
    entries = []
    for revision in Revision.objects.filter(entity=entity, record_id=record.pk).order_by("-version"):
        changes = tuple(
            FieldChange(
                name,
                str(spec.field(name).verbose_name),
                _value(spec, name, pair[0]),
                _value(spec, name, pair[1]),
            )
            for name, pair in revision.changes.items()
            if name in spec.fields
        )
        entries.append(TimelineEntry(revision, changes))
    return entries


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
    state = {name: _value(spec, name, revision.state.get(name)) for name in spec.fields}
    state["version"] = revision.version
    return state


def _value(spec: EntitySpec, name: str, represented: Any) -> Any:
    return reveal(spec, name, represented)
