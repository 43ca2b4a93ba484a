"""Staff pages. Each view reads top to bottom: the middleware has authenticated the staff member with two
factors; the view parses its input, calls one policy or service function, and renders.

The change-pipeline pages (submit forms, review queue, maintenance) call the services of sidms.changes,
which decide, validate, authorise and write; a refusal from them (typed exceptions) is shown on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from sidms.access import policies
from sidms.audit.services import audit_record
from sidms.changes import history
from sidms.changes.entities import EntitySpec, reveal, spec_for
from sidms.changes.errors import ChangeRefused, NotPermitted, StaleChange
from sidms.changes.maintenance import (
    maintenance_apply,
    maintenance_approve,
    maintenance_modify,
    maintenance_recheck,
    maintenance_scope,
)
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, MaintenanceStatus, ReviewStatus
from sidms.changes.services import (
    district_of,
    review_decide,
    review_recheck_registries,
    review_scope,
    rules_in_force,
    submit_change,
)
from sidms.crosscheck import SPECS as REGISTRY_SPECS
from sidms.parameters.codes import code_label
from sidms.parameters.models import CodeTable, Region
from sidms.registry.models import Governed, Person, Staff, Unit
from sidms.web.context import staff_of
from sidms.web.forms import MAINTENANCE_FORMS, RECORD_FORMS, SECRET_FIELDS, DecisionForm, RecordForm


def dashboard(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "dashboard.view", request=request)
    context: dict[str, Any] = {}
    if policies.has_permission(staff, "person.view"):
        persons = policies.scoped(staff, Person.objects.all())
        units = policies.scoped(staff, Unit.objects.all())
        names = dict(Region.objects.filter(is_district=True).values_list("code", "name"))
        by_district = persons.values("district_id").annotate(n=Count("pk")).order_by("district_id")
        context.update(
            persons=persons.count(),
            units=units.count(),
            by_district=[
                (row["district_id"], names.get(row["district_id"], ""), row["n"]) for row in by_district
            ],
        )
    return render(request, "web/dashboard.html", context)


@require_http_methods(["GET", "POST"])
def person_list(request: HttpRequest) -> HttpResponse:
    """The search form posts, so an ID number never sits in a URL (browser history, proxy and server
    logs); browsing and name searches page with GET links that carry no ID number."""
    staff = staff_of(request)
    query = request.POST.get("q", "") if request.method == "POST" else request.GET.get("q", "")
    if request.method == "GET" and policies.ID_NUMBER_SHAPE.match(query):
        # Someone typed (or bookmarked) an ID number into the address: it is not searched, so that such
        # URLs stop being useful, and the clerk is told to use the search box.
        messages.warning(
            request,
            _("Search for ID numbers with the search box: an ID number must not be in a web address."),
        )
        query = ""
    search = policies.person_search(
        actor=staff, query=query, page=request.GET.get("page") or 1, request=request
    )
    page = search.page
    rows = [
        {
            "person": person,
            "id_masked": policies.mask_id_number(str(person.id_number)),
            "category": code_label(CodeTable.PERSON_CATEGORY, person.category),
        }
        for person in page
    ]
    return render(request, "web/person_list.html", {"page": page, "rows": rows, "q": query, "by": search.by})


def person_detail(request: HttpRequest, person_no: str) -> HttpResponse:
    staff = staff_of(request)
    person = policies.person_get(actor=staff, person_no=person_no, request=request)
    employments = person.employments.select_related("unit").all()
    return render(
        request,
        "web/person_detail.html",
        {
            "person": person,
            "category": code_label(CodeTable.PERSON_CATEGORY, person.category),
            "phone_masked": policies.mask_phone(str(person.phone)),
            "account_masked": policies.mask_account(str(person.bank_account)),
            "email_masked": policies.mask_email(str(person.email)) if person.email else "",
            "employments": employments,
            **_history(request, "person", person),
        },
    )


def unit_list(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    query = request.GET.get("q", "")
    units = policies.unit_search(actor=staff, query=query, request=request)
    page = Paginator(units.defer("phone"), 50).get_page(request.GET.get("page"))
    rows = [{"unit": u, "unit_type": code_label(CodeTable.UNIT_TYPE, u.unit_type)} for u in page]
    return render(request, "web/unit_list.html", {"page": page, "rows": rows, "q": query})


def unit_detail(request: HttpRequest, unit_no: str) -> HttpResponse:
    staff = staff_of(request)
    unit = policies.unit_get(actor=staff, unit_no=unit_no, request=request)
    employees = policies.unit_employees(actor=staff, unit=unit, request=request)
    return render(
        request,
        "web/unit_detail.html",
        {
            "unit": unit,
            "unit_type": code_label(CodeTable.UNIT_TYPE, unit.unit_type),
            "employees": employees,
            **_history(request, "unit", unit),
        },
    )


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


# --------------------------------------------------------------------------------------------------------
# Showing governed values: labels, code names, and masks for personal identifiers


# In a record's history every personal identifier is masked, whoever looks (R10: nothing leaks more than the
# page needs). The current record shows the ID number in full to an authorised clerk, as before.
HISTORY_MASKS: dict[str, Callable[[str], str]] = {
    "id_number": policies.mask_id_number,
    "phone": policies.mask_phone,
    "bank_account": policies.mask_account,
    "email": policies.mask_email,
}
DETAIL_MASKS: dict[str, dict[str, Callable[[str], str]]] = {
    "person": {
        "phone": policies.mask_phone,
        "bank_account": policies.mask_account,
        "email": policies.mask_email,
    },
    "unit": {},
}
CODE_FIELDS = {"category": CodeTable.PERSON_CATEGORY, "unit_type": CodeTable.UNIT_TYPE}
DETAIL_URLS = {"person": "web:person_detail", "unit": "web:unit_detail"}
ENTITY_LABELS = {"person": gettext_lazy("Person"), "unit": gettext_lazy("Unit")}


def _label(spec: EntitySpec, name: str) -> str:
    """The field's label as the forms show it (a person's "name" is 姓名, a unit's is 单位名称)."""
    form = RECORD_FORMS.get(spec.name)
    if form is not None and name in form.base_fields:
        return capfirst(str(form.base_fields[name].label))
    return capfirst(str(spec.field(name).verbose_name))


