"""The one door for reads of personal data (principle 3).

Function permission comes from the staff member's posts; data scope from the district (the city level sees
every district), following each entity's declared path to its district. A policy returns a scoped queryset
for lists and a fetch-and-authorise for single records; views never fetch governed rows themselves. Every
read is an audit event that names the records shown and never holds an ID number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.paginator import Page, Paginator
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy

from sidms.access.posts import PERMISSIONS
from sidms.audit import subjects
from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.core import masks
from sidms.core.caller import Caller
from sidms.core.errors import NotPermitted
from sidms.core.fields import blind_index
from sidms.core.kernel import EntitySpec
from sidms.core.prepared import Prepared

__all__ = [
    "ID_NUMBER_SHAPE",
    "OUT_OF_SCOPE_NAME",
    "PERMISSIONS",
    "Listing",
    "by_owner",
    "has_permission",
    "in_scope",
    "mask",
    "owner_district",
    "record_get",
    "record_list",
    "register_read_guard",
    "require",
    "scoped",
    "scoped_by_owner",
    "view_permission",
    "withhold",
]


def has_permission(staff: Any, permission: str) -> bool:
    if not getattr(staff, "is_authenticated", False):
        return False
    return bool(staff.posts & PERMISSIONS[permission])


def require(actor: Any, permission: str, *, path: str = "") -> None:
    """Refuse (and record the refusal) unless the staff member's posts grant PERMISSION."""
    caller = Caller.of(actor)
    if has_permission(caller.staff, permission):
        return
    audit_record(
        "access.denied",
        actor=caller,
        outcome=Outcome.DENIED,
        detail={"permission": permission, "path": path},
    )
    raise NotPermitted(code="not_permitted", message=None)


def in_scope(staff: Any, district: str | None) -> bool:
    """The data-scope rule (R10.3), in one place: the city level sees every district, others their own.
    A record without a district (city-wide data) is the city level's only."""
    return bool(staff.is_city_level) or (district is not None and district == staff.district_id)


def is_city_level_district(district: str | None) -> bool:
    return district == settings.SIDMS_CITY_DISTRICT


def scoped(staff: Any, queryset: QuerySet[Any], lookup: str | None = "district_id") -> QuerySet[Any]:
    """QUERYSET narrowed to what `in_scope` allows, LOOKUP being the path to the rows' district code."""
    if staff.is_city_level:
        return queryset
    if staff.district_id is None or lookup is None:
        return queryset.none()
    return queryset.filter(**{lookup: staff.district_id})


def scoped_by_owner(
    staff: Any, queryset: QuerySet[Any], owners: Mapping[str, str], lookup: str = "district_id"
) -> QuerySet[Any]:
    """QUERYSET of rows that belong to a record, narrowed by the district that record is in now: OWNERS maps
    the row's reference to its owner (``person``) to the path of the owner's district (``person__district_id``);
    a row without an owner is scoped by its own district (LOOKUP). A person's scans follow the person to another
    district, as the person's record and its archive catalogue do (R10.3): the clerks of the district they
    were uploaded in no longer open them (attack round 11)."""
    return queryset if staff.is_city_level else queryset.filter(by_owner(staff, owners, lookup))


def by_owner(staff: Any, owners: Mapping[str, str], lookup: str = "district_id") -> Q:
    """:func:`scoped_by_owner`'s rule as a condition, for a selector that joins it with another (a request's
    submitter also sees their own, sidms.access.workflow). A PATH may also be an alias on the queryset that
    names the owner's district (an archive item's request, whose own district follows its record:
    workflow.scope_district_of). With no OWNERS it is the plain district scope of LOOKUP."""
    if staff.is_city_level:
        return Q(pk__isnull=False)  # every row (an empty Q would vanish when OR-ed with another condition)
    if staff.district_id is None:
        return Q(pk__in=[])
    owned, unowned = Q(), Q()
    for reference, path in owners.items():
        owned |= Q(**{f"{reference}__isnull": False, path: staff.district_id})
        unowned &= Q(**{f"{reference}__isnull": True})
    return owned | (unowned & Q(**{lookup: staff.district_id}))


def owner_district(row: Any, owners: Mapping[str, str], lookup: str = "district_id") -> str | None:
    """The district that scopes ROW by :func:`scoped_by_owner`'s rule: its owner's now, else its own."""
    for reference, path in owners.items():
        owner = getattr(row, reference)
        if owner is not None:
            return getattr(owner, path.split("__", 1)[1])
    return getattr(row, lookup)


