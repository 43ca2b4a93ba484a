"""Sessions end after the idle time without a database write on every page view, and an ID number typed into
a URL reaches neither the server log nor the audit table in plain text (issue 7, items 8–9 and speed)."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from sidms.core.logging import MaskIdNumbers

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"


def _expiry(client) -> datetime:  # type: ignore[no-untyped-def]
    return Session.objects.get(session_key=client.session.session_key).expire_date


@pytest.mark.req("R17")
def test_a_session_is_written_at_most_once_a_minute_and_still_ends_when_idle(
    huancui_clerk, signed_in
) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with freeze_time(start):
        clerk = signed_in(huancui_clerk)
        assert clerk.get("/").status_code == 200
        first = _expiry(clerk)
    with freeze_time(start + timedelta(seconds=30)):
        assert clerk.get("/persons/").status_code == 200
        assert _expiry(clerk) == first  # no write within the minute
    with freeze_time(start + timedelta(seconds=90)):
        assert clerk.get("/persons/").status_code == 200
        moved = _expiry(clerk)
        assert moved > first  # activity pushes the end forward
    idle = timedelta(seconds=settings.SESSION_COOKIE_AGE + 1)
    with freeze_time(start + timedelta(seconds=90) + idle):
        response = clerk.get("/persons/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.req("R10")
@pytest.mark.req("R17")
def test_an_id_number_typed_into_a_url_is_neither_logged_nor_audited_in_plain_text(
    huancui_clerk, signed_in
) -> None:  # type: ignore[no-untyped-def]
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, MaskIdNumbers) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        clerk = signed_in(huancui_clerk)
        response = clerk.get(f"/persons/{HUANCUI_1960}/")
        fifteen = clerk.get("/persons/371002600101001/")  # the old 15-digit form too
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    # Refused with a word on where to search instead; Django logs the refused path …
    assert response.status_code == fifteen.status_code == 400
    assert "网址中不能出现公民身份号码" in response.content.decode()
    logged = stream.getvalue()
    assert "Bad Request" in logged
    assert HUANCUI_1960 not in logged and "371002********0011" in logged  # … with the birth date starred out
    assert "371002600101001" not in logged
    for payload, object_id in AuditEvent.objects.values_list("payload", "object_id"):
        assert HUANCUI_1960 not in payload and HUANCUI_1960 not in object_id
        assert "371002600101001" not in payload


@pytest.mark.req("R20")
def test_a_refused_access_is_logged_in_one_line_without_a_traceback(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, MaskIdNumbers) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        response = signed_in(huancui_clerk).get("/audit/")  # the audit log is the auditor's
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    assert response.status_code == 403
    logged = stream.getvalue()
    assert "Forbidden" in logged and "Traceback" not in logged
