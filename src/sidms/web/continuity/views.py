"""Continuity and supervision pages (R4.1, R16–R20): backups and drills for the information centre, the
supervising department's alert inbox and rectification orders, the media register, the agreement register,
and the administrators' acts for the audit administrator. Each view: permission, one schema, one service."""

from __future__ import annotations

from datetime import timedelta
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
from sidms.audit.services import audit_record
from sidms.continuity import agreements, alerts, media, rectification
from sidms.continuity.models import (
    Agreement,
    AgreementStatus,
    Alert,
    AlertRule,
    AlertStatus,
    MaintenanceWindow,
    MediaDisposal,
    OrderStatus,
    PartyKind,
    RectificationOrder,
    StorageMedium,
    Vendor,
    VendorAccount,
)
from sidms.continuity.pdf import media_register_pdf, order_pdf
from sidms.continuity.selectors import administrator_acts, backups_and_drills, dashboard_notices
from sidms.core.errors import ChangeRefused, NotPermitted, SidmsError
from sidms.registry.models import Agency, ServiceInstitution, Staff
from sidms.web.context import caller_of, staff_of
from sidms.web.continuity.forms import (
    ADMIN_FILTER,
    AgreementForm,
    DisposalCloseForm,
    DisposalOpenForm,
    MediumForm,
    OrderForm,
    RevokeForm,
    RuleForm,
    StepForm,
    VendorAccountForm,
    VendorForm,
    WindowForm,
)
from sidms.web.governance.audit_words import action_label

HOME = "web:dashboard"


def _crumbs(*parts: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        (_("Home"), reverse(HOME)),
        (_("Continuity and supervision"), reverse("web:continuity:hub")),
        *parts,
    ]


def _refused(request: HttpRequest, refusal: SidmsError, form: Any = None) -> None:
    """Show a service's refusal: per field on the form where it has that field, otherwise as a message."""
    for name, error in getattr(refusal, "errors", {}).items():
        if form is not None and name in form.fields:
            form.add_error(name, error.localized())
        else:
            messages.error(request, f"{name}: {error.localized()}")
    messages.error(request, refusal.localized())