def _region_names() -> dict[str, str]:
    return dict(Region.objects.filter(is_district=True).values_list("code", "name"))


def _shown(
    spec: EntitySpec,
    name: str,
    value: Any,
    regions: Mapping[str, str],
    masks: Mapping[str, Callable[[str], str]],
) -> str:
    """A governed value as a clerk reads it: code names instead of codes, masks where the page needs them."""
    if value is None or value == "":
        return "—"
    if name in masks:
        return masks[name](str(value))
    if name == "district_id":
        return f"{value} {regions.get(str(value), '')}".strip()
    if name in CODE_FIELDS:
        return code_label(CODE_FIELDS[name], str(value))
    field = spec.field(name)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _pairs(
    spec: EntitySpec,
    proposed: Mapping[str, Any],
    regions: Mapping[str, str],
    masks: Mapping[str, Callable[[str], str]],
) -> list[dict[str, str]]:
    """Proposed {field: [old, new]} (as the pipeline represents them, sealed or not) for display."""
    return [
        {
            "label": _label(spec, name),
            "old": _shown(spec, name, reveal(spec, name, pair[0]), regions, masks),
            "new": _shown(spec, name, reveal(spec, name, pair[1]), regions, masks),
        }
        for name, pair in proposed.items()
        if name in spec.fields
    ]


def _field_names(spec: EntitySpec, names: Any) -> str:
    return _(", ").join(_label(spec, name) for name in names if name in spec.fields)


# --------------------------------------------------------------------------------------------------------
# History on the detail pages (R9.2)


def _parse_moment(text: str) -> datetime:
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return timezone.make_aware(datetime.strptime(text.strip(), pattern))
        except ValueError:
            continue
    raise ValueError(text)


def _reference_url(reference: str) -> str:
    """Review and maintenance references link to their request (CR12/reviewer, MO5)."""
    head = reference.split("/", 1)[0]
    if head.startswith("CR") and head[2:].isdigit():
        return reverse("web:review_detail", args=[int(head[2:])])
    if head.startswith("MO") and head[2:].isdigit():
        return reverse("web:maintenance_detail", args=[int(head[2:])])
    return ""


