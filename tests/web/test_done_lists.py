"""Each queue has its 已办 list (notes/ux-conventions.md): a reviewer, approver, modifier, re-checker or
executor sees what they themselves decided, newest first, with the decision and its time; in the same
district scope as every other queue, and never counted on the dashboard as 待办. The page is 待办与已办."""

from __future__ import annotations

import json
import re

import pytest
from freezegun import freeze_time

from sidms.changes.batches import batch_apply_update
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import (
    BatchApplication,
    ChangeRequest,
    Channel,
    MaintenanceOrder,
)
from sidms.changes.services import review_decide, submit_change
from sidms.core.declare import Queue
from sidms.lib.idcard import check_digit
from tests.web.test_dashboard import todo

pytestmark = [pytest.mark.django_db]

HUANCUI = tuple(
    body + check_digit(body) for body in ("37100219600101001", "37100219620101002", "37100219640101003")
)


def section(page: str, key: str) -> str:
    """One queue of the queue page ("change_request.review_done"); "" when the viewer has no such queue."""
    parts = page.split(f'id="{key}"')
    return parts[1].split("</section>")[0] if len(parts) > 1 else ""


def rows(queue: str, prefix: str) -> list[str]:
    """The ids a queue lists, in its order: ["CR3", "CR1"]."""
    return re.findall(rf'href="[^"]*">({prefix}\d+)</a>', queue)


@pytest.fixture
def three(make_person):  # type: ignore[no-untyped-def]
    return [
        make_person(id_number=number, name=name)
        for number, name in zip(HUANCUI, ("王甲", "王乙", "王丙"), strict=True)
    ]


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_a_reviewer_sees_the_requests_they_decided_and_no_one_else_does(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, three
) -> None:
    first, second, waiting = (
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
            values={"name": person.name + "华"},
        ).held
        for person in three
    )  # fmt: skip
    reviewer = signed_in(make_staff("reviewer_hc", posts=("reviewer",), district="371002"))
    assert reviewer.post(f"/queues/review/{first.pk}/decide/", {"decision": "approve"}).status_code == 302
    rejected = reviewer.post(
        f"/queues/review/{second.pk}/decide/", {"decision": "reject", "reason": "户口簿姓名不符"}
    )
    assert rejected.status_code == 302

    page = reviewer.get("/queues/").content.decode()
    # The page holds 已办 lists as well as 待办: it is titled so, and so is the menu's link to it.
    assert "<title>待办与已办 · " in page and "<h1>待办与已办</h1>" in page and ">待办与已办</a>" in page
    assert "我的待办" not in page
    done = section(page, "change_request.review_done")
    assert "我已审核" in page and "办理结果" in done and "办理时间" in done
    assert rows(done, "CR") == [f"CR{second.pk}", f"CR{first.pk}"]  # the latest decision first
    assert "已审核通过并生效" in done and "已驳回" in done and "户口簿姓名不符" in done
    decided_at = ChangeRequest.objects.get(pk=second.pk).decided_at
    assert decided_at is not None
    from django.utils import timezone

    assert timezone.localtime(decided_at).strftime("%Y-%m-%d %H:%M") in done
    assert rows(section(page, "change_request.review"), "CR") == [f"CR{waiting.pk}"]
    # The 已办 list is not 待办: the dashboard counts only what still waits.
    dashboard = reviewer.get("/").content.decode()
    assert todo(dashboard) == {"待审核": 1} and "我已审核" not in dashboard

    colleague = signed_in(make_staff("reviewer_hc2", posts=("reviewer",), district="371002"))
    page = colleague.get("/queues/").content.decode()
    assert rows(section(page, "change_request.review_done"), "CR") == []
    assert "您尚未审核过任何申请。" in section(page, "change_request.review_done")
    assert rows(section(page, "change_request.review"), "CR") == [f"CR{waiting.pk}"]

    rushan = signed_in(make_staff("reviewer_rs", posts=("reviewer",), district="371083"))
    page = rushan.get("/queues/").content.decode()
    for request in (first, second, waiting):
        assert f"CR{request.pk}<" not in page


