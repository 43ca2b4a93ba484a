"""Attack round 9 on posts that must stay apart (B7, R4.1, R16: separation of duties), by one person who holds
two of them.

* An administrator who also handles insured persons' records. The rule "no administrator also holds a post
  that handles insured persons' records" knew only the four window posts: an audit administrator was granted
  the information centre (which imports people and units and executes batches and ledger runs) and a system or
  security administrator the archive reviewer's post (the scans of people's documents), each confirmed by a
  second security administrator without a word. Now every post holding a function over the records
  (access.posts.RECORD_POSTS) is refused beside an administrator post, either way round.
* The supervisor and the supervised in one person. A staff member holding the supervising department's post
  and an agency's post that reports on rectification orders (approver, city administrator) issued an order to
  the agency, reported its rectification and accepted the report. Now whoever issued an order does not
  report on it, and whoever reported does not accept or return the report.

What held, pinned here: two administrator posts in one person, and a grant confirmed by its proposer or by the
one who gains it, are refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from sidms.audit.models import AuditEvent
from sidms.changes.services import review_decide
from sidms.continuity import rectification
from sidms.continuity.models import OrderStatus
from sidms.core.errors import ChangeRefused, SeparationOfDuties
from sidms.security import accounts

pytestmark = pytest.mark.django_db


@pytest.mark.req("B7")
@pytest.mark.req("R16")
@pytest.mark.parametrize("admin_post", ["auditor", "city_admin", "security_admin"])
@pytest.mark.parametrize("record_post", ["info_centre", "archive_reviewer"])
def test_no_administrator_also_imports_or_reviews_archives(
    security: Any, security2: Any, make_staff: Any, admin_post: str, record_post: str
) -> None:
    admin = make_staff("admin_x", posts=(admin_post,), district="371000")
    with pytest.raises(ChangeRefused) as refused:
        accounts.staff_post_propose(actor=security, staff=admin, post=record_post, reason="兼任")
    assert refused.value.code == "admin_and_operator"
    operator = make_staff("operator_x", posts=(record_post,), district="371000")
    with pytest.raises(ChangeRefused):
        accounts.staff_post_propose(actor=security, staff=operator, post=admin_post, reason="兼任")
    with pytest.raises(ChangeRefused):  # nor at creation, by the system's own set-up
        make_staff("both_x", posts=(admin_post, record_post), district="371000")
    assert admin.posts == frozenset({admin_post}) and operator.posts == frozenset({record_post})


@pytest.mark.req("B7")
@pytest.mark.req("R16")
def test_a_grant_proposed_before_another_post_was_granted_is_refused_at_confirmation(
    security: Any, security2: Any, make_staff: Any, signed_in: Any
) -> None:
    """Two proposals for one account waiting together — the information centre and the auditor's post — each
    fine alone: the second confirmed is refused, on its review page too."""
    member = make_staff("member_x", posts=(), district="371000")
    first = accounts.staff_post_propose(actor=security, staff=member, post="info_centre", reason="信息机构")
    second = accounts.staff_post_propose(actor=security, staff=member, post="auditor", reason="审计")
    review_decide(actor=security2, change_request_id=first.pk, approve=True)
    page = signed_in(security2).post(f"/queues/review/{second.pk}/decide/", {"decision": "approve"})
    assert page.status_code == 400 and "管理员不能同时担任经办参保人员数据的岗位" in page.content.decode()
    member.refresh_from_db()
    assert member.posts == frozenset({"info_centre"})
    with pytest.raises(SeparationOfDuties):  # held: the proposer does not confirm
        review_decide(actor=security, change_request_id=second.pk, approve=True)
    with pytest.raises(ChangeRefused):  # held: two administrator posts
        accounts.staff_post_propose(actor=security, staff=security2, post="auditor", reason="兼任")


@pytest.fixture
def agency(load: Any) -> Any:
    return load("agency", [{"code": "AG371002", "name": "环翠区社会保险事业中心", "level": "district",
                            "district_id": "371002"}])[0]  # fmt: skip


@pytest.mark.req("R4.1")
@pytest.mark.req("R20")
def test_the_supervisor_who_is_also_an_approver_neither_reports_on_his_order_nor_accepts_his_report(
    make_staff: Any, agency: Any
) -> None:
    both = make_staff("both_city", posts=("supervisor", "approver"), district="371000")
    colleague = make_staff("supervisor2_city", posts=("supervisor",), district="371000")
    deadline = timezone.localdate() + timedelta(days=10)
    order = rectification.order_issue(actor=both, agency=agency, problems="超阈值导出", requirements="建立导出审批",
                                      deadline=deadline)  # fmt: skip
    with pytest.raises(SeparationOfDuties):
        rectification.order_respond(actor=both, order_id=order.pk, response="已整改")
    assert AuditEvent.objects.filter(action="rectification.denied", actor="both_city").exists()

    approver = make_staff("approver_hc", posts=("approver",), district="371002")
    rectification.order_respond(actor=approver, order_id=order.pk, response="已建立导出审批制度")
    # The one who issued it accepts the report of another: that is the supervisor's work.
    other = rectification.order_issue(actor=colleague, agency=agency, problems="逾期未整改",
                                      requirements="按期整改", deadline=deadline)  # fmt: skip
    rectification.order_respond(actor=both, order_id=other.pk, response="已整改")
    for step in (
        lambda: rectification.order_close(actor=both, order_id=other.pk, note="验收通过"),
        lambda: rectification.order_return(actor=both, order_id=other.pk, note="不充分", deadline=deadline),
    ):
        with pytest.raises(SeparationOfDuties):
            step()
    rectification.order_close(actor=colleague, order_id=other.pk, note="验收通过")
    rectification.order_close(actor=both, order_id=order.pk, note="验收通过")
    order.refresh_from_db()
    other.refresh_from_db()
    assert (order.status, other.status) == (OrderStatus.CLOSED, OrderStatus.CLOSED)