def _history(request: HttpRequest, entity: str, record: models.Model) -> dict[str, Any]:
    """The timeline of a record, newest first, and (with ?as_of=) the record as it was at that moment."""
    spec = spec_for(entity)
    regions = _region_names()
    timeline = [
        {
            "revision": entry.revision,
            "reference_url": _reference_url(entry.revision.reference),
            "changes": [
                {
                    "label": _label(spec, change.field),
                    "old": _shown(spec, change.field, change.old, regions, HISTORY_MASKS),
                    "new": _shown(spec, change.field, change.new, regions, HISTORY_MASKS),
                }
                for change in entry.changes
            ],
        }
        for entry in history.timeline(entity, record)
    ]
    # Changes still waiting for a reviewer: the clerk at the window sees that the record has one (and
    # does not submit it twice); the values themselves are on the request's page.
    pending = review_scope(staff_of(request)).filter(
        entity=entity, record_id=record.pk, status=ReviewStatus.PENDING
    )
    context: dict[str, Any] = {
        "timeline": timeline,
        "pending_reviews": list(pending.values_list("pk", flat=True)),
        "as_of_text": request.GET.get("as_of", ""),
    }
    if context["as_of_text"]:
        try:
            moment = _parse_moment(context["as_of_text"])
        except ValueError:
            context["as_of_error"] = _("Enter the moment as YYYY-MM-DDTHH:MM, for example 2024-03-01T09:30.")
            return context
        state = history.as_of(entity, record, moment)
        context["as_of"] = moment
        context["as_of_rows"] = (
            None
            if state is None
            else [
                {
                    "label": _label(spec, name),
                    "value": _shown(spec, name, state.get(name), regions, DETAIL_MASKS[entity]),
                }
                for name in spec.fields
            ]
        )
        context["as_of_version"] = None if state is None else state.get("version")
    return context


# --------------------------------------------------------------------------------------------------------
# Submitting changes at the window (R6.1, R7)


PAGE_TITLES = {
    ("person", "new"): gettext_lazy("New insured person"),
    ("person", "edit"): gettext_lazy("Change a person's data"),
    ("person", "maintain"): gettext_lazy("Apply for maintenance of a person's data"),
    ("unit", "new"): gettext_lazy("New insured unit"),
    ("unit", "edit"): gettext_lazy("Change a unit's data"),
    ("unit", "maintain"): gettext_lazy("Apply for maintenance of a unit's data"),
}
LIST_URLS = {"person": "web:person_list", "unit": "web:unit_list"}


def _record_page(
    request: HttpRequest, form: RecordForm, *, entity: str, record: models.Model | None, mode: str
) -> HttpResponse:
    spec = spec_for(entity)
    context = {
        "form": form,
        "rows": form.rows(),
        "entity": entity,
        "record": record,
        "record_label": spec.label(record) if record is not None else "",
        "mode": mode,
        "title": PAGE_TITLES[entity, mode],
        "cancel_url": (
            reverse(DETAIL_URLS[entity], args=[spec.label(record)])
            if record is not None
            else reverse(LIST_URLS[entity])
        ),
    }
    return render(request, "web/record_form.html", context)


def _stale(request: HttpRequest, form: RecordForm, staff: Staff, record: models.Model) -> RecordForm | None:
    """If the record changed since the clerk opened the form, a form that keeps what they typed, shows the
    values now stored beside it, and carries the new version (so that a second submit is deliberate)."""
    seen = form.seen_version()
    current = record.version  # type: ignore[attr-defined]
    if seen is None or seen == current:
        return None
    data = request.POST.copy()
    data["version"] = str(current)
    fresh = type(form)(data, staff=staff, rules=form.rules, record=record)
    fresh.is_valid()
    fresh.compare_with(record)
    fresh.add_error(
        None,
        _(
            "Someone else changed this record after you opened the form. Nothing was saved. "
            "Check the values stored now (shown beside the fields) and submit again."
        ),
    )
    return fresh


