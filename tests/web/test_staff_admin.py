"""The staff-account pages (R16, R17): a city-level security administrator creates accounts, proposes posts
that a second one confirms on the review page, removes posts, disables accounts, registers agreements, lifts
lock-outs and issues the one-time enrolment code with which the person binds an authenticator at first
sign-in. Nobody else reaches the pages; every read of them is audited."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, ReviewStatus, Revision
from sidms.registry.models import Staff, StaffPost
from sidms.security.limits import lockout_failures
from sidms.security.models import SealedTOTPDevice
from tests.conftest import PASSWORD, current_code

pytestmark = [pytest.mark.django_db]

NEW_PASSWORD = "Harbour-Lights-2026"
NEW_ACCOUNT = {
    "username": "clerk_wd",
    "full_name": "文登窗口 李红",
    "district": "371003",
    "agency": "",
    "password": NEW_PASSWORD,
    "password_again": NEW_PASSWORD,
    "agreement_signed_on": "2026-03-01",
    "agreement_expires_on": "",
}


def text(response: Any) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
def security(make_staff):  # type: ignore[no-untyped-def]
    return make_staff(
        "security_city", posts=("security_admin",), district="371000", full_name="安全管理员 林峰"
    )


@pytest.fixture
def security2(make_staff):  # type: ignore[no-untyped-def]
    return make_staff(
        "security2_city", posts=("security_admin",), district="371000", full_name="安全管理员 何静"
    )


@pytest.fixture
def admin(security, signed_in) -> Client:  # type: ignore[no-untyped-def]
    return signed_in(security)


def create(admin: Client, **changes: str) -> Staff:
    response = admin.post("/staff/new/", {**NEW_ACCOUNT, **changes})
    assert response.status_code == 302, text(response)[:3000]
    return Staff.objects.get(username=changes.get("username", NEW_ACCOUNT["username"]))


def propose(
    admin: Client, member: Staff, post: str, reason: str = "任职通知 威人社〔2026〕12 号"
) -> ChangeRequest:
    response = admin.post(f"/staff/{member.pk}/posts/propose/", {"post": post, "reason": reason})
    assert response.status_code == 302, text(response)[:3000]
    return ChangeRequest.objects.filter(entity="staff", record_id=member.pk).latest("pk")


# --------------------------------------------------------------------------------------------------------
# Creating an account


@pytest.mark.req("R16")
def test_a_security_administrator_creates_an_account_without_posts_with_history_and_audit(admin) -> None:  # type: ignore[no-untyped-def]
    form = admin.get("/staff/new/")
    assert form.status_code == 200
    page = text(form)
    assert "新建工作人员账号" in page and "登录名" in page and "保密协议签订日期" in page
    assert 'type="date"' in form.content.decode() and 'maxlength="30"' in form.content.decode()

    response = admin.post("/staff/new/", NEW_ACCOUNT)
    member = Staff.objects.get(username="clerk_wd")
    assert response.status_code == 302 and response["Location"] == f"/staff/{member.pk}/"
    assert (member.first_name, member.district_id, member.is_active) == ("文登窗口 李红", "371003", True)
    assert member.posts == frozenset() and member.check_password(NEW_PASSWORD)
    assert str(member.agreement_signed_on) == "2026-03-01"
    revision = Revision.objects.get(entity="staff", record_id=member.pk)
    assert revision.actor == "security_city" and revision.version == 1
    assert AuditEvent.objects.filter(
        action="staff.create", actor="security_city", object_id="clerk_wd"
    ).exists()

    detail = admin.get(response["Location"])
    page = text(detail)
    assert "账号 clerk_wd 已建立" in page
    assert "文登窗口 李红" in page and "文登区" in page
    assert "尚无岗位" in page and "未绑定" in page and "签发登记码" in page
    assert "创建工作人员账号" in page  # the history names the act, in Chinese
    assert "security_admin" not in page and "371003 " not in page.replace("（371003）", "")


@pytest.mark.req("R16")
def test_a_refused_account_keeps_what_was_typed_except_the_password_and_says_why_in_chinese(  # type: ignore[no-untyped-def]
    admin, huancui_clerk
) -> None:
    taken = admin.post("/staff/new/", {**NEW_ACCOUNT, "username": "clerk_hc"})
    assert taken.status_code == 400
    page = text(taken)
    assert "该登录名已被使用" in page
    html = taken.content.decode()
    assert 'value="文登窗口 李红"' in html and 'value="clerk_hc"' in html
    assert NEW_PASSWORD not in html

    bad = admin.post(
        "/staff/new/",
        {
            **NEW_ACCOUNT,
            "username": "1x",
            "password_again": "Other-Password-2026",
            "agreement_expires_on": "2026-01-01",
        },
    )
    assert bad.status_code == 400
    page = text(bad)
    assert "登录名为 3 到 30 位字母" in page
    assert "两次输入的密码不一致" in page
    assert "请输入保密协议签订日期" not in page and "保密协议的到期日不能早于签订日" in page
    short = admin.post("/staff/new/", {**NEW_ACCOUNT, "password": "abc", "password_again": "abc"})
    assert short.status_code == 400 and "密码至少 12 位" in text(short)
    assert not Staff.objects.filter(username__in=["clerk_wd", "1x"]).exists()


# --------------------------------------------------------------------------------------------------------
# Posts: four eyes


@pytest.mark.req("R16")
def test_a_post_proposed_by_one_administrator_is_granted_when_a_second_confirms_it(  # type: ignore[no-untyped-def]
    admin, security2, signed_in
) -> None:
    member = create(admin)
    form = admin.get(f"/staff/{member.pk}/posts/propose/")
    assert "另一名市级安全管理员在“待办与已办”中打开审核页确认" in text(form) and "窗口经办" in text(form)
    assert "data-confirm" in form.content.decode()
    assert 'value="city_admin"' in form.content.decode()
    held = propose(admin, member, "window_clerk")
    assert held.decider_post == "security_admin" and held.status == ReviewStatus.PENDING
    member.refresh_from_db()
    assert member.posts == frozenset()  # nothing before the confirmation
    page = text(admin.get(f"/staff/{member.pk}/"))
    assert f"CR{held.pk}" in page and "待确认" in page and "提议授予岗位" in page
    assert "每项提议由另一名市级安全管理员在“待办与已办”的审核页确认。" in page
    # A post waiting for confirmation is not offered again.
    assert 'value="window_clerk"' not in admin.get(f"/staff/{member.pk}/posts/propose/").content.decode()

    second = signed_in(security2)
    assert f"CR{held.pk}" in text(second.get("/queues/"))  # in the second administrator's 待办与已办
    assert f'href="/queues/review/{held.pk}/"' in admin.get(f"/staff/{member.pk}/").content.decode()
    proposal = second.get(f"/queues/review/{held.pk}/")
    page = text(proposal)
    assert "窗口经办" in page and "任职通知 威人社〔2026〕12 号" in page and "安全管理员 林峰" in page
    assert "确认：授予岗位" in page and "data-confirm" in proposal.content.decode()
    confirmed = second.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    assert confirmed.status_code == 302, text(confirmed)[:2000]

    member = Staff.objects.get(pk=member.pk)
    assert member.posts == frozenset({"window_clerk"})
    grant = Revision.objects.filter(entity="staff", record_id=member.pk).latest("version")
    assert (grant.actor, grant.reference) == ("security2_city", f"CR{held.pk}")
    assert AuditEvent.objects.filter(action="staff.post_grant", actor="security2_city").exists()
    detail = text(admin.get(f"/staff/{member.pk}/"))
    assert "授予 窗口经办" in detail and "安全管理员 何静" in detail and "待确认" not in detail

    # An administrator post is not offered to someone who holds another (three people, three posts).
    admin_member = create(admin, username="audit_x")
    held = propose(admin, admin_member, "auditor")
    second.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    form = admin.get(f"/staff/{admin_member.pk}/posts/propose/").content.decode()
    assert 'value="city_admin"' not in form and 'value="security_admin"' not in form
    refused = admin.post(f"/staff/{admin_member.pk}/posts/propose/", {"post": "city_admin", "reason": "兼任"})
    assert refused.status_code == 400 and 'value="兼任"' not in refused.content.decode()
    assert "兼任" in refused.content.decode()  # the reason typed is kept


@pytest.mark.req("R16")
def test_a_second_administrator_rejects_a_proposal_with_a_reason(admin, security2, signed_in) -> None:  # type: ignore[no-untyped-def]
    member = create(admin)
    held = propose(admin, member, "approver")
    second = signed_in(security2)
    refused = second.post(f"/queues/review/{held.pk}/decide/", {"decision": "reject", "reason": ""})
    assert refused.status_code == 400 and "驳回时必须填写理由" in text(refused)
    done = second.post(f"/queues/review/{held.pk}/decide/", {"decision": "reject", "reason": "无任职通知"})
    assert done.status_code == 302
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.REJECTED
    assert Staff.objects.get(pk=member.pk).posts == frozenset()
    assert "无任职通知" in text(admin.get(f"/queues/review/{held.pk}/"))
    assert "待确认" not in text(admin.get(f"/staff/{member.pk}/"))


@pytest.mark.req("R16")
def test_the_proposer_cannot_confirm_their_own_proposal(admin, security) -> None:  # type: ignore[no-untyped-def]
    member = create(admin)
    held = propose(admin, member, "reviewer")
    page = text(admin.get(f"/queues/review/{held.pk}/"))
    assert "该提议由您本人提出，须由另一名管理员确认。" in page
    assert "确认：授予岗位" not in page
    refused = admin.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    assert refused.status_code == 403 and "不能审核本人提交的变更" in text(refused)
    assert Staff.objects.get(pk=member.pk).posts == frozenset()
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
    assert AuditEvent.objects.filter(action="review.denied", actor="security_city").exists()


@pytest.mark.req("R16")
def test_a_district_security_administrator_reaches_neither_the_pages_nor_the_confirmation(  # type: ignore[no-untyped-def]
    admin, make_staff, signed_in
) -> None:
    member = create(admin)
    held = propose(admin, member, "window_clerk")
    district = signed_in(make_staff("security_hc", posts=("security_admin",), district="371002"))
    assert district.get("/staff/").status_code == 403
    assert district.get(f"/staff/{member.pk}/").status_code == 403
    assert district.post("/staff/new/", {**NEW_ACCOUNT, "username": "clerk_x"}).status_code == 403
    assert district.get(f"/queues/review/{held.pk}/").status_code in (403, 404)
    assert district.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}).status_code in (
        403,
        404,
    )
    assert Staff.objects.get(pk=member.pk).posts == frozenset()
    assert not Staff.objects.filter(username="clerk_x").exists()
    assert AuditEvent.objects.filter(action="access.denied", actor="security_hc").exists()
    assert "工作人员账号" not in text(district.get("/"))  # no link to pages it cannot open


@pytest.mark.req("R16")
def test_nobody_without_the_staff_function_opens_the_pages(
    huancui_clerk, auditor, make_staff, signed_in
) -> None:  # type: ignore[no-untyped-def]
    target = make_staff("clerk_x", posts=("window_clerk",))
    for staff in (huancui_clerk, auditor, make_staff("admin_city", posts=("city_admin",), district="371000")):
        client = signed_in(staff)
        for path in ("/staff/", f"/staff/{target.pk}/", "/staff/new/", f"/staff/{target.pk}/enrolment-code/"):
            assert client.get(path).status_code == 403, (staff.username, path)
        assert client.post(f"/staff/{target.pk}/status/", {"reason": "x"}).status_code == 403
        assert "工作人员账号" not in text(client.get("/"))
    assert Staff.objects.get(pk=target.pk).is_active


@pytest.mark.req("R16")
def test_removing_a_post_takes_effect_at_once_with_a_reason(admin, make_staff) -> None:  # type: ignore[no-untyped-def]
    member = make_staff("reviewer_x", posts=("reviewer", "rechecker"))
    form = admin.get(f"/staff/{member.pk}/posts/remove/?post=reviewer")
    assert 'value="reviewer" selected' in form.content.decode() and "data-confirm" in form.content.decode()
    refused = admin.post(f"/staff/{member.pk}/posts/remove/", {"post": "reviewer", "reason": ""})
    assert refused.status_code == 400 and "请填写修改理由" in text(refused)
    done = admin.post(f"/staff/{member.pk}/posts/remove/", {"post": "reviewer", "reason": "调岗至复核"})
    assert done.status_code == 302
    assert set(StaffPost.objects.filter(staff=member).values_list("post", flat=True)) == {"rechecker"}
    page = text(admin.get(f"/staff/{member.pk}/"))
    assert "已撤销" in page and "撤销 审核" in page


# --------------------------------------------------------------------------------------------------------
# Status, district, agreement, lock-out, password


@pytest.mark.req("R16")
def test_a_disabled_persons_session_ends_at_their_next_request(admin, huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    clerk = signed_in(huancui_clerk)
    assert clerk.get("/persons/").status_code == 200
    form = admin.get(f"/staff/{huancui_clerk.pk}/status/")
    assert "停用账号" in text(form) and "data-confirm" in form.content.decode()
    done = admin.post(f"/staff/{huancui_clerk.pk}/status/", {"reason": "离职"})
    assert done.status_code == 302
    assert not Staff.objects.get(pk=huancui_clerk.pk).is_active
    following = clerk.get("/persons/")
    assert following.status_code == 302 and following["Location"].startswith("/login/")
    assert clerk.get("/").status_code == 302  # and stays signed out
    page = text(admin.get(f"/staff/{huancui_clerk.pk}/"))
    assert "已停用：不能登录" in page and "停用工作人员账号" in page
    # Enabling again is the same page.
    assert "启用账号" in text(admin.get(f"/staff/{huancui_clerk.pk}/status/"))
    assert admin.post(f"/staff/{huancui_clerk.pk}/status/", {"reason": "返聘"}).status_code == 302
    assert Staff.objects.get(pk=huancui_clerk.pk).is_active


@pytest.mark.req("R16")
def test_the_district_changes_with_a_reason_and_the_agreement_is_registered_with_an_expiry_warning(  # type: ignore[no-untyped-def]
    admin, huancui_clerk
) -> None:
    assert (
        admin.post(f"/staff/{huancui_clerk.pk}/district/", {"district": "371083", "reason": ""}).status_code
        == 400
    )
    done = admin.post(f"/staff/{huancui_clerk.pk}/district/", {"district": "371083", "reason": "调至乳山"})
    assert done.status_code == 302
    assert Staff.objects.get(pk=huancui_clerk.pk).district_id == "371083"

    soon = timezone.localdate() + timedelta(days=10)
    refused = admin.post(
        f"/staff/{huancui_clerk.pk}/agreement/", {"signed_on": "2026-03-01", "expires_on": "2026-02-01"}
    )
    assert refused.status_code == 400 and "2026-03-01" in refused.content.decode()
    done = admin.post(
        f"/staff/{huancui_clerk.pk}/agreement/", {"signed_on": "2026-03-01", "expires_on": soon.isoformat()}
    )
    assert done.status_code == 302
    page = text(admin.get(f"/staff/{huancui_clerk.pk}/"))
    assert "还有 10 天到期" in page and "乳山市" in page
    listing = text(admin.get("/staff/?district=371083"))
    assert f"{soon.isoformat()} 到期" in listing


@pytest.mark.req("R17")
def test_a_locked_account_is_shown_as_such_and_unlocked(admin, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    from axes.models import AccessAttempt

    AccessAttempt.objects.create(
        username="clerk_hc",
        ip_address="10.0.0.9",
        user_agent="test",
        failures_since_start=lockout_failures(),
    )
    assert "已锁定" in text(admin.get("/staff/?q=clerk_hc"))
    assert "解除锁定" in text(admin.get(f"/staff/{huancui_clerk.pk}/"))
    assert admin.post(f"/staff/{huancui_clerk.pk}/unlock/").status_code == 302
    assert not AccessAttempt.objects.filter(username="clerk_hc").exists()
    assert AuditEvent.objects.filter(
        action="staff.unlock", actor="security_city", object_id="clerk_hc"
    ).exists()


@pytest.mark.req("R17")
def test_a_new_password_is_typed_twice_checked_and_never_shown_again(admin, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    refused = admin.post(
        f"/staff/{huancui_clerk.pk}/password/",
        {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "x"},
    )
    assert refused.status_code == 400 and "两次输入的密码不一致" in text(refused)
    assert NEW_PASSWORD not in refused.content.decode()
    done = admin.post(
        f"/staff/{huancui_clerk.pk}/password/", {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert Staff.objects.get(pk=huancui_clerk.pk).check_password(NEW_PASSWORD)


# --------------------------------------------------------------------------------------------------------
# The enrolment code and the first sign-in


def issue_code(admin: Client, member: Staff) -> tuple[str, Any]:
    form = admin.get(f"/staff/{member.pk}/enrolment-code/")
    token = re.search(r'name="token" value="([^"]+)"', form.content.decode())
    assert token, text(form)
    shown = admin.post(f"/staff/{member.pk}/enrolment-code/", {"token": token.group(1)})
    assert shown.status_code == 200
    code = re.search(r'id="enrolment-code">(\d{8})<', shown.content.decode())
    assert code, text(shown)
    return code.group(1), (token.group(1), shown)


@pytest.mark.req("R17")
def test_the_enrolment_code_is_shown_once_and_the_person_enrols_with_it_at_first_sign_in(  # type: ignore[no-untyped-def]
    admin, security2, signed_in
) -> None:
    member = create(admin)
    held = propose(admin, member, "window_clerk")
    second = signed_in(security2)
    assert second.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}).status_code == 302
    # The first administrator set the password: the second issues the code (no one holds both factors).
    assert "另一名安全管理员签发" in text(admin.get(f"/staff/{member.pk}/enrolment-code/"))
    admin = second
    code, (token, shown) = issue_code(admin, member)
    assert shown["Cache-Control"] == "no-store"
    assert "只显示这一次" in text(shown) and "当面" in text(shown)
    # A reload sends the same form again: no code is shown, and none is issued.
    before = Revision.objects.filter(entity="staff", record_id=member.pk).count()
    again = admin.post(f"/staff/{member.pk}/enrolment-code/", {"token": token})
    assert again.status_code == 409 and code not in again.content.decode() and "不再显示" in text(again)
    assert Revision.objects.filter(entity="staff", record_id=member.pk).count() == before
    assert code not in admin.get(f"/staff/{member.pk}/enrolment-code/").content.decode()
    assert code not in admin.get(f"/staff/{member.pk}/").content.decode()
    assert not AuditEvent.objects.filter(payload__contains=code).exists()

    # The person's first sign-in: password, then the enrolment code, then the QR page and a TOTP code.
    person = Client()
    step = person.post("/login/", {"username": "clerk_wd", "password": NEW_PASSWORD})
    assert step.status_code == 302
    assert person.get("/login/otp/")["Location"] == "/login/enrol/"
    wrong = person.post("/login/enrol/", {"code": f"{(int(code) + 1) % 10**8:08d}"})
    assert "登记码错误或已过期" in text(wrong)
    assert person.post("/login/enrol/", {"code": code}).status_code == 302
    qr = person.get("/login/enrol/")
    assert "<svg" in qr.content.decode()
    device = SealedTOTPDevice.objects.get(user=member, confirmed=False)
    done = person.post("/login/enrol/", {"token": current_code(device)})
    assert done.status_code == 302 and done["Location"] == "/"
    assert person.get("/persons/").status_code == 200  # signed in with the post granted
    assert SealedTOTPDevice.objects.filter(user=member, confirmed=True).count() == 1
    page = text(admin.get(f"/staff/{member.pk}/"))
    assert "已绑定" in page and "签发登记码" in page
    # The code is used up: a second enrolment with it is refused.
    member.refresh_from_db()
    assert member.enrolment_code == ""


@pytest.mark.req("R17")
def test_issuing_a_code_for_a_bound_authenticator_warns_and_unbinds_it(admin, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import enrol

    enrol(huancui_clerk)
    form = admin.get(f"/staff/{huancui_clerk.pk}/enrolment-code/")
    assert "已绑定身份验证器" in text(form) and "data-confirm" in form.content.decode()
    issue_code(admin, huancui_clerk)
    assert not SealedTOTPDevice.objects.filter(user=huancui_clerk).exists()
    person = Client()
    assert person.post("/login/", {"username": "clerk_hc", "password": PASSWORD}).status_code == 302
    assert person.get("/persons/")["Location"] in ("/login/otp/", "/login/enrol/")


# --------------------------------------------------------------------------------------------------------
# The list, and reads audited


@pytest.mark.req("R16")
def test_the_list_searches_filters_counts_and_pages(admin, make_staff, security2) -> None:  # type: ignore[no-untyped-def]
    for n in range(23):
        make_staff(f"clerk{n:02d}", posts=("window_clerk",), district="371083", full_name=f"乳山窗口 {n:02d}")
    make_staff("reviewer_hc", posts=("reviewer",), district="371002", full_name="环翠审核 王强")
    page = text(admin.get("/staff/"))
    assert "共 26 条" in page
    by_district = admin.get("/staff/?district=371083&per_page=20")
    assert "共 23 条" in text(by_district) and "下一页" in text(by_district)
    assert "乳山窗口 22" not in text(by_district)
    assert "乳山窗口 22" in text(admin.get("/staff/?district=371083&per_page=20&page=2"))
    assert admin.get("/staff/?page=9").status_code == 400
    assert admin.get("/staff/?post=nonsense").status_code == 400
    by_name = text(admin.get("/staff/?q=王强"))
    assert "共 1 条" in by_name and "reviewer_hc" in by_name and "审核" in by_name
    assert "共 1 条" in text(admin.get("/staff/?q=review"))
    by_post = text(admin.get("/staff/?post=security_admin"))
    assert "共 2 条" in by_post and "安全管理员 何静" in by_post
    Staff.objects.filter(username="clerk00").update(
        is_active=False
    )  # the test's shortcut; pages never do this
    assert "共 1 条" in text(admin.get("/staff/?active=no"))
    empty = text(admin.get("/staff/?q=nobody"))
    assert "共 0 条" in empty and "无符合条件的账号" in empty


@pytest.mark.req("R16")
def test_the_list_costs_the_same_queries_for_five_or_thirty_accounts(  # type: ignore[no-untyped-def]
    admin, make_staff, django_assert_max_num_queries
) -> None:
    def queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert admin.get("/staff/").status_code == 200
        return len(captured)

    for n in range(4):
        make_staff(f"few{n}", posts=("window_clerk",))
    queries()  # code tables and regions are cached after the first page
    few = queries()
    for n in range(25):
        make_staff(f"many{n}", posts=("window_clerk", "reviewer"))
    assert queries() == few


@pytest.mark.req("R20")
def test_reading_the_pages_is_audited_with_the_accounts_shown(admin, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    admin.get("/staff/?q=clerk_hc")
    admin.get(f"/staff/{huancui_clerk.pk}/")
    listed = AuditEvent.objects.filter(action="read.staff_list", actor="security_city").latest("seq")
    assert '"clerk_hc"' in listed.payload
    assert AuditEvent.objects.filter(
        action="read.staff", actor="security_city", object_id="clerk_hc"
    ).exists()