def view_permission(spec: EntitySpec) -> str:
    name = str(spec.declaration.extra.get("view_permission", f"{spec.name}.view"))
    return name if name in PERMISSIONS else "record.view"


def record_scope(staff: Any, spec: EntitySpec) -> QuerySet[Any]:
    """Every record of SPEC the staff member may see (no audit event: callers narrow and record)."""
    return scoped(staff, spec.model._default_manager.all(), spec.district_lookup)


# --------------------------------------------------------------------------------------------------------
# Search and lists

ID_NUMBER_SHAPE = re.compile(r"^\s*(\d{15}|\d{17}[\dxX])\s*$")
_NUMBER_SHAPE = re.compile(r"^\s*[0-9A-Za-z]{4,20}\s*$")
_CREDIT_CODE_SHAPE = re.compile(r"^\s*[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]{18}\s*$")


def read_query(spec: EntitySpec, query: str) -> tuple[str, str, dict[str, Any]]:
    """How a typed query is read for SPEC: (field, way, lookups). ("", "", {}) for an empty query."""
    text = query.strip()
    if not text or spec.declaration.search is None:
        return "", "", {}
    for name, way in spec.declaration.search.ways:
        if way == "idcard" and ID_NUMBER_SHAPE.match(text):
            enc = spec.encrypted_fields[name]
            return name, way, {enc.index.attname: blind_index(enc.domain, text, enc.index.normaliser)}
        if way == "credit_code" and _CREDIT_CODE_SHAPE.match(text) and not text.isdigit():
            return name, way, {name: text.upper()}
        if way == "number" and _NUMBER_SHAPE.match(text) and any(ch.isdigit() for ch in text):
            return name, way, {name: text.upper() if not text.isdigit() else text}
        if way == "prefix":
            return name, way, {f"{name}__startswith": text}
        if way == "contains":
            return name, way, {f"{name}__contains": text}
    return "", "", {"pk__in": []}


@dataclass(frozen=True)
class Listing:
    page: Page[Any]
    by: str  # the field the query was read as ("id_number", "person_no", "name"), "" without a query
    total: int
    # The keys of this page's records not shown: they do not match their history.
    withheld: tuple[str, ...] = ()
    # How many of WITHHELD the TOTAL counts: none when the whole list is this page (its total is then what it
    # shows); all of them on a page of a longer list, whose TOTAL is counted in SQL (the records of its other
    # pages are checked as their pages show them: checking every record to count it costs each page view
    # ~50 µs a record of the whole list).
    withheld_counted: int = 0


def record_list(
    *,
    actor: Any,
    spec: EntitySpec,
    query: str = "",
    filters: Mapping[str, str] | None = None,
    sort: str = "",
    page: int | str | None = 1,
    per_page: int = 50,
    action: str = "",
    detail: Mapping[str, Any] | None = None,
) -> Listing:
    """One page of SPEC's records in the actor's scope, by query, declared filters and a declared sort.

    The audit event names every record shown, and the persons those records are about where the entity
    declares them (``Declaration.subject``: a page of employments), so that a person can later learn who saw
    them (B1: the audit layer indexes each name, sidms.audit.subjects); the query text itself may be an ID number and is not
    recorded, only the way it was read. A read of the list for another use than its page names itself by
    ACTION ("read.…", an export's page ``read.person_export``) with DETAIL beside the names (its number and
    stated purpose), as record_get's views other than the page do."""
    if action and not action.startswith("read."):
        raise ValueError(f"a read's audit action starts with 'read.': {action!r}")
    caller = Caller.of(actor)
    require(caller, view_permission(spec))
    records = record_scope(caller.staff, spec)
    by, _way, lookups = read_query(spec, query)
    records = records.filter(**lookups)
    for name, value in (filters or {}).items():
        if name in spec.declaration.list_filters and value not in ("", None):
            records = records.filter(**{name: value})
    key = spec.label_field if spec.label_field != "pk" else "pk"
    order = sort.removeprefix("-")  # one minus only: "--name" is no way to sort
    records = records.order_by(sort, key) if order in spec.declaration.sortable else records.order_by(key)
    related = [n[:-3] for n in spec.declaration.list_columns if n.endswith("_id")]
    if spec.subject is not None and spec.subject[0] not in related:
        related.append(spec.subject[0])  # its key is named below
    if related:
        records = records.select_related(*related)
    paginator = Paginator(records, per_page)
    shown = paginator.get_page(page)
    # A record whose row does not match its history is withheld, named by its key only: its district, and so
    # the scope it was listed in, is read from that row (a person's district written in SQL listed them, name
    # and all, to the district it named). One query and a keyed digest or two a row (changes.integrity).
    withheld = withhold(spec, list(shown.object_list), caller)
    if withheld:
        shown.object_list = [record for record in shown.object_list if record not in withheld]
    recorded: dict[str, Any] = {
        **(detail or {}),
        "by": by or "all",
        "shown": [spec.label(record) for record in shown],
    }
    # The persons the rows are about (an employment's: Declaration.subject), each once: the list or export is
    # on their access record too, with an export's number and purpose (attack round 17).
    about = subjects.about(spec, shown.object_list)
    if about:
        recorded[subjects.SUBJECTS] = about
    if withheld:
        recorded["withheld"] = [spec.label(record) for record in withheld]
    audit_record(action or f"read.{spec.name}_list", actor=caller, object_type=spec.name, detail=recorded)
    total, counted = paginator.count, len(withheld)
    if withheld and paginator.num_pages == 1:
        total, counted = total - len(withheld), 0  # the whole list is this page: it counts what it shows
    return Listing(shown, by, total, tuple(spec.label(record) for record in withheld), counted)


