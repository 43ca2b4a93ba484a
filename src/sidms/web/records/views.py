"""Record pages, one implementation for every declared entity: list, detail, new, edit, maintain, and the
history with the record as of any moment (R9.2). Each view reads top to bottom: the middleware has
authenticated the staff member with two factors; the view parses its input, calls one policy or service,
and renders. What an entity shows beyond this lives in its page module (sidms.web.records.pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from sidms.access import policies
from sidms.access import workflow as workflows
from sidms.changes import history
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import rules_in_force, submit_change
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted
from sidms.core.kernel import EntitySpec, by_slug, spec_for
from sidms.parameters.codes import code_choices, district_choices
from sidms.web.bad_input import BadInput, answers_bad_input, no_such_page
from sidms.web.context import caller_of, staff_of
from sidms.web.display import (
    cell,
    column_cell,
    is_reference,
    joined,
    label,
    label_for,
    record_name,
    record_url,
    shown,
    value_text,
)
from sidms.web.records.forms import RecordForm
from sidms.web.records.pages import page

# Fields held encrypted in the database are edited as plain text: the views that take them are marked with
# sensitive_post_parameters, so an error report never carries them.
SECRET_FIELDS = ("id_number", "phone", "bank_account", "email")
PER_PAGE = 50
PER_PAGE_CHOICES = (20, 50, 100)


def _spec(slug: str) -> EntitySpec:
    spec = by_slug(slug)
    if spec is None:
        raise Http404
    return spec


def _crumbs(spec: EntitySpec, record: Any = None, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    crumbs = [(_("Home"), reverse("web:dashboard"))]
    crumbs.append(
        (
            str(capfirst(spec.model._meta.verbose_name_plural)),
            reverse("web:record_list", args=[spec.declaration.slug]),
        )
    )
    if record is not None:
        crumbs.append((record_name(spec, record), record_url(spec, record)))
    crumbs.extend(extra)
    return crumbs


# --------------------------------------------------------------------------------------------------------
# Lists


@require_http_methods(["GET", "POST"])
@answers_bad_input
def record_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The search form posts, so an ID number never sits in a URL (browser history, proxy and server logs);
    browsing, filters, sorting and name searches page with GET links that carry no ID number."""
    spec = _spec(slug)
    staff = staff_of(request)
    source = request.POST if request.method == "POST" else request.GET
    query = str(source.get("q", "")).strip()
    if request.method == "GET" and policies.ID_NUMBER_SHAPE.match(query):
        # An ID number typed (or bookmarked) into the address is not searched, so such URLs stop being useful.
        messages.warning(
            request,
            _("Search for ID numbers with the search box: an ID number must not be in a web address."),
        )
        query = ""
    wanted = _list_input(spec, request, staff)
    listing = policies.record_list(
        actor=caller_of(request), spec=spec, query=query, filters=wanted.filters, sort=wanted.sort,
        page=wanted.page, per_page=wanted.per_page,
    )  # fmt: skip
    params = {k: v for k, v in wanted.filters.items() if v}
    if wanted.sort:
        params["sort"] = wanted.sort
    if wanted.per_page != PER_PAGE:
        params["per_page"] = str(wanted.per_page)
    if query and listing.by and not policies.ID_NUMBER_SHAPE.match(query):
        params["q"] = query
    list_url = reverse("web:record_list", args=[slug])
    if listing.page.number != wanted.page:
        raise no_such_page(wanted.page, listing.page.paginator.num_pages, list_url, params)
    columns = list(spec.declaration.list_columns)
    # A row links to its record from its first cell, unless that cell names another record (an employment's
    # person): then the row has its own link at the end, since links do not nest.
    link_first = not is_reference(spec, columns[0]) if columns else False
    rows = [
        {
            "url": record_url(spec, record),
            "cells": [column_cell(spec, record, name, staff) for name in columns],
        }
        for record in listing.page
    ]
    return render(
        request,
        "records/list.html",
        {
            "spec": spec,
            "slug": slug,
            "title": spec.model._meta.verbose_name_plural,
            "entity_label": spec.model._meta.verbose_name,
            "crumbs": _crumbs(spec),
            "headers": [
                {"name": n, "label": label(spec, n), "sortable": n in spec.declaration.sortable}
                for n in columns
            ],
            "rows": rows,
            "link_first": link_first,
            "listing": listing,
            "page_obj": listing.page,
            "total": f"{listing.total:,}",
            "q": query,
            "by_label": label(spec, listing.by) if listing.by else "",
            "filters": _filter_widgets(spec, wanted.filters),
            "filtered": any(wanted.filters.values()),
            "params": params,
            "sort": wanted.sort,
            "per_page": wanted.per_page,
            "per_page_choices": PER_PAGE_CHOICES,
            "searchable": spec.declaration.search is not None,
            "search_hint": _search_hint(spec),
            "can_create": page(spec.name).creatable and policies.has_permission(staff, "record.submit"),
        },
    )


