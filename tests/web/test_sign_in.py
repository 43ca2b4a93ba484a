"""Staff sign in with a password and then a TOTP code; failures lock the account; idle sessions end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from tests.conftest import PASSWORD, current_code, enrol

pytestmark = [pytest.mark.django_db]


@pytest.mark.req("R17")
def test_the_login_page_is_in_chinese_by_default(client: Client) -> None:
    page = client.get("/login/").content.decode()
    assert "用户名" in page and "密码" in page
    assert 'lang="zh-hans"' in page


@pytest.mark.req("R17")
def test_a_browser_that_prefers_english_still_gets_chinese_until_the_person_switches(client: Client) -> None:
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "用户名" in page and 'lang="zh-hans"' in page


@pytest.mark.req("R17")
def test_the_login_page_switches_to_english(client: Client) -> None:
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    page = client.get("/login/").content.decode()
    assert "Username" in page and "Password" in page


@pytest.mark.req("R17")
def test_a_request_leaves_the_threads_language_as_it_found_it(client: Client) -> None:
    """LocaleMiddleware activates the request's language in the thread and never puts the old one back: one
    English request left English active for whatever the thread did next (every later test of a session)."""
    from django.utils import translation

    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert "Username" in client.get("/login/").content.decode()
    assert translation.get_language() == "zh-hans"
    with translation.override("en"):
        assert "用户名" in Client().get("/login/").content.decode()
        assert translation.get_language() == "en"


@pytest.mark.req("R17")
def test_every_page_needs_a_signed_in_staff_member(client: Client) -> None:
    for path in ("/", "/persons/", "/units/", "/persons/3700000019/", "/agencies/", "/audit/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


@pytest.mark.req("R17")
def test_a_password_alone_does_not_open_the_system(huancui_clerk: object) -> None:
    enrol(huancui_clerk)
    client = Client()
    client.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    response = client.get("/persons/")
    assert response.status_code == 302 and response["Location"] == "/login/otp/"


@pytest.mark.req("R17")
def test_password_then_totp_signs_in(huancui_clerk: object) -> None:
    device = enrol(huancui_clerk)
    client = Client()
    response = client.post("/login/", {"username": "clerk_hc", "password": PASSWORD, "next": "/units/"})
    assert response["Location"] == "/login/otp/"
    response = client.post("/login/otp/", {"token": current_code(device)})
    assert response.status_code == 302 and response["Location"] == "/units/"
    assert client.get("/units/").status_code == 200
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "auth.password_ok" in actions and "auth.otp_ok" in actions


@pytest.mark.req("R17")
def test_a_wrong_totp_code_is_refused_and_recorded(huancui_clerk: object) -> None:
    device = enrol(huancui_clerk)
    client = Client()
    client.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    response = client.post("/login/otp/", {"token": wrong})
    assert response.status_code == 200
    assert "验证码错误" in response.content.decode() or "过期" in response.content.decode()
    assert client.get("/persons/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.otp_failed", outcome="failed").exists()


@pytest.mark.req("R17")
def test_a_used_totp_code_cannot_be_replayed(huancui_clerk: object) -> None:
    device = enrol(huancui_clerk)
    code = current_code(device)
    first = Client()
    first.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    assert first.post("/login/otp/", {"token": code})["Location"] == "/"
    second = Client()
    second.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    assert second.post("/login/otp/", {"token": code}).status_code == 200  # refused: same code again


@pytest.mark.req("R17")
def test_first_sign_in_enrols_an_authenticator_after_the_enrolment_code_from_a_local_qr_code(
    huancui_clerk: object,
) -> None:
    from sidms.security.accounts import staff_issue_enrolment_code
    from sidms.security.models import SealedTOTPDevice

    code = staff_issue_enrolment_code(actor="system:test", staff=huancui_clerk)
    client = Client()
    client.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    assert client.get("/login/otp/")["Location"] == "/login/enrol/"
    first = client.get("/login/enrol/").content.decode()
    assert "管理员" in first and "<svg" not in first  # the password alone does not show the secret
    wrong = client.post("/login/enrol/", {"code": f"{(int(code) + 1) % 10**8:08d}"}).content.decode()
    assert "<svg" not in wrong and "错误" in wrong
    assert client.post("/login/enrol/", {"code": code}).status_code == 302
    page = client.get("/login/enrol/").content.decode()
    assert "<svg" in page and "http" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org", ""
    )
    device = SealedTOTPDevice.objects.get(user=huancui_clerk, confirmed=False)
    response = client.post("/login/enrol/", {"token": current_code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/persons/").status_code == 200


@pytest.mark.req("R17")
def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(huancui_clerk: object) -> None:
    client = Client()
    for _ in range(5):
        response = client.post("/login/", {"username": "clerk_hc", "password": "wrong-password-123"})
    response = client.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    assert response.status_code == 429
    assert "锁定" in response.content.decode()


@pytest.mark.req("R17")
def test_the_lock_lifts_after_the_cool_off(huancui_clerk: object) -> None:
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "clerk_hc", "password": "wrong-password-123"})
    with freeze_time(timezone.now() + timedelta(minutes=31)):
        response = Client().post("/login/", {"username": "clerk_hc", "password": PASSWORD})
        assert response.status_code == 302


@pytest.mark.req("R17")
def test_a_session_idle_for_fifteen_minutes_ends(huancui_clerk: object, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(huancui_clerk)
    assert client.get("/persons/").status_code == 200
    with freeze_time(timezone.now() + timedelta(minutes=14)):
        assert client.get("/persons/").status_code == 200  # activity keeps the session alive
    with freeze_time(timezone.now() + timedelta(minutes=14 + 16)):
        response = client.get("/persons/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.req("R16")
def test_no_confidentiality_agreement_means_no_access(make_staff) -> None:  # type: ignore[no-untyped-def]
    make_staff("no_nda", posts=("window_clerk",), agreement=False)
    response = Client().post("/login/", {"username": "no_nda", "password": PASSWORD})
    assert response.status_code == 200
    assert "保密协议" in response.content.decode()


@pytest.mark.req("R17")
def test_logout_ends_the_session_on_the_server(huancui_clerk: object, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(huancui_clerk)
    assert client.post("/logout/").status_code == 302
    assert client.get("/persons/").status_code == 302


@pytest.mark.req("R17")
def test_the_totp_secret_is_stored_encrypted(huancui_clerk: object) -> None:
    from django.db import connection

    device = enrol(huancui_clerk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM otp_totp_totpdevice WHERE id = %s", [device.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("$") and len(stored) <= 80
    assert device.bin_key.hex() not in stored and len(device.bin_key) == 20


@pytest.mark.req("R16")
def test_an_agreement_that_expires_during_a_session_ends_it(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from sidms.registry.models import Staff

    client = signed_in(huancui_clerk)
    assert client.get("/persons/").status_code == 200
    Staff.objects.filter(pk=huancui_clerk.pk).update(agreement_expires_on=date(2026, 1, 31))
    response = client.get("/persons/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/persons/")["Location"].startswith("/login/")  # the session is gone, not just refused
