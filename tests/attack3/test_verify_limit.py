"""Attack on the public statement-verification page's rate limit (/verify/statement/).

1. One IPv6 client holds a whole /64 (the smallest prefix an ISP hands out): counting per full address gave
   it 2^64 budgets of SIDMS_VERIFY_PER_ADDRESS lookups, so it alone could use up the global ceiling and shut
   the page for everyone. An IPv6 client is counted per /64; the same address written in another form
   (IPv4-mapped) is the same client.
2. Every address that trips its own limit wrote a security audit event, also once the global ceiling was
   passed: a botnet (or one IPv6 /48) wrote one event per SIDMS_VERIFY_PER_ADDRESS + 1 requests, without
   bound. The trips audited per window are bounded by the number of addresses the global ceiling lets in."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time

from sidms.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = "/verify/statement/"


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.SIDMS_VERIFY_WINDOW_SECONDS = 60
    settings.SIDMS_VERIFY_PER_ADDRESS = 2
    settings.SIDMS_VERIFY_GLOBAL = 6
    return settings


def ask(address: str) -> int:
    return Client(REMOTE_ADDR=address).get(URL, {"number": "0000000000"}).status_code


@pytest.mark.req("R10")
@pytest.mark.req("R20")
def test_one_ipv6_prefix_is_one_client(limits: Any) -> None:
    with freeze_time("2026-03-02 09:00:05"):
        answers = [ask(f"2001:db8:1:2::{i:x}") for i in range(1, 5)]
        assert answers == [200, 200, 429, 429]  # four addresses of one /64: one client's two lookups
        assert ask("::ffff:203.0.113.7") == 200 and ask("::ffff:203.0.113.7") == 200
        assert ask("203.0.113.7") == 429  # the same IPv4 client written as an IPv4-mapped address
        assert ask("2001:db8:1:3::1") == 200  # another /64 is another client


@pytest.mark.req("R10")
@pytest.mark.req("R20")
def test_trips_of_many_addresses_do_not_flood_the_audit_chain(limits: Any) -> None:
    with freeze_time("2026-03-02 09:00:05"):
        for i in range(1, 41):
            for _ in range(3):
                ask(f"198.51.100.{i}")
        trips = AuditEvent.objects.filter(action="security.rate_limited").count()
        # 40 addresses tripped their limit, but the global ceiling (6) lets in at most 6 / 2 = 3 honest
        # addresses' worth of lookups: a bounded number of trips is recorded, not one per address.
        assert trips <= 6 // 2 + 2
    with freeze_time("2026-03-02 09:01:05"):  # a new window records trips again
        for _ in range(3):
            ask("198.51.100.1")
        assert AuditEvent.objects.filter(action="security.rate_limited").count() == trips + 1