@pytest.mark.req("R9.3")
@pytest.mark.req("R10.3")
def test_each_step_of_maintenance_has_its_done_list_and_the_approval_stays_shown_as_given(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, three
) -> None:
    approved, refused, waiting = (
        maintenance_apply(
            actor=huancui_clerk, entity="person", record=person, values={"address": "环翠区新威路 1 号"},
            reason="补充地址",
        )
        for person in three
    )  # fmt: skip
    approver = signed_in(make_staff("approver_hc", posts=("approver",), district="371002"))
    assert approver.post(f"/maintenance/{approved.pk}/approve/", {"decision": "approve"}).status_code == 302
    no = approver.post(f"/maintenance/{refused.pk}/approve/", {"decision": "reject", "reason": "无依据"})
    assert no.status_code == 302
    # The order approved moves on: modified by another clerk, re-checked and accepted.
    modifier = signed_in(make_staff("clerk_hc2", posts=("window_clerk",), district="371002"))
    assert modifier.post(f"/maintenance/{approved.pk}/modify/").status_code == 302
    rechecker = signed_in(make_staff("rechecker_hc", posts=("rechecker",), district="371002"))
    accepted = rechecker.post(f"/maintenance/{approved.pk}/recheck/", {"decision": "accept"})
    assert accepted.status_code == 302
    assert MaintenanceOrder.objects.get(pk=approved.pk).status == "accepted"

    page = approver.get("/queues/").content.decode()
    done = section(page, "maintenance.approve_done")
    assert "我已审批" in page
    assert rows(done, "MO") == [f"MO{refused.pk}", f"MO{approved.pk}"]
    by_order = dict(re.findall(r">(MO\d+)</a>.*?<td>(审批通过|不批准)</td>", done, flags=re.S))
    assert by_order == {f"MO{approved.pk}": "审批通过", f"MO{refused.pk}": "不批准"}
    assert "复核通过" in done  # and what became of it since
    assert rows(section(page, "maintenance.approve"), "MO") == [f"MO{waiting.pk}"]
    dashboard = approver.get("/").content.decode()
    assert todo(dashboard) == {"待审批": 1} and "我已审批" not in dashboard

    assert rows(section(modifier.get("/queues/").content.decode(), "maintenance.modify_done"), "MO") == [
        f"MO{approved.pk}"
    ]
    rechecked = section(rechecker.get("/queues/").content.decode(), "maintenance.recheck_done")
    assert rows(rechecked, "MO") == [f"MO{approved.pk}"] and "复核通过" in rechecked
    assert todo(rechecker.get("/").content.decode()) == {"待复核": 0}

    colleague = signed_in(make_staff("approver_hc2", posts=("approver",), district="371002"))
    page = colleague.get("/queues/").content.decode()
    assert rows(section(page, "maintenance.approve_done"), "MO") == []
    assert "您尚未审批过维护单。" in section(page, "maintenance.approve_done")
    rushan = signed_in(make_staff("approver_rs", posts=("approver",), district="371083"))
    page = rushan.get("/queues/").content.decode()
    for order in (approved, refused, waiting):
        assert f"MO{order.pk}<" not in page