# How record_get checks a record against its history before it is shown (sidms.changes, a layer above this
# one, registers it when its app is ready): called with the spec, the record and the caller, it records and
# raises an integrity alert when the stored row does not match its history. The scope was read from that row.
# Its form for a page of a list, MANY: called with the spec, the records and the caller, it records an alert
# for each record that does not match its history and returns those records, which the list withholds.
# READ_WITH: what the guard reads of a record besides its row, added to record_get's compiled look-up by key
# (called with the spec and the queryset, it returns the queryset annotated): the record's history then comes
# in the same statement instead of a query of the guard's own.
ReadGuard = Callable[[EntitySpec, Model, Caller], None]
ListGuard = Callable[[EntitySpec, list[Any], Caller], list[Any]]
ReadWith = Callable[[EntitySpec, QuerySet[Any]], QuerySet[Any]]
_READ_GUARDS: list[ReadGuard] = []
_LIST_GUARDS: list[ListGuard] = []
_READ_WITH: list[ReadWith] = []


def register_read_guard(guard: ReadGuard, *, many: ListGuard, read_with: ReadWith | None = None) -> None:
    _READ_GUARDS[:] = [guard]
    _LIST_GUARDS[:] = [many]
    _READ_WITH[:] = [read_with] if read_with is not None else []
    _BY_KEY.clear()  # compiled with the previous guard's reads


def _read_with(spec: EntitySpec, queryset: QuerySet[Any]) -> QuerySet[Any]:
    for read_with in _READ_WITH:
        queryset = read_with(spec, queryset)
    return queryset


def record_get(
    *, actor: Any, spec: EntitySpec, key: str, action: str = "", detail: Mapping[str, Any] | None = None
) -> Any:
    """One record by its natural key, if in scope; outside the scope it does not exist for the actor (404),
    and the attempt is recorded. A view of the record other than its page (the rights record) names itself
    by ACTION ("read.…", with DETAIL): its one audit event then says what was shown, rather than a second
    event besides ``read.<entity>``."""
    caller = Caller.of(actor)
    require(caller, view_permission(spec))
    lookup = {"pk": key} if spec.label_field == "pk" else {spec.label_field: key}
    if spec.label_field == "pk" and not (str(key).isascii() and str(key).isdigit()):
        record = None
    else:  # the key is unique: no ORDER BY (first()) needed to take the one row
        prepared, record = _by_key(caller.staff, spec, key)
        if not prepared:
            record = next(iter(_read_with(spec, record_scope(caller.staff, spec)).filter(**lookup)[:1]), None)
    if record is None:
        audit_record(
            f"read.{spec.name}",
            actor=caller,
            object_type=spec.name,
            object_id=_safe_key(key),
            outcome=Outcome.DENIED,
            detail={"reason": "not_found_or_out_of_scope"},
        )
        raise Http404
    if action and not action.startswith("read."):
        raise ValueError(f"a read's audit action starts with 'read.': {action!r}")
    if not _READ_GUARDS:
        raise ImproperlyConfigured("no read guard is registered (sidms.changes registers it when ready)")
    for guard in _READ_GUARDS:
        guard(spec, record, caller)  # a record changed behind the system's back is not shown
    audit_record(action or f"read.{spec.name}", actor=caller, object_type=spec.name, object_id=spec.label(record),
                 detail=detail)  # fmt: skip
    return record


# record_get's lookup by a text key, compiled once per entity and scope shape (sidms.core.prepared): the same
# queryset as record_scope(...).filter(key)[:1], without building and compiling it on every page view.
_BY_KEY: dict[tuple[Any, ...], Prepared[Any]] = {}


