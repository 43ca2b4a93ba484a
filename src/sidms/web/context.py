"""Template context for every page, and the caller of a view's request."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from django.http import HttpRequest
from django.utils.text import capfirst

from sidms.access.policies import PERMISSIONS, view_permission
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
    can, nav = allowed(user.posts)
    return {"can": can, "record_nav": nav}


# Permissions follow from the posts alone (policies.has_permission), so what a set of posts allows is worked
# out once per process: a page no longer tests every permission and entity on each request. The posts
# themselves are still read on every request, so a change of posts shows at the next page.
_ALLOWED: dict[frozenset[str], tuple[Mapping[str, bool], tuple[tuple[str, Any], ...]]] = {}


def allowed(posts: frozenset[str]) -> tuple[Mapping[str, bool], tuple[tuple[str, Any], ...]]:
    """(permission → granted, with "_" for ".", and the record pages as (slug, title)) for POSTS."""
    known = _ALLOWED.get(posts)
    if known is None:
        can = {name.replace(".", "_"): bool(posts & granted) for name, granted in PERMISSIONS.items()}
        nav = tuple(
            (spec.declaration.slug, capfirst(spec.model._meta.verbose_name_plural))  # lazy: any language
            for spec in ENTITIES.values()
            if spec.declaration.slug
            and spec.declaration.extra.get("nav", True)
            and posts & PERMISSIONS[view_permission(spec)]
        )
        known = (MappingProxyType(can), nav)
        if len(_ALLOWED) >= _KEEP:  # a handful of distinct post sets in practice; never unbounded
            _ALLOWED.clear()
        _ALLOWED[posts] = known
    return known


_KEEP = 256
