"""Attack round 12 on the per-request authority check (security.middleware.IdleTimeoutMiddleware): the posts
and district a request acts with are compared with those the last check found intact (kept in the session).
An honest revocation makes the account's history say "without the post"; a post inserted back in SQL before
the session's next request restores exactly the posts the session last vouched for — and so passed unchecked
until the next touch (up to a minute)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from sidms.audit.models import AuditEvent
from sidms.security import accounts
from tests.attack9.test_staff_tamper import _open_session

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R16")]


def test_a_revoked_post_put_back_in_sql_does_not_serve_the_next_request(
    make_staff: Any, security: Any
) -> None:
    clerk = make_staff("clerk_r12", posts=("window_clerk", "approver"), district="371002")
    client, _device = _open_session(clerk)
    assert "待审批" in client.get("/queues/").content.decode()  # the session vouches for both posts
    accounts.staff_post_revoke(actor=security, staff=clerk, post="approver", reason="调岗")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO registry_staffpost (staff_id, post) VALUES (%s, 'approver')", [clerk.pk])
    page = client.get("/queues/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")
    assert AuditEvent.objects.filter(action="integrity.alert", object_id="clerk_r12").count() == 1


def test_an_honest_revocation_serves_the_next_request_without_the_post(
    make_staff: Any, security: Any
) -> None:
    """The control: the revoked post is gone at the next page, the session goes on, no alert."""
    clerk = make_staff("clerk_r12b", posts=("window_clerk", "approver"), district="371002")
    client, _device = _open_session(clerk)
    assert "待审批" in client.get("/queues/").content.decode()
    accounts.staff_post_revoke(actor=security, staff=clerk, post="approver", reason="调岗")
    page = client.get("/queues/")
    assert page.status_code == 200 and "待审批" not in page.content.decode()
    assert not AuditEvent.objects.filter(action="integrity.alert").exists()
