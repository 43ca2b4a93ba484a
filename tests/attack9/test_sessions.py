"""Attack round 9 on staff sessions (R17; ASVS 3.3.2, 3.2.1), by someone who took a session cookie once, and
on where a signed-in page sends a person next.

* A session kept busy never ended: the idle timeout (15 minutes) pushes the expiry forward on every request, so
  a cookie copied from an agency PC, used every few minutes by a script, stayed good for ever. Now a session
  ends at its lifetime (the system parameter ``session.max_hours``, 12 hours from the second factor), used
  or not.

What held, pinned here: after the sign-in the browser is sent only to a path of this site, whatever ``next``
was given (another host, ``//host``, ``/\\host``, ``\\\\host``), and the language switch likewise; a form
posted without its CSRF token (a staff page, the import upload that reads its own body) is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from tests.conftest import PASSWORD, current_code, enrol

pytestmark = pytest.mark.django_db


def _sign_in(device: Any) -> Client:
    client = Client()
    client.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    assert client.post("/login/otp/", {"token": current_code(device)})["Location"] == "/"
    return client


@pytest.mark.req("R17")
def test_a_session_used_without_pause_ends_twelve_hours_after_sign_in(huancui_clerk: Any) -> None:
    device = enrol(huancui_clerk)
    start = timezone.now()
    with freeze_time(start):
        client = _sign_in(device)
    for minutes in range(10, 12 * 60, 10):  # a request every ten minutes: never idle
        with freeze_time(start + timedelta(minutes=minutes)):
            assert client.get("/persons/").status_code == 200, minutes
    with freeze_time(start + timedelta(hours=12, minutes=1)):
        ended = client.get("/persons/")
        assert ended.status_code == 302 and ended["Location"] == "/login/?next=/persons/"
        assert client.get("/persons/")["Location"].startswith("/login/")  # signed out, not just refused
        again = _sign_in(device)
        assert again.get("/persons/").status_code == 200  # a new sign-in starts a new lifetime


@pytest.mark.req("R17")
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_after_sign_in_and_the_language_switch_only_this_site_is_a_destination(
    huancui_clerk: Any, target: str
) -> None:
    device = enrol(huancui_clerk)
    client = Client()
    client.post("/login/", {"username": "clerk_hc", "password": PASSWORD, "next": target})
    assert client.post("/login/otp/", {"token": current_code(device)})["Location"] == "/"
    assert client.post("/i18n/setlang/", {"language": "en", "next": target})["Location"] == "/"
    assert client.post("/i18n/setlang/", {"language": "en", "next": "/persons/"})["Location"] == "/persons/"


@pytest.mark.req("R17")
def test_a_form_without_its_csrf_token_is_refused(security: Any, huancui_clerk: Any, signed_in: Any) -> None:
    signed = signed_in(security)
    forger = Client(enforce_csrf_checks=True)
    forger.cookies = signed.cookies
    refused = forger.post(f"/staff/{huancui_clerk.pk}/posts/remove/", {"post": "window_clerk", "reason": "x"})
    assert refused.status_code == 403
    assert huancui_clerk.posts == frozenset({"window_clerk"})
    assert forger.post("/exchange/imports/", {"kind": "persons"}).status_code == 403
