"""Workflow pages: the dashboard with each post's 待办, the queues, review requests (R7.3) and maintenance
orders (R9.3). Which rows a person sees, the queues and the next step of an order come from the read door
(sidms.access.workflow); the decisions are the services' of sidms.changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from sidms.access import policies
from sidms.access import workflow as workflows
from sidms.access.posts import DECIDERS
from sidms.changes.maintenance import (
    maintenance_approve,
    maintenance_modify,
    maintenance_recheck,
    proposed_values,
)
from sidms.changes.models import (
    BatchApplication,
    ChangeRequest,
    MaintenanceOrder,
    MaintenanceStatus,
    ReviewStatus,
)
from sidms.changes.services import held_values, review_decide, review_recheck_registries, rules_in_force
from sidms.core.errors import ChangeRefused, NotPermitted, StaleChange, english
from sidms.core.kernel import ENTITIES, spec_for
from sidms.crosscheck import SPECS as REGISTRY_SPECS
from sidms.parameters.models import ReviewLevel
from sidms.web.context import caller_of, staff_of
from sidms.web.display import joined, label, record_name, record_url, shown, value_text
from sidms.web.records.forms import DecisionForm

WORKFLOWS: list[type[Any]] = [ChangeRequest, MaintenanceOrder, BatchApplication]
QUEUE_LIMIT = 100


# Requests that propose something a second administrator confirms (four eyes) rather than change a governed
# record: what each is called, and how its proposal reads on the review page.
PROPOSAL_NAMES: dict[str, Any] = {
    "collection_rule": gettext_lazy("Collection rule"),
    "staff": gettext_lazy("Staff member"),
    # A parameter version proposed by one city-level system administrator (business.parameters): its review
    # page was a server error, so the second administrator confirmed what no page showed him (attack round 9).
    "business_parameter": gettext_lazy("Parameter"),
}


def _parameter_text(row: Any) -> tuple[str, str]:
    """A parameter proposal's parameter in words (its name and the region it is for), and its page."""
    from sidms.business.parameters import DEFINITIONS
    from sidms.parameters.codes import region_name

    key, _sep, region = str(row.record_label).partition("@")
    definition = DEFINITIONS.get(key)
    name = f"{definition.label}（{key}）" if definition is not None else key
    if region:
        name = f"{name} · {region_name(region) or region}"
    return name, reverse("web:business_parameter", args=[key]) if definition is not None else ""


def _entity_label(entity: str) -> str:
    if entity in PROPOSAL_NAMES:
        return str(PROPOSAL_NAMES[entity])
    spec = ENTITIES.get(entity)
    return str(spec.model._meta.verbose_name) if spec is not None else _("Other record")


def _detail_url(row: Any) -> str:
    if isinstance(row, ChangeRequest):
        return reverse("web:review_detail", args=[row.pk])
    if isinstance(row, MaintenanceOrder):
        return reverse("web:maintenance_detail", args=[row.pk])
    return reverse("gov:batch_detail", args=[row.pk])


def _district_text(code: str) -> str:
    from sidms.parameters.codes import region_name

    return f"{region_name(code)}（{code}）" if region_name(code) else str(code)


def _record_link(row: Any) -> tuple[str, str]:
    """The record a request or order concerns, named and linked (once it exists; a new record approved
    since is named by the number the system gave it)."""
    if row.entity == "collection_rule" and "." in row.record_label:
        return _record_text(row), reverse("gov:rule_edit", args=row.record_label.split(".", 1))
    if row.entity == "business_parameter":
        return _parameter_text(row)
    if row.entity == "staff":
        from sidms.registry.models import Staff

        member = Staff.objects.filter(pk=row.record_id).first()
        return (member.display_name if member is not None else row.record_label), ""
    spec = ENTITIES.get(row.entity)
    if spec is None or row.record_id is None:
        return _record_text(row), ""
    record = spec.model._default_manager.filter(pk=row.record_id).first()
    if record is None:
        return _record_text(row), ""
    url = record_url(spec, record)
    return record_name(spec, record), url


