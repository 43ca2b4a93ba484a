"""Staff accounts (R16, R17): the list, an account's page with its posts, agreement, lock-out, authenticator,
history and audit events, and one form per act. Only a city-level security administrator (``staff.manage``)
reaches them; a post is granted only when a second one confirms the proposal on its review page.

Each view reads top to bottom: the middleware has signed the person in with two factors; the view checks the
function, parses the form, calls one service of sidms.security.accounts, and shows its refusal next to the
field it concerns (what was typed stays, except passwords).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from sidms.access import policies
from sidms.audit.services import audit_record
from sidms.changes.services import require_city_level
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, SeparationOfDuties
from sidms.registry.models import Staff
from sidms.security import accounts
from sidms.web.bad_input import BadInput, answers_bad_input, no_such_page
from sidms.web.context import caller_of
from sidms.web.staff import reads
from sidms.web.staff.forms import (
    PER_PAGE_CHOICES,
    ActiveForm,
    AgencyForm,
    AgreementForm,
    DistrictForm,
    PasswordForm,
    PostProposeForm,
    PostRevokeForm,
    StaffCreateForm,
    StaffFilterForm,
    password_problems,
)

PER_PAGE = 50
# Which form field a service's refusal concerns, by its code (sidms.security.accounts).
REFUSAL_FIELDS = {
    "duplicate": "username",
    "post": "post",
    "three_admins": "post",
    "no_change": "post",
    "reason_required": "reason",
    "district": "district",
    "dates": "expires_on",
}


def _manager(request: HttpRequest) -> Caller:
    """The caller, if a city-level security administrator; otherwise 403 (and the attempt is recorded)."""
    caller = caller_of(request)
    policies.require(caller, "staff.manage", path=request.path)
    require_city_level(caller, accounts.MAY_NOT_MANAGE)
    return caller


def _member(pk: int) -> Staff:
    member = Staff.objects.select_related("district", "agency").filter(pk=pk).first()
    if member is None:
        raise Http404
    return member


def _crumbs(member: Staff | None = None, *extra: str) -> list[tuple[str, str]]:
    crumbs = [(_("Home"), reverse("web:dashboard")), (_("Staff accounts"), reverse("web:staff:list"))]
    if member is not None:
        crumbs.append(
            (f"{member.display_name}（{member.username}）", reverse("web:staff:detail", args=[member.pk]))
        )
    crumbs.extend((text, "") for text in extra)
    return crumbs


def _refuse(form: Form, refused: ChangeRefused) -> None:
    field = REFUSAL_FIELDS.get(refused.code)
    form.add_error(field if field in form.fields else None, refused.localized())


def _read(caller: Caller, member: Staff) -> None:
    """Reading an account is an audit event like reading a person (B1: the staff member can learn who looked)."""
    audit_record("read.staff", actor=caller, object_type="staff", object_id=member.username)


# --------------------------------------------------------------------------------------------------------
# The list and one account


@require_GET
@answers_bad_input
def staff_list(request: HttpRequest) -> HttpResponse:
    caller = _manager(request)
    form = StaffFilterForm(request.GET, auto_id="f-%s")
    if not form.is_valid():
        raise BadInput(
            _(
                "The list cannot be shown with these filters: a page number or filter is not one the list offers."
            ),
            back=reverse("web:staff:list"),
            back_text=_("Show the whole list"),
        )
    wanted = form.cleaned_data
    query = (wanted["q"] or "").strip()
    rows = reads.staff_rows(
        query=query,
        district=wanted["district"],
        post=wanted["post"],
        active=wanted["active"],
        sort=wanted["sort"],
    )
    per_page = wanted["per_page"] or PER_PAGE
    paginator = Paginator(rows, per_page)
    params = {k: str(v) for k, v in wanted.items() if k not in ("page", "per_page") and v}
    if per_page != PER_PAGE:
        params["per_page"] = str(per_page)
    number = wanted["page"] or 1
    if number > paginator.num_pages:
        raise no_such_page(number, paginator.num_pages, reverse("web:staff:list"), params)
    page = paginator.page(number)
    members = list(page)
    locked = reads.locked_logins([m.username for m in members])
    audit_record(
        "read.staff_list", actor=caller, object_type="staff",
        detail={"by": "all", "shown": [m.username for m in members]},
    )  # fmt: skip
    return render(
        request,
        "staff/list.html",
        {
            "form": form,
            "q": query,
            "rows": [
                {
                    "member": m,
                    "posts": [reads.post_label(p) for p in reads.posts_of(m)],
                    "district": reads.district_text(m.district_id),
                    "agreement": reads.agreement_of(m),
                    "locked": m.username in locked,
                }
                for m in members
            ],
            "page_obj": page,
            "total": f"{paginator.count:,}",
            "filtered": bool(query or wanted["district"] or wanted["post"] or wanted["active"]),
            "params": params,
            "sort": wanted["sort"],
            "per_page": per_page,
            "per_page_choices": PER_PAGE_CHOICES,
            "crumbs": [*_crumbs()[:-1], (_("Staff accounts"), "")],
        },
    )


@require_GET
def staff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    _read(caller, member)
    posts = reads.posts_of(member)
    return render(
        request,
        "staff/detail.html",
        {
            "member": member,
            "posts": [(p, reads.post_label(p)) for p in posts],
            "pending": [(cr, reads.proposal_label(cr)) for cr in reads.pending_posts(member)],
            "district": reads.district_text(member.district_id),
            "agreement": reads.agreement_of(member),
            "locked": member.username in reads.locked_logins([member.username]),
            "enrolled": reads.has_authenticator(member),
            "enrolment_open": bool(member.enrolment_code) and member.enrolment_expires is not None,
            "history": reads.history(member),
            "events": reads.events_about(member),
            "events_shown": reads.EVENTS_SHOWN,
            "is_self": member.pk == caller.staff.pk,
            "crumbs": _crumbs(member),
        },
    )


# --------------------------------------------------------------------------------------------------------
# The acts: one form and one service each


def _form_page(
    request: HttpRequest,
    form: Form,
    *,
    member: Staff | None,
    title: str,
    intro: str = "",
    warning: str = "",
    button: str,
    confirm: str = "",
    danger: bool = False,
) -> HttpResponse:
    cancel = reverse("web:staff:detail", args=[member.pk]) if member else reverse("web:staff:list")
    context = {
        "form": form, "member": member, "title": title, "intro": intro, "warning": warning, "button": button,
        "confirm": confirm, "danger": danger, "cancel_url": cancel, "crumbs": _crumbs(member, title),
    }  # fmt: skip
    return render(request, "staff/form.html", context, status=400 if form.is_bound else 200)


@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def staff_new(request: HttpRequest) -> HttpResponse:
    caller = _manager(request)
    form = StaffCreateForm(request.POST or None)
    if form.is_valid():
        data = form.cleaned_data
        try:
            member = accounts.staff_create(
                actor=caller, username=data["username"], password=data["password"], district=data["district"],
                full_name=data["full_name"], agency=data["agency"], agreement_signed_on=data["agreement_signed_on"],
                agreement_expires_on=data["agreement_expires_on"],
            )  # fmt: skip
        except ChangeRefused as refused:
            _refuse(form, refused)
        else:
            messages.success(
                request,
                _("Account %(login)s created. Next: propose its posts (a second security administrator confirms each) and issue an enrolment code for its authenticator.")
                % {"login": member.username},
            )  # fmt: skip
            return redirect("web:staff:detail", member.pk)
    return _form_page(
        request, form, member=None, title=_("New staff account"),
        intro=_("The account starts without posts: propose each post on the account's page once it is created; it takes effect when a second city-level security administrator confirms it. Tell the person the initial password in person; the authenticator is bound with a separate enrolment code."),
        button=_("Create the account"),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def staff_post_propose_view(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    pending = frozenset(
        str(cr.proposed["post"][1]) for cr in reads.pending_posts(member) if "post" in cr.proposed
    )
    form = PostProposeForm(request.POST or None, held=member.posts, pending=pending)
    if form.is_valid():
        try:
            held = accounts.staff_post_propose(
                actor=caller, staff=member, post=form.cleaned_data["post"], reason=form.cleaned_data["reason"]
            )
        except ChangeRefused as refused:
            _refuse(form, refused)
        else:
            messages.success(
                request,
                _("The post %(post)s is proposed as request CR%(id)s. It is granted when a second city-level security administrator confirms it.")
                % {"post": reads.post_label(form.cleaned_data["post"]), "id": held.pk},
            )  # fmt: skip
            return redirect("web:staff:detail", member.pk)
    if request.method == "GET":
        _read(caller, member)
    return _form_page(
        request, form, member=member, title=_("Propose a post"),
        intro=_("A post gives the person the functions of that post at once when granted. The proposal waits for a second city-level security administrator, who confirms it on its review page (under “To do and done”); you cannot confirm your own proposal."),
        warning=_("Who confirms: another city-level security administrator (not you)."),
        button=_("Propose the post"),
        confirm=_("The proposal goes to a second security administrator for confirmation. Propose it?"),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def staff_post_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    form = PostRevokeForm(
        request.POST or None, held=member.posts, initial={"post": request.GET.get("post", "")}
    )
    if form.is_valid():
        try:
            accounts.staff_post_revoke(
                actor=caller, staff=member, post=form.cleaned_data["post"], reason=form.cleaned_data["reason"]
            )
        except ChangeRefused as refused:
            _refuse(form, refused)
        else:
            messages.success(
                request,
                _("The post %(post)s is removed from %(name)s, with effect from their next request.")
                % {"post": reads.post_label(form.cleaned_data["post"]), "name": member.display_name},
            )  # fmt: skip
            return redirect("web:staff:detail", member.pk)
    if request.method == "GET":
        _read(caller, member)
    return _form_page(
        request, form, member=member, title=_("Remove a post"),
        intro=_("The post is removed at once, without a second confirmation: the person loses its functions at their next request. Work waiting in their queues stays for others of the post."),
        button=_("Remove the post"), danger=True,
        confirm=_("The person loses the functions of this post at their next request. Remove it?"),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def staff_district_view(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    form = DistrictForm(request.POST or None, initial={"district": member.district_id})
    if form.is_valid():
        district, reason = form.cleaned_data["district"], form.cleaned_data["reason"]
        try:
            if district == settings.SIDMS_CITY_DISTRICT and member.district_id != district:
                # Widening the scope to every district is four-eyes, as a post is (attack round 9).
                held = accounts.staff_district_propose(actor=caller, staff=member, reason=reason)
            else:
                accounts.staff_set_district(actor=caller, staff=member, district=district, reason=reason)
        except ChangeRefused as refused:
            _refuse(form, refused)
        except SeparationOfDuties as refused:
            form.add_error(None, refused.localized())
        else:
            if district == settings.SIDMS_CITY_DISTRICT and member.district_id != district:
                messages.success(
                    request,
                    _("The move of %(name)s to the city level is proposed as request CR%(id)s. It takes effect when a second city-level security administrator confirms it.")
                    % {"name": member.display_name, "id": held.pk},
                )  # fmt: skip
            else:
                messages.success(
                    request, _("The district of %(name)s is changed.") % {"name": member.display_name}
                )
            return redirect("web:staff:detail", member.pk)
    if request.method == "GET":
        _read(caller, member)
    return _form_page(
        request, form, member=member, title=_("Change the district"),
        intro=_("The district is the person's data scope: they see and change the records of that district only; 威海市 (371000) is the city level and sees every district. A move to the city level is proposed, and takes effect when a second city-level security administrator confirms it."),
        warning=_("Now: %(district)s") % {"district": reads.district_text(member.district_id)},
        button=_("Change the district"),
        confirm=_("The person's data scope changes at their next request. Change it?"),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def staff_agency_view(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    agency = member.agency.code if member.agency else ""
    form = AgencyForm(request.POST or None, initial={"agency": agency})
    if form.is_valid():
        try:
            accounts.staff_set_agency(actor=caller, staff=member, agency=form.cleaned_data["agency"])
        except ChangeRefused as refused:
            _refuse(form, refused)
        else:
            messages.success(request, _("The agency of %(name)s is changed.") % {"name": member.display_name})
            return redirect("web:staff:detail", member.pk)
    if request.method == "GET":
        _read(caller, member)
    return _form_page(
        request, form, member=member, title=_("Change the agency"),
        intro=_("The agency the person works for. It does not change the data scope, which follows the district."),
        button=_("Save"),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def staff_active_view(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    enable = not member.is_active
    form = ActiveForm(request.POST or None)
    if form.is_valid():
        try:
            accounts.staff_set_active(
                actor=caller, staff=member, active=enable, reason=form.cleaned_data["reason"]
            )
        except ChangeRefused as refused:
            _refuse(form, refused)
        else:
            done = (
                _("The account of %(name)s is enabled.")
                if enable
                else _("The account of %(name)s is disabled: their session ends at their next request.")
            )
            messages.success(request, done % {"name": member.display_name})
            return redirect("web:staff:detail", member.pk)
    if request.method == "GET":
        _read(caller, member)
    if enable:
        return _form_page(
            request, form, member=member, title=_("Enable the account"),
            intro=_("The person can sign in again with their password and authenticator, with the posts they hold."),
            button=_("Enable the account"),
        )  # fmt: skip
    return _form_page(
        request, form, member=member, title=_("Disable the account"),
        intro=_("The person can no longer sign in, and a session they have open ends at their next request. Their posts and history stay; the account can be enabled again."),
        button=_("Disable the account"), danger=True,
        confirm=_("The person is signed out at their next request and cannot sign in. Disable the account?"),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def staff_agreement_view(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    initial = {"signed_on": member.agreement_signed_on, "expires_on": member.agreement_expires_on}
    form = AgreementForm(request.POST or None, initial=initial)
    if form.is_valid():
        try:
            accounts.staff_record_agreement(
                actor=caller, staff=member, signed_on=form.cleaned_data["signed_on"],
                expires_on=form.cleaned_data["expires_on"],
            )  # fmt: skip
        except ChangeRefused as refused:
            _refuse(form, refused)
        else:
            messages.success(
                request,
                _("The confidentiality agreement of %(name)s is registered.") % {"name": member.display_name},
            )
            return redirect("web:staff:detail", member.pk)
    if request.method == "GET":
        _read(caller, member)
    return _form_page(
        request, form, member=member, title=_("Register the confidentiality agreement"),
        intro=_("Without a valid confidentiality agreement the person cannot sign in (R16). Enter the dates of the signed agreement kept in the personnel file."),
        warning=reads.agreement_of(member).text,
        button=_("Register the agreement"),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def staff_unlock_view(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    form = Form(request.POST or None)
    if request.method == "POST":
        accounts.staff_unlock(actor=caller, staff=member)
        messages.success(request, _("The lock-out of %(name)s is lifted.") % {"name": member.display_name})
        return redirect("web:staff:detail", member.pk)
    _read(caller, member)
    locked = member.username in reads.locked_logins([member.username])
    return _form_page(
        request, form, member=member, title=_("Lift the lock-out"),
        intro=_("After repeated wrong passwords the account is locked for a while. Lift the lock-out only after you have made sure, in person or by telephone, that it was the person who mistyped."),
        warning="" if locked else _("The account is not locked now."),
        button=_("Lift the lock-out"),
    )  # fmt: skip


@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def staff_password_view(request: HttpRequest, pk: int) -> HttpResponse:
    caller = _manager(request)
    member = _member(pk)
    form = PasswordForm(request.POST or None, member=member)
    if form.is_valid():
        try:
            accounts.staff_set_password(actor=caller, staff=member, password=form.cleaned_data["password"])
        except ValidationError as refused:
            for problem in password_problems(refused):
                form.add_error("password", problem)
        except ChangeRefused as refused:
            _refuse(form, refused)
        except SeparationOfDuties as refused:  # the open enrolment code is this administrator's
            form.add_error(None, refused.localized())
        else:
            messages.success(
                request,
                _("A new password is set for %(name)s. Tell it to the person in person.")
                % {"name": member.display_name},
            )
            return redirect("web:staff:detail", member.pk)
    if request.method == "GET":
        _read(caller, member)
    return _form_page(
        request, form, member=member, title=_("Set a new password"),
        intro=_("For a person who forgot their password. Tell them the new password in person; their authenticator stays as it is."),
        button=_("Set the password"),
        confirm=_("The old password stops working at once. Set the new one?"),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# The one-time enrolment code


ISSUE_TOKENS = "staff_enrolment_forms"


@require_http_methods(["GET", "POST"])
def staff_enrolment_code_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation form, with a token valid for one submission. POST with that token: a new code,
    shown once in the response (no-store) and nowhere else; the same submission again (a reload) finds its
    token used and shows no code, and issues none."""
    caller = _manager(request)
    member = _member(pk)
    context: dict[str, Any] = {"member": member, "crumbs": _crumbs(member, _("Enrolment code"))}
    tokens: list[str] = list(request.session.get(ISSUE_TOKENS, []))
    refusal = accounts.both_factors_refusal(caller, member)
    if request.method == "POST":
        token = request.POST.get("token", "")
        if token not in tokens:
            return render(request, "staff/enrolment_code.html", {**context, "used": True}, status=409)
        request.session[ISSUE_TOKENS] = [t for t in tokens if t != token]
        try:
            code = accounts.staff_issue_enrolment_code(actor=caller, staff=member)
        except SeparationOfDuties as refused:
            return render(
                request, "staff/enrolment_code.html", {**context, "refusal": refused.localized()}, status=403
            )
        member.refresh_from_db()
        response = render(
            request,
            "staff/enrolment_code.html",
            {**context, "code": code, "expires": member.enrolment_expires},
        )
        response["Cache-Control"] = "no-store"
        return response
    _read(caller, member)
    if refusal:
        # The administrator who set the password does not also issue the code (accounts.BOTH_FACTORS).
        return render(request, "staff/enrolment_code.html", {**context, "refusal": refusal})
    token = secrets.token_urlsafe(16)
    request.session[ISSUE_TOKENS] = [*tokens[-9:], token]
    context.update(
        token=token, enrolled=reads.has_authenticator(member), valid_days=accounts.ENROLMENT_VALID.days
    )
    return render(request, "staff/enrolment_code.html", context)
