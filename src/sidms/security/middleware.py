"""Default deny: every page needs a logged-in staff member whose session passed the second factor."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

# Paths reachable before the second factor; everything else needs an OTP-verified session.
_OPEN_PREFIXES = ("/static/", "/i18n/", "/healthz")


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
