"""Import and export pages (B3, R6.2, R10.3): upload a spreadsheet, see every row's errors (and download
them as the XLSX error report) before anything is applied, apply for an import batch of the valid rows; ask
for an export of a list, approve others' large exports, download an approved one once. Each view: the
permission, one service of sidms.exchange."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sidms.access import policies
from sidms.archives.uploads import InMemoryLimitedUploadHandler
from sidms.audit.services import audit_record
from sidms.core.errors import ChangeRefused, NotPermitted, SidmsError
from sidms.core.kernel import by_slug
from sidms.exchange import exports, imports, uploads
from sidms.exchange.kinds import KINDS
from sidms.exchange.models import ExportStatus
from sidms.exchange.progress import ProgressFile, progress_path, read_progress
from sidms.lib.errors import StandardError
from sidms.web.context import caller_of, staff_of

MAX_UPLOAD = 200 * 1024 * 1024
SHOWN_ROWS = 500  # failing rows listed on the page; the report has them all
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _crumbs(*more: tuple[str, str]) -> list[tuple[str, str]]:
    return [(_("Home"), reverse("web:dashboard")), *more]


def _kinds() -> list[tuple[str, str]]:
    return [(name, str(kind.title)) for name, kind in KINDS.items()]


def _token(value: Any) -> str:
    text = str(value or "")
    return text if progress_path(text) is not None else ""


def _attachment(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# --------------------------------------------------------------------------------------------------------
# Imports


@csrf_exempt  # the upload handler must be set before the body is read; CSRF is checked just below
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    """Django's default handlers would spill an upload above 2.5 MB (a list of people with their ID
    numbers) to a plaintext temporary file; the file is received into memory only (R2.4), as the archive's
    scans are."""
    handler = InMemoryLimitedUploadHandler(request, limit=MAX_UPLOAD)
    request.upload_handlers = [handler]
    return _import_page(request, handler)


@csrf_protect
def _import_page(request: HttpRequest, handler: InMemoryLimitedUploadHandler) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "batch.apply", path=request.path)
    context: dict[str, Any] = {
        "kinds": _kinds(),
        "kind": request.POST.get("kind", "persons"),
        "token": uuid.uuid4().hex,
        "crumbs": _crumbs((_("Import a spreadsheet"), "")),
    }
    if request.method == "GET":
        return render(request, "exchange/imports.html", context)
    token = _token(request.POST.get("token")) or context["token"]
    kind = str(request.POST.get("kind", ""))
    upload = request.FILES.get("file")
    if handler.too_large:
        context["refusal"] = _("The file is larger than %(mb)s MB; split it into several files.") % {
            "mb": MAX_UPLOAD // 1_048_576
        }
        return render(request, "exchange/imports.html", context, status=400)
    if kind not in KINDS or upload is None:
        context["refusal"] = _("Choose the kind of records and the file.")
        return render(request, "exchange/imports.html", context, status=400)
    if upload.size is not None and upload.size > MAX_UPLOAD:
        context["refusal"] = _("The file is larger than %(mb)s MB; split it into several files.") % {
            "mb": MAX_UPLOAD // 1_048_576
        }
        return render(request, "exchange/imports.html", context, status=400)
    data = upload.read()
    try:
        checked = imports.check_file(
            data,
            kind=kind,
            filename=upload.name or "",
            progress=ProgressFile(progress_path(token)),  # type: ignore[arg-type]
            actor=caller,
        )
    except StandardError as refused:
        context["refusal"] = refused.message
        return render(request, "exchange/imports.html", context, status=400)
    uploads.stash(token, caller.staff.pk, data=data, kind=kind, filename=upload.name or "")
    return _checked(request, token, checked)


def _checked(
    request: HttpRequest, token: str, checked: imports.Checked, *, status: int = 200, **extra: Any
) -> HttpResponse:
    existing = imports.same_file(checked.digest, checked.kind.name)
    return render(
        request,
        "exchange/import_checked.html",
        {
            "token": token,
            "checked": checked,
            "failing": checked.failing[:SHOWN_ROWS],
            "more": max(0, len(checked.failing) - SHOWN_ROWS),
            "existing": existing,
            "crumbs": _crumbs(
                (_("Import a spreadsheet"), reverse("web:exchange:imports")), (checked.filename, "")
            ),
            **extra,
        },
        status=status,
    )


def _unstashed(request: HttpRequest, token: str) -> tuple[bytes, imports.Checked]:
    found = uploads.unstash(_token(token), staff_of(request).pk)
    if found is None:
        raise Http404
    data, kind, filename = found
    return data, imports.check_file(data, kind=kind, filename=filename, actor=caller_of(request))


@require_GET
def import_report(request: HttpRequest, token: str) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "batch.apply", path=request.path)
    _data, checked = _unstashed(request, token)
    audit_record(
        "import.report", actor=caller, object_type="import_file",
        detail={"file_digest": checked.digest, "rows": len(checked.failing)},
    )  # fmt: skip
    return _attachment(checked.report(), f"错误报告-{checked.kind.name}.xlsx", XLSX)


@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """The blank template of an import kind (ux-conventions: imports offer a template to download): its
    Chinese headers, cells formatted as the import reads them, and an instructions sheet. It holds no
    personal data; it is offered to those who may apply for imports."""
    policies.require(caller_of(request), "batch.apply", path=request.path)
    found = KINDS.get(kind)
    if found is None:
        raise Http404
    return _attachment(found.blank(), f"{_('Import template')}-{found.title}.xlsx", XLSX)


@require_POST
def import_apply(request: HttpRequest, token: str) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "batch.apply", path=request.path)
    data, checked = _unstashed(request, token)
    text = str(request.POST.get("exclude", "")).replace("，", ",").replace(" ", ",")
    try:
        exclude = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        return _checked(
            request, token, checked, status=400, refusal=_("Row numbers are whole numbers, e.g. 5, 9.")
        )
    try:
        imported = imports.apply_import(
            actor=caller,
            data=data,
            checked=checked,
            reason=str(request.POST.get("reason", "")),
            exclude=exclude,
        )
    except SidmsError as refused:
        return _checked(request, token, checked, status=400, refusal=refused.localized())
    uploads.discard(token)
    messages.success(
        request,
        _("Applied for import batch BA%(batch)s with %(rows)s rows; a city-level approver decides next.")
        % {"batch": imported.batch_id, "rows": imported.rows_kept},
    )
    return redirect("gov:batch_detail", batch_id=imported.batch_id)


@require_GET
def progress(request: HttpRequest, token: str) -> JsonResponse:
    """How far the upload with TOKEN has got (counts only), for the page's progress line."""
    policies.require(caller_of(request), "batch.apply", path=request.path)
    return JsonResponse(read_progress(progress_path(token)))