def _pdf(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


# --------------------------------------------------------------------------------------------------------
# Hub


@require_GET
def hub(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    can = {
        name: policies.has_permission(staff, name)
        for name in (
            "continuity.view",
            "alert.view",
            "rectification.view",
            "media.view",
            "agreement.view",
            "vendor.window_apply",
            "audit.view",
        )
    }
    can["audit.view"] = can["audit.view"] and staff.is_city_level  # the administrators' acts: city level only
    if not any(can.values()):
        policies.require(caller_of(request), "continuity.view", path=request.path)
    return render(
        request,
        "continuity/hub.html",
        {"can": {k.replace(".", "_"): v for k, v in can.items()} | {"agreement_view": can["agreement.view"] or can["vendor.window_apply"]}, "notices": dashboard_notices(staff),
         "crumbs": [(_("Home"), reverse(HOME)), (_("Continuity and supervision"), "")]},
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Backups and drills (R18): read-only, the operator commands take and drill them


@require_GET
def backups(request: HttpRequest) -> HttpResponse:
    policies.require(caller_of(request), "continuity.view", path=request.path)
    kept, drills = backups_and_drills(staff_of(request))
    return render(
        request,
        "continuity/backups.html",
        {
            "backups": kept[:100],
            "drills": drills[:100],
            "crumbs": _crumbs((_("Backups and recovery drills"), "")),
        },
    )


# --------------------------------------------------------------------------------------------------------
# Alerts (R20, R4.1)


@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    policies.require(caller_of(request), "alert.view", path=request.path)
    status = request.GET.get("status", "")
    rows = alerts.alert_inbox(staff_of(request), status=status if status in AlertStatus.values else "")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "continuity/alerts.html",
        {
            "page": page,
            "status": status,
            "statuses": AlertStatus.choices,
            "crumbs": _crumbs((_("Alerts"), "")),
        },
    )


def _alert(request: HttpRequest, alert_id: int) -> Alert:
    policies.require(caller_of(request), "alert.view", path=request.path)
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        raise Http404
    return alert


@require_GET
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _alert(request, alert_id)
    audit_record("read.alert", actor=caller_of(request), object_type="alert", object_id=alert.pk)
    staff = staff_of(request)
    return render(
        request,
        "continuity/alert_detail.html",
        {
            "alert": alert,
            "form": StepForm(),
            "can_handle": policies.has_permission(staff, "alert.handle") and alert.subject != staff.username,
            "can_order": policies.has_permission(staff, "rectification.issue"),
            "evidence": sorted((k, v) for k, v in alert.evidence.items() if k not in ("seqs", "key")),
            "seqs": alert.evidence.get("seqs", []),
            "crumbs": _crumbs((_("Alerts"), reverse("web:continuity:alerts")), (f"AL{alert.pk}", "")),
        },
    )


@require_POST
def alert_step(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _alert(request, alert_id)
    form = StepForm(request.POST)
    if not form.is_valid():
        raise Http404
    action, text = form.cleaned_data["action"], form.cleaned_data["text"] or ""
    steps: dict[str, Any] = {
        "acknowledge": lambda: alerts.alert_acknowledge(actor=caller_of(request), alert_id=alert.pk),
        "investigate": lambda: alerts.alert_investigate(
            actor=caller_of(request), alert_id=alert.pk, notes=text
        ),
        "close": lambda: alerts.alert_close(actor=caller_of(request), alert_id=alert.pk, conclusion=text),
    }
    if action not in steps:
        raise Http404
    try:
        steps[action]()
    except (ChangeRefused, NotPermitted) as refusal:
        _refused(request, refusal)
    else:
        messages.success(request, _("Recorded."))
    return redirect("web:continuity:alert_detail", alert_id=alert.pk)


@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "alert.view", path=request.path)
    can_edit = policies.has_permission(staff_of(request), "alert.rules")
    if request.method == "POST":
        policies.require(caller, "alert.rules", path=request.path)
        rule = AlertRule.objects.filter(code=request.POST.get("code", "")).first()
        form = RuleForm(request.POST)
        if rule is None or not form.is_valid():
            messages.error(request, _("Check the values."))
        else:
            try:
                alerts.rule_change(
                    actor=caller, code=rule.code, enabled=form.cleaned_data["enabled"],
                    threshold=form.cleaned_data["threshold"], window_minutes=form.cleaned_data["window_minutes"],
                )  # fmt: skip
                messages.success(
                    request, _("The rule is changed; the new version applies from the next run.")
                )
            except (ChangeRefused, NotPermitted) as refusal:
                _refused(request, refusal)
        return redirect("web:continuity:rules")
    return render(
        request,
        "continuity/rules.html",
        {
            "rules": AlertRule.objects.order_by("code"),
            "can_edit": can_edit,
            "crumbs": _crumbs((_("Alert rules"), "")),
        },
    )


# --------------------------------------------------------------------------------------------------------
# Rectification orders (R4.1)


def _agencies() -> list[tuple[str, str]]:
    return [(str(a.pk), f"{a.name}（{a.code}）") for a in Agency.objects.order_by("code")]


@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    policies.require(caller_of(request), "rectification.view", path=request.path)
    staff = staff_of(request)
    page = Paginator(rectification.orders_visible(staff).order_by("-issued_at"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "continuity/orders.html",
        {"page": page, "today": timezone.localdate(), "can_issue": policies.has_permission(staff, "rectification.issue"),
         "crumbs": _crumbs((_("Rectification orders"), ""))},
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def order_new(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "rectification.issue", path=request.path)
    alert = Alert.objects.filter(pk=request.GET.get("alert") or 0).first()
    initial: dict[str, Any] = {"deadline": timezone.localdate() + timedelta(days=15)}
    if alert is not None:
        initial["problems"] = f"告警 AL{alert.pk}：{alert.summary}"
    form = OrderForm(request.POST or None, initial=initial, agencies=_agencies())
    if request.method == "POST" and form.is_valid():
        try:
            order = rectification.order_issue(
                actor=caller, agency=Agency.objects.get(pk=form.cleaned_data["agency"]), alert=alert,
                problems=form.cleaned_data["problems"], requirements=form.cleaned_data["requirements"],
                deadline=form.cleaned_data["deadline"],
            )  # fmt: skip
        except (ChangeRefused, NotPermitted) as refusal:
            _refused(request, refusal, form)
        else:
            messages.success(request, _("Order %(number)s is issued.") % {"number": order.number})
            return redirect("web:continuity:order_detail", order_id=order.pk)
    return render(
        request,
        "continuity/order_new.html",
        {"form": form, "alert": alert,
         "crumbs": _crumbs((_("Rectification orders"), reverse("web:continuity:orders")), (_("New order"), ""))},
        status=400 if request.method == "POST" else 200,
    )  # fmt: skip


def _order(request: HttpRequest, order_id: int) -> RectificationOrder:
    policies.require(caller_of(request), "rectification.view", path=request.path)
    order = rectification.orders_visible(staff_of(request)).filter(pk=order_id).first()
    if order is None:
        raise Http404
    return order


@require_GET
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    audit_record(
        "read.rectification_order",
        actor=caller_of(request),
        object_type="rectification_order",
        object_id=order.pk,
    )
    staff = staff_of(request)
    return render(
        request,
        "continuity/order_detail.html",
        {
            "order": order,
            "form": StepForm(initial={"deadline": timezone.localdate() + timedelta(days=7)}),
            "can_issue": policies.has_permission(staff, "rectification.issue"),
            "can_respond": policies.has_permission(staff, "rectification.respond")
            and order.status == OrderStatus.ISSUED,
            "overdue": order.overdue(),
            "crumbs": _crumbs(
                (_("Rectification orders"), reverse("web:continuity:orders")), (order.number, "")
            ),
        },
    )


@require_POST
def order_step(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    form = StepForm(request.POST)
    if not form.is_valid():
        raise Http404
    action, text = form.cleaned_data["action"], form.cleaned_data["text"] or ""
    caller = caller_of(request)
    try:
        if action == "respond":
            rectification.order_respond(actor=caller, order_id=order.pk, response=text)
        elif action == "close":
            rectification.order_close(actor=caller, order_id=order.pk, note=text)
        elif action == "return":
            deadline = form.cleaned_data["deadline"] or timezone.localdate()
            rectification.order_return(actor=caller, order_id=order.pk, note=text, deadline=deadline)
        else:
            raise Http404
    except (ChangeRefused, NotPermitted) as refusal:
        _refused(request, refusal)
    else:
        messages.success(request, _("Recorded."))
    return redirect("web:continuity:order_detail", order_id=order.pk)


@require_GET
def order_print(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    audit_record(
        "print.rectification_order",
        actor=caller_of(request),
        object_type="rectification_order",
        object_id=order.pk,
    )
    return _pdf(order_pdf(order), f"{order.number}.pdf")


# --------------------------------------------------------------------------------------------------------
# Media register (R19)


@require_http_methods(["GET", "POST"])
def media_list(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "media.view", path=request.path)
    can_manage = policies.has_permission(staff_of(request), "media.manage")
    form = MediumForm(request.POST or None)
    if request.method == "POST":
        policies.require(caller, "media.manage", path=request.path)
        if form.is_valid():
            try:
                medium = media.medium_register(actor=caller, custodian=staff_of(request), **form.cleaned_data)
            except (ChangeRefused, NotPermitted) as refusal:
                _refused(request, refusal, form)
            else:
                messages.success(request, _("Registered."))
                return redirect("web:continuity:medium_detail", medium_id=medium.pk)
    return render(
        request,
        "continuity/media.html",
        {"media": StorageMedium.objects.select_related("custodian").order_by("asset_no"), "form": form,
         "can_manage": can_manage, "open_disposals": MediaDisposal.objects.filter(status="open").count(),
         "crumbs": _crumbs((_("Storage media"), ""))},
        status=400 if request.method == "POST" else 200,
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def medium_detail(request: HttpRequest, medium_id: int) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "media.view", path=request.path)
    medium = StorageMedium.objects.filter(pk=medium_id).first()
    if medium is None:
        raise Http404
    open_form, close_form = DisposalOpenForm(), DisposalCloseForm()
    if request.method == "POST":
        policies.require(caller, "media.manage", path=request.path)
        try:
            if request.POST.get("action") == "dispose":
                open_form = DisposalOpenForm(request.POST)
                if open_form.is_valid():
                    media.disposal_open(actor=caller, medium_id=medium.pk, **open_form.cleaned_data)
                    messages.success(
                        request, _("Wipe the medium before it leaves custody, then record the wipe.")
                    )
                    return redirect("web:continuity:medium_detail", medium_id=medium.pk)
            elif request.POST.get("action") == "close":
                close_form = DisposalCloseForm(request.POST)
                disposal = MediaDisposal.objects.filter(medium=medium, status="open").first()
                if disposal is not None and close_form.is_valid():
                    data = close_form.cleaned_data
                    media.disposal_close(
                        actor=caller, disposal_id=disposal.pk, wipe_method=data["wipe_method"],
                        operator=Staff.objects.filter(username=data["operator"]).first(),
                        witness=Staff.objects.filter(username=data["witness"]).first(),
                        wiped_on=data["wiped_on"], certificate_ref=data["certificate_ref"],
                    )  # fmt: skip
                    messages.success(request, _("The wipe is recorded and the disposal closed."))
                    return redirect("web:continuity:medium_detail", medium_id=medium.pk)
        except (ChangeRefused, NotPermitted) as refusal:
            _refused(request, refusal, close_form if request.POST.get("action") == "close" else open_form)
    return render(
        request,
        "continuity/medium_detail.html",
        {"medium": medium, "disposals": medium.disposals.select_related("operator", "witness").order_by("-opened_at"),
         "open_disposal": medium.disposals.filter(status="open").first(), "open_form": open_form,
         "close_form": close_form, "can_manage": policies.has_permission(staff_of(request), "media.manage"),
         "crumbs": _crumbs((_("Storage media"), reverse("web:continuity:media")), (medium.asset_no, ""))},
        status=400 if request.method == "POST" else 200,
    )  # fmt: skip


@require_GET
def media_print(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "media.view", path=request.path)
    audit_record("print.media_register", actor=caller, object_type="storage_medium")
    return _pdf(media_register_pdf(), "media-register.pdf")


# --------------------------------------------------------------------------------------------------------
# Agreements (R16)


def _party(kind: str, text: str) -> dict[str, Any]:
    if kind == PartyKind.STAFF:
        return {"staff": Staff.objects.filter(username=text).first()}
    if kind == PartyKind.INSTITUTION:
        return {"institution": ServiceInstitution.objects.filter(code=text).first()}
    return {"vendor": Vendor.objects.filter(name=text).first()}


@require_http_methods(["GET", "POST"])
def agreement_list(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "agreement.view", path=request.path)
    form = AgreementForm(request.POST or None)
    if request.method == "POST":
        policies.require(caller, "agreement.manage", path=request.path)
        if "revoke" in request.POST:
            revoke = RevokeForm(request.POST)
            try:
                if revoke.is_valid():
                    agreements.agreement_revoke(
                        actor=caller,
                        agreement_id=int(request.POST["revoke"]),
                        reason=revoke.cleaned_data["reason"],
                    )
                    messages.success(request, _("The agreement is revoked; access ends at once."))
                else:
                    messages.error(request, _("Give the reason for the change."))
            except (ChangeRefused, NotPermitted, ValueError) as refusal:
                messages.error(request, str(refusal))
            return redirect("web:continuity:agreements")
        if form.is_valid():
            data = form.cleaned_data
            try:
                agreement = agreements.agreement_register(
                    actor=caller, party_kind=data["party_kind"], scope=data["scope"], signed_on=data["signed_on"],
                    expires_on=data["expires_on"], scan_ref=data["scan_ref"], **_party(data["party_kind"], data["party"]),
                )  # fmt: skip
            except (ChangeRefused, NotPermitted) as refusal:
                _refused(request, refusal, form)
            else:
                messages.success(
                    request, _("Agreement %(number)s is registered.") % {"number": agreement.number}
                )
                return redirect("web:continuity:agreements")
    staff = staff_of(request)
    return render(
        request,
        "continuity/agreements.html",
        {"agreements": Agreement.objects.select_related("staff", "institution", "vendor").order_by("-registered_at")[:500],
         "expiring": agreements.agreement_notices(staff), "windows": MaintenanceWindow.objects.select_related(
             "account__vendor", "account__staff").order_by("-starts_at")[:50],
         "form": form, "can_manage": policies.has_permission(staff, "agreement.manage"),
         "active": AgreementStatus.ACTIVE, "crumbs": _crumbs((_("Confidentiality agreements"), ""))},
        status=400 if request.method == "POST" else 200,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# The administrators' acts, for the audit administrator (MLPS 2.0 level 3)


@require_GET
def admin_acts(request: HttpRequest) -> HttpResponse:
    post = request.GET.get("post", "")
    if post not in dict(ADMIN_FILTER):
        post = ""
    before = request.GET.get("before")
    acts = administrator_acts(
        actor=caller_of(request), post=post, before=int(before) if before and before.isdigit() else None
    )
    rows = [{"act": act, "action": action_label(act.event.action)} for act in acts]
    return render(
        request,
        "continuity/admin_acts.html",
        {"rows": rows, "post": post, "posts": ADMIN_FILTER, "older": acts[-1].event.seq if len(acts) == 100 else None,
         "crumbs": _crumbs((_("Administrators' acts"), ""))},
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Vendors, their accounts and maintenance windows (R20(5))


@require_http_methods(["GET", "POST"])
def vendors(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    staff = staff_of(request)
    may = {
        p: policies.has_permission(staff, p)
        for p in ("agreement.manage", "vendor.window_apply", "vendor.window_approve")
    }
    if not any(may.values()):
        policies.require(caller, "agreement.view", path=request.path)
    vendor_choices = [(str(v.pk), v.name) for v in Vendor.objects.order_by("name")]
    account_choices = [
        (str(a.pk), f"{a.vendor.name} · {a.staff.username}")
        for a in VendorAccount.objects.select_related("vendor", "staff").order_by(
            "vendor__name", "staff__username"
        )
    ]
    vendor_form = VendorForm(request.POST if request.POST.get("form") == "vendor" else None)
    account_form = VendorAccountForm(
        request.POST if request.POST.get("form") == "account" else None, vendors=vendor_choices
    )
    window_form = WindowForm(
        request.POST if request.POST.get("form") == "window" else None, accounts=account_choices
    )
    if request.method == "POST":
        form_name = request.POST.get("form", "")
        try:
            if form_name == "vendor" and vendor_form.is_valid():
                agreements.vendor_register(actor=caller, **vendor_form.cleaned_data)
            elif form_name == "account" and account_form.is_valid():
                data = account_form.cleaned_data
                agreements.vendor_account_create(
                    actor=caller, vendor=Vendor.objects.get(pk=data["vendor"]), username=data["username"],
                    password=data["password"], full_name=data["full_name"],
                )  # fmt: skip
            elif form_name == "window" and window_form.is_valid():
                data = window_form.cleaned_data
                agreements.window_apply(
                    actor=caller, account=VendorAccount.objects.get(pk=data["account"]), starts_at=data["starts_at"],
                    ends_at=data["ends_at"], purpose=data["purpose"],
                )  # fmt: skip
            elif form_name == "decide":
                agreements.window_decide(
                    actor=caller, window_id=int(request.POST.get("window", "0")),
                    approve=request.POST.get("decision") == "approve", reason=request.POST.get("reason", ""),
                )  # fmt: skip
            else:
                messages.error(request, _("Check the values."))
                return redirect("web:continuity:vendors")
        except (ChangeRefused, NotPermitted, ValueError) as refusal:
            if isinstance(refusal, SidmsError):
                _refused(request, refusal)
            else:
                messages.error(request, str(refusal))
        else:
            messages.success(request, _("Recorded."))
        return redirect("web:continuity:vendors")
    return render(
        request,
        "continuity/vendors.html",
        {"vendors": Vendor.objects.order_by("name"), "accounts": VendorAccount.objects.select_related("vendor", "staff"),
         "windows": MaintenanceWindow.objects.select_related("account__vendor", "account__staff", "applicant", "approver")
         .order_by("-starts_at")[:100],
         "vendor_form": vendor_form, "account_form": account_form, "window_form": window_form,
         "may": {k.replace(".", "_"): v for k, v in may.items()}, "staff": staff,
         "crumbs": _crumbs((_("IT vendors and maintenance windows"), ""))},
    )  # fmt: skip
