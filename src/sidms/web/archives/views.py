"""Electronic archive pages (R2.4, R7.4): a record's archive catalogue (档案目录) with the upload form, the
file itself (view or download) and its first-page preview, each an audit event; and the archive reviewer's
queue with accept/reject. The upload is received in memory only (``sidms.archives.uploads``)."""

from __future__ import annotations

import base64
from typing import Any

from django import forms
from django.contrib import messages
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sidms.access.policies import has_permission
from sidms.archives import retention, services
from sidms.archives.models import TARGETS, ArchiveItem, ItemStatus
from sidms.archives.uploads import InMemoryLimitedUploadHandler
from sidms.changes.models import BatchApplication, ChangeRequest, MaintenanceOrder
from sidms.continuity.models import Agreement
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted
from sidms.lib.files import ACCEPTED_KINDS
from sidms.parameters.codes import code_choices
from sidms.registry.models import Person, Unit
from sidms.web.context import caller_of, staff_of

MODELS: dict[str, type[models.Model]] = {
    "person": Person,
    "unit": Unit,
    "change_request": ChangeRequest,
    "maintenance_order": MaintenanceOrder,
    "batch_application": BatchApplication,
    "agreement": Agreement,
}
KIND_TITLES = {
    "person": gettext_lazy("Person"),
    "unit": gettext_lazy("Unit"),
    "change_request": gettext_lazy("Review request"),
    "maintenance_order": gettext_lazy("Maintenance order"),
    "batch_application": gettext_lazy("Batch application"),
    "agreement": gettext_lazy("Confidentiality agreement"),
}


class UploadForm(forms.Form):
    doc_type = forms.ChoiceField(label=gettext_lazy("Document type"))
    scan = forms.FileField(
        label=gettext_lazy("Scan (JPEG, PNG, TIFF or PDF)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".jpg,.jpeg,.png,.tif,.tiff,.pdf"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["doc_type"].choices = [("", "—"), *code_choices(services.DOC_TYPES)]  # type: ignore[attr-defined]


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "accept"), ("reject", "reject")])
    reason = forms.CharField(max_length=500, required=False)


def _target(kind: str, pk: int) -> models.Model:
    model = MODELS.get(kind)
    if model is None or kind not in TARGETS:
        raise Http404
    target = model._default_manager.filter(pk=pk).first()
    if target is None:
        raise Http404
    return target


def _target_name(kind: str, target: Any) -> str:
    if kind == "person":
        return str(target.person_no)
    if kind == "unit":
        return f"{target.unit_no} {target.name}"
    if kind == "change_request":
        return f"CR{target.pk}"
    if kind == "maintenance_order":
        return f"MO{target.pk}"
    if kind == "batch_application":
        return f"B{target.pk}"
    return str(target)


def _back(kind: str, target: Any) -> str:
    if kind == "person":
        return reverse("web:record_detail", args=["persons", target.person_no])
    if kind == "unit":
        return reverse("web:record_detail", args=["units", target.unit_no])
    if kind == "change_request":
        return reverse("web:review_detail", args=[target.pk])
    if kind == "maintenance_order":
        return reverse("web:maintenance_detail", args=[target.pk])
    if kind == "batch_application":
        return reverse("gov:batch_detail", args=[target.pk])
    return reverse("web:continuity:agreements")


def _preview(request: HttpRequest, item: ArchiveItem) -> str:
    """The first-page preview as a data: URI, rendered in memory in this request (an audit event each); ""
    when the stored file is damaged (the integrity alert is recorded by the service)."""
    if item.status == ItemStatus.PURGED:
        return ""  # a tombstone: the file was deleted after its retention period
    try:
        png = services.archive_thumbnail(actor=caller_of(request), item_id=item.pk)
    except (IntegrityAlert, NotPermitted):
        return ""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _row(item: ArchiveItem, request: HttpRequest | None = None) -> dict[str, Any]:
    return {
        "item": item,
        "preview": _preview(request, item) if request is not None else "",
        "doc_type": services.doc_type_label(item.doc_type),
        "kind": ACCEPTED_KINDS.get(item.kind, (item.kind, item.kind))[1],
        "retention": _("permanent")
        if item.retention_years == 0
        else _("%(n)s years") % {"n": item.retention_years},
    }


