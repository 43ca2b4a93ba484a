"""The integrity alerts of a staff account met outside a change of the account — an authenticator secret that
does not decrypt as the account's at the second factor, an account changed in SQL when its secrets are
re-sealed under a new key — are the same audit event as every account's alert (security.accounts.account_alert):
object type ``staff``, the login name, the outcome ``failed`` and the reason where it was met. The sign-in's
and the session's alerts are pinned in tests/attack9/test_staff_tamper.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from sidms.audit.models import AuditEvent
from sidms.changes.services import audited_refusals
from sidms.core.errors import IntegrityAlert
from sidms.security.accounts import staff_reseal_devices
from tests.conftest import PASSWORD, current_code, enrol

pytestmark = pytest.mark.django_db


def _alerts(username: str) -> list[dict[str, Any]]:
    events = AuditEvent.objects.filter(action="integrity.alert", object_id=username).order_by("seq")
    return [json.loads(payload) for payload in events.values_list("payload", flat=True)]


def _sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.req("R20")
@pytest.mark.req("R17")
def test_an_authenticator_secret_copied_from_another_account_is_refused_with_an_alert(
    make_staff: Any,
) -> None:
    victim = make_staff("clerk_v", posts=("window_clerk",), district="371002")
    other = make_staff("clerk_o", posts=("window_clerk",), district="371002")
    device, copied = enrol(victim), enrol(other)
    client = Client()
    assert client.post("/login/", {"username": "clerk_v", "password": PASSWORD}).status_code == 302
    assert client.get("/login/otp/").status_code == 200  # the session checked against the account's history
    # Within the minute before the session's next check, the other account's sealed secret is written over the
    # victim's: it decrypts for no one but its own account.
    _sql("UPDATE otp_totp_totpdevice SET key = %s WHERE id = %s", [copied.key, device.pk])
    refused = client.post("/login/otp/", {"token": current_code(copied)})
    assert refused.status_code == 200 and "动态口令设备数据异常" in refused.content.decode()
    assert client.get("/persons/")["Location"] == "/login/otp/"  # not signed in
    [alert] = _alerts("clerk_v")
    assert (alert["actor"], alert["ip"]) == ("clerk_v", "127.0.0.1")  # the request's caller
    assert (alert["object_type"], alert["outcome"], alert["detail"]) == (
        "staff",
        "failed",
        {"reason": "ciphertext"},
    )


@pytest.mark.req("R20")
@pytest.mark.req("R19")
def test_re_sealing_an_account_changed_in_sql_is_refused_with_an_alert(make_staff: Any) -> None:
    clerk = make_staff("clerk_r", posts=("window_clerk",), district="371002")
    enrol(clerk)
    _sql("UPDATE registry_staff SET district_id = %s WHERE id = %s", ["371083", clerk.pk])
    with pytest.raises(IntegrityAlert) as refused, audited_refusals():
        staff_reseal_devices(actor="system:keys", staff=clerk)
    assert "与其历史记录不符" in str(refused.value)
    [alert] = _alerts("clerk_r")
    assert alert["actor"] == "system:keys"
    assert (alert["object_type"], alert["outcome"], alert["detail"]) == (
        "staff",
        "failed",
        {"reason": "reseal"},
    )
