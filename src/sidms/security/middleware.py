"""Default deny: every page needs a logged-in staff member whose session passed the second factor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import get_script_prefix, get_urlconf, reverse
from django_otp.middleware import OTPMiddleware as _OTPMiddleware

from sidms.audit.services import buffered_reads
from sidms.core.prepared import Prepared
from sidms.security.limits import idle_seconds, session_max_seconds

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
        login, second = _sign_in_paths()
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
        if not _within_lifetime(request.session):
            # Used without pause, a session never went idle and never ended: a cookie taken once stayed good
            # for as long as it was used (ASVS 3.3.2; attack round 9). It ends at its lifetime, used or not.
            logout(request)
            return redirect(f"{login}?next={path}")
        return self.get_response(request)


SIGNED_IN_AT = "_signed_in_at"


def mark_signed_in(session: Any) -> None:
    """Start the session's lifetime and its idle time: called when the second factor is accepted, right after
    the sign-in checked the account against its history (so the first touch, and its check, is a minute on)."""
    now = int(time.time())
    session[SIGNED_IN_AT] = now
    session["_touched"] = now
    session.set_expiry(idle_seconds())


def _within_lifetime(session: Any) -> bool:
    since = session.get(SIGNED_IN_AT)
    if not isinstance(since, int):
        mark_signed_in(session)  # a session from before the lifetime was kept: it starts now
        return True
    return time.time() - since < session_max_seconds()


# The sign-in pages' paths per (script prefix, URLconf): four URL reversals on every request otherwise.
_PATHS: dict[tuple[str, Any], tuple[str, frozenset[str]]] = {}


def _sign_in_paths() -> tuple[str, frozenset[str]]:
    """(the login page's path, the paths of the second factor's pages and of logging out)."""
    key = (get_script_prefix(), get_urlconf())
    paths = _PATHS.get(key)
    if paths is None:
        second = frozenset(
            reverse(name) for name in ("security:otp_verify", "security:otp_enrol", "security:logout")
        )
        paths = _PATHS[key] = (reverse("security:login"), second)
    return paths


class IdleTimeoutMiddleware:
    """Push the session's expiry forward on activity, but write the session at most once per
    SESSION_TOUCH_SECONDS: the idle timeout keeps its meaning (to within that minute) without a database write
    on every page view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        user: Any = request.user
        if session is not None and user.is_authenticated:
            now = int(time.time())
            touch = now - int(session.get("_touched", 0)) >= settings.SESSION_TOUCH_SECONDS
            # What the account's authority is now (its posts, read for this request's permissions anyway, and
            # its district): when it differs from what the last check found intact, the account is checked at
            # once rather than at the next touch — a post inserted or a district changed in SQL served an open
            # session for up to a minute (attack round 9). An honest grant passes the check and is noted.
            # With them, the account's latest revision: an honest revocation changes the history, so posts put
            # back in SQL to those the session last vouched for are not taken for them (attack round 12).
            from sidms.security.accounts import latest_revision

            authority = [sorted(user.posts), user.district_id, latest_revision(user)]
            changed = session.get(AUTHORITY) != authority
            if touch or changed:
                if not _account_intact(request):
                    return redirect(_sign_in_paths()[0])
                if changed:
                    session[AUTHORITY] = authority
            if touch:
                session["_touched"] = now  # marks the session modified: saved with a new expiry
                session.set_expiry(idle_seconds())
        return self.get_response(request)


# The posts and district the account's last check (at the session's first request, at each touch, and at once
# when they change) found vouched for by its history.
AUTHORITY = "_authority"


def _account_intact(request: HttpRequest) -> bool:
    """Whether the signed-in account still matches its history, checked when the session is touched (once a
    minute) and at the first request whose posts or district differ from those last checked: a post or a
    district written in SQL served an open session until its sign-out, up to its lifetime (attack round 9).
    The sign-in and every change of the account check it too. If not: an integrity alert, and the session
    ends."""
    from sidms.changes.integrity import record_alert
    from sidms.core.caller import caller_from_request
    from sidms.security.accounts import account_alert, account_intact

    user: Any = request.user
    if account_intact(user):
        return True
    record_alert(account_alert(user, caller_from_request(request, user), "session"))
    logout(request)
    return False


class BufferedReadsMiddleware:
    """The audit events of the reads a request makes (a record, its related lists) are appended together
    when the request ends: one short write per page instead of one per read (sidms.audit.services)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with buffered_reads():
            return self.get_response(request)


class OTPMiddleware(_OTPMiddleware):
    """django-otp's middleware (request.user.otp_device, is_verified), reading the session's device by a query
    compiled once per thread instead of django-otp's queryset built anew on every request. The device must
    still exist, belong to the signed-in account and be confirmed (django-otp's own _finalize_device), and a
    device id of any other kind is read as django-otp reads it."""

    _DEVICES: dict[str, Prepared[Any]] = {}

    def _device_from_persistent_id(self, persistent_id: str) -> Any:
        from sidms.security.models import SealedTOTPDevice

        persistent_id = self._normalize_persistent_id(persistent_id)
        label, _, pk = persistent_id.rpartition("/")
        if label != SealedTOTPDevice.model_label() or not (pk.isascii() and pk.isdigit() and len(pk) < 10):
            return super()._device_from_persistent_id(persistent_id)
        prepared = self._DEVICES.get(label)
        if prepared is None:
            prepared = self._DEVICES[label] = Prepared(
                SealedTOTPDevice, lambda pk: SealedTOTPDevice.objects.filter(id=pk), int
            )
        return prepared.first(int(pk))