def _submit_messages(request: HttpRequest, entity: str, outcome: Any) -> None:
    spec = spec_for(entity)
    if outcome.applied:
        messages.success(
            request, _("Applied at once: %(fields)s.") % {"fields": _field_names(spec, outcome.applied)}
        )
    if outcome.held is not None:
        messages.info(
            request,
            _(
                "Held for review as request CR%(id)s: %(fields)s. Until a reviewer approves, the values stored "
                "before stay in force."
            )
            % {"id": outcome.held.pk, "fields": _field_names(spec, outcome.held.proposed)},
        )
    if not outcome.applied and outcome.held is None:
        messages.info(request, _("Nothing was changed: the values are the same as those stored."))
    for name, notes in outcome.warnings.items():
        for note in notes:
            messages.warning(
                request, _("Note on %(field)s: %(note)s") % {"field": _label(spec, name), "note": note}
            )


def _record_form(request: HttpRequest, entity: str, record: Governed | None) -> HttpResponse:
    staff = staff_of(request)
    mode = "new" if record is None else "edit"
    form = RECORD_FORMS[entity](
        request.POST if request.method == "POST" else None,
        staff=staff,
        rules=rules_in_force(entity),
        record=record,
    )
    if request.method != "POST" or not form.is_valid():
        return _record_page(request, form, entity=entity, record=record, mode=mode)
    if record is not None and (stale := _stale(request, form, staff, record)) is not None:
        return _record_page(request, stale, entity=entity, record=record, mode=mode)
    try:
        outcome = submit_change(
            actor=staff,
            channel=Channel.WINDOW,
            entity=entity,
            record=record,
            values=form.values(),
            request=request,
        )
    except ChangeRefused as refusal:
        form.refuse(refusal)
        return _record_page(request, form, entity=entity, record=record, mode=mode)
    _submit_messages(request, entity, outcome)
    if outcome.record is not None:
        return redirect(DETAIL_URLS[entity], spec_for(entity).label(outcome.record))
    assert outcome.held is not None  # no record yet: the whole new record waits for review
    return redirect("web:review_detail", outcome.held.pk)


@sensitive_post_parameters(*SECRET_FIELDS)
def person_new(request: HttpRequest) -> HttpResponse:
    policies.require(staff_of(request), "record.submit", request=request)
    return _record_form(request, "person", None)


@sensitive_post_parameters(*SECRET_FIELDS)
def person_edit(request: HttpRequest, person_no: str) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "record.submit", request=request)
    person = policies.person_get(actor=staff, person_no=person_no, request=request)
    return _record_form(request, "person", person)


@sensitive_post_parameters(*SECRET_FIELDS)
def unit_new(request: HttpRequest) -> HttpResponse:
    policies.require(staff_of(request), "record.submit", request=request)
    return _record_form(request, "unit", None)


@sensitive_post_parameters(*SECRET_FIELDS)
def unit_edit(request: HttpRequest, unit_no: str) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "record.submit", request=request)
    unit = policies.unit_get(actor=staff, unit_no=unit_no, request=request)
    return _record_form(request, "unit", unit)


# --------------------------------------------------------------------------------------------------------
# Maintenance (R9.3): apply here; approve, modify and re-check on the order's page


def _maintenance_form(request: HttpRequest, entity: str, record: models.Model) -> HttpResponse:
    staff = staff_of(request)
    form = MAINTENANCE_FORMS[entity](
        request.POST if request.method == "POST" else None,
        staff=staff,
        rules=rules_in_force(entity),
        record=record,
    )
    if request.method != "POST" or not form.is_valid():
        return _record_page(request, form, entity=entity, record=record, mode="maintain")
    if (stale := _stale(request, form, staff, record)) is not None:
        return _record_page(request, stale, entity=entity, record=record, mode="maintain")
    try:
        order = maintenance_apply(
            actor=staff,
            entity=entity,
            record=record,
            values=form.values(),
            reason=form.cleaned_data.get("reason", ""),
            request=request,
        )
    except ChangeRefused as refusal:
        form.refuse(refusal)
        return _record_page(request, form, entity=entity, record=record, mode="maintain")
    messages.success(
        request,
        _("Maintenance order MO%(id)s has been applied for. It now waits for an approver.")
        % {"id": order.pk},
    )
    return redirect("web:maintenance_detail", order.pk)