# --------------------------------------------------------------------------------------------------------
# Exports


@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    rows = list(
        exports.visible_exports(staff).select_related("requester", "approver").order_by("-requested_at")[:200]
    )
    for row in rows:
        row.search_shown = exports.shown_search(row)
    return render(
        request,
        "exchange/exports.html",
        {
            "rows": rows,
            "me": staff.pk,
            "can_approve": policies.has_permission(staff, exports.APPROVE),
            "threshold": exports.export_threshold(),
            "crumbs": _crumbs((_("Exports"), "")),
        },
    )


@require_http_methods(["GET", "POST"])
def export_new(request: HttpRequest, slug: str) -> HttpResponse:
    spec = by_slug(slug)
    if spec is None:
        raise Http404
    caller = caller_of(request)
    source = request.POST if request.method == "POST" else request.GET
    query = str(source.get("q", "")).strip()
    if request.method == "GET" and policies.ID_NUMBER_SHAPE.match(query):
        # The list page's rule (web.records.views.record_list): an ID number in the address (typed, bookmarked,
        # in the history and the logs) is not searched. It is typed into the form's search box, which posts.
        messages.warning(
            request,
            _("Search for ID numbers with the search box: an ID number must not be in a web address."),
        )
        query = ""
    filters = {name: str(source.get(name, "")) for name in spec.declaration.list_filters if source.get(name)}
    sort = str(source.get("sort", ""))
    context = {
        "spec": spec,
        "slug": slug,
        "title": spec.model._meta.verbose_name_plural,
        "query": query,
        "filters": filters,
        "sort": sort,
        "threshold": exports.export_threshold(),
        "crumbs": _crumbs(
            (str(spec.model._meta.verbose_name_plural), reverse("web:record_list", args=[slug])),
            (_("Export"), ""),
        ),
    }
    if request.method == "GET":
        policies.require(caller, policies.view_permission(spec), path=request.path)
        return render(request, "exchange/export_new.html", context)
    try:
        done = exports.request_export(
            actor=caller, entity=spec.name, purpose=str(request.POST.get("purpose", "")), query=query,
            filters=filters, sort=sort, fmt=str(request.POST.get("format", "xlsx")),
            encoding=str(request.POST.get("encoding", "utf-8-sig")),
        )  # fmt: skip
    except ChangeRefused as refused:
        return render(
            request, "exchange/export_new.html", {**context, "refusal": refused.localized()}, status=400
        )
    if done.data is None:
        messages.info(
            request,
            _(
                "The list has %(rows)s rows, more than %(limit)s: the export EX%(id)s waits for a second person's approval."
            )
            % {"rows": done.request.row_count, "limit": exports.export_threshold(), "id": done.request.pk},
        )
        return redirect("web:exchange:exports")
    return _attachment(done.data, done.filename, done.content_type)


@require_POST
def export_decide(request: HttpRequest, export_id: int) -> HttpResponse:
    approve = request.POST.get("decision") == "approve"
    try:
        exports.decide_export(
            actor=caller_of(request),
            export_id=export_id,
            approve=approve,
            reason=str(request.POST.get("reason", "")),
        )
    except (ChangeRefused, NotPermitted) as refused:
        messages.error(request, refused.localized())
    else:
        messages.success(request, _("The export is approved.") if approve else _("The export is refused."))
    return redirect("web:exchange:exports")


@require_POST
def export_withdraw(request: HttpRequest, export_id: int) -> HttpResponse:
    """The requester withdraws their export while it waits for approval (撤回)."""
    try:
        withdrawn = exports.withdraw_export(actor=caller_of(request), export_id=export_id)
    except (ChangeRefused, NotPermitted) as refused:
        messages.error(request, refused.localized())
    else:
        messages.success(
            request, _("Export EX%(id)s withdrawn: it no longer waits for approval.") % {"id": withdrawn.pk}
        )
    return redirect("web:exchange:exports")


@require_POST
def export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    try:
        done = exports.download_export(actor=caller_of(request), export_id=export_id)
    except (ChangeRefused, NotPermitted) as refused:
        messages.error(request, refused.localized())
        return redirect("web:exchange:exports")
    assert done.data is not None
    return _attachment(done.data, done.filename, done.content_type)


STATUSES = ExportStatus
