"""The dashboard shows each post its 我的待办 with counts (notes/ux-conventions.md): requests waiting for review,
maintenance orders and batches waiting for approval, orders waiting for re-check, rule changes waiting for a
second city-level administrator."""

from __future__ import annotations

import re

import pytest

from sidms.changes.batches import batch_apply_update
from sidms.changes.maintenance import maintenance_apply, maintenance_approve, maintenance_modify
from sidms.changes.models import Channel
from sidms.changes.rules import rule_propose
from sidms.changes.services import submit_change

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"


def todo(page: str) -> dict[str, int]:
    """The dashboard's 我的待办: each queue's title and its count."""
    assert "我的待办" in page, page[:3000]
    section = page.split("我的待办", 1)[1].split("</ul>", 1)[0]
    return {
        title.strip(): int(count)
        for title, count in re.findall(
            r'<a href="[^"]*">([^<]+)</a>\s*<span class="count[^"]*">(\d+)</span>', section
        )
    }


@pytest.fixture
def work(huancui_clerk, make_staff, make_person):  # type: ignore[no-untyped-def]
    """A Huancui person with one change waiting for review, two maintenance orders (one applied for, one
    modified and waiting for re-check) and one batch waiting for city-level approval."""
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person, values={"name": "王建华"}
    )
    maintenance_apply(
        actor=huancui_clerk, entity="person", record=person, values={"address": "甲"}, reason="补充"
    )
    approver = make_staff("approver_hc", posts=("approver",), district="371002")
    modifier = make_staff("clerk_hc2", posts=("window_clerk",), district="371002")
    order = maintenance_apply(
        actor=huancui_clerk, entity="person", record=person, values={"postcode": "264200"}, reason="补充"
    )
    maintenance_approve(actor=approver, order_id=order.pk, approve=True)
    maintenance_modify(actor=modifier, order_id=order.pk)
    batch_apply_update(
        actor=huancui_clerk, entity="person", selection={"category": "employee"}, change={"postcode": "264200"},
        reason="邮编调整",
    )  # fmt: skip
    return person


@pytest.mark.req("R7.3")
def test_a_reviewer_sees_how_many_requests_wait_for_review(make_staff, signed_in, work) -> None:  # type: ignore[no-untyped-def]
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    assert todo(signed_in(reviewer).get("/").content.decode()) == {"待审核": 1}


@pytest.mark.req("R9.3")
def test_a_city_approver_counts_maintenance_and_batches_waiting_for_approval(
    make_staff, signed_in, work
) -> None:  # type: ignore[no-untyped-def]
    approver = make_staff("approver_city", posts=("approver",), district="371000")
    page = signed_in(approver).get("/").content.decode()
    assert todo(page) == {"待审批": 1, "待审批的批量变更": 1}
    assert 'class="count due"' in page  # waiting work stands out


@pytest.mark.req("R9.3")
def test_a_rechecker_sees_how_many_orders_wait_for_re_check(make_staff, signed_in, work) -> None:  # type: ignore[no-untyped-def]
    rechecker = make_staff("rechecker_hc", posts=("rechecker",), district="371002")
    assert todo(signed_in(rechecker).get("/").content.decode()) == {"待复核": 1}


@pytest.mark.req("R9.1")
def test_a_city_administrator_sees_rule_changes_waiting_for_confirmation(make_staff, signed_in) -> None:  # type: ignore[no-untyped-def]
    proposer = make_staff("admin_city", posts=("city_admin",), district="371000")
    second = make_staff("admin_city2", posts=("city_admin",), district="371000")
    rule_propose(
        actor=proposer, entity="person", field="address", required=True, validator="text",
        review_level="manual", crosschecks=[], reason="地址须人工核实",
    )  # fmt: skip
    assert todo(signed_in(second).get("/").content.decode()) == {"待确认的规则变更": 1}
    # The proposer does not confirm their own proposal: nothing waits for them.
    assert todo(signed_in(proposer).get("/").content.decode()) == {"待确认的规则变更": 0}


@pytest.mark.req("R9.3")
def test_the_queue_a_count_links_to_lists_the_same_work(make_staff, signed_in, work) -> None:  # type: ignore[no-untyped-def]
    """Each count links to its queue's paged 待办 page (every row of it, oldest first), not to the queue page's
    section, which shows a queue's first rows only."""
    approver = signed_in(make_staff("approver_city", posts=("approver",), district="371000"))
    page = approver.get("/").content.decode()
    links = dict(re.findall(r'<a href="([^"]+)">(待审批[^<]*)</a>', page))
    assert links == {"/queues/todo/batch.approve/": "待审批的批量变更",
                     "/queues/todo/maintenance.approve/": "待审批"}  # fmt: skip
    batches = approver.get("/queues/todo/batch.approve/")
    assert batches.status_code == 200 and re.search(r">BA\d+</a>", batches.content.decode())
    orders = approver.get("/queues/todo/maintenance.approve/").content.decode()
    assert "共 1 条" in orders and len(re.findall(r">MO\d+</a>", orders)) == 1


@pytest.mark.req("R7.3")
@pytest.mark.req("R2.3")
def test_a_request_waiting_longer_than_the_steps_time_limit_is_marked_overdue(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, make_person, signed_in
) -> None:
    """ux-conventions: the 待办 show overdue items in red. A request waiting for review longer than the
    business-handling parameter workflow.step_days (5 calendar days, an example value) is counted overdue on
    the dashboard and marked 已逾期 in its queue; one submitted since is not."""
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    from sidms.business.parameters import value_at

    assert value_at("workflow.step_days") == 5
    old, new = (make_person(id_number=n, name="王建国") for n in (HUANCUI_1960, "371002196201010024"))
    with freeze_time(timezone.now() - timedelta(days=6)):
        late = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=old,
                             values={"name": "王建华"}).held  # fmt: skip
    fresh = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=new,
                          values={"name": "王建民"}).held  # fmt: skip
    assert late is not None and fresh is not None
    reviewer = signed_in(make_staff("reviewer_hc", posts=("reviewer",), district="371002"))
    dashboard = reviewer.get("/").content.decode()
    assert todo(dashboard)["待审核"] == 2
    assert '<span class="count overdue">已逾期 1 件</span>' in dashboard
    queue = (
        reviewer.get("/queues/")
        .content.decode()
        .split('id="change_request.review"')[1]
        .split("</section>")[0]
    )
    rows = {number: row for number, row in re.findall(r">CR(\d+)</a>(.*?)</tr>", queue, re.S)}
    assert "已逾期" in rows[str(late.pk)] and "已逾期" not in rows[str(fresh.pk)]
