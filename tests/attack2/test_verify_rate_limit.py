"""Attack: walking the space of verification numbers on the public statement page (/verify/statement/).

Each client address gets SIDMS_VERIFY_PER_ADDRESS lookups per window and all addresses together
SIDMS_VERIFY_GLOBAL; past either, the page answers HTTP 429 with a Chinese message and looks nothing up, and
the first refusal of a window is a security audit event. The counters live in the database, so every server
process shares them, and they hold no client address in the clear."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from sidms.security.models import RateCount

pytestmark = pytest.mark.django_db
URL = "/verify/statement/"


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.SIDMS_VERIFY_WINDOW_SECONDS = 60
    settings.SIDMS_VERIFY_PER_ADDRESS = 3
    settings.SIDMS_VERIFY_GLOBAL = 5
    return settings


def ask(address: str, number: str = "0000000000") -> Any:
    return Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="zh-hans").get(URL, {"number": number})


def lookups() -> int:
    return AuditEvent.objects.filter(action="statement.verify").count()


@pytest.mark.req("R10")
@pytest.mark.req("R20")
def test_one_address_is_refused_past_its_limit_and_the_refusal_is_audited_once(limits: Any) -> None:
    with freeze_time("2026-03-02 09:00:05"):
        assert [ask("203.0.113.7").status_code for _ in range(3)] == [200, 200, 200]
        refused = [ask("203.0.113.7") for _ in range(3)]
        assert [r.status_code for r in refused] == [429, 429, 429]
        html = refused[0].content.decode()
        assert "验证请求过于频繁" in html and refused[0]["Retry-After"] == "60"
        assert lookups() == 3  # the refused requests looked nothing up
        trips = AuditEvent.objects.filter(action="security.rate_limited")
        assert trips.count() == 1
        assert trips.get().outcome == "denied" and "203.0.113.7" in trips.get().payload
        # Another address is still served.
        assert ask("198.51.100.9").status_code == 200
        # The page without a number is never counted.
        assert Client(REMOTE_ADDR="203.0.113.7").get(URL).status_code == 200
    with freeze_time("2026-03-02 09:01:01"):  # the next window
        assert ask("203.0.113.7").status_code == 200
    assert not RateCount.objects.filter(bucket__contains="203.0.113.7").exists()


@pytest.mark.req("R10")
def test_many_addresses_are_stopped_by_the_global_ceiling(limits: Any) -> None:
    with freeze_time("2026-03-02 09:00:05"):
        answers = [ask(f"192.0.2.{i}").status_code for i in range(1, 8)]
        assert answers == [200] * 5 + [429, 429]
        assert lookups() == 5
        trip = AuditEvent.objects.get(action="security.rate_limited")
        assert '"scope":"global"' in trip.payload.replace(" ", "")


@pytest.mark.req("R10")
def test_english_refusal(limits: Any) -> None:
    limits.SIDMS_VERIFY_PER_ADDRESS = 0
    client = Client(REMOTE_ADDR="203.0.113.8")
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(URL, {"number": "1"})
    assert page.status_code == 429 and "Too many verification requests" in page.content.decode()