@sensitive_post_parameters(*SECRET_FIELDS)
def person_maintain(request: HttpRequest, person_no: str) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "maintenance.apply", request=request)
    person = policies.person_get(actor=staff, person_no=person_no, request=request)
    return _maintenance_form(request, "person", person)


@sensitive_post_parameters(*SECRET_FIELDS)
def unit_maintain(request: HttpRequest, unit_no: str) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "maintenance.apply", request=request)
    unit = policies.unit_get(actor=staff, unit_no=unit_no, request=request)
    return _maintenance_form(request, "unit", unit)


# --------------------------------------------------------------------------------------------------------
# Read-only selectors for the workflow pages. sidms.access.policies has no fetch-and-authorise for review
# requests and maintenance orders yet, so these do it here, in the same manner: permission, then scope
# (outside it the item does not exist: 404), then an audit event for the read.

MAINTENANCE_POSTS = ("maintenance.apply", "maintenance.approve", "maintenance.modify", "maintenance.recheck")
QUEUE_POSTS = ("record.submit", "review.decide", *MAINTENANCE_POSTS)
QUEUE_LIMIT = 100


def _change_request_get(staff: Staff, request_id: int, request: HttpRequest) -> ChangeRequest:
    """A review request: any in scope for a reviewer; only their own for a submitting clerk."""
    found = review_scope(staff)
    if not policies.has_permission(staff, "review.decide"):
        if not policies.has_permission(staff, "record.submit"):
            policies.require(staff, "review.decide", request=request)
        found = found.filter(submitted_by=staff)
    held = found.select_related("district", "decided_by").filter(pk=request_id).first()
    if held is not None and held.record_id is not None:
        # The request follows its record: once the record moved to another district, it is theirs.
        record = spec_for(held.entity).model.objects.filter(pk=held.record_id).first()
        if record is None or not policies.in_scope(staff, district_of(record)):
            held = None
    if held is None:
        raise Http404
    audit_record(
        "read.change_request", actor=staff, request=request, object_type="change_request", object_id=held.pk,
        detail={"entity": held.entity, "record": held.record_label},
    )  # fmt: skip
    return held


def _maintenance_get(staff: Staff, order_id: int, request: HttpRequest) -> MaintenanceOrder:
    if not any(policies.has_permission(staff, p) for p in MAINTENANCE_POSTS):
        policies.require(staff, "maintenance.approve", request=request)
    order = maintenance_scope(staff).select_related("district").filter(pk=order_id).first()
    if order is not None:
        record = spec_for(order.entity).model.objects.filter(pk=order.record_id).first()
        if record is None or not policies.in_scope(staff, district_of(record)):
            order = None
    if order is None:
        raise Http404
    audit_record(
        "read.maintenance", actor=staff, request=request, object_type="maintenance", object_id=order.pk,
        detail={"entity": order.entity, "record": order.record_label},
    )  # fmt: skip
    return order


# --------------------------------------------------------------------------------------------------------
# My queues


@dataclass
class Section:
    key: str
    title: str
    kind: str  # "review" or "maintenance"
    rows: list[Any]
    more: bool
    empty: str


def _take(queryset: models.QuerySet[Any]) -> tuple[list[Any], bool]:
    rows = list(queryset[: QUEUE_LIMIT + 1])
    return rows[:QUEUE_LIMIT], len(rows) > QUEUE_LIMIT


def _rows(items: list[ChangeRequest] | list[MaintenanceOrder]) -> list[dict[str, Any]]:
    return [
        {
            "item": item,
            "entity_label": str(ENTITY_LABELS.get(item.entity, item.entity)),
            "fields": _field_names(spec_for(item.entity), item.proposed),
        }
        for item in items
    ]


