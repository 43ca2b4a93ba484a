"""The session idle time and lifetime and the sign-in lockout are system parameters of the city-level system administrator
(issue 8 §1), changed four-eyes like every parameter, and sign-in follows a confirmed change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from sidms.business.parameters import parameter_propose, value_at
from sidms.changes.services import review_decide
from sidms.core.errors import ChangeRefused
from tests.conftest import PASSWORD, current_code, enrol

pytestmark = [pytest.mark.django_db]


def _confirmed(make_staff: Any, key: str, value: int) -> None:
    first = make_staff("admin_lim", posts=("city_admin",), district="371000")
    second = make_staff("admin2_lim", posts=("city_admin",), district="371000")
    held = parameter_propose(
        actor=first, key=key, value=value, effective_from=timezone.localdate(),
        source="威海市人社局信息安全管理办法（示例）", reason="收紧安全策略",
    )  # fmt: skip
    review_decide(actor=second, change_request_id=held.pk, approve=True)


@pytest.mark.req("R2.3")
@pytest.mark.req("R17")
def test_three_wrong_passwords_lock_the_account_once_the_administrators_set_three(
    make_staff: Any, huancui_clerk: Any
) -> None:
    _confirmed(make_staff, "lockout.failures", 3)
    client = Client()
    for _ in range(3):
        client.post("/login/", {"username": "clerk_hc", "password": "wrong-password-123"})
    response = client.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    assert response.status_code == 429 and "锁定" in response.content.decode()


@pytest.mark.req("R2.3")
@pytest.mark.req("R17")
def test_a_shorter_idle_time_set_by_the_administrators_ends_sessions_sooner(
    make_staff: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    _confirmed(make_staff, "session.idle_seconds", 300)
    client = signed_in(huancui_clerk)
    assert client.get("/persons/").status_code == 200
    with freeze_time(timezone.now() + timedelta(minutes=4)):
        assert client.get("/persons/").status_code == 200  # within five minutes: still signed in
    with freeze_time(timezone.now() + timedelta(minutes=4 + 6)):
        response = client.get("/persons/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def _sign_in(staff: Any, device: Any) -> Client:
    client = Client()
    assert client.post("/login/", {"username": staff.username, "password": PASSWORD}).status_code == 302
    assert client.post("/login/otp/", {"token": current_code(device)})["Location"] == "/"
    return client


@pytest.mark.req("R2.3")
@pytest.mark.req("R17")
def test_a_shorter_session_lifetime_set_by_the_administrators_ends_busy_sessions_sooner(
    make_staff: Any, huancui_clerk: Any
) -> None:
    device = enrol(huancui_clerk)
    start = timezone.now()
    with freeze_time(start):
        client = _sign_in(huancui_clerk, device)
    for minutes in range(10, 3 * 60, 10):  # a request every ten minutes: never idle, and 12 h is far off
        with freeze_time(start + timedelta(minutes=minutes)):
            assert client.get("/persons/").status_code == 200, minutes
    later = start + timedelta(hours=3)
    with freeze_time(later):
        _confirmed(make_staff, "session.max_hours", 2)
        # A session already older than the new lifetime ends at its next request.
        ended = client.get("/persons/")
        assert ended.status_code == 302 and ended["Location"] == "/login/?next=/persons/"
        client = _sign_in(huancui_clerk, device)
    for minutes in range(10, 2 * 60, 10):
        with freeze_time(later + timedelta(minutes=minutes)):
            assert client.get("/persons/").status_code == 200, minutes
    with freeze_time(later + timedelta(hours=2, minutes=1)):
        ended = client.get("/persons/")
        assert ended.status_code == 302 and ended["Location"] == "/login/?next=/persons/"


@pytest.mark.req("R9.1")
@pytest.mark.req("R17")
@pytest.mark.parametrize("value", [0, 13, 24 * 365, True, "12"])
def test_the_session_lifetime_keeps_its_range(make_staff: Any, value: Any) -> None:
    admin = make_staff("admin_lim", posts=("city_admin",), district="371000")
    with pytest.raises(ChangeRefused) as refused:
        parameter_propose(
            actor=admin, key="session.max_hours", value=value, effective_from=timezone.localdate(),
            source="威海市人社局信息安全管理办法（示例）", reason="放宽安全策略",
        )  # fmt: skip
    assert refused.value.code == "parameter_bounds"
    assert value_at("session.max_hours") == 12
