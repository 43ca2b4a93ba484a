"""Default deny: every page needs a logged-in staff member whose session passed the second factor."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from sidms.audit.services import buffered_reads
from sidms.security.limits import idle_seconds

# Paths reachable before the second factor; everything else needs an OTP-verified session.
# The public verification page of a printed rights-record statement shows only a masked name (issue 8).
_OPEN_PREFIXES = ("/static/", "/i18n/", "/healthz", "/verify/statement/")


class RequireTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(_OPEN_PREFIXES) or path.startswith("/" + settings.STATIC_URL.strip("/") + "/"):
            return self.get_response(request)
        login = reverse("security:login")
        second = {reverse("security:otp_verify"), reverse("security:otp_enrol"), reverse("security:logout")}
        user = request.user
        if user.is_authenticated and not (user.is_active and user.has_valid_agreement()):
            # R16 holds for the whole session, not only at sign-in: an agreement that expires, or an account
            # disabled meanwhile, ends the session at the next request.
            logout(request)
            return redirect(login)
        if not user.is_authenticated:
            if path == login:
                return self.get_response(request)
            return redirect(f"{login}?next={path}")
        if not getattr(user, "is_verified", lambda: False)():  # set by django_otp's OTPMiddleware
            if path in second or path == login:
                return self.get_response(request)
            return redirect("security:otp_verify")
        return self.get_response(request)


class IdleTimeoutMiddleware:
    """Push the session's expiry forward on activity, but write the session at most once per
    SESSION_TOUCH_SECONDS: the idle timeout keeps its meaning (to within that minute) without a database write
    on every page view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = int(time.time())
            if now - int(session.get("_touched", 0)) >= settings.SESSION_TOUCH_SECONDS:
                session["_touched"] = now  # marks the session modified: saved with a new expiry
                session.set_expiry(idle_seconds())
        return self.get_response(request)


class BufferedReadsMiddleware:
    """The audit events of the reads a request makes (a record, its related lists) are appended together
    when the request ends: one short write per page instead of one per read (sidms.audit.services)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with buffered_reads():
            return self.get_response(request)