def queues(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    can = {p: policies.has_permission(staff, p) for p in QUEUE_POSTS}
    if not any(can.values()):
        policies.require(staff, "review.decide", request=request)
    sections: list[Section] = []
    reviews = review_scope(staff).select_related("district")
    orders = maintenance_scope(staff).select_related("district")
    S = MaintenanceStatus
    if can["review.decide"]:
        rows, more = _take(
            reviews.filter(status=ReviewStatus.PENDING).exclude(submitted_by=staff).order_by("submitted_at")
        )
        sections.append(
            Section(
                "review",
                _("Waiting for review"),
                "review",
                _rows(rows),
                more,
                _("Nothing waits for your review."),
            )
        )
    if can["maintenance.approve"]:
        rows, more = _take(orders.filter(status=S.APPLIED).exclude(applicant=staff).order_by("applied_at"))
        sections.append(
            Section(
                "approve",
                _("Waiting for approval"),
                "maintenance",
                _rows(rows),
                more,
                _("Nothing waits for your approval."),
            )
        )
    if can["maintenance.modify"]:
        rows, more = _take(
            orders.filter(status=S.APPROVED)
            .exclude(Q(applicant=staff) | Q(approver=staff))
            .order_by("approved_at")
        )
        sections.append(
            Section(
                "modify",
                _("Waiting for modification"),
                "maintenance",
                _rows(rows),
                more,
                _("Nothing waits for you to modify."),
            )
        )
    if can["maintenance.recheck"]:
        rows, more = _take(
            orders.filter(status=S.MODIFIED)
            .exclude(Q(applicant=staff) | Q(approver=staff) | Q(modifier=staff))
            .order_by("modified_at")
        )
        sections.append(
            Section(
                "recheck",
                _("Waiting for re-check"),
                "maintenance",
                _rows(rows),
                more,
                _("Nothing waits for your re-check."),
            )
        )
    if can["record.submit"]:
        rows, more = _take(
            reviews.filter(submitted_by=staff).select_related("decided_by").order_by("-submitted_at")
        )
        sections.append(
            Section(
                "mine",
                _("Submitted by me"),
                "review",
                _rows(rows),
                more,
                _("You have submitted nothing that needed review."),
            )
        )
    if can["maintenance.apply"]:
        rows, more = _take(orders.filter(applicant=staff).order_by("-applied_at"))
        sections.append(
            Section(
                "mine_maintenance",
                _("Maintenance I applied for"),
                "maintenance",
                _rows(rows),
                more,
                _("You have applied for no maintenance."),
            )
        )
    return render(request, "web/queues.html", {"sections": sections, "limit": QUEUE_LIMIT})


# --------------------------------------------------------------------------------------------------------
# Review of held changes (R7.3)

BADGES = {
    "verified": gettext_lazy("Verified"),
    "mismatch": gettext_lazy("Does not match"),
    "not_found": gettext_lazy("Not found in the registry"),
    "flagged": gettext_lazy("Flagged: see the detail"),
    "unavailable": gettext_lazy("Not verified"),
}


# What a registry reported, named for the reviewer; other facts (reason codes, attempts) are technical.
FACT_LABELS = {
    "name": gettext_lazy("Registered name"),
    "status": gettext_lazy("Registered status"),
    "registered_at": gettext_lazy("Registered on"),
    "match": gettext_lazy("ID number and name match"),
    "deceased": gettext_lazy("Deceased"),
    "death_date": gettext_lazy("Date of death"),
    "marital_status": gettext_lazy("Marital status"),
    "extract_date": gettext_lazy("Date of the registry extract"),
}
FACT_VALUES = {"true": gettext_lazy("yes"), "false": gettext_lazy("no")}


def _facts(facts: Mapping[str, Any]) -> tuple[list[tuple[str, str]], str]:
    named = [
        (str(FACT_LABELS[key]), str(FACT_VALUES.get(str(value), value)))
        for key, value in facts.items()
        if key in FACT_LABELS
    ]
    technical = ", ".join(f"{key}={value}" for key, value in facts.items() if key not in FACT_LABELS)
    return named, technical


def _checks(held: ChangeRequest) -> list[dict[str, Any]]:
    english = (get_language() or "").startswith("en")
    results = []
    for result in held.crosschecks:
        spec = REGISTRY_SPECS.get(result.get("registry", ""))
        checked = result.get("checked_at")
        results.append(
            {
                "registry": (spec.label_en if english else spec.label)
                if spec
                else result.get("registry", ""),
                "status": result.get("status", "unavailable"),
                "badge": str(BADGES.get(result.get("status", ""), BADGES["unavailable"])),
                "detail": result.get("detail_en" if english else "detail", ""),
                "facts": _facts(result.get("facts") or {})[0],
                "technical": _facts(result.get("facts") or {})[1],
                "checked_at": datetime.fromisoformat(checked) if checked else None,
                "source": result.get("source", ""),
            }
        )
    return results


def _review_page(
    request: HttpRequest, held: ChangeRequest, *, refusal: str = "", status: int = 200
) -> HttpResponse:
    staff = staff_of(request)
    spec = spec_for(held.entity)
    own = held.submitted_by_id == staff.pk
    # The reviewer compares the held values with the documents and the registries: they are shown in full.
    context = {
        "held": held,
        "entity_label": str(ENTITY_LABELS.get(held.entity, held.entity)),
        "pairs": _pairs(spec, held.proposed, _region_names(), {}),
        "checks": _checks(held),
        "own": own,
        "pending": held.status == ReviewStatus.PENDING,
        "may_decide": policies.has_permission(staff, "review.decide") and held.status == ReviewStatus.PENDING,
        "record_url": reverse(DETAIL_URLS[held.entity], args=[held.record_label])
        if held.entity in DETAIL_URLS and (held.record_id is not None or held.status == ReviewStatus.APPROVED)
        else "",
        "refusal": refusal,
        "reason": request.POST.get("reason", "") if request.method == "POST" else "",
    }
    return render(request, "web/review_detail.html", context, status=status)


def review_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    held = _change_request_get(staff_of(request), request_id, request)
    return _review_page(request, held)


def _refused(refusal: ChangeRefused | NotPermitted) -> tuple[str, int]:
    """The person's message and the HTTP status of a refusal shown on the page."""
    if isinstance(refusal, NotPermitted):
        return str(refusal), 403
    if isinstance(refusal, StaleChange):
        return refusal.localized(), 409
    return str(refusal), 200


@require_POST
def review_decide_view(request: HttpRequest, request_id: int) -> HttpResponse:
    staff = staff_of(request)
    form = DecisionForm(request.POST)
    if not form.is_valid() or form.cleaned_data["decision"] not in ("approve", "reject"):
        return _review_page(
            request,
            _change_request_get(staff, request_id, request),
            refusal=_("Choose approve or reject."),
            status=400,
        )
    try:
        held = review_decide(
            actor=staff,
            change_request_id=request_id,
            approve=form.positive,
            reason=form.reason_text,
            request=request,
        )
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _review_page(
            request, _change_request_get(staff, request_id, request), refusal=message, status=status
        )
    if form.positive:
        messages.success(
            request, _("Request CR%(id)s approved: the new values are in force.") % {"id": held.pk}
        )
    else:
        messages.success(
            request, _("Request CR%(id)s rejected; the submitter will see your reason.") % {"id": held.pk}
        )
    return redirect("web:queues")


@require_POST
def review_recheck_view(request: HttpRequest, request_id: int) -> HttpResponse:
    staff = staff_of(request)
    try:
        review_recheck_registries(actor=staff, change_request_id=request_id, request=request)
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _review_page(
            request, _change_request_get(staff, request_id, request), refusal=message, status=status
        )
    messages.success(request, _("The registries have been asked again; the results below are new."))
    return redirect("web:review_detail", request_id)


# --------------------------------------------------------------------------------------------------------
# Maintenance orders (R9.3)

# Which post takes the next step of an order in each status, and who may not (those of earlier steps).
NEXT_STEP = {
    MaintenanceStatus.APPLIED: ("approve", "maintenance.approve", ("applicant",)),
    MaintenanceStatus.APPROVED: ("modify", "maintenance.modify", ("applicant", "approver")),
    MaintenanceStatus.MODIFIED: ("recheck", "maintenance.recheck", ("applicant", "approver", "modifier")),
}
STEP_WAITS_FOR = {
    "approve": gettext_lazy("Waits for an approver, who is not the applicant."),
    "modify": gettext_lazy(
        "Waits for a window clerk who took no earlier step to carry out the modification."
    ),
    "recheck": gettext_lazy("Waits for a re-checker who took no earlier step."),
}


def _maintenance_page(
    request: HttpRequest, order: MaintenanceOrder, *, refusal: str = "", status: int = 200
) -> HttpResponse:
    staff = staff_of(request)
    spec = spec_for(order.entity)
    step = NEXT_STEP.get(order.status)  # type: ignore[call-overload]
    action, took_part = "", False
    if step is not None:
        name, permission, earlier = step
        took_part = any(getattr(order, f"{who}_id") == staff.pk for who in earlier)
        if policies.has_permission(staff, permission) and not took_part:
            action = name
    steps = [
        (_("Applied for"), order.applicant, order.applied_at, order.reason),
        (
            _("Refused") if order.status == MaintenanceStatus.REFUSED else _("Approved"),
            order.approver,
            order.approved_at,
            order.decision_reason if order.status == MaintenanceStatus.REFUSED else "",
        ),
        (_("Modified"), order.modifier, order.modified_at, ""),
        (
            _("Sent back") if order.status == MaintenanceStatus.SENT_BACK else _("Re-checked and accepted"),
            order.rechecker,
            order.rechecked_at,
            order.decision_reason if order.status == MaintenanceStatus.SENT_BACK else "",
        ),
    ]
    context = {
        "order": order,
        "entity_label": str(ENTITY_LABELS.get(order.entity, order.entity)),
        "pairs": _pairs(spec, order.proposed, _region_names(), HISTORY_MASKS),
        "steps": [s for s in steps if s[1] is not None],
        "action": action,
        "took_part": took_part,
        "waits_for": str(STEP_WAITS_FOR[step[0]]) if step is not None else "",
        "record_url": reverse(DETAIL_URLS[order.entity], args=[order.record_label])
        if order.entity in DETAIL_URLS
        else "",
        "refusal": refusal,
        "reason": request.POST.get("reason", "") if request.method == "POST" else "",
    }
    return render(request, "web/maintenance_detail.html", context, status=status)


def maintenance_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _maintenance_get(staff_of(request), order_id, request)
    return _maintenance_page(request, order)


def _maintenance_step(
    request: HttpRequest,
    order_id: int,
    step: Callable[[Staff, DecisionForm | None], MaintenanceOrder],
    *,
    decisions: tuple[str, ...] = (),
) -> HttpResponse:
    staff = staff_of(request)
    form = DecisionForm(request.POST) if decisions else None
    if form is not None and (not form.is_valid() or form.cleaned_data["decision"] not in decisions):
        return _maintenance_page(
            request, _maintenance_get(staff, order_id, request), refusal=_("Choose a decision."), status=400
        )
    try:
        order = step(staff, form)
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _maintenance_page(
            request, _maintenance_get(staff, order_id, request), refusal=message, status=status
        )
    messages.success(
        request,
        _("Maintenance order MO%(id)s: %(status)s.") % {"id": order.pk, "status": order.get_status_display()},
    )
    return redirect("web:queues")


@require_POST
def maintenance_approve_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(staff: Staff, form: DecisionForm | None) -> MaintenanceOrder:
        assert form is not None
        return maintenance_approve(
            actor=staff, order_id=order_id, approve=form.positive, reason=form.reason_text, request=request
        )

    return _maintenance_step(request, order_id, step, decisions=("approve", "reject"))


@require_POST
def maintenance_modify_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(staff: Staff, form: DecisionForm | None) -> MaintenanceOrder:
        return maintenance_modify(actor=staff, order_id=order_id, request=request)

    return _maintenance_step(request, order_id, step)


@require_POST
def maintenance_recheck_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(staff: Staff, form: DecisionForm | None) -> MaintenanceOrder:
        assert form is not None
        return maintenance_recheck(
            actor=staff, order_id=order_id, accept=form.positive, reason=form.reason_text, request=request
        )

    return _maintenance_step(request, order_id, step, decisions=("accept", "send_back"))
