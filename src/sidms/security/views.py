"""Login: password first (locked out by django-axes after repeated failures), then a TOTP code
(django-otp). At the first login the staff member enrols an authenticator app from a QR code that is
rendered here, on the server: nothing leaves the intranet."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.changes.integrity import record_alert
from sidms.core.caller import caller_from_request
from sidms.lib.crypto import DecryptionError
from sidms.security.accounts import (
    account_alert,
    enrolment_open,
    staff_enrol_device,
    staff_try_enrolment_code,
    start_enrolment,
)
from sidms.security.forms import EnrolmentCodeForm, PasswordLoginForm, TokenForm
from sidms.security.middleware import mark_signed_in
from sidms.security.models import SealedTOTPDevice


class PasswordLogin(LoginView):
    template_name = "security/login.html"
    form_class = PasswordLoginForm
    redirect_authenticated_user = False

    def get_success_url(self) -> str:
        # The next step is always the second factor; the page asked for is kept for after it.
        nxt = self.request.POST.get("next") or self.request.GET.get("next") or ""
        self.request.session["after_otp"] = nxt
        return "/login/otp/"


def _after_otp(request: HttpRequest) -> str:
    target = str(request.session.pop("after_otp", "") or "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def otp_verify(request: HttpRequest) -> HttpResponse:
    user: Any = request.user  # signed in with a password (the middleware lets no one else here)
    device = SealedTOTPDevice.objects.devices_for_user(user, confirmed=True).first()
    if device is None:
        return redirect("security:otp_enrol")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _detail = device.verify_is_allowed()
        try:
            device.bin_key  # noqa: B018  (the sealed secret must decrypt for this account)
        except DecryptionError:
            # A secret that does not belong to this account (copied from another in the database): refused,
            # and an integrity alert for the supervisors (R20).
            record_alert(account_alert(user, caller_from_request(request, user), "ciphertext"))
            form.add_error(
                "token",
                _(
                    "Your authenticator's record is damaged. Ask the security administrator to enrol it again."
                ),
            )
            return render(request, "security/otp_verify.html", {"form": form})
        if allowed and device.verify_token(form.cleaned_data["token"]):
            otp_login(request, device)
            mark_signed_in(request.session)
            audit_record(
                "auth.otp_ok",
                actor=caller_from_request(request, user),
                object_type="staff",
                object_id=user.pk,
            )
            return redirect(_after_otp(request))
        audit_record(
            "auth.otp_failed", actor=caller_from_request(request, user), object_type="staff", object_id=user.pk,
            outcome=Outcome.FAILED,
        )  # fmt: skip
        if allowed:
            form.add_error(
                "token", _("The code is wrong or has expired. Wait for the next code and try again.")
            )
        else:
            form.add_error("token", _("Too many wrong codes. Wait a moment before you try again."))
    return render(request, "security/otp_verify.html", {"form": form})


def otp_enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in: the one-time enrolment code an administrator handed over out of band, then the
    authenticator's QR code and a first code from it. The initial password alone cannot enrol a device."""
    user = request.user
    if SealedTOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        return redirect("security:otp_verify")
    # The session proves the code it was given, not any code: a session that proved a code the administrator
    # has since replaced (it leaked, so a new one was issued) bound an authenticator without the new code
    # (attack round 9). The proof names the code (its keyed digest, as stored) and holds while it is open.
    proven = request.session.get("enrolment_ok")
    if proven and not (proven == user.enrolment_code and enrolment_open(user)):  # type: ignore[union-attr,arg-type]
        request.session.pop("enrolment_ok", None)
        proven = None
    if not proven:
        code_form = EnrolmentCodeForm(request.POST or None)
        if request.method == "POST" and code_form.is_valid():
            tried = staff_try_enrolment_code(
                actor=caller_from_request(request, user),
                staff=user,  # type: ignore[arg-type]
                code=code_form.cleaned_data["code"],
            )
            if tried == "ok":
                request.session["enrolment_ok"] = user.enrolment_code  # type: ignore[union-attr]
                return redirect("security:otp_enrol")
            code_form.add_error(
                "code",
                _("The enrolment code is wrong or has expired. Ask your administrator for a new one.")
                if tried == "wrong"
                else _(
                    "Too many wrong enrolment codes: this code no longer works. Ask your administrator for a new one."
                ),
            )
        return render(request, "security/otp_enrol.html", {"code_form": code_form})
    device = start_enrolment(user)  # type: ignore[arg-type]
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            staff_enrol_device(actor=caller_from_request(request, user), staff=user, device=device)  # type: ignore[arg-type]
            request.session.pop("enrolment_ok", None)
            otp_login(request, device)
            mark_signed_in(request.session)
            return redirect(_after_otp(request))
        form.add_error("token", _("The code does not match. Check the time on your phone and try again."))
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg") :]  # drop the XML declaration so the SVG can sit inline in the page
    text = device.secret_base32
    secret = " ".join(text[i : i + 4] for i in range(0, len(text), 4))
    # The SVG is generated here by qrcode from our own provisioning URI: no user input reaches it.
    qr_svg = mark_safe(svg)  # noqa: S308
    return render(request, "security/otp_enrol.html", {"form": form, "qr_svg": qr_svg, "secret": secret})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)  # flushes the server-side session: nothing of it remains (MLPS residual information)
    return redirect("security:login")
