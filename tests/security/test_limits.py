"""The session idle time and the sign-in lockout are system parameters of the city-level system administrator
(issue 8 §1), changed four-eyes like every parameter, and sign-in follows a confirmed change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from sidms.business.parameters import parameter_propose
from sidms.changes.services import review_decide
from tests.conftest import PASSWORD

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
