"""Each 待办 queue has its paged page, as each 已办 list has (notes/ux-conventions.md): the queue page shows a
queue's first rows only, and a queue holding more links to the page with every row, oldest first as the queue
is, overdue rows marked 已逾期, 共 N 条, 每页 20/50/100 条 and a date filter, in the same district scope as the
queue page and recorded as the rows it showed (B1)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.services import submit_change
from sidms.lib.idcard import check_digit
from sidms.web.workflow.views import QUEUE_LIMIT
from tests.web.test_done_lists import rows, section
from tests.web.test_queues_follow_record import RUSHAN, move

pytestmark = [pytest.mark.django_db]

URL = "/queues/todo/change_request.review/"


def persons(load: Any, count: int, district: str = "371002") -> list[Any]:
    """COUNT persons of DISTRICT, stored through the pipeline in one import."""
    rows_in = []
    for i in range(count):
        body = f"{district}19700102{i:03d}"
        rows_in.append(
            {"id_number": body + check_digit(body), "name": "测试" + chr(0x4E00 + i), "category": "employee",
             "district_id": district, "status": "active"}
        )  # fmt: skip
    return list(load("person", rows_in))


def held_name_change(clerk: Any, person: Any) -> ChangeRequest:
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": "改名" + person.name}).held  # fmt: skip
    assert held is not None
    return held


def overdue(page: str) -> dict[str, bool]:
    """Each request a page lists, and whether its row is marked 已逾期."""
    return {f"CR{n}": "已逾期" in row for n, row in re.findall(r">CR(\d+)</a>(.*?)</tr>", page, re.S)}


@pytest.mark.req("R7.3")
@pytest.mark.req("R2.3")
def test_a_todo_queue_longer_than_the_queue_page_lists_every_row_on_its_own_pages(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, load
) -> None:
    count = QUEUE_LIMIT + 2
    people = persons(load, count)
    # The first three have waited past the step's time limit (workflow.step_days, 5 days): a month.
    waiting = []
    for i, person in enumerate(people):
        if i < 3:
            with freeze_time(timezone.now() - timedelta(days=30 - i)):
                waiting.append(held_name_change(huancui_clerk, person))
        else:
            waiting.append(held_name_change(huancui_clerk, person))
    oldest_first = [f"CR{held.pk}" for held in waiting]
    late = set(oldest_first[:3])
    client = signed_in(make_staff("reviewer_hc", posts=("reviewer",), district="371002"))

    queue = section(client.get("/queues/").content.decode(), "change_request.review")
    assert rows(queue, "CR") == oldest_first[:QUEUE_LIMIT]
    assert f"仅显示前 {QUEUE_LIMIT} 条" in queue and f'<a href="{URL}">查看全部 {count} 条</a>' in queue
    assert f'<h2><a href="{URL}">待审核</a> <span class="count">{count}</span></h2>' in queue

    # Every row, across the pages, in the queue's order: the longest waiting first.
    listed = []
    for number in (1, 2, 3):
        page = client.get(URL, {"page": str(number)}).content.decode()
        assert f"共 {count} 条" in page and "每页 50 条" in page
        marked = overdue(page)
        assert all(marked[row] == (row in late) for row in marked), marked
        listed += rows(page, "CR")
    assert listed == oldest_first
    # The read of the last page (of 50 rows each) names the requests it showed, and the persons they are about (B1).
    event = AuditEvent.objects.filter(action="read.queues", actor="reviewer_hc").order_by("-seq").first()
    assert event is not None and json.loads(event.payload)["detail"] == {
        "queues": ["change_request.review"], "requests": oldest_first[100:],
        "queue_records": [["person", person.person_no] for person in people[100:]],
    }  # fmt: skip
    assert "上一页" in page and "下一页" not in page
    whole = client.get(URL, {"per_page": "100"}).content.decode()
    assert rows(whole, "CR") == oldest_first[:100] and "下一页" in whole
    beyond = client.get(URL, {"per_page": "100", "page": "3"})
    assert beyond.status_code == 400 and "没有第 3 页" in beyond.content.decode()
    assert client.get(URL, {"per_page": "7"}).status_code == 400

    # Filtered by the day a row reached its step, in Beijing time; the filter stays in the form.
    first_day = (
        timezone.localtime(ChangeRequest.objects.get(pk=waiting[0].pk).submitted_at).date().isoformat()
    )
    day = client.get(URL, {"date_from": first_day, "date_to": first_day}).content.decode()
    assert rows(day, "CR") == oldest_first[:1] and "共 1 条" in day and f'value="{first_day}"' in day
    assert "到达日期起" in day
    none = client.get(URL, {"date_to": "2020-01-01"}).content.decode()
    assert rows(none, "CR") == [] and "放宽日期" in none


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_a_todo_page_lists_only_what_the_queue_page_would(  # type: ignore[no-untyped-def]
    huancui_clerk, rushan_clerk, make_staff, make_person, signed_in
) -> None:
    """Another district's request is never listed: neither one filed there nor one about a person who has
    moved there since (the request follows its record); that district's reviewer has both."""
    stays = make_person(id_number="371002196001010011", name="王甲")
    leaves = make_person(id_number="371002196201010024", name="王乙")
    there = make_person(
        id_number=f"{RUSHAN}19640101001" + check_digit(f"{RUSHAN}19640101001"), name="王丙", district=RUSHAN
    )
    kept, gone = held_name_change(huancui_clerk, stays), held_name_change(huancui_clerk, leaves)
    theirs = held_name_change(rushan_clerk, there)
    move(make_staff, leaves)

    huancui = signed_in(make_staff("reviewer_hc", posts=("reviewer",), district="371002"))
    assert rows(huancui.get(URL).content.decode(), "CR") == [f"CR{kept.pk}"]
    rushan = signed_in(make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN))
    assert sorted(rows(rushan.get(URL).content.decode(), "CR")) == sorted([f"CR{gone.pk}", f"CR{theirs.pk}"])

    # A queue the viewer does not work, a 已办 list asked for as 待办 and the other way round: no such page.
    assert signed_in(huancui_clerk).get(URL).status_code == 404
    for other in ("change_request.review_done", "batch.approve", "maintenance.approve", "nope"):
        assert huancui.get(f"/queues/todo/{other}/").status_code == 404
    assert huancui.get("/queues/done/change_request.review/").status_code == 404

    # The other workflows' queues have theirs too: an order waiting for approval.
    order = maintenance_apply(actor=huancui_clerk, entity="person", record=stays,
                              values={"address": "环翠区新威路 1 号"}, reason="补充地址")  # fmt: skip
    approver = signed_in(make_staff("approver_hc", posts=("approver",), district="371002"))
    page = approver.get("/queues/todo/maintenance.approve/").content.decode()
    assert rows(page, "MO") == [f"MO{order.pk}"] and "<h1>待审批</h1>" in page