def dashboard(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    policies.require(caller_of(request), "dashboard.view", path=request.path)
    todo = [
        {
            "title": view.queue.title,
            "count": view.rows.count(),
            "url": reverse("web:queues") + f"#{view.key}",
        }
        for view in workflows.queues_for(staff, WORKFLOWS)
        if view.queue.todo
    ]
    counts = []
    for spec in ENTITIES.values():
        if spec.declaration.slug and policies.has_permission(staff, policies.view_permission(spec)):
            counts.append(
                {
                    "label": spec.model._meta.verbose_name_plural,
                    "count": policies.record_scope(staff, spec).count(),
                    "url": reverse("web:record_list", args=[spec.declaration.slug]),
                }
            )
    by_district: list[tuple[str, str, int]] = []
    person = ENTITIES.get("person")
    if person is not None and policies.has_permission(staff, policies.view_permission(person)):
        from sidms.parameters.codes import region_name

        rows = (
            policies.record_scope(staff, person)
            .values("district_id")
            .annotate(n=Count("pk"))
            .order_by("district_id")
        )
        by_district = [(row["district_id"], region_name(row["district_id"]), row["n"]) for row in rows]
    return render(
        request, "workflow/dashboard.html", {"todo": todo, "counts": counts, "by_district": by_district}
    )


def _record_text(row: Any) -> str:
    """Which record a request or order concerns, in words: a rule is 参保人员 · 电子邮箱, not person.email."""
    if row.entity == "collection_rule" and "." in row.record_label:
        from sidms.web.governance.labels import rule_field_label

        return rule_field_label(*row.record_label.split(".", 1))
    if row.entity == "business_parameter":
        return _parameter_text(row)[0]
    if getattr(row, "record_id", 0) is None or not row.record_label:
        return _("new record")
    return str(row.record_label)


def _fields(row: Any) -> str:
    if row.entity == "collection_rule":
        return _("Rule")
    if row.entity == "staff":
        return _("Post")
    if row.entity == "business_parameter":
        return _("Parameter")
    spec = ENTITIES.get(row.entity)
    if spec is None:
        return ""
    return joined(label(spec, name) for name in row.proposed if name in spec.fields)


def queues(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    views = workflows.queues_for(staff, WORKFLOWS)
    if not views:
        policies.require(caller_of(request), "review.decide", path=request.path)
    sections = []
    for view in views:
        # The columns name each row's district and its submitter: fetched with the rows, not one by one.
        related = [
            workflows.declaration(view.model).own,
            *(["district"] if hasattr(view.model, "district") else []),
        ]
        rows = list(view.rows.select_related(*filter(None, related))[: QUEUE_LIMIT + 1])
        sections.append(
            {
                "key": view.key,
                "title": view.queue.title,
                "empty": view.queue.empty,
                "kind": workflows.declaration(view.model).name,
                "more": len(rows) > QUEUE_LIMIT,
                "rows": [
                    {
                        "item": item,
                        "url": _detail_url(item),
                        "entity_label": _entity_label(getattr(item, "entity", "")),
                        "record_text": _record_text(item) if hasattr(item, "record_label") else "",
                        "fields": _fields(item) if hasattr(item, "proposed") else "",
                    }
                    for item in rows[:QUEUE_LIMIT]
                ],
            }
        )
    return render(request, "workflow/queues.html", {"sections": sections, "limit": QUEUE_LIMIT})


# --------------------------------------------------------------------------------------------------------
# Review of held changes (R7.3)

BADGES = {
    "verified": gettext_lazy("Verified"),
    "mismatch": gettext_lazy("Does not match"),
    "not_found": gettext_lazy("Not found in the registry"),
    "flagged": gettext_lazy("Flagged: see the detail"),
    "unavailable": gettext_lazy("Not verified"),
}

# What a registry reported, named for the reviewer; anything else is technical and not shown to a clerk.
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
FACT_VALUES = {
    "true": gettext_lazy("yes"),
    "false": gettext_lazy("no"),
    "True": gettext_lazy("yes"),
    "False": gettext_lazy("no"),
}


def _checks(held: ChangeRequest) -> list[dict[str, Any]]:
    results = []
    for result in held.crosschecks:
        registry = REGISTRY_SPECS.get(result.get("registry", ""))
        checked = result.get("checked_at")
        facts = result.get("facts") or {}
        results.append(
            {
                "registry": (registry.label_en if english() else registry.label)
                if registry
                else _("Partner registry"),
                "status": result.get("status", "unavailable"),
                "badge": str(BADGES.get(result.get("status", ""), BADGES["unavailable"])),
                "detail": result.get("detail_en" if english() else "detail", ""),
                "facts": [
                    (str(FACT_LABELS[k]), str(FACT_VALUES.get(str(v), v)))
                    for k, v in facts.items()
                    if k in FACT_LABELS
                ],
                "checked_at": datetime.fromisoformat(checked) if checked else None,
            }
        )
    return results


def _proposal_pairs(held: ChangeRequest) -> list[dict[str, str]]:
    """What a proposal asks for, as labelled rows (before → after)."""
    if held.entity == "collection_rule":
        from sidms.web.governance.labels import describe_rule

        before, after = held.proposed["rule"]
        entity, _sep, field = held.record_label.partition(".")
        spec = ENTITIES.get(entity)
        rows = describe_rule(before, after)
        if spec is None or field not in spec.declaration.duplicate_policy_fields:
            # Duplicate handling applies to fields that must be unique only (an ID number).
            rows = [row for row in rows if row["key"] != "on_duplicate"]
        return rows
    if held.entity == "business_parameter":
        return _parameter_pairs(held)
    rows = []
    for key, (old, new) in held.proposed.items():
        if key == "post":
            from sidms.registry.models import Staff
            from sidms.web.staff.reads import district_text

            rows.append({"label": _("Post to grant"), "old": "—", "new": _post_label(new)})
            # Where the post will act: a window clerk's post at the city level reads every district's persons,
            # and the confirmer saw only the post's name (attack round 9).
            member = (
                Staff.objects.filter(pk=held.record_id or 0).values_list("district_id", flat=True).first()
            )
            rows.append({"label": _("District (data scope)"), "old": "—", "new": district_text(member)})
        elif key == "district":
            from sidms.web.staff.reads import district_text

            rows.append(
                {"label": _("District (data scope)"), "old": district_text(old), "new": district_text(new)}
            )
        elif key == "reason":
            rows.append({"label": _("Reason for the change"), "old": "—", "new": str(new or "—")})
    return rows


def _parameter_pairs(held: ChangeRequest) -> list[dict[str, str]]:
    """A parameter proposal as its confirmer reads it: the value in force on its day and the one proposed,
    from when, for which region, on which document, and why."""
    import json

    from sidms.parameters.codes import region_name

    before, after = held.proposed.get("parameter", [None, {}])
    after = after if isinstance(after, dict) else {}

    def shown(value: Any) -> str:
        return "—" if value is None else json.dumps(value, ensure_ascii=False)

    region = str(after.get("region") or "")
    return [
        {"label": _("Parameter"), "old": "—", "new": _parameter_text(held)[0]},
        {"label": _("Value"), "old": shown(before), "new": shown(after.get("value"))},
        {"label": _("Effective from"), "old": "—", "new": str(after.get("effective_from") or "—")},
        {"label": _("Region"), "old": "—", "new": (region_name(region) or region) if region else _("the whole city")},
        {"label": _("Source document"), "old": "—",
         "new": f"{after.get('source') or '—'}（{after.get('status') or '—'}"
                f"{'，' + _('checked against the official notice') if after.get('checked') else ''}）"},
        {"label": _("Reason for the change"), "old": "—", "new": str(after.get("reason") or "—")},
    ]  # fmt: skip


def _post_label(post: Any) -> str:
    from sidms.access.posts import Post

    return str(Post(post).label) if post in Post.values else str(post)


def _review_page(
    request: HttpRequest, held: ChangeRequest, *, refusal: str = "", status: int = 200
) -> HttpResponse:
    staff = staff_of(request)
    proposal = held.entity in PROPOSAL_NAMES
    own = held.submitted_by_id == staff.pk
    permission = DECIDERS.get(held.decider_post, "review.decide")
    if proposal:
        pairs = _proposal_pairs(held)
        subject: list[tuple[str, str]] = []
    else:
        spec = spec_for(held.entity)
        rules = rules_in_force(held.entity)
        old, new = held_values(spec, held, 0), held_values(spec, held, 1)

        # The reviewer compares the values held for manual review with the documents and the registries:
        # those are shown in full, to the one who may decide. Anything else, and to anyone else (the
        # submitter too), keeps its mask. The values they replace are not held for review but stored, and
        # read as the read door shows stored values on the window channel (masked: a phone, bank account or
        # ID number is never shown in full once entered), to the decider as to everyone else.
        decides = policies.has_permission(staff, permission) and not own

        def reviewed(name: str, value: Any) -> str:
            manual = rules.get(name) is not None and rules[name].review_level == ReviewLevel.MANUAL
            return (
                shown(spec, name, value, staff)
                if not (manual and decides) or value in (None, "") or name.endswith("_id")
                else (value.isoformat() if hasattr(value, "isoformat") else str(value))
            )

        pairs = [
            {
                "label": label(spec, name),
                "old": shown(spec, name, old.get(name), staff) if held.record_id else "—",
                "new": reviewed(name, new.get(name)),
            }
            for name in held.proposed
            if name in spec.fields
        ]
        subject = _subject(spec, held)
    record_text, record_url = _record_link(held)
    context = {
        "district": _district_text(held.district_id),
        "held": held,
        "entity_label": _entity_label(held.entity),
        "record_text": record_text,
        "pairs": pairs,
        "subject": subject,
        "checks": [] if proposal else _checks(held),
        "proposal": held.entity if proposal else "",
        "own": own,
        "pending": held.status == ReviewStatus.PENDING,
        "may_decide": policies.has_permission(staff, permission)
        and held.status == ReviewStatus.PENDING
        and not own,
        "record_url": record_url,
        "refusal": refusal,
        "reason": request.POST.get("reason", "") if request.method == "POST" else "",
        "crumbs": [
            (_("Home"), reverse("web:dashboard")),
            (_("My queues"), reverse("web:queues")),
            (f"CR{held.pk}", ""),
        ],
    }
    return render(request, "workflow/review_detail.html", context, status=status)


def _subject(spec: Any, held: ChangeRequest) -> list[tuple[str, str]]:
    """Who the record is, for the reviewer: name, sex, birth date, district (as stored, masked as usual)."""
    if held.record_id is None:
        return []
    record = spec.model._default_manager.filter(pk=held.record_id).first()
    if record is None:
        return []
    names = [
        n for n in ("name", "sex", "birth_date", "district_id", "unit_no", "credit_code") if n in spec.fields
    ]
    return [(label(spec, n), value_text(spec, n, getattr(record, n))) for n in names]


def _change_request(request: HttpRequest, pk: int) -> ChangeRequest:
    return workflows.workflow_get(actor=caller_of(request), model=ChangeRequest, pk=pk)


def review_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    return _review_page(request, _change_request(request, request_id))


def _refused(refusal: ChangeRefused | NotPermitted) -> tuple[str, int]:
    """The person's message and the HTTP status of a refusal shown on the page."""
    if isinstance(refusal, NotPermitted):
        return str(refusal), 403
    if isinstance(refusal, StaleChange):
        return refusal.localized(), 409
    return str(refusal), 400


@require_POST
def review_decide_view(request: HttpRequest, request_id: int) -> HttpResponse:
    form = DecisionForm(request.POST)
    if not form.is_valid() or form.cleaned_data["decision"] not in ("approve", "reject"):
        return _review_page(
            request, _change_request(request, request_id), refusal=_("Choose approve or reject."), status=400
        )
    try:
        held = review_decide(
            actor=caller_of(request),
            change_request_id=request_id,
            approve=form.positive,
            reason=form.reason_text,
        )
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _review_page(request, _change_request(request, request_id), refusal=message, status=status)
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
    try:
        review_recheck_registries(actor=caller_of(request), change_request_id=request_id)
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _review_page(request, _change_request(request, request_id), refusal=message, status=status)
    messages.success(request, _("The registries have been asked again; the results below are new."))
    return redirect("web:review_detail", request_id)


# --------------------------------------------------------------------------------------------------------
# Maintenance orders (R9.3)

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
    step, took_part = workflows.next_step(staff, order)
    old, new = proposed_values(order, 0), proposed_values(order, 1)
    pairs = [
        {
            "label": label(spec, name),
            "old": shown(spec, name, old.get(name), staff),
            "new": shown(spec, name, new.get(name), staff),
        }
        for name in order.proposed
        if name in spec.fields
    ]
    names = {
        u.pk: u.display_name
        for u in (order.applicant, order.approver, order.modifier, order.rechecker)
        if u is not None
    }
    S = MaintenanceStatus
    steps = [
        (_("Applied for"), order.applicant_id, order.applied_at, order.reason),
        (_("Refused") if order.status == S.REFUSED else _("Approved"), order.approver_id, order.approved_at,
         order.decision_reason if order.status == S.REFUSED else ""),
        (_("Modified"), order.modifier_id, order.modified_at, ""),
        (_("Sent back") if order.status == S.SENT_BACK else _("Re-checked and accepted"), order.rechecker_id,
         order.rechecked_at, order.decision_reason if order.status == S.SENT_BACK else ""),
    ]  # fmt: skip
    record_text, record_url = _record_link(order)
    context = {
        "district": _district_text(order.district_id),
        "order": order,
        "entity_label": _entity_label(order.entity),
        "record_text": record_text,
        "pairs": pairs,
        "steps": [
            (title, names.get(who, ""), when, note) for title, who, when, note in steps if who is not None
        ],
        "action": workflows.may_take(staff, order),
        "took_part": took_part,
        "waits_for": str(STEP_WAITS_FOR[step.action]) if step is not None else "",
        "record_url": record_url,
        "refusal": refusal,
        "reason": request.POST.get("reason", "") if request.method == "POST" else "",
        "crumbs": [
            (_("Home"), reverse("web:dashboard")),
            (_("My queues"), reverse("web:queues")),
            (f"MO{order.pk}", ""),
        ],
    }
    return render(request, "workflow/maintenance_detail.html", context, status=status)


def _order(request: HttpRequest, pk: int) -> MaintenanceOrder:
    return workflows.workflow_get(actor=caller_of(request), model=MaintenanceOrder, pk=pk)


def maintenance_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    return _maintenance_page(request, _order(request, order_id))


def _maintenance_step(
    request: HttpRequest,
    order_id: int,
    step: Callable[[Any, DecisionForm | None], MaintenanceOrder],
    *,
    decisions: tuple[str, ...] = (),
) -> HttpResponse:
    form = DecisionForm(request.POST) if decisions else None
    if form is not None and (not form.is_valid() or form.cleaned_data["decision"] not in decisions):
        return _maintenance_page(
            request, _order(request, order_id), refusal=_("Choose a decision."), status=400
        )
    try:
        order = step(caller_of(request), form)
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _maintenance_page(request, _order(request, order_id), refusal=message, status=status)
    messages.success(
        request,
        _("Maintenance order MO%(id)s: %(status)s.") % {"id": order.pk, "status": order.get_status_display()},
    )
    return redirect("web:queues")


@require_POST
def maintenance_approve_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(caller: Any, form: DecisionForm | None) -> MaintenanceOrder:
        assert form is not None
        return maintenance_approve(
            actor=caller, order_id=order_id, approve=form.positive, reason=form.reason_text
        )

    return _maintenance_step(request, order_id, step, decisions=("approve", "reject"))


@require_POST
def maintenance_modify_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(caller: Any, form: DecisionForm | None) -> MaintenanceOrder:
        return maintenance_modify(actor=caller, order_id=order_id)

    return _maintenance_step(request, order_id, step)


@require_POST
def maintenance_recheck_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(caller: Any, form: DecisionForm | None) -> MaintenanceOrder:
        assert form is not None
        return maintenance_recheck(
            actor=caller, order_id=order_id, accept=form.positive, reason=form.reason_text
        )

    return _maintenance_step(request, order_id, step, decisions=("accept", "send_back"))
