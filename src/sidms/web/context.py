"""Template context for every page, and the caller of a view's request."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.text import capfirst

from sidms.access.policies import PERMISSIONS, has_permission, view_permission
from sidms.core.caller import Caller, caller_from_request
from sidms.core.kernel import ENTITIES
from sidms.registry.models import Staff


def staff_of(request: HttpRequest) -> Staff:
    """The signed-in staff member of a view's request (the middleware lets only two-factor staff through)."""
    user = request.user
    assert isinstance(user, Staff)
    return user


def caller_of(request: HttpRequest) -> Caller:
    """The plain context every service takes: who, from which address, in which request."""
    return caller_from_request(request, staff_of(request))


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the signed-in staff member's posts allow (for the navigation): permissions, and the record
    pages of every declared entity they may read."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can": {}, "record_nav": []}
    can = {name.replace(".", "_"): has_permission(user, name) for name in PERMISSIONS}
    nav = [
        (spec.declaration.slug, capfirst(spec.model._meta.verbose_name_plural))
        for spec in ENTITIES.values()
        if spec.declaration.slug
        and spec.declaration.extra.get("nav", True)
        and has_permission(user, view_permission(spec))
    ]
    return {"can": can, "record_nav": nav}
