"""What the services of this app share: the system's own caller, permission checks, register numbers."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from sidms.changes.services import require_city_level, require_permission
from sidms.core.caller import Caller

SYSTEM = Caller("system:continuity", request_id="")


def require(actor: Any, permission: str, message: Any, *, city_level: bool = False) -> Caller:
    """The caller, once its posts grant PERMISSION (and it is at city level when asked); a refusal is
    audited. Called before a service opens its transaction, so the refusal's event is not rolled back."""
    caller = Caller.of(actor)
    require_permission(caller, permission, message)
    if city_level:
        require_city_level(caller, message)
    return caller


def next_number(model: type[models.Model], field: str, prefix: str) -> str:
    """PREFIX + year + a four-digit serial, one more than the highest of the year (inside the caller's
    transaction; the unique constraint refuses a number taken meanwhile)."""
    year = timezone.localdate().year
    stem = f"{prefix}{year}-"
    taken = model._default_manager.filter(**{f"{field}__startswith": stem}).values_list(field, flat=True)
    serial = max((int(str(n)[len(stem) :]) for n in taken if str(n)[len(stem) :].isdigit()), default=0)
    return f"{stem}{serial + 1:04d}"