@pytest.mark.req("R10.3")
@pytest.mark.req("B1")
def test_a_page_of_a_todo_list_is_recorded_as_the_rows_it_showed(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, load, auditor
) -> None:
    people = persons(load, 3)
    waiting = [held_name_change(huancui_clerk, person) for person in people]
    client = signed_in(make_staff("reviewer_hc", posts=("reviewer",), district="371002"))

    def last_read() -> dict[str, Any]:
        event = AuditEvent.objects.filter(action="read.queues", actor="reviewer_hc").order_by("-seq").first()
        assert event is not None
        return dict(json.loads(event.payload)["detail"])

    client.get(URL, {"per_page": "20"})
    assert last_read() == {
        "queues": ["change_request.review"], "requests": [f"CR{held.pk}" for held in waiting],
        "queue_records": [["person", person.person_no] for person in people],
    }  # fmt: skip
    # A page names its own rows only: here the day of none of them lists nothing, and records nothing more.
    before = AuditEvent.objects.filter(action="read.queues").count()
    client.get(URL, {"date_to": "2020-01-01"})
    assert AuditEvent.objects.filter(action="read.queues").count() == before
    log = signed_in(auditor).get("/audit/", {"actor": "reviewer_hc"}).content.decode()
    assert "查看待办与已办" in log and f"CR{waiting[0].pk}" in log and people[0].person_no in log