class _Scope(NamedTuple):
    """What scoped() reads of a staff member."""

    is_city_level: bool
    district_id: str | None


def _by_key(staff: Any, spec: EntitySpec, key: str) -> tuple[bool, Any]:
    """(True, the record of SPEC with text KEY in STAFF's scope or None), or (False, None) when the lookup has
    no prepared form (a key by pk or of another type, no district to scope by): record_get then uses the ORM."""
    label = spec.label_field
    if (
        label == "pk"
        or type(key) is not str
        or spec.model._meta.get_field(label).get_internal_type() != "CharField"
    ):
        return False, None
    city, lookup, district = bool(staff.is_city_level), spec.district_lookup or "", staff.district_id
    if not city and (not lookup or type(district) is not str):
        return False, None
    shape = (spec.model, label, city or lookup)  # what the compiled SQL depends on
    prepared = _BY_KEY.get(shape)
    if prepared is None:
        manager = spec.model._default_manager
        # The scope is record_scope's own (scoped), applied to a stand-in for the staff member whose district
        # is the prepared parameter: the one rule of who sees what, not a copy of it.
        # The guard's reads (the record's latest revision) come with the row.
        if city:
            prepared = Prepared(
                spec.model,
                lambda k: _read_with(
                    spec, scoped(_Scope(True, None), manager.all(), lookup).filter(**{label: k})
                )[:1],
                str,
            )
        else:
            prepared = Prepared(
                spec.model,
                lambda d, k: _read_with(
                    spec, scoped(_Scope(False, d), manager.all(), lookup).filter(**{label: k})
                )[:1],
                str,
                str,
            )
        _BY_KEY[shape] = prepared
    return True, prepared.first(key) if city else prepared.first(district, key)


def record_related(*, actor: Any, spec: EntitySpec, queryset: QuerySet[Any], limit: int = 200) -> list[Any]:
    """Related records of SPEC (a person's employments, a unit's employees) narrowed to the actor's scope;
    the audit event names each one shown."""
    caller = Caller.of(actor)
    require(caller, view_permission(spec))
    rows = list(scoped(caller.staff, queryset, spec.district_lookup)[:limit])
    # Withheld as record_list withholds them: a unit's page listed as its current employee a person whose
    # district was written in SQL to the viewer's, name and all (attack round 14).
    withheld = withhold(spec, rows, caller)
    if withheld:
        rows = [row for row in rows if row not in withheld]
    detail: dict[str, Any] = {"by": "related", "shown": [spec.label(row) for row in rows]}
    if withheld:
        detail["withheld"] = [spec.label(row) for row in withheld]
    audit_record(f"read.{spec.name}_list", actor=caller, object_type=spec.name, detail=detail)
    return rows


def withhold(spec: EntitySpec, records: list[Any], actor: Any) -> list[Any]:
    """RECORDS of SPEC (already read in the actor's scope) that a list must not show: those that do not match
    their history, or whose district is read from a record that does not, each with its integrity alert
    recorded (the registered list guard). For a list read otherwise than through record_list."""
    if not _LIST_GUARDS:
        raise ImproperlyConfigured("no read guard is registered (sidms.changes registers it when ready)")
    return _LIST_GUARDS[0](spec, records, Caller.of(actor))


# What a page says in place of a record another record points to that the viewer may not see
# (visible_related): the record is not named at all, on a person's page as on their rights record.
OUT_OF_SCOPE_NAME = gettext_lazy("a record outside your data scope")


def visible_related(staff: Any, target: Model | None) -> bool:
    """Whether a record another record points to (an employment's unit) may be named to the viewer; when it
    may not, a page shows OUT_OF_SCOPE_NAME instead."""
    from sidms.core.kernel import spec_of_model

    if target is None:
        return False
    spec = spec_of_model(type(target))
    return spec is not None and in_scope(staff, spec.district_of(target))


def _safe_key(key: str) -> str:
    """A natural key as an audit event may hold it: never an ID-number-shaped string (someone typed one
    into a URL), which is recorded only as its shape."""
    text = str(key)
    return "[ID-number-shaped]" if ID_NUMBER_SHAPE.match(text) else text[:64]


# --------------------------------------------------------------------------------------------------------
# Masks per channel


def mask(spec: EntitySpec, name: str, value: Any, channel: str) -> str:
    """A field's value as CHANNEL may show it (the entity's declared mask)."""
    if value is None or value == "":
        return ""
    return masks.apply(spec.declaration.mask(name, channel), str(value))
