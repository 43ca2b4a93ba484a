"""Staff accounts are governed (R16, R17): every change is a service with a revision and an audit event;
granting a post needs a second city-level security administrator; the first authenticator is enrolled
with a one-time code handed over out of band; verification covers accounts, posts and devices."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from sidms.audit.models import AuditEvent
from sidms.changes.models import ReviewStatus, Revision
from sidms.changes.services import review_decide
from sidms.changes.verify import verify_store
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from sidms.registry.models import Staff
from sidms.security.accounts import (
    staff_create,
    staff_issue_enrolment_code,
    staff_post_propose,
    staff_post_revoke,
    staff_set_active,
    staff_set_district,
)
from sidms.security.models import SealedTOTPDevice
from tests.conftest import PASSWORD, current_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def security_admins(make_staff) -> tuple[Any, Any]:  # type: ignore[no-untyped-def]
    return (
        make_staff("security_city", posts=("security_admin",), district="371000"),
        make_staff("security2_city", posts=("security_admin",), district="371000"),
    )


def posts_of(staff: Staff) -> set[str]:
    return set(Staff.objects.get(pk=staff.pk).post_set.values_list("post", flat=True))


@pytest.mark.req("R16")
@pytest.mark.req("R9.1")
def test_a_post_is_granted_by_one_security_administrator_and_confirmed_by_a_second(
    security_admins, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    first, second = security_admins
    held = staff_post_propose(actor=first, staff=huancui_clerk, post="reviewer", reason="兼任审核岗")
    assert posts_of(huancui_clerk) == {"window_clerk"}  # nothing changes before the second person decides

    with pytest.raises(SeparationOfDuties):
        review_decide(actor=first, change_request_id=held.pk, approve=True)
    review_decide(actor=second, change_request_id=held.pk, approve=True)

    assert posts_of(huancui_clerk) == {"window_clerk", "reviewer"}
    held.refresh_from_db()
    assert held.status == ReviewStatus.APPROVED and held.decided_by == second
    revision = (
        Revision.objects.filter(entity="staff", record_id=huancui_clerk.pk).order_by("-version").first()
    )
    assert revision.reference == f"CR{held.pk}" and revision.changes["posts"] == [
        ["window_clerk"],
        ["reviewer", "window_clerk"],
    ]
    event = AuditEvent.objects.get(action="staff.post_grant")
    assert (
        event.actor == "security2_city"
        and json.loads(event.payload)["detail"]["proposed_by"] == "security_city"
    )
    report = verify_store()
    assert report.ok, report.problem
    assert report.rows["staff"] == Staff.objects.count()


@pytest.mark.req("R16")
def test_only_a_city_level_security_administrator_manages_accounts(make_staff, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    district_security = make_staff("security_hc", posts=("security_admin",), district="371002")
    city_admin = make_staff("admin_city", posts=("city_admin",), district="371000")
    for outsider in (district_security, city_admin, huancui_clerk):
        with translation.override("zh-hans"), pytest.raises(NotPermitted, match="安全管理员"):
            staff_post_propose(actor=outsider, staff=huancui_clerk, post="approver", reason="试验")


@pytest.mark.req("R16")
def test_no_one_holds_two_of_the_three_administrator_posts(security_admins, make_staff) -> None:  # type: ignore[no-untyped-def]
    first, _second = security_admins
    admin = make_staff("admin_city", posts=("city_admin",), district="371000")
    for post in ("security_admin", "auditor"):
        with translation.override("zh-hans"), pytest.raises(ChangeRefused, match="不能由同一人兼任"):
            staff_post_propose(actor=first, staff=admin, post=post, reason="兼任")
    with pytest.raises(ChangeRefused):
        staff_create(
            actor="system:test",
            username="both",
            password=PASSWORD,
            district="371000",
            posts=("auditor", "city_admin"),
        )


@pytest.mark.req("R16")
def test_the_one_who_gains_a_post_neither_proposes_nor_confirms_it(security_admins, make_staff) -> None:  # type: ignore[no-untyped-def]
    first, second = security_admins
    third = make_staff("security3_city", posts=("security_admin",), district="371000")
    with translation.override("zh-hans"), pytest.raises(SeparationOfDuties, match=r"自己的?账号"):
        staff_post_propose(actor=second, staff=second, post="statistician", reason="兼任统计")
    held = staff_post_propose(actor=first, staff=second, post="statistician", reason="兼任统计")

    with translation.override("zh-hans"), pytest.raises(SeparationOfDuties, match=r"自己的?账号"):
        review_decide(actor=second, change_request_id=held.pk, approve=True)

    assert posts_of(second) == {"security_admin"}
    assert AuditEvent.objects.filter(action="review.denied", object_id=str(held.pk)).exists()
    review_decide(actor=third, change_request_id=held.pk, approve=True)  # a third administrator may
    assert posts_of(second) == {"security_admin", "statistician"}


@pytest.mark.req("R16")
def test_an_administrator_holds_no_post_that_handles_insured_persons_records(
    security_admins, make_staff
) -> None:  # type: ignore[no-untyped-def]
    first, second = security_admins
    admin = make_staff("admin_city", posts=("city_admin",), district="371000")
    for staff, post in ((second, "window_clerk"), (admin, "reviewer"), (admin, "approver")):
        with translation.override("zh-hans"), pytest.raises(ChangeRefused, match="管理员不能同时担任"):
            staff_post_propose(actor=first, staff=staff, post=post, reason="兼任")
    clerk = make_staff("clerk9_hc", posts=("window_clerk",), district="371002")
    with pytest.raises(ChangeRefused):
        staff_post_propose(actor=first, staff=clerk, post="auditor", reason="兼任审计")


@pytest.mark.req("R16")
def test_removing_a_post_changing_the_district_and_disabling_are_each_a_revision(
    security_admins, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    first, _ = security_admins
    versions = Staff.objects.get(pk=huancui_clerk.pk).version
    staff_set_district(actor=first, staff=huancui_clerk, district="371083", reason="调往乳山")
    staff_post_revoke(actor=first, staff=huancui_clerk, post="window_clerk", reason="岗位调整")
    staff_set_active(actor=first, staff=huancui_clerk, active=False, reason="离职")
    stored = Staff.objects.get(pk=huancui_clerk.pk)
    assert (stored.district_id, stored.is_active, stored.version) == ("371083", False, versions + 3)
    assert posts_of(huancui_clerk) == set()
    assert {e.action for e in AuditEvent.objects.filter(object_type="staff", actor="security_city")} >= {
        "staff.district", "staff.post_revoke", "staff.disable",
    }  # fmt: skip
    assert verify_store().ok


@pytest.mark.req("R17")
def test_the_first_authenticator_needs_the_enrolment_code_not_just_the_password(
    security_admins, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    first, _ = security_admins
    code = staff_issue_enrolment_code(actor=first, staff=huancui_clerk)
    client = Client()
    assert (
        client.post("/login/", {"username": huancui_clerk.username, "password": PASSWORD}).status_code == 302
    )
    page = client.get("/login/enrol/").content.decode()
    assert "登记码" in page and "<svg" not in page  # no QR code for the password alone

    wrong = client.post("/login/enrol/", {"code": "00000000" if code != "00000000" else "11111111"})
    assert "<svg" not in wrong.content.decode()
    assert AuditEvent.objects.filter(action="auth.enrolment_failed").count() == 1

    client.post("/login/enrol/", {"code": code})
    page = client.get("/login/enrol/").content.decode()
    assert "<svg" in page
    device = SealedTOTPDevice.objects.get(user=huancui_clerk, confirmed=False)
    response = client.post("/login/enrol/", {"token": current_code(device)})
    assert response.status_code == 302 and client.get("/").status_code == 200
    stored = Staff.objects.get(pk=huancui_clerk.pk)
    assert stored.enrolment_code == "" and SealedTOTPDevice.objects.get(user=huancui_clerk).confirmed
    assert verify_store().ok

    # A code works once: it is cleared by the enrolment.
    other = Client()
    other.post("/login/", {"username": huancui_clerk.username, "password": PASSWORD})
    assert other.get("/login/enrol/").status_code == 302  # enrolled: the second factor is asked for instead


@pytest.mark.req("R16")
def test_an_administrator_does_not_act_on_their_own_account(security_admins) -> None:  # type: ignore[no-untyped-def]
    first, second = security_admins
    for act in (
        lambda: staff_set_active(actor=first, staff=first, active=False, reason="试验"),
        lambda: staff_set_district(actor=first, staff=first, district="371002", reason="试验"),
        lambda: staff_post_revoke(actor=first, staff=first, post="security_admin", reason="试验"),
        lambda: staff_issue_enrolment_code(actor=first, staff=first),
    ):
        with translation.override("zh-hans"), pytest.raises(SeparationOfDuties, match="另一名安全管理员"):
            act()
    assert posts_of(first) == {"security_admin"} and Staff.objects.get(pk=first.pk).is_active
    staff_set_active(actor=second, staff=first, active=False, reason="调离")  # another one may
    assert not Staff.objects.get(pk=first.pk).is_active


@pytest.mark.req("R16")
def test_one_proposal_per_post_and_new_passwords_follow_the_rules(security_admins, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    first, _second = security_admins
    staff_post_propose(actor=first, staff=huancui_clerk, post="reviewer", reason="兼任审核岗")
    with translation.override("zh-hans"), pytest.raises(ChangeRefused, match="等待确认"):
        staff_post_propose(actor=first, staff=huancui_clerk, post="reviewer", reason="再提一次")
    with pytest.raises(ChangeRefused) as refused:
        staff_create(actor=first, username="weak", password="12345678", district="371002")
    assert refused.value.code == "password" and not Staff.objects.filter(username="weak").exists()