@pytest.mark.req("R9.3")
@pytest.mark.req("R10.3")
def test_a_city_approver_sees_the_batches_they_decided_and_the_executor_those_executed(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, three
) -> None:
    approved, refused, waiting = (
        batch_apply_update(
            actor=huancui_clerk, entity="person", selection={"category": "employee"},
            change={"postcode": postcode}, reason="邮编调整",
        )
        for postcode in ("264200", "264201", "264202")
    )  # fmt: skip
    approver = signed_in(make_staff("approver_city", posts=("approver",), district="371000"))
    yes = approver.post(f"/batches/{approved.pk}/decide/", {"decision": "approve", "window_hours": "4"})
    assert yes.status_code == 302
    no = approver.post(f"/batches/{refused.pk}/decide/", {"decision": "refuse", "reason": "与另一申请重复"})
    assert no.status_code == 302
    operator = signed_in(make_staff("operator_city", posts=("info_centre",), district="371000"))
    assert operator.post(f"/batches/{approved.pk}/execute/").status_code == 302
    assert BatchApplication.objects.get(pk=approved.pk).status == "executed"

    page = approver.get("/queues/").content.decode()
    done = section(page, "batch.approve_done")
    assert "我已审批的批量变更" in page
    # Newest first; the test's own imports were approved by another city approver and are not listed.
    assert rows(done, "BA") == [f"BA{refused.pk}", f"BA{approved.pk}"]
    by_batch = dict(re.findall(r">(BA\d+)</a>.*?<td>(审批通过|不批准)</td>", done, flags=re.S))
    assert by_batch == {f"BA{approved.pk}": "审批通过", f"BA{refused.pk}": "不批准"}
    assert rows(section(page, "batch.approve"), "BA") == [f"BA{waiting.pk}"]
    dashboard = approver.get("/").content.decode()
    assert todo(dashboard) == {"待审批": 0, "待审批的批量变更": 1}
    assert "我已审批的批量变更" not in dashboard

    executed = section(operator.get("/queues/").content.decode(), "batch.execute_done")
    assert rows(executed, "BA") == [f"BA{approved.pk}"] and "已执行" in executed

    colleague = signed_in(make_staff("approver_city2", posts=("approver",), district="371000"))
    page = colleague.get("/queues/").content.decode()
    assert rows(section(page, "batch.approve_done"), "BA") == []
    assert "您尚未审批过批量变更。" in section(page, "batch.approve_done")
    # A district approver works no batch queue: nothing of the city's decisions reaches them.
    district = signed_in(make_staff("approver_hc", posts=("approver",), district="371002"))
    page = district.get("/queues/").content.decode()
    assert 'id="batch.approve_done"' not in page
    for batch in (approved, refused, waiting):
        assert f"BA{batch.pk}<" not in page


@pytest.mark.req("R7.3")
def test_every_queue_that_waits_for_someone_has_its_done_list() -> None:
    """Declared, not assumed: a new step's queue without its 已办 list fails here."""
    for model in (ChangeRequest, MaintenanceOrder, BatchApplication):
        queues = model.workflow.queues
        done = {(q.permission, q.city_level) for q in queues if q.actor}
        for waiting in (q for q in queues if q.todo):
            assert (waiting.permission, waiting.city_level) in done, (model.__name__, waiting.name)
        for listed in (q for q in queues if q.actor):
            assert listed.order == f"-{listed.at}" and not listed.todo
            assert model._meta.get_field(listed.actor).related_model is not None
    with pytest.raises(ValueError, match="已办"):
        Queue("done", "review.decide", actor="decided_by", at="decided_at")  # would count as 待办


def decided_over_two_days(clerk, reviewer, load, count: int) -> list[ChangeRequest]:  # type: ignore[no-untyped-def]
    """COUNT Huancui persons, each with a change the reviewer decided: the first on 2026-03-01 (Beijing
    time), the others on 2026-03-02."""
    rows_in = []
    for i in range(count):
        body = f"37100219700102{i:03d}"
        rows_in.append(
            {"id_number": body + check_digit(body), "name": "测试" + chr(0x4E00 + i), "category": "employee",
             "district_id": "371002", "status": "active"}
        )  # fmt: skip
    decided = []
    for i, person in enumerate(load("person", rows_in)):
        held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", record=person,
                             values={"name": "改名" + person.name}).held  # fmt: skip
        with freeze_time("2026-03-01 23:30:00+08:00" if i == 0 else f"2026-03-02 09:{i:02d}:00+08:00"):
            review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
        decided.append(held)
    return decided


