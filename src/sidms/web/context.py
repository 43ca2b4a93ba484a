"""Template context for every page: what the signed-in staff member's posts allow (for the navigation)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from sidms.access.policies import PERMISSIONS, has_permission
from sidms.registry.models import Staff


def staff_of(request: HttpRequest) -> Staff:
    """The signed-in staff member of a view's request (the middleware lets only two-factor staff through)."""
    user = request.user
    assert isinstance(user, Staff)
    return user


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can": {}}
    return {"can": {name.replace(".", "_"): has_permission(user, name) for name in PERMISSIONS}}