@csrf_exempt  # the upload handlers must be set before the body is read; CSRF is checked just below
@require_http_methods(["GET", "POST"])
def catalogue_page(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    handler = InMemoryLimitedUploadHandler(request, limit=services.max_bytes())
    request.upload_handlers = [handler]
    return _catalogue(request, kind, pk, handler)


@csrf_protect
def _catalogue(
    request: HttpRequest, kind: str, pk: int, handler: InMemoryLimitedUploadHandler
) -> HttpResponse:
    caller = caller_of(request)
    target = _target(kind, pk)
    staff = staff_of(request)
    upload_permission = "agreement.manage" if kind == "agreement" else "archive.upload"
    may_upload = has_permission(staff, upload_permission)
    form = (
        UploadForm(request.POST or None, request.FILES or None) if request.method == "POST" else UploadForm()
    )
    status = 200
    if request.method == "POST":
        try:
            if handler.too_large:
                raise services.archive_refuse_oversized(
                    actor=caller, target_kind=kind, target=target, size=handler.received
                )
            if form.is_valid():
                data = form.cleaned_data["scan"].read()
                item = services.archive_upload(
                    actor=caller,
                    target_kind=kind,
                    target=target,
                    doc_type=form.cleaned_data["doc_type"],
                    data=data,
                )
                messages.success(
                    request,
                    _("The scan is in the archive as item %(item)s, waiting for the archive reviewer.")
                    % {"item": item.pk},
                )
                return redirect("web:archives:catalogue", kind=kind, pk=pk)
            status = 400
        except (ChangeRefused, NotPermitted) as refusal:
            form.add_error(None, str(refusal))
            status = 403 if isinstance(refusal, NotPermitted) else 400
    try:
        items = services.catalogue(actor=caller, target_kind=kind, target=target)
    except NotPermitted:
        raise Http404 from None
    return render(
        request,
        "archives/catalogue.html",
        {
            "kind": kind,
            "kind_title": KIND_TITLES[kind],
            "target_name": _target_name(kind, target),
            "back": _back(kind, target),
            "rows": [_row(i, request) for i in items],
            "form": form,
            "may_upload": may_upload,
            "max_mb": f"{services.max_bytes() / 1_048_576:.0f}",
            "crumbs": [
                (_("Home"), reverse("web:dashboard")),
                (_target_name(kind, target), _back(kind, target)),
                (_("Archive catalogue"), ""),
            ],
        },
        status=status,
    )


def _file_response(data: bytes, content_type: str, disposition: str, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def item_file(request: HttpRequest, item_id: int, action: str) -> HttpResponse:
    try:
        item, data = services.archive_open(actor=caller_of(request), item_id=item_id, action=action)
    except NotPermitted as refusal:
        if isinstance(refusal, IntegrityAlert):
            raise
        raise Http404 from None
    except ChangeRefused as purged:  # purged after its retention period: only the catalogue entry remains
        return HttpResponse(str(purged), status=410, content_type="text/plain; charset=utf-8")
    mime = ACCEPTED_KINDS[item.kind][0]
    extension = {"jpeg": "jpg", "tiff": "tif"}.get(item.kind, item.kind)
    disposition = "attachment" if action == "download" else "inline"
    return _file_response(data, mime, disposition, f"archive-{item.pk}.{extension}")


@require_GET
def item_thumbnail(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        png = services.archive_thumbnail(actor=caller_of(request), item_id=item_id)
    except NotPermitted as refusal:
        if isinstance(refusal, IntegrityAlert):
            raise
        raise Http404 from None
    except ChangeRefused as purged:  # purged after its retention period: only the catalogue entry remains
        return HttpResponse(str(purged), status=410, content_type="text/plain; charset=utf-8")
    return _file_response(png, "image/png", "inline", f"archive-{item_id}-preview.png")


@require_GET
def review_queue_page(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    try:
        items = services.review_queue(actor=caller)
    except NotPermitted:
        raise Http404 from None
    rows = []
    for item in items:
        row = _row(item, request)
        row["target"] = f"{KIND_TITLES.get(item.target_kind, '')} #{getattr(item, TARGETS[item.target_kind])}"
        rows.append(row)
    return render(
        request,
        "archives/review.html",
        {"rows": rows, "crumbs": [(_("Home"), reverse("web:dashboard")), (_("Archive review"), "")]},
    )


@require_POST
def review_item(request: HttpRequest, item_id: int) -> HttpResponse:
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose accept or reject."))
        return redirect("web:archives:review")
    accept = form.cleaned_data["decision"] == "accept"
    try:
        services.archive_review(
            actor=caller_of(request), item_id=item_id, accept=accept, reason=form.cleaned_data["reason"]
        )
    except (ChangeRefused, NotPermitted) as refusal:
        messages.error(request, str(refusal))
    else:
        if accept:
            messages.success(request, _("Archive item %(item)s accepted.") % {"item": item_id})
        else:
            messages.success(request, _("Archive item %(item)s rejected.") % {"item": item_id})
    return redirect("web:archives:review")


# --------------------------------------------------------------------------------------------------------
# Retention and orphans (issue 9)


@require_http_methods(["GET", "POST"])
def retention_page(request: HttpRequest) -> HttpResponse:
    """Archive reviewers: the items past their retention period, a purge proposed from that listing, and the
    purges waiting for a second reviewer. The information centre: the store's orphans."""
    caller = caller_of(request)
    staff = staff_of(request)
    may_purge = has_permission(staff, "archive.purge")
    may_orphans = has_permission(staff, "archive.orphans")
    if not (may_purge or may_orphans):
        raise Http404
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "propose":
                purge = retention.purge_propose(
                    actor=caller, item_ids=[int(i) for i in request.POST.getlist("item") if i.isdigit()],
                    reason=str(request.POST.get("reason", "")),
                )  # fmt: skip
                messages.success(
                    request,
                    _("Purge PU%(id)s proposed: a second archive reviewer decides.") % {"id": purge.pk},
                )
            elif action in ("approve", "refuse"):
                purge = retention.purge_decide(
                    actor=caller, purge_id=int(request.POST.get("purge", "0") or 0), approve=action == "approve",
                    reason=str(request.POST.get("reason", "")),
                )  # fmt: skip
                messages.success(
                    request,
                    _("Purge PU%(id)s: %(status)s.") % {"id": purge.pk, "status": purge.get_status_display()},
                )
        except (ChangeRefused, NotPermitted) as refusal:
            messages.error(request, str(refusal))
        return redirect("web:archives:retention")
    rows = [
        {**_row(item), "ends": retention.retention_ends(item)}
        for item in (retention.expired(actor=caller) if may_purge else [])
    ]
    return render(
        request,
        "archives/retention.html",
        {
            "rows": rows,
            "purges": retention.visible_purges(actor=caller),
            "orphans": retention.orphans(actor=caller) if may_orphans else None,
            "may_purge": may_purge,
            "me": staff.pk,
            "crumbs": [(_("Home"), reverse("web:dashboard")), (_("Archive retention"), "")],
        },
    )
