"""Batch applications (R9.3): apply, approve at city level, execute once. Which applications a person sees
is the read door's (sidms.access.workflow); what a batch may select and change is the entity's declaration,
enforced by the service (sidms.changes.batches)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sidms.access import policies
from sidms.access import workflow as workflows
from sidms.changes import batches
from sidms.changes.models import BatchApplication, BatchKind, BatchStatus
from sidms.core.errors import ChangeRefused, NotPermitted
from sidms.core.kernel import ENTITIES, EntitySpec, spec_for
from sidms.exchange import imports as exchange_imports
from sidms.parameters.codes import district_choices, region_name
from sidms.web.context import caller_of, staff_of
from sidms.web.display import label, value_text
from sidms.web.governance.forms import BatchDecisionForm, BatchUpdateForm


def _batchable() -> list[EntitySpec]:
    return [spec for spec in ENTITIES.values() if spec.declaration.batch_change]


def _visible(request: HttpRequest) -> Any:
    return workflows.visible(staff_of(request), BatchApplication).select_related(
        "applicant", "approver", "executor"
    )


def _batch(request: HttpRequest, batch_id: int, *, read: bool = True) -> BatchApplication:
    return workflows.workflow_get(actor=caller_of(request), model=BatchApplication, pk=batch_id, read=read)


def _described(spec: EntitySpec, values: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for name, value in values.items():
        if name in ("district_id", "person__district_id") or name.endswith("district_id"):
            rows.append((_("District"), f"{region_name(str(value))}（{value}）"))
        elif name in spec.fields:
            rows.append((label(spec, name), value_text(spec, name, value)))
    return rows


@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    if not any(policies.has_permission(staff, p) for p in BatchApplication.workflow.view_permissions):
        policies.require(caller_of(request), "batch.apply", path=request.path)
    status = request.GET.get("status", "")
    applications = _visible(request)
    if status in BatchStatus.values:
        applications = applications.filter(status=status)
    page = Paginator(applications.order_by("-applied_at"), 50).get_page(request.GET.get("page"))
    rows = [{"batch": batch, "entity": spec_for(batch.entity).model._meta.verbose_name} for batch in page]
    return render(
        request,
        "governance/batch_list.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": BatchStatus.choices,
            "can_apply": policies.has_permission(staff, "batch.apply"),
            "crumbs": [(_("Home"), reverse("web:dashboard")), (_("Batch changes"), "")],
        },
    )


@require_http_methods(["GET", "POST"])
def batch_new(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    policies.require(caller_of(request), "batch.apply", path=request.path)
    entity = request.GET.get("entity", "person")
    specs = {spec.name: spec for spec in _batchable()}
    if entity not in specs:
        raise Http404
    spec = specs[entity]
    form = BatchUpdateForm(request.POST or None, spec=spec, staff=staff, districts=district_choices())
    context: dict[str, Any] = {
        "form": form,
        "entity": entity,
        "entities": [(s.name, s.model._meta.verbose_name) for s in specs.values()],
        "crumbs": [
            (_("Home"), reverse("web:dashboard")),
            (_("Batch changes"), reverse("gov:batch_list")),
            (_("New batch application"), ""),
        ],
    }
    if request.method == "GET" or not form.is_valid():
        return render(
            request, "governance/batch_new.html", context, status=200 if request.method == "GET" else 400
        )
    try:
        if request.POST.get("action") == "preview":
            context["matching"] = batches.matching_count(spec, caller_of(request), form.selection())
            return render(request, "governance/batch_new.html", context)
        batch = batches.batch_apply_update(
            actor=caller_of(request), entity=entity, selection=form.selection(), change=form.change(),
            reason=form.cleaned_data["reason"],
        )  # fmt: skip
    except ChangeRefused as refused:
        for name, error in refused.errors.items():
            form.add_error(f"new_{name}" if f"new_{name}" in form.fields else None, error.localized())
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


def _actions(staff: Any, batch: BatchApplication) -> dict[str, bool]:
    """Which one step the viewer may take. The services decide again when the step is asked for."""
    now = timezone.now()
    decide = (
        batch.status == BatchStatus.SUBMITTED and policies.has_permission(staff, "batch.approve")
        and staff.is_city_level and batch.applicant_id != staff.pk
    )  # fmt: skip
    executor = (
        batch.status == BatchStatus.APPROVED and policies.has_permission(staff, "batch.execute")
        and batch.approver_id != staff.pk
    )  # fmt: skip
    in_window = bool(
        batch.window_start and batch.window_end and batch.window_start <= now <= batch.window_end
    )
    return {
        "decide": decide,
        "withdraw": workflows.may_withdraw(staff, batch),
        "execute": executor and in_window and batch.kind == BatchKind.UPDATE,
        "window_closed": batch.status == BatchStatus.APPROVED and not in_window,
        "import_elsewhere": executor and batch.kind == BatchKind.IMPORT,
    }


def _render(
    request: HttpRequest, batch: BatchApplication, *, decision_form: BatchDecisionForm | None = None,
    refusal: str = "", status: int = 200,
) -> HttpResponse:  # fmt: skip
    spec = spec_for(batch.entity)
    return render(
        request,
        "governance/batch_detail.html",
        {
            "batch": batch,
            "entity_label": spec.model._meta.verbose_name,
            "selection": _described(spec, batch.selection),
            "change": _described(spec, batches.batch_change_values(batch)),
            "actions": _actions(staff_of(request), batch),
            "withdrawn_at": workflows.withdrawn_at(batch),
            "decision_form": decision_form or BatchDecisionForm(),
            "refusal": refusal,
            "crumbs": [
                (_("Home"), reverse("web:dashboard")),
                (_("Batch changes"), reverse("gov:batch_list")),
                (f"BA{batch.pk}", ""),
            ],
        },
        status=status,
    )


@require_GET
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    return _render(request, _batch(request, batch_id))


@require_POST
def batch_decide(request: HttpRequest, batch_id: int) -> HttpResponse:
    policies.require(caller_of(request), "batch.approve", path=request.path)
    batch = _batch(request, batch_id, read=False)
    form = BatchDecisionForm(request.POST)
    if not form.is_valid():
        return _render(request, batch, decision_form=form, status=400)
    try:
        decided = batches.batch_decide(
            actor=caller_of(request), batch_id=batch.pk, approve=form.approve, reason=form.cleaned_data["reason"],
            window=form.window,
        )  # fmt: skip
    except NotPermitted as refused:
        return _render(request, batch, decision_form=form, refusal=str(refused), status=403)
    except ChangeRefused as refused:
        return _render(request, batch, decision_form=form, refusal=str(refused), status=400)
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
def batch_withdraw(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The applicant withdraws their application while it waits for city-level approval (撤回)."""
    batch = _batch(request, batch_id, read=False)
    try:
        batches.batch_withdraw(actor=caller_of(request), batch_id=batch.pk)
    except NotPermitted as refused:
        return _render(request, batch, refusal=str(refused), status=403)
    except ChangeRefused as refused:
        batch.refresh_from_db()
        return _render(request, batch, refusal=str(refused), status=400)
    messages.success(
        request, _("Batch application BA%(id)s withdrawn: it will not be approved.") % {"id": batch.pk}
    )
    return redirect("gov:batch_detail", batch_id=batch.pk)


@require_POST
def batch_execute(request: HttpRequest, batch_id: int) -> HttpResponse:
    policies.require(caller_of(request), "batch.execute", path=request.path)
    batch = _batch(request, batch_id, read=False)
    try:
        if batch.kind == BatchKind.IMPORT and exchange_imports.import_of(batch) is not None:
            # A spreadsheet import: its rows come from the stored file (sidms.exchange).
            done = exchange_imports.execute_import(actor=caller_of(request), batch_id=batch.pk)
        else:
            done = batches.batch_execute(actor=caller_of(request), batch_id=batch.pk)
    except NotPermitted as refused:
        batch.refresh_from_db()
        return _render(request, batch, refusal=str(refused), status=403)
    except ChangeRefused as refused:
        batch.refresh_from_db()
        return _render(request, batch, refusal=str(refused), status=400)
    messages.success(request, _("Executed: %(rows)s records changed.") % {"rows": done.rows})
    return redirect("gov:batch_detail", batch_id=batch.pk)
