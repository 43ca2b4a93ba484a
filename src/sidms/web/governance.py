"""Governance pages: batch applications (R9.3), the collection-rules editor (R5, R9.1) and the audit
browser (R20).

Each view reads top to bottom: the middleware has authenticated the staff member with two factors; the
view checks the function permission, parses its input with one form, calls one service (or selector) and
responds. Refusals of the services are typed exceptions with a message for the person, shown on the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sidms.access import policies
from sidms.audit.models import AuditEvent, Outcome
from sidms.audit.services import audit_record
from sidms.audit.verify import verify_store
from sidms.changes import batches
from sidms.changes import rules as rule_service
from sidms.changes.entities import ENTITIES, EntitySpec, spec_for
from sidms.changes.errors import ChangeRefused, NotPermitted
from sidms.changes.models import BatchApplication, BatchKind, BatchStatus, Channel
from sidms.changes.services import require_city_level, rules_in_force
from sidms.parameters.models import CollectionRule, Region
from sidms.registry.models import Staff
from sidms.web.context import staff_of
from sidms.web.forms_governance import (
    BATCH_ENTITIES,
    AuditFilterForm,
    BatchDecisionForm,
    BatchUpdateForm,
    RuleForm,
    RulesAtForm,
    coded_choices,
    field_label,
    registry_label,
    review_level_label,
    validator_label,
)

# --------------------------------------------------------------------------------------------------------
# Selectors. They belong beside their services (sidms.changes.batches, sidms.changes.rules, sidms.audit);
# they live here until those modules offer them.

BATCH_PERMISSIONS = ("batch.apply", "batch.approve", "batch.execute")


def _require_batch_function(staff: Staff, request: HttpRequest) -> None:
    """Batch pages are for those who apply, approve or execute; anyone else is refused and recorded."""
    if any(policies.has_permission(staff, name) for name in BATCH_PERMISSIONS):
        return
    audit_record(
        "access.denied", actor=staff, request=request, outcome=Outcome.DENIED,
        detail={"permission": "|".join(BATCH_PERMISSIONS), "path": request.path},
    )  # fmt: skip
    raise PermissionDenied("batch")


def _visible_batches(staff: Staff) -> QuerySet[BatchApplication]:
    """The city level sees every application; a district sees those applied for by its own staff."""
    scope: QuerySet[BatchApplication] = batches.batch_scope(staff)
    if staff.is_city_level:
        return scope
    return scope.filter(applicant__district_id=staff.district_id)


def _batch_or_404(staff: Staff, batch_id: int) -> BatchApplication:
    batch = _visible_batches(staff).filter(pk=batch_id).first()
    if batch is None:
        raise Http404
    return batch


def _matching_rows(staff: Staff, entity: str, selection: dict[str, str]) -> int:
    """How many records the selection matches now, within the applicant's scope (the count the
    application will carry)."""
    spec = spec_for(entity)
    lookups = batches._selection(spec, staff, selection)
    return spec.model._default_manager.filter(**lookups).count()


def _districts() -> list[tuple[str, str]]:
    return list(Region.objects.filter(is_district=True).order_by("code").values_list("code", "name"))


def _entity_label(entity: str) -> str:
    spec = ENTITIES.get(entity)
    return str(spec.model._meta.verbose_name) if spec is not None else entity


def _entity_tabs() -> list[tuple[str, str]]:
    return [(name, _entity_label(name)) for name in BATCH_ENTITIES]


def _display(spec: EntitySpec, name: str, value: Any) -> str:
    """A stored selection or change value as people read it."""
    if value in (None, ""):
        return "—"
    if name == "district_id":
        region = Region.objects.filter(code=value).first()
        return f"{region.name}（{value}）" if region else str(value)
    choices = coded_choices(name)
    if choices is not None:
        return dict(choices).get(str(value), str(value))
    return str(value)


def _described(spec: EntitySpec, values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(field_label(spec, n), _display(spec, n, v)) for n, v in values.items()]


@dataclass(frozen=True)
class BatchActions:
    decide: bool
    execute: bool
    window_closed: bool
    import_elsewhere: bool


def _batch_actions(staff: Staff, batch: BatchApplication) -> BatchActions:
    """Which one step the viewer may take. The services decide again when the step is asked for; this only
    chooses which form to show."""
    now = timezone.now()
    decide = (
        batch.status == BatchStatus.SUBMITTED
        and policies.has_permission(staff, "batch.approve")
        and staff.is_city_level
        and batch.applicant_id != staff.pk
    )
    executor = (
        batch.status == BatchStatus.APPROVED
        and policies.has_permission(staff, "batch.execute")
        and batch.approver_id != staff.pk
    )
    in_window = (
        batch.window_start is not None
        and batch.window_end is not None
        and batch.window_start <= now <= batch.window_end
    )
    return BatchActions(
        decide=decide,
        execute=executor and in_window and batch.kind == BatchKind.UPDATE,
        window_closed=batch.status == BatchStatus.APPROVED and not in_window,
        import_elsewhere=executor and batch.kind == BatchKind.IMPORT,
    )


def _may_edit_rules(staff: Staff) -> bool:
    return policies.has_permission(staff, "rules.edit") and staff.is_city_level


def _rule_history(entity: str, field: str) -> QuerySet[CollectionRule]:
    return CollectionRule.objects.filter(entity=entity, field=field).order_by("-version")


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _audit_events(filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if "actor" in filters:
        events = events.filter(actor=filters["actor"])
    if "action" in filters:
        events = events.filter(action__startswith=filters["action"])
    if "object_type" in filters:
        events = events.filter(object_type=filters["object_type"])
    if "object_id" in filters:
        events = events.filter(object_id=filters["object_id"])
    if "outcome" in filters:
        events = events.filter(outcome=filters["outcome"])
    if "date_from" in filters:
        events = events.filter(at__gte=_day_start(filters["date_from"]))
    if "date_to" in filters:
        events = events.filter(at__lt=_day_start(filters["date_to"] + timedelta(days=1)))
    return events


AUDIT_PAGE = 50


def _audit_page(
    events: QuerySet[AuditEvent], before: int | None, after: int | None
) -> tuple[list[AuditEvent], bool, bool]:
    """One page of events, newest first, anchored on sequence numbers; and whether there are newer and
    older events beyond it."""
    if after is not None:
        rows = list(events.filter(seq__gt=after).order_by("seq")[: AUDIT_PAGE + 1])
        newer = len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE][::-1]
        older = bool(rows) and events.filter(seq__lt=rows[-1].seq).exists()
        return rows, newer, older
    page = events if before is None else events.filter(seq__lt=before)
    rows = list(page.order_by("-seq")[: AUDIT_PAGE + 1])
    older = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    newer = before is not None and events.filter(seq__gte=before).exists()
    return rows, newer, older


def _event_view(event: AuditEvent) -> dict[str, Any]:
    body = json.loads(event.payload)
    return {
        "event": event,
        "ip": body.get("ip", ""),
        "channel": Channel(body["channel"]).label
        if body.get("channel") in Channel.values
        else body.get("channel", ""),
        "detail": json.dumps(body.get("detail", {}), ensure_ascii=False, sort_keys=True),
        "hash_short": event.hash[:12],
    }


# --------------------------------------------------------------------------------------------------------
# Batch applications (R9.3)


@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    _require_batch_function(staff, request)
    status = request.GET.get("status", "")
    applications = _visible_batches(staff)
    if status in BatchStatus.values:
        applications = applications.filter(status=status)
    page = Paginator(applications, 50).get_page(request.GET.get("page"))
    rows = [{"batch": batch, "entity": _entity_label(batch.entity)} for batch in page]
    return render(
        request,
        "governance/batch_list.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": BatchStatus.choices,
            "can_apply": policies.has_permission(staff, "batch.apply"),
        },
    )


@require_http_methods(["GET", "POST"])
def batch_new(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "batch.apply", request=request)
    entity = request.GET.get("entity", "person")
    if entity not in BATCH_ENTITIES:
        raise Http404
    form = BatchUpdateForm(request.POST or None, entity=entity, staff=staff, districts=_districts())
    context: dict[str, Any] = {"form": form, "entity": entity, "entities": _entity_tabs()}
    if request.method == "GET" or not form.is_valid():
        return render(
            request, "governance/batch_new.html", context, status=200 if request.method == "GET" else 400
        )
    try:
        if request.POST.get("action") == "preview":
            context["matching"] = _matching_rows(staff, entity, form.selection())
            return render(request, "governance/batch_new.html", context)
        batch = batches.batch_apply_update(
            actor=staff, entity=entity, selection=form.selection(), change=form.change(),
            reason=form.cleaned_data["reason"], request=request,
        )  # fmt: skip
    except ChangeRefused as refused:
        for name, error in refused.errors.items():
            form.add_error(f"new_{name}" if f"new_{name}" in form.fields else None, error.localized())
        if not refused.errors:
            form.add_error(None, refused.localized())
        return render(request, "governance/batch_new.html", context, status=400)
    messages.success(
        request,
        _(
            "Batch application BA%(id)s is submitted: %(rows)s records match. It waits for city-level approval."
        )
        % {"id": batch.pk, "rows": batch.row_count},
    )
    return redirect("gov:batch_detail", batch_id=batch.pk)


@require_GET
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    staff = staff_of(request)
    _require_batch_function(staff, request)
    batch = _batch_or_404(staff, batch_id)
    return _render_batch(request, staff, batch)


def _render_batch(
    request: HttpRequest,
    staff: Staff,
    batch: BatchApplication,
    *,
    decision_form: BatchDecisionForm | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    spec = spec_for(batch.entity)
    return render(
        request,
        "governance/batch_detail.html",
        {
            "batch": batch,
            "entity_label": spec.model._meta.verbose_name,
            "selection": _described(spec, batch.selection),
            "change": _described(spec, batch.change),
            "actions": _batch_actions(staff, batch),
            "decision_form": decision_form or BatchDecisionForm(),
            "refusal": refusal,
        },
        status=status,
    )


@require_POST
def batch_decide(request: HttpRequest, batch_id: int) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "batch.approve", request=request)
    batch = _batch_or_404(staff, batch_id)
    form = BatchDecisionForm(request.POST)
    if not form.is_valid():
        return _render_batch(request, staff, batch, decision_form=form, status=400)
    try:
        decided = batches.batch_decide(
            actor=staff, batch_id=batch.pk, approve=form.approve, reason=form.cleaned_data["reason"],
            window=form.window, request=request,
        )  # fmt: skip
    except NotPermitted as refused:
        return _render_batch(request, staff, batch, decision_form=form, refusal=str(refused), status=403)
    except ChangeRefused as refused:
        return _render_batch(request, staff, batch, decision_form=form, refusal=str(refused), status=400)
    if decided.status == BatchStatus.APPROVED:
        messages.success(
            request,
            _("Approved: one execution of %(rows)s records is authorised.")
            % {"rows": decided.authorised_rows},
        )
    else:
        messages.success(request, _("The application is refused."))
    return redirect("gov:batch_detail", batch_id=batch.pk)


@require_POST
def batch_execute(request: HttpRequest, batch_id: int) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "batch.execute", request=request)
    batch = _batch_or_404(staff, batch_id)
    try:
        done = batches.batch_execute(actor=staff, batch_id=batch.pk, request=request)
    except NotPermitted as refused:
        batch.refresh_from_db()
        return _render_batch(request, staff, batch, refusal=str(refused), status=403)
    except ChangeRefused as refused:
        batch.refresh_from_db()
        return _render_batch(request, staff, batch, refusal=str(refused), status=400)
    messages.success(request, _("Executed: %(rows)s records changed.") % {"rows": done.rows})
    return redirect("gov:batch_detail", batch_id=batch.pk)


# --------------------------------------------------------------------------------------------------------
# Collection rules (R5, R9.1)


@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    # Every staff post may read the rules (dashboard.view is held by every post).
    policies.require(staff, "dashboard.view", request=request)
    form = RulesAtForm(request.GET or None)
    at = form.cleaned_data["at"] if form.is_bound and form.is_valid() else None
    groups: dict[str, dict[str, Any]] = {}
    for rule in rule_service.rules_table(at):
        spec = ENTITIES[rule.entity]
        group = groups.setdefault(
            rule.entity, {"entity": rule.entity, "label": spec.model._meta.verbose_name, "rows": []}
        )
        group["rows"].append(_rule_row(spec, rule))
    return render(request, "governance/rules.html", {"form": form, "at": at, "groups": list(groups.values())})


def _rule_row(spec: EntitySpec, rule: CollectionRule) -> dict[str, Any]:
    return {
        "rule": rule,
        "label": field_label(spec, rule.field),
        "validator": validator_label(rule.validator),
        "review_level": review_level_label(rule.review_level),
        "crosschecks": [registry_label(name) for name in rule.crosschecks],
    }


@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, entity: str, field: str) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "dashboard.view", request=request)
    spec = ENTITIES.get(entity)
    if spec is None or field not in spec.fields:
        raise Http404
    may_edit = _may_edit_rules(staff)
    form: RuleForm | None = None
    status = 200
    if request.method == "POST":
        # Refused (and recorded) before the input is read: no form errors for those who may not edit.
        policies.require(staff, "rules.edit", request=request)
        require_city_level(
            staff,
            "只有市级系统管理员可以修改采集规则",
            "Only the city-level administrator edits rules",
            request,
        )
        form = RuleForm(request.POST)
        if form.is_valid():
            try:
                rule = rule_service.rule_edit(
                    actor=staff, entity=entity, field=field, request=request, **form.cleaned_data
                )
            except ChangeRefused as refused:
                form.add_error(None, str(refused))
            else:
                messages.success(
                    request, _("Version %(version)s of the rule is saved.") % {"version": rule.version}
                )
                return redirect("gov:rule_edit", entity=entity, field=field)
        status = 400
    current = rules_in_force(entity).get(field)
    if form is None and may_edit:
        form = RuleForm(initial=_rule_initial(current))
    now = timezone.now()
    history = [
        {
            **_rule_row(spec, rule),
            "in_force": current is not None and rule.pk == current.pk,
            "future": rule.effective_from > now,
        }
        for rule in _rule_history(entity, field)
    ]
    return render(
        request,
        "governance/rule_edit.html",
        {
            "entity": entity,
            "field": field,
            "entity_label": spec.model._meta.verbose_name,
            "field_label": field_label(spec, field),
            "history": history,
            "form": form,
            "may_edit": may_edit,
        },
        status=status,
    )


def _rule_initial(rule: CollectionRule | None) -> dict[str, Any]:
    now = timezone.localtime().replace(second=0, microsecond=0)
    if rule is None:
        return {"effective_from": now}
    return {
        "required": rule.required,
        "validator": rule.validator or "text",
        "review_level": rule.review_level,
        "crosschecks": list(rule.crosschecks),
        "effective_from": now,
    }


# --------------------------------------------------------------------------------------------------------
# Audit browser (R20)


@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "audit.view", request=request)
    form = AuditFilterForm(request.GET or None)
    filters = form.filters()
    before, after = form.anchor()
    rows, newer, older = _audit_page(_audit_events(filters), before, after)
    # Reading the log is itself an act the log records.
    audit_record(
        "audit.browse", actor=staff, request=request, object_type="audit_event",
        detail={"filters": {k: str(v) for k, v in filters.items()}, "before": before, "after": after, "shown": len(rows)},
    )  # fmt: skip
    return render(
        request,
        "governance/audit.html",
        {
            "form": form,
            "rows": [_event_view(event) for event in rows],
            "newer": rows[0].seq if newer and rows else None,
            "older": rows[-1].seq if older and rows else None,
            "paged": before is not None or after is not None,
            "chain_status": _last_verification(),
        },
    )


def _last_verification() -> dict[str, Any] | None:
    event = AuditEvent.objects.filter(action="audit.verify").order_by("-seq").first()
    if event is None:
        return None
    detail = json.loads(event.payload).get("detail", {})
    return {"event": event, **detail}


@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Verify the whole store now (chain, checkpoints, history, live rows) and record the result."""
    staff = staff_of(request)
    policies.require(staff, "audit.view", request=request)
    report = verify_store()
    problem = report.problem
    audit_record(
        "audit.verify", actor=staff, request=request, object_type="audit_event",
        outcome=Outcome.OK if report.ok else Outcome.FAILED,
        detail={
            "ok": report.ok, "events": report.events, "revisions": report.revisions, "rows": sum(report.rows.values()),
            "checkpoints": report.checkpoints, "seconds": round(report.seconds, 2),
            "where": problem.where if problem else "", "message": problem.message if problem else "",
            "message_en": problem.message_en if problem else "",
        },
    )  # fmt: skip
    if report.ok:
        messages.success(request, _("The store is intact: every check passed."))
    else:
        messages.error(
            request, _("The store is broken at %(where)s.") % {"where": problem.where if problem else ""}
        )
    return redirect("gov:audit")


@require_GET
def audit_event(request: HttpRequest, seq: int) -> HttpResponse:
    staff = staff_of(request)
    policies.require(staff, "audit.view", request=request)
    event = AuditEvent.objects.filter(seq=seq).first()
    if event is None:
        raise Http404
    audit_record("audit.browse", actor=staff, request=request, object_type="audit_event", object_id=event.seq)
    payload = json.dumps(json.loads(event.payload), ensure_ascii=False, indent=2, sort_keys=True)
    return render(
        request,
        "governance/audit_event.html",
        {
            **_event_view(event),
            "payload": payload,
            "previous": event.seq - 1 if event.seq > 1 else None,
            "following": event.seq + 1 if AuditEvent.objects.filter(seq=event.seq + 1).exists() else None,
        },
    )
