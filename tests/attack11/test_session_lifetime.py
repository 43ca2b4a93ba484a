"""Attack round 11 on the session lifetime, now the system parameter ``session.max_hours`` (1–12 hours).

Found and fixed: the session controls read the version in force as it stood in the table. The version table
is append-only (no update, no delete) but takes inserts: one version of ``session.max_hours`` = 8760 inserted
in SQL kept every session — a stolen cookie too — good for a year, and ``session.idle_seconds`` = 10^9 let
it idle as long; only the night's ``sidms audit verify`` named the row. The controls now read only a version
the system wrote (its keyed digest holds and its value lies in the control's range); another is passed
over for the seeded value, with an integrity alert.

Held, pinned here: the range holds on every path that writes — the proposal (tests/security/test_limits.py),
a proposal's value edited in SQL before its confirmation (the request's seal refuses the confirmation), and
a confirmed change takes effect in the process that confirmed it at once (the cache is cleared on commit).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from sidms.business.models import ParameterVersion
from sidms.business.parameters import parameter_propose
from sidms.changes.models import ChangeRequest, ReviewStatus
from sidms.changes.services import review_decide
from sidms.changes.verify import verify_store
from sidms.core.errors import IntegrityAlert
from sidms.security import limits
from tests.audit.test_tampering import _raw
from tests.conftest import PASSWORD, current_code, enrol

pytestmark = [pytest.mark.django_db, pytest.mark.req("R17"), pytest.mark.req("R20")]


def _forge(key: str, value: int) -> None:
    """A version of KEY inserted in SQL, copying the columns of the one in force (its digest with them)."""
    genuine = ParameterVersion.objects.filter(key=key, region="").order_by("-version").first()
    assert genuine is not None
    _raw(
        "INSERT INTO business_parameterversion (key, region, version, value, effective_from, source, status, "
        "checked, reason, created_at, created_by, digest) SELECT key, region, version + 1, %s, effective_from, "
        "source, status, checked, reason, created_at, created_by, digest FROM business_parameterversion "
        "WHERE id = %s",
        [str(value) if connection.vendor == "sqlite" else f"{value}", genuine.pk],
    )
    limits.clear()


def _sign_in(staff: Any, device: Any) -> Client:
    client = Client()
    assert client.post("/login/", {"username": staff.username, "password": PASSWORD}).status_code == 302
    assert client.post("/login/otp/", {"token": current_code(device)})["Location"] == "/"
    return client


def test_a_session_lifetime_forged_in_sql_is_not_used(huancui_clerk: Any) -> None:
    device = enrol(huancui_clerk)
    _forge("session.max_hours", 24 * 365)
    start = timezone.now()
    with freeze_time(start):
        client = _sign_in(huancui_clerk, device)
    for minutes in range(10, 13 * 60, 10):  # busy: never idle
        with freeze_time(start + timedelta(minutes=minutes)):
            response = client.get("/persons/")
            if minutes < 12 * 60:
                assert response.status_code == 200, minutes
    with freeze_time(start + timedelta(hours=12, minutes=1)):
        ended = client.get("/persons/")
        assert ended.status_code == 302 and ended["Location"].startswith("/login/")
    alerts = AuditEvent.objects.filter(action="integrity.alert", object_type="parameter")
    assert alerts.count() == 1  # once, not at every read
    assert not verify_store().ok


@pytest.mark.parametrize(("key", "value", "seeded"), [("session.idle_seconds", 10**9, 900),
                                                      ("session.max_hours", 0, 12),
                                                      ("lockout.failures", 10**6, None)])  # fmt: skip
def test_a_security_control_forged_in_sql_falls_back_to_its_seeded_value(
    key: str, value: int, seeded: Any
) -> None:
    from sidms.business.parameters import seeded as seeded_value

    _forge(key, value)
    read = {"session.idle_seconds": limits.idle_seconds, "session.max_hours": lambda: limits.session_max_seconds() // 3600,
            "lockout.failures": limits.lockout_failures}[key]  # fmt: skip
    assert read() == (seeded if seeded is not None else seeded_value(key))
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="parameter").exists()


def test_a_proposal_edited_in_sql_before_confirmation_is_refused(city_admin: Any, second_admin: Any) -> None:
    held = parameter_propose(
        actor=city_admin, key="session.max_hours", value=8, effective_from=timezone.localdate(),
        source="威海市人社局信息安全管理办法（示例）", reason="收紧安全策略",
    )  # fmt: skip
    proposed = held.proposed
    proposed["parameter"][1]["value"] = 24 * 365
    ChangeRequest.objects.filter(pk=held.pk).update(proposed=proposed)  # the row alone, as SQL would
    with pytest.raises(IntegrityAlert):
        review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
    assert limits.session_max_seconds() == 12 * 3600


def test_a_confirmed_lifetime_is_read_at_once_by_the_confirming_process(
    city_admin: Any, second_admin: Any
) -> None:
    assert limits.session_max_seconds() == 12 * 3600  # cached now
    held = parameter_propose(
        actor=city_admin, key="session.max_hours", value=2, effective_from=timezone.localdate(),
        source="威海市人社局信息安全管理办法（示例）", reason="收紧安全策略",
    )  # fmt: skip
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
    assert limits.session_max_seconds() == 2 * 3600