@dataclass(frozen=True)
class ListInput:
    page: int
    per_page: int
    sort: str
    filters: dict[str, str]


def _list_input(spec: EntitySpec, request: HttpRequest, staff: Any) -> ListInput:
    """The list's paging, sorting and filters from the address, or a clear refusal (BadInput): a page number
    that is not one, or a sort the list does not offer, is not quietly replaced by the first page."""
    reset = reverse("web:record_list", args=[spec.declaration.slug])
    back = {"back": reset, "back_text": _("Show the list from the start")}
    raw_page = str(request.GET.get("page") or "1").strip()
    if not (raw_page.isascii() and raw_page.isdigit()) or int(raw_page) < 1:
        raise BadInput(_("The page number must be a whole number from 1 on."), **back)
    raw_per_page = str(request.GET.get("per_page") or PER_PAGE).strip()
    if not (raw_per_page.isascii() and raw_per_page.isdigit()) or int(raw_per_page) not in PER_PAGE_CHOICES:
        *most, last = map(str, PER_PAGE_CHOICES)
        sizes = _("%(most)s or %(last)s") % {"most": joined(most), "last": last}
        raise BadInput(_("A page shows %(choices)s records.") % {"choices": sizes}, **back)
    sort = str(request.GET.get("sort", "")).strip()
    if sort and sort.removeprefix("-") not in spec.declaration.sortable:
        raise BadInput(_("This list cannot be sorted that way: sort by clicking a column heading."), **back)
    filters = {}
    for name in spec.declaration.list_filters:
        if name == "district_id" and not staff.is_city_level:
            continue  # the data scope already fixes the district
        value = str(request.GET.get(name, "")).strip()
        choices = _filter_choices(spec, name)
        if value and choices and value not in {code for code, _text in choices}:
            raise BadInput(
                _("%(field)s has no such choice: choose one from the list.") % {"field": label(spec, name)},
                **back,
            )
        filters[name] = value
    return ListInput(int(raw_page), int(raw_per_page), sort, filters)


def _search_hint(spec: EntitySpec) -> str:
    if spec.declaration.search is None:
        return ""
    parts = []
    for name, way in spec.declaration.search.ways:
        if way == "idcard":
            parts.append(_("exact %(field)s (15 or 18 digits)") % {"field": label(spec, name)})
        elif way == "prefix":
            parts.append(_("the beginning of the %(field)s") % {"field": label(spec, name)})
        elif way == "contains":
            parts.append(_("part of the %(field)s") % {"field": label(spec, name)})
        else:
            parts.append(label(spec, name))
    return _(", or ").join(parts)


def _filter_choices(spec: EntitySpec, name: str) -> list[tuple[str, str]]:
    if name == "district_id":
        return district_choices()
    if name in spec.declaration.codes:
        return code_choices(spec.declaration.codes[name])
    if spec.field(name).choices:
        return [(str(k), str(v)) for k, v in spec.field(name).flatchoices]
    return []


def _filter_widgets(spec: EntitySpec, filters: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "label": label(spec, name), "value": value, "choices": _filter_choices(spec, name)}
        for name, value in filters.items()
    ]


# --------------------------------------------------------------------------------------------------------
# Detail and history


