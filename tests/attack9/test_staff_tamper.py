"""Attack round 9 as a database administrator on the staff accounts (R16, R17, R20): posts, district, password
hash and authenticators written in SQL, and then made to look legitimate.

* Laundering. A post inserted in SQL (``registry_staffpost``) was named by ``sidms audit verify`` — until the
  account's next honest change (an agreement registered, a lock-out lifted, a password reset): the service
  wrote the new revision from the account as it stood, forged post included, and verification, which skipped
  the "previous state plus its changes" check for every state without a record identity (all staff accounts),
  found the account intact. Now every change of an account first checks it against its latest revision and
  refuses with an integrity alert, and verification checks the succession of staff revisions too (a history
  laundered before this round is named).
* Sign-in. An account changed in SQL signed in with whatever the change gave it (a post, another district, a
  password hash the intruder knows) until the night's verification. Now the password step checks the account
  against its history: it does not sign in, and the alert is raised at once.

* Open sessions. The sign-in check does not reach a session already open: a post inserted in SQL served it
  until its sign-out. The account is now checked again whenever the session is touched (once a minute), and
  at once when a request's posts or district differ from those the last check found vouched for (the posts
  are read for the request's permissions anyway): the session ends and the alert is raised before the page.

What held, pinned here: each of those changes is named by verification, by account."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django.utils import timezone

from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.changes.models import Channel, Method, Revision
from sidms.changes.seals import new_revision
from sidms.changes.verify import verify_store
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import state_digest
from sidms.lib import chain
from sidms.registry.models import Staff
from sidms.security import accounts
from tests.conftest import PASSWORD, enrol

pytestmark = pytest.mark.django_db


def _sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _named(username: str) -> str:
    report = verify_store()
    assert not report.ok and report.problem is not None, "verify said intact"
    assert (
        username in report.problem.where
        or f"#{Staff.objects.get(username=username).pk}" in report.problem.where
    )
    return report.problem.message_en


@pytest.mark.req("R20")
@pytest.mark.req("R16")
def test_an_honest_change_no_longer_vouches_for_a_post_inserted_in_sql(
    security: Any, make_staff: Any
) -> None:
    clerk = make_staff("clerk_y", posts=("window_clerk",), district="371002")
    _sql("INSERT INTO registry_staffpost (staff_id, post) VALUES (%s, 'approver')", [clerk.pk])
    versions = Revision.objects.filter(entity="staff", record_id=clerk.pk).count()
    for launder in (
        lambda: accounts.staff_set_active(actor=security, staff=clerk, active=True, reason="例行复核"),
        lambda: accounts.staff_record_agreement(actor=security, staff=clerk, signed_on=timezone.localdate(),
                                                expires_on=None),
        lambda: accounts.staff_set_password(actor=security, staff=clerk, password="Another-Horse-Battery-77"),
        lambda: accounts.staff_post_revoke(actor=security, staff=clerk, post="window_clerk", reason="调岗"),
    ):  # fmt: skip
        with pytest.raises(IntegrityAlert):
            launder()
    assert Revision.objects.filter(entity="staff", record_id=clerk.pk).count() == versions
    alerts = AuditEvent.objects.filter(action="integrity.alert", object_type="staff", object_id="clerk_y")
    assert alerts.count() == 4  # written although each refused step rolled back
    assert "differs from its latest revision" in _named("clerk_y")


@pytest.mark.req("R20")
@pytest.mark.req("R16")
def test_verification_names_a_staff_history_laundered_before_this_round(make_staff: Any) -> None:
    """The next revision written the way the account services wrote it before round 9: from the account as it
    stood, with only the fields the act changed (none here) as its changes."""
    clerk = make_staff("clerk_y", posts=("window_clerk",), district="371002")
    _sql("INSERT INTO registry_staffpost (staff_id, post) VALUES (%s, 'approver')", [clerk.pk])
    clerk.refresh_from_db()
    state = accounts.staff_state(clerk)
    version = clerk.version + 1
    digest = state_digest("staff", version, chain.canonical(state))
    prior = Revision.objects.filter(entity="staff", record_id=clerk.pk).latest("version")
    revision = new_revision(
        entity="staff", record_id=clerk.pk, version=version, at=timezone.now(), actor="security_city",
        channel=Channel.MAINTENANCE, method=Method.DIRECT, request_id="", reference="", changes={}, state=state,
        digest=digest, prev_digest=prior.digest,
    )  # fmt: skip
    Staff.objects.filter(pk=clerk.pk).update(version=version, row_digest=digest)
    audit_record("staff.enable", actor="security_city", object_type="staff", object_id="clerk_y",
                 detail={"revision": revision.pk, "digest": digest, "fields": []})  # fmt: skip
    assert accounts.account_intact(Staff.objects.get(pk=clerk.pk))  # the row matches its (laundered) history
    assert "not the previous state plus its changes" in _named("clerk_y")


def _district(staff: Any) -> None:
    _sql("UPDATE registry_staff SET district_id = '371000' WHERE id = %s", [staff.pk])


def _password(staff: Any) -> None:
    _sql("UPDATE registry_staff SET password = %s WHERE id = %s", [make_password(PASSWORD), staff.pk])


def _post(staff: Any) -> None:
    _sql("INSERT INTO registry_staffpost (staff_id, post) VALUES (%s, 'approver')", [staff.pk])


def _agreement(staff: Any) -> None:
    _sql("UPDATE registry_staff SET agreement_expires_on = NULL WHERE id = %s", [staff.pk])


def _superuser(staff: Any) -> None:
    _sql("UPDATE registry_staff SET is_superuser = %s, is_staff = %s WHERE id = %s", [True, True, staff.pk])


def _authenticator(staff: Any) -> None:
    _sql("UPDATE otp_totp_totpdevice SET tolerance = 30000 WHERE user_id = %s", [staff.pk])


@pytest.mark.req("R20")
@pytest.mark.req("R17")
@pytest.mark.parametrize("change", [_district, _password, _post, _agreement, _superuser, _authenticator])
def test_an_account_changed_in_sql_does_not_sign_in_and_is_named(make_staff: Any, change: Any) -> None:
    victim = make_staff("clerk_rs", posts=("window_clerk",), district="371083")
    accounts.staff_record_agreement(
        actor="system:test",
        staff=victim,
        signed_on=timezone.localdate(),
        expires_on=timezone.localdate().replace(year=2099),
    )
    enrol(victim)
    change(victim)  # _password: a hash of the intruder's choosing (here of the password the test knows)
    refused = Client().post("/login/", {"username": "clerk_rs", "password": PASSWORD})
    assert refused.status_code == 200 and "与其变更记录不符" in refused.content.decode()
    alert = AuditEvent.objects.filter(action="integrity.alert", object_id="clerk_rs").get()
    assert '"reason":"sign_in"' in alert.payload
    assert "differs from its latest revision" in _named("clerk_rs")


def _open_session(clerk: Any) -> tuple[Client, Any]:
    device = enrol(clerk)
    client = Client()
    client.post("/login/", {"username": clerk.username, "password": PASSWORD})
    from tests.conftest import current_code

    assert client.post("/login/otp/", {"token": current_code(device)})["Location"] == "/"
    return client, device


@pytest.mark.req("R20")
@pytest.mark.req("R16")
def test_an_open_session_ends_within_a_minute_of_a_post_inserted_in_sql(make_staff: Any) -> None:
    from datetime import timedelta

    from freezegun import freeze_time

    clerk = make_staff("clerk_y", posts=("window_clerk",), district="371002")
    start = timezone.now()
    with freeze_time(start):
        client, _device = _open_session(clerk)
        assert "待审批" not in client.get("/queues/").content.decode()  # the approver's queue
    _sql("INSERT INTO registry_staffpost (staff_id, post) VALUES (%s, 'approver')", [clerk.pk])
    with freeze_time(start + timedelta(seconds=61)):
        ended = client.get("/persons/")
        assert ended.status_code == 302 and ended["Location"].startswith("/login/")
        assert client.get("/persons/")["Location"].startswith("/login/")  # signed out
    alert = AuditEvent.objects.get(action="integrity.alert", object_id="clerk_y")
    assert '"reason":"session"' in alert.payload


@pytest.mark.req("R20")
@pytest.mark.req("R16")
@pytest.mark.parametrize(
    "forgery",
    [
        ("INSERT INTO registry_staffpost (staff_id, post) VALUES (%s, 'approver')", "a post inserted"),
        ("UPDATE registry_staff SET district_id = '371000' WHERE id = %s", "moved to the city level"),
        ("DELETE FROM registry_staffpost WHERE staff_id = %s", "its posts deleted"),
    ],
    ids=lambda forgery: forgery[1],
)
def test_an_authority_changed_in_sql_does_not_serve_the_very_next_request(
    make_staff: Any, forgery: tuple[str, str]
) -> None:
    """The posts and district a request acts with are compared with those the account's last check found
    vouched for; when they differ, the account is checked at once (not at the next touch): the session ends
    and the alert is raised before the page."""
    clerk = make_staff("clerk_y", posts=("window_clerk",), district="371002")
    client, _device = _open_session(clerk)
    assert "待审批" not in client.get("/queues/").content.decode()
    _sql(forgery[0], [clerk.pk])
    ended = client.get("/queues/")
    assert ended.status_code == 302 and ended["Location"].startswith("/login/")
    alert = AuditEvent.objects.get(action="integrity.alert", object_id="clerk_y")
    assert '"reason":"session"' in alert.payload


@pytest.mark.req("R16")
@pytest.mark.req("R17")
def test_a_post_granted_through_the_service_serves_the_open_session_at_once(
    make_staff: Any, security: Any, security2: Any
) -> None:
    """The control: an honest grant (proposed, confirmed by a second security administrator) changes the
    posts too; the account then matches its history, the session goes on and the post serves at once."""
    from sidms.changes.services import review_decide

    clerk = make_staff("clerk_y", posts=("window_clerk",), district="371002")
    client, _device = _open_session(clerk)
    assert "待审批" not in client.get("/queues/").content.decode()
    held = accounts.staff_post_propose(actor=security, staff=clerk, post="approver", reason="兼任审批")
    review_decide(actor=security2, change_request_id=held.pk, approve=True)
    page = client.get("/queues/")
    assert page.status_code == 200 and "待审批" in page.content.decode()
    assert not AuditEvent.objects.filter(action="integrity.alert").exists()