@pytest.mark.req("R7.3")
def test_a_done_list_pages_beyond_the_queue_page_and_filters_by_the_decision_date(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, load
) -> None:
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    decided = decided_over_two_days(huancui_clerk, reviewer, load, 21)
    newest_first = [f"CR{held.pk}" for held in reversed(decided)]
    client = signed_in(reviewer)
    url = "/queues/done/change_request.review_done/"
    assert f'href="{url}"' in section(client.get("/queues/").content.decode(), "change_request.review_done")

    whole = client.get(url).content.decode()
    assert "共 21 条" in whole and rows(whole, "CR") == newest_first
    first = client.get(url, {"per_page": "20"}).content.decode()
    assert rows(first, "CR") == newest_first[:20] and "下一页" in first and "每页 20 条" in first
    second = client.get(url, {"per_page": "20", "page": "2"}).content.decode()
    assert rows(second, "CR") == newest_first[20:] and "上一页" in second

    # The day in Beijing time: 23:30 on 1 March is 15:30 UTC, still 1 March here.
    day = client.get(url, {"date_from": "2026-03-01", "date_to": "2026-03-01"}).content.decode()
    assert rows(day, "CR") == [f"CR{decided[0].pk}"] and "共 1 条" in day
    assert 'value="2026-03-01"' in day  # the filter stays in the form (and the address)
    later = client.get(url, {"date_from": "2026-03-02"}).content.decode()
    assert rows(later, "CR") == newest_first[:20]
    none = client.get(url, {"date_to": "2026-02-28"}).content.decode()
    assert rows(none, "CR") == [] and "放宽日期" in none

    swapped = client.get(url, {"date_from": "2026-03-02", "date_to": "2026-03-01"})
    assert swapped.status_code == 200 and rows(swapped.content.decode(), "CR") == []
    assert "截止日期早于起始日期" in swapped.content.decode() and "日期有误" in swapped.content.decode()
    no_such_day = client.get(url, {"date_from": "2026-02-30"}).content.decode()
    assert rows(no_such_day, "CR") == [] and "请输入存在的日期" in no_such_day
    beyond = client.get(url, {"page": "3", "per_page": "20"})
    assert beyond.status_code == 400 and "没有第 3 页" in beyond.content.decode()
    assert client.get(url, {"per_page": "7"}).status_code == 400


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_a_done_list_is_only_its_own_deciders(huancui_clerk, make_staff, signed_in, three) -> None:  # type: ignore[no-untyped-def]
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=three[0],
                         values={"name": "王甲华"}).held  # fmt: skip
    review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    url = "/queues/done/change_request.review_done/"
    assert rows(signed_in(reviewer).get(url).content.decode(), "CR") == [f"CR{held.pk}"]
    colleague = signed_in(make_staff("reviewer_hc2", posts=("reviewer",), district="371002"))
    assert rows(colleague.get(url).content.decode(), "CR") == []
    assert signed_in(huancui_clerk).get(url).status_code == 404  # no such list for a clerk
    for other in ("change_request.review", "batch.approve_done", "nope"):
        assert colleague.get(f"/queues/done/{other}/").status_code == 404


@pytest.mark.req("R10.3")
@pytest.mark.req("B1")
def test_the_queue_page_and_a_done_list_record_whom_they_showed(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, three, auditor
) -> None:
    """A queue row names the person a request is about (their number): like a records list, each page of
    queues records the rows it showed, so that a person can later learn who saw their data (B1)."""
    from sidms.audit.models import AuditEvent

    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    page = signed_in(reviewer)

    def shown() -> list[dict]:  # type: ignore[type-arg]
        events = AuditEvent.objects.filter(action="read.queues", actor="reviewer_hc").order_by("-seq")
        return [json.loads(event.payload)["detail"] for event in events[:1]]

    page.get("/queues/")
    assert shown() == []  # nothing listed, nothing recorded
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=three[0],
                         values={"name": "王甲华"}).held  # fmt: skip
    assert held is not None
    page.get("/queues/")
    assert shown() == [{"queues": ["change_request.review"], "requests": [f"CR{held.pk}"],
                        "queue_records": [["person", three[0].person_no]]}]  # fmt: skip
    review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    page.get("/queues/done/change_request.review_done/")
    assert shown() == [{"queues": ["change_request.review_done"], "requests": [f"CR{held.pk}"],
                        "queue_records": [["person", three[0].person_no]]}]  # fmt: skip
    # The auditor reads it in words: the action, the queue's title, the request and the person's number.
    log = signed_in(auditor).get("/audit/", {"actor": "reviewer_hc"}).content.decode()
    assert "查看待办与已办" in log and "待审核" in log and f"CR{held.pk}" in log and three[0].person_no in log