def get_record(
    request: HttpRequest,
    spec: EntitySpec,
    key: str,
    *,
    action: str = "",
    detail: dict[str, Any] | None = None,
) -> Any:
    """The record through the read door (a view of it other than its page names itself by ACTION, with
    DETAIL: policies.record_get). A path holding an ID number (typed or bookmarked) is answered with the
    reason rather than a bare "not found": records are addressed by their record number."""
    try:
        return policies.record_get(actor=caller_of(request), spec=spec, key=key, action=action, detail=detail)
    except Http404:
        if policies.ID_NUMBER_SHAPE.match(key):
            raise BadInput(
                _(
                    "An ID number must not be in a web address. Find the person with the search box; "
                    "their page is addressed by the record number."
                ),
                back=reverse("web:record_list", args=[spec.declaration.slug]),
                back_text=_("Go to the search"),
            ) from None
        raise


@answers_bad_input
def record_detail(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    spec = _spec(slug)
    staff = staff_of(request)
    if "as_of" in request.GET:
        # The record as of a moment is shown with its history; the address keeps the moment asked for.
        return redirect(
            reverse("web:record_history", args=[slug, key]) + "?" + urlencode({"as_of": request.GET["as_of"]})
        )
    record = get_record(request, spec, key)
    fields = [
        {"label": label_for(spec, record, name), "value": cell(spec, record, name, staff)}
        for name in spec.fields
        if name != "uid"
    ]
    return render(
        request,
        "records/detail.html",
        {
            **record_context(request, spec, record),
            "fields": fields,
            "related": _related(request, spec, record),
        },
    )


def record_context(request: HttpRequest, spec: EntitySpec, record: Any) -> dict[str, Any]:
    staff = staff_of(request)
    pending = workflows.visible(staff, ChangeRequest).filter(
        entity=spec.name, record_id=record.pk, status=ReviewStatus.PENDING
    )
    status = getattr(record, "status", None)
    return {
        "spec": spec,
        "slug": spec.declaration.slug,
        "record": record,
        "key": spec.label(record),
        "name": record_name(spec, record),
        "district": value_text(spec, "district_id", spec.district_of(record))
        if spec.declaration.district
        else "",
        "status_label": record.get_status_display()
        if status is not None and hasattr(record, "get_status_display")
        else "",
        "crumbs": _crumbs(spec, record),
        "pending_reviews": list(pending.values_list("pk", flat=True)),
        "can_edit": policies.has_permission(staff, "record.submit"),
        "can_maintain": policies.has_permission(staff, "maintenance.apply"),
        "entity_label": spec.model._meta.verbose_name,
    }


def _related(request: HttpRequest, spec: EntitySpec, record: Any) -> list[dict[str, Any]]:
    staff = staff_of(request)
    sections = []
    for related in page(spec.name).related:
        other = spec_for(related.entity)
        if not policies.has_permission(staff, policies.view_permission(other)):
            continue
        rows_qs = other.model._default_manager.filter(**{related.reference: record})
        if related.only_current:
            rows_qs = rows_qs.filter(**{f"{related.only_current}__isnull": True})
        # Only the records the columns name: select_related() with no names would follow every foreign key
        # (a ledger entry's person, district and run, with its parameters) for nothing.
        joined_records = [n[:-3] for n in related.columns if n.endswith("_id")]
        if joined_records:
            rows_qs = rows_qs.select_related(*joined_records)
        if related.newest_first:
            rows_qs = rows_qs.order_by(f"-{related.newest_first}", "-pk")
        # One more than shown, to know whether there are more.
        rows = policies.record_related(
            actor=caller_of(request), spec=other, queryset=rows_qs, limit=related.limit + 1
        )
        more, rows = len(rows) > related.limit, rows[: related.limit]
        create_url = ""
        if related.create and policies.has_permission(staff, "record.submit"):
            create_url = (
                reverse("web:record_new", args=[other.declaration.slug])
                + f"?{related.reference}={spec.label(record)}"
            )
        sections.append(
            {
                "title": related.title,
                "headers": [label(other, n) for n in related.columns],
                "rows": [
                    {
                        "url": record_url(other, row),
                        "cells": [column_cell(other, row, n, staff) for n in related.columns],
                    }
                    for row in rows
                ],
                "create_url": create_url,
                "more": more,
                "limit": related.limit,
            }
        )
    return sections


def _parse_moment(text: str) -> datetime:
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
        if not 1900 <= moment.year <= 2199:
            raise ValueError(text)
        return timezone.make_aware(moment)
    raise ValueError(text)


def _reference(reference: str) -> tuple[str, str, str]:
    """A revision's reference as the clerk reads it, the page of its request, and the login of whoever
    decided it: review, maintenance and batch references link to their request (CR12, MO5, BA3), and a
    review reference names its reviewer after the number (CR12/reviewer_hc), shown by name."""
    head, _sep, decider = reference.partition("/")
    for prefix, name in (
        ("CR", "web:review_detail"),
        ("MO", "web:maintenance_detail"),
        ("BA", "gov:batch_detail"),
    ):
        if head.startswith(prefix) and head[2:].isdigit():
            return head, reverse(name, args=[int(head[2:])]), decider
    return head, "", decider


@answers_bad_input
def record_history(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """The timeline of a record, newest first, and (with ?as_of=) the record as it was at that moment. Every
    personal identifier is masked here, whoever looks."""
    spec = _spec(slug)
    staff = staff_of(request)
    record = get_record(request, spec, key)
    entries = history.timeline(spec.name, record)
    references = {entry.revision.pk: _reference(entry.revision.reference) for entry in entries}
    names = _staff_names(
        {entry.revision.actor for entry in entries} | {decider for _h, _u, decider in references.values()}
    )
    timeline = []
    for entry in entries:
        reference, reference_url, decider = references[entry.revision.pk]
        timeline.append(
            {
                "revision": entry.revision,
                "actor": names.get(entry.revision.actor) or _actor_text(entry.revision.actor),
                "reference": reference,
                "reference_url": reference_url,
                "decider": (names.get(decider) or decider) if decider else "",
                "changes": _changes(spec, record, entry.changes, staff),
            }
        )
    context: dict[str, Any] = {
        **record_context(request, spec, record),
        "timeline": timeline,
        "as_of_text": str(request.GET.get("as_of", "")),
        "crumbs": _crumbs(spec, record, (_("History of changes"), "")),
    }
    status = 200
    if context["as_of_text"]:
        try:
            moment = _parse_moment(context["as_of_text"])
        except ValueError:
            context["as_of_error"] = _(
                "Enter a moment that exists, between the years 1900 and 2199, as YYYY-MM-DD HH:MM "
                "(for example 2024-03-01 09:30)."
            )
            status = 400
        else:
            state = history.as_of(spec.name, record, moment)
            context["as_of"] = moment
            context["as_of_rows"] = (
                None
                if state is None
                else [
                    {
                        "label": label_for(spec, SimpleNamespace(**state), name),
                        "value": shown(spec, name, state.get(name), staff, channel="history"),
                    }
                    for name in spec.fields
                ]
            )
            context["as_of_version"] = None if state is None else state.get("version")
    return render(request, "records/history.html", context, status=status)


def _changes(spec: EntitySpec, record: Any, changes: Any, staff: Any) -> list[dict[str, Any]]:
    """A revision's changes as old → new, leaving out fields that read the same on both sides (a field
    created empty), each field named as on RECORD's page (a one-time grant's amount is not a monthly one)."""
    rows = []
    for change in changes:
        old = shown(spec, change.field, change.old, staff, channel="history")
        new = shown(spec, change.field, change.new, staff, channel="history")
        if old != new:
            rows.append({"label": label_for(spec, record, change.field), "old": old, "new": new})
    return rows


def _actor_text(login: str) -> str:
    if login == "system" or login.startswith("system:"):
        return _("the system")
    return login


def _staff_names(usernames: set[str]) -> dict[str, str]:
    from sidms.registry.models import Staff

    return {
        u: (n or u)
        for u, n in Staff.objects.filter(username__in=usernames).values_list("username", "first_name")
    }


# --------------------------------------------------------------------------------------------------------
# Submitting changes at the window (R6.1, R7) and applying for maintenance (R9.3)


def _fixed(request: HttpRequest, spec: EntitySpec) -> dict[str, models.Model]:
    """References given in the query string (?person=3700000017 from a person's page), fetched through the
    read door: only a record the clerk may see can be referenced this way."""
    fixed = {}
    for name in spec.fields:
        if not name.endswith("_id"):
            continue
        reference = name[:-3]
        key = request.GET.get(reference)
        model_field = spec.field(name)
        if key and model_field.related_model is not None:
            from sidms.core.kernel import spec_of_model

            other = spec_of_model(model_field.related_model)
            if other is not None:
                fixed[name] = get_record(request, other, str(key))
    return fixed


def _form_page(
    request: HttpRequest, form: RecordForm, spec: EntitySpec, record: Any, mode: str, *, status: int = 200
) -> HttpResponse:
    titles = {
        "new": _("New %(entity)s"),
        "edit": _("Change the data of %(entity)s"),
        "maintain": _("Apply for maintenance of %(entity)s"),
    }
    title = titles[mode] % {"entity": spec.model._meta.verbose_name}
    fixed = [
        {"label": label(spec, name), "value": record_name(spec_for_model(target), target)}
        for name, target in form.fixed.items()
    ]
    # A record entered from another's page (an employment from its person's) belongs under that page.
    parent = next(iter(form.fixed.values()), None) if record is None else None
    if parent is not None:
        parent_spec = spec_for_model(parent)
        crumbs, cancel_url = _crumbs(parent_spec, parent, (title, "")), record_url(parent_spec, parent)
    elif record is not None:
        crumbs, cancel_url = _crumbs(spec, record, (title, "")), record_url(spec, record)
    else:
        crumbs, cancel_url = (
            _crumbs(spec, None, (title, "")),
            reverse("web:record_list", args=[spec.declaration.slug]),
        )
    context = {
        "form": form,
        "rows": form.rows(),
        "spec": spec,
        "record": record,
        "name": record_name(spec, record) if record is not None else "",
        "mode": mode,
        "title": title,
        "fixed": fixed,
        "crumbs": crumbs,
        "cancel_url": cancel_url,
    }
    if form.errors and status == 200:
        status = 400
    return render(request, "records/form.html", context, status=status)


def spec_for_model(target: models.Model) -> EntitySpec:
    from sidms.core.kernel import spec_of_model

    spec = spec_of_model(type(target))
    assert spec is not None
    return spec


def _stale(
    request: HttpRequest, form: RecordForm, spec: EntitySpec, record: Any, maintenance: bool
) -> RecordForm | None:
    """If the record changed since the clerk opened the form, a form that keeps what they typed, shows the
    values now stored beside it (masked), and carries the new version (so that a second submit is deliberate)."""
    seen = form.seen_version()
    current = record.version
    if seen is None or seen == current:
        return None
    data = request.POST.copy()
    data["version"] = str(current)
    fresh = RecordForm(
        data, spec=spec, staff=form.staff, rules=form.rules, record=record, maintenance=maintenance
    )
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


def _submit_messages(request: HttpRequest, spec: EntitySpec, outcome: Any, *, created: bool = False) -> None:
    def named(name: str) -> str:  # as on the record's page (a one-time grant's amount)
        return label(spec, name) if outcome.record is None else label_for(spec, outcome.record, name)

    if created and outcome.record is not None:
        messages.success(
            request,
            _("Saved: %(record)s. Its history starts with this entry.")
            % {"record": record_name(spec, outcome.record)},
        )
    elif outcome.applied:
        messages.success(
            request,
            _("Applied at once: %(fields)s.") % {"fields": joined(named(n) for n in outcome.applied)},
        )
    if outcome.held is not None:
        messages.info(
            request,
            _(
                "Held for review as request CR%(id)s: %(fields)s. Until a reviewer approves, the values stored "
                "before stay in force."
            )
            % {"id": outcome.held.pk, "fields": joined(named(n) for n in outcome.held.proposed)},
        )
    if not outcome.applied and outcome.held is None:
        messages.info(request, _("Nothing was changed: the values are the same as those stored."))
    for name, notes in outcome.warnings.items():
        for note in notes:
            messages.warning(request, _("Note on %(field)s: %(note)s") % {"field": named(name), "note": note})


@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@answers_bad_input
def record_new(request: HttpRequest, slug: str) -> HttpResponse:
    spec = _spec(slug)
    staff = staff_of(request)
    policies.require(caller_of(request), "record.submit", path=request.path)
    fixed = _fixed(request, spec)
    form = RecordForm(
        request.POST if request.method == "POST" else None, spec=spec, staff=staff,
        rules=rules_in_force(spec.name), fixed=fixed,
    )  # fmt: skip
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, form, spec, None, "new")
    try:
        outcome = submit_change(
            actor=caller_of(request), channel=Channel.WINDOW, entity=spec.name, values=form.values()
        )
    except ChangeRefused as refusal:
        form.refuse(refusal)
        return _form_page(request, form, spec, None, "new")
    except IntegrityAlert:
        raise  # recorded by the service: the alert's page answers (409), as for every integrity refusal
    except NotPermitted as refusal:
        form.add_error(None, refusal.localized())
        return _form_page(request, form, spec, None, "new", status=403)
    _submit_messages(request, spec, outcome, created=True)
    if outcome.record is not None:
        return redirect(record_url(spec, outcome.record))
    assert outcome.held is not None  # no record yet: the whole new record waits for review
    return redirect("web:review_detail", outcome.held.pk)


@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@answers_bad_input
def record_edit(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    spec = _spec(slug)
    staff = staff_of(request)
    policies.require(caller_of(request), "record.submit", path=request.path)
    record = get_record(request, spec, key)
    form = RecordForm(
        request.POST if request.method == "POST" else None, spec=spec, staff=staff,
        rules=rules_in_force(spec.name), record=record,
    )  # fmt: skip
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, form, spec, record, "edit")
    if (stale := _stale(request, form, spec, record, False)) is not None:
        return _form_page(request, stale, spec, record, "edit", status=409)
    try:
        outcome = submit_change(
            actor=caller_of(request),
            channel=Channel.WINDOW,
            entity=spec.name,
            record=record,
            values=form.values(),
        )
    except ChangeRefused as refusal:
        form.refuse(refusal)
        conflict = refusal.code in (
            "stale",
            "pending",
        )  # the record, or a request about it, stands in the way
        return _form_page(request, form, spec, record, "edit", status=409 if conflict else 400)
    except IntegrityAlert:
        raise  # recorded by the service: the alert's page answers (409), as for every integrity refusal
    except NotPermitted as refusal:
        form.add_error(None, refusal.localized())
        return _form_page(request, form, spec, record, "edit", status=403)
    _submit_messages(request, spec, outcome)
    return redirect(record_url(spec, outcome.record or record))


@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@answers_bad_input
def record_maintain(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    spec = _spec(slug)
    staff = staff_of(request)
    policies.require(caller_of(request), "maintenance.apply", path=request.path)
    record = get_record(request, spec, key)
    form = RecordForm(
        request.POST if request.method == "POST" else None, spec=spec, staff=staff,
        rules=rules_in_force(spec.name), record=record, maintenance=True,
    )  # fmt: skip
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, form, spec, record, "maintain")
    if (stale := _stale(request, form, spec, record, True)) is not None:
        return _form_page(request, stale, spec, record, "maintain", status=409)
    try:
        order = maintenance_apply(
            actor=caller_of(request), entity=spec.name, record=record, values=form.values(),
            reason=form.cleaned_data.get("reason", ""),
        )  # fmt: skip
    except ChangeRefused as refusal:
        form.refuse(refusal)
        return _form_page(request, form, spec, record, "maintain")
    except IntegrityAlert:
        raise  # recorded by the service: the alert's page answers (409), as for every integrity refusal
    except NotPermitted as refusal:
        form.add_error(None, refusal.localized())
        return _form_page(request, form, spec, record, "maintain", status=403)
    messages.success(
        request,
        _("Maintenance order MO%(id)s has been applied for. It now waits for an approver.")
        % {"id": order.pk},
    )
    return redirect("web:maintenance_detail", order.pk)
