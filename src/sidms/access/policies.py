"""The one door for reads of personal data (principle 3).

Function permission comes from the staff member's posts; data scope from the district (the city level sees
every district). A policy returns a scoped queryset for lists and a fetch-and-authorise for single records.
Views never fetch governed rows themselves. Every read of personal data is an audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.registry.models import Person, Post, Staff, Unit
from sidms.security.fields import blind_index

P = Post

# Which posts may use which function. Kept in one table so that the role × function matrix can be read and
# tested as a whole (MLPS 2.0 §8.1.4.2d: least privilege, separation of administrator and auditor).
PERMISSIONS: dict[str, frozenset[str]] = {
    "dashboard.view": frozenset(Post.values),
    "person.view": frozenset({P.WINDOW_CLERK, P.REVIEWER, P.APPROVER, P.RECHECKER}),
    "unit.view": frozenset({P.WINDOW_CLERK, P.REVIEWER, P.APPROVER, P.RECHECKER}),
    "audit.view": frozenset({P.AUDITOR}),
    # The change pipeline (R7, R9.3). Separation of duties is checked per workflow on top of these.
    "record.submit": frozenset({P.WINDOW_CLERK}),
    "review.decide": frozenset({P.REVIEWER}),
    "maintenance.apply": frozenset({P.WINDOW_CLERK}),
    "maintenance.approve": frozenset({P.APPROVER}),
    "maintenance.modify": frozenset({P.WINDOW_CLERK}),
    "maintenance.recheck": frozenset({P.RECHECKER}),
    "batch.apply": frozenset({P.WINDOW_CLERK, P.INFO_CENTRE}),
    "batch.approve": frozenset({P.APPROVER}),
    "batch.execute": frozenset({P.WINDOW_CLERK, P.INFO_CENTRE}),
    "rules.edit": frozenset({P.CITY_ADMIN}),
}


def has_permission(staff: Any, permission: str) -> bool:
    if not getattr(staff, "is_authenticated", False):
        return False
    return bool(staff.posts & PERMISSIONS[permission])


def require(staff: Staff, permission: str, *, request: HttpRequest | None = None) -> None:
    """Refuse (and record the refusal) unless the staff member's posts grant PERMISSION."""
    if has_permission(staff, permission):
        return
    audit_record(
        "access.denied",
        actor=staff,
        request=request,
        outcome=Outcome.DENIED,
        detail={"permission": permission, "path": request.path if request else ""},
    )
    raise PermissionDenied(permission)


def in_scope(staff: Staff, district: str | None) -> bool:
    """The data-scope rule (R10.3), in one place: the city level sees every district, others their own."""
    return staff.is_city_level or (district is not None and district == staff.district_id)


def scoped(staff: Staff, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """QUERYSET (of rows with a district) narrowed to what `in_scope` allows."""
    if staff.is_city_level:
        return queryset
    if staff.district_id is None:
        return queryset.none()
    return queryset.filter(district_id=staff.district_id)


ID_NUMBER_SHAPE = re.compile(r"^\s*(\d{15}|\d{17}[\dxX])\s*$")


@dataclass(frozen=True)
class PersonSearch:
    page: Page[Person]
    by: str  # "id_number", "name" or "" (no query: the district's list)


PAGE_SIZE = 50


def person_search(
    *, actor: Staff, query: str, page: int | str | None = 1, request: HttpRequest | None = None
) -> PersonSearch:
    """One page of persons in the actor's scope: by exact ID number (blind index) or by name (prefix).

    The audit event names every person shown, so that a person can later learn who saw them (B1)."""
    require(actor, "person.view", request=request)
    base = scoped(actor, Person.objects.select_related("district"))
    query = query.strip()
    if ID_NUMBER_SHAPE.match(query):
        digest = blind_index("person.id_number", query, "idcard")
        results, by = base.filter(id_number_index=digest), "id_number"
    elif query:
        results, by = base.filter(name__startswith=query), "name"
    else:
        results, by = base, ""
    shown = Paginator(
        results.only("person_no", "name", "sex", "birth_date", "category", "district__name", "id_number"),
        PAGE_SIZE,
    ).get_page(page)
    # The query text itself may be an ID number: it is not recorded, only how the search was made.
    audit_record(
        "read.person_list",
        actor=actor,
        request=request,
        object_type="person",
        detail={"by": by or "all", "shown": [p.person_no for p in shown]},
    )
    return PersonSearch(shown, by)


def person_get(*, actor: Staff, person_no: str, request: HttpRequest | None = None) -> Person:
    """One person, if in scope; a person outside the actor's district does not exist for them (404)."""
    require(actor, "person.view", request=request)
    person = scoped(actor, Person.objects.select_related("district")).filter(person_no=person_no).first()
    if person is None:
        audit_record(
            "read.person",
            actor=actor,
            request=request,
            object_type="person",
            object_id=person_no,
            outcome=Outcome.DENIED,
            detail={"reason": "not_found_or_out_of_scope"},
        )
        raise Http404
    audit_record(
        "read.person", actor=actor, request=request, object_type="person", object_id=person.person_no
    )
    return person


def unit_search(*, actor: Staff, query: str, request: HttpRequest | None = None) -> QuerySet[Unit]:
    require(actor, "unit.view", request=request)
    base = scoped(actor, Unit.objects.select_related("district"))
    query = query.strip().upper()
    if re.fullmatch(r"[0-9A-Z]{18}", query):
        return base.filter(credit_code=query)
    if query:
        return base.filter(name__contains=query) | base.filter(unit_no=query)
    return base


def unit_get(*, actor: Staff, unit_no: str, request: HttpRequest | None = None) -> Unit:
    require(actor, "unit.view", request=request)
    unit = scoped(actor, Unit.objects.select_related("district")).filter(unit_no=unit_no).first()
    if unit is None:
        raise Http404
    audit_record("read.unit", actor=actor, request=request, object_type="unit", object_id=unit.unit_no)
    return unit


def unit_employees(
    *, actor: Staff, unit: Unit, limit: int = 200, request: HttpRequest | None = None
) -> list[Any]:
    """Current employees of a unit the actor may see; people are listed only within the actor's scope, and
    the audit event names each person shown."""
    require(actor, "person.view", request=request)
    employments = list(
        unit.employments.filter(
            end_date__isnull=True, person__in=scoped(actor, Person.objects.all())
        ).select_related("person")[:limit]
    )
    audit_record(
        "read.person_list", actor=actor, request=request, object_type="person",
        detail={"by": "unit", "unit": unit.unit_no, "shown": [e.person.person_no for e in employments]},
    )  # fmt: skip
    return employments


def mask_id_number(value: str) -> str:
    """Show the address code and the last four characters: enough to tell people apart at a window."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    digits = value.replace("-", "")
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_account(value: str) -> str:
    if len(value) < 8:
        return "*" * len(value)
    return value[:4] + " **** **** " + value[-4:]


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    if not domain:
        return "*" * len(value)
    return (local[:2] + "****" if len(local) > 2 else "****") + "@" + domain
