"""The counts of the queues agree with the rows a clerk can open (R7.3, R10.3): the dashboard's 我的待办, the
queue page's sections and a paged 待办 page count what their lists show. A request whose person was moved into
a district in SQL is left out of that district's lists (attack round 13), and was still counted there — the
count told the district that a request about a person it had never been handed existed. A request whose
person moved through the pipeline is listed and counted in the district it moved to."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sidms.access import workflow as workflows
from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.services import submit_change
from sidms.lib.idcard import check_digit
from sidms.registry.models import Person
from tests.audit.test_tampering import _raw

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.req("R7.3"),
    pytest.mark.req("R10.3"),
    pytest.mark.req("R20"),
]

HUANCUI, RUSHAN = "371002", "371083"


def id_number(body: str) -> str:
    return body + check_digit(body)


def held_name_change(clerk: Any, person: Any) -> ChangeRequest:
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": person.name + "华"}).held  # fmt: skip
    assert held is not None
    return held


def move(make_staff: Any, person: Any) -> None:
    """The person moves to 乳山市 through the pipeline, as a city-level clerk records it."""
    from sidms.registry.models import Staff

    city_clerk = Staff.objects.filter(username="clerk_city").first() or make_staff(
        "clerk_city", posts=("window_clerk",), district="371000"
    )
    submit_change(actor=city_clerk, channel=Channel.WINDOW, entity="person",
                  record=Person.objects.get(pk=person.pk), values={"district_id": RUSHAN})  # fmt: skip


def dashboard_count(page: str) -> int:
    """待审核's count on the dashboard (its link goes to the paged 待办 page)."""
    found = re.findall(
        r'href="/queues/todo/change_request\.review/">待审核</a> <span class="count[^"]*">(\d+)<', page
    )
    assert len(found) == 1, page
    return int(found[0])


def section_count(page: str) -> int:
    section = page.split('id="change_request.review"')[1].split("</section>")[0]
    return int(re.findall(r'<span class="count">([\d,]+)</span></h2>', section)[0].replace(",", ""))


def listed(page: str) -> list[str]:
    return re.findall(r">(CR\d+)</a>", page)


def alerts() -> int:
    return AuditEvent.objects.filter(action="integrity.alert", object_type="person").count()


@pytest.fixture
def rushan_queue(huancui_clerk: Any, rushan_clerk: Any, make_staff: Any, make_person: Any) -> dict[str, Any]:
    """乳山市's review queue: a request of its own person, one of a person who moved there through the pipeline,
    and one of a 环翠区 person whose district was then written to 乳山市 in SQL."""
    own = make_person(id_number=id_number("37108319600101001"), name="李四", district=RUSHAN)
    moved = make_person(id_number=id_number("37100219600101002"), name="张三")
    forged = make_person(id_number=id_number("37100219600101003"), name="王建国")
    requests = {
        "own": held_name_change(rushan_clerk, own),
        "moved": held_name_change(huancui_clerk, moved),
        "forged": held_name_change(huancui_clerk, forged),
    }
    move(make_staff, moved)
    _raw("UPDATE registry_person SET district_id = %s WHERE id = %s", [RUSHAN, forged.pk])
    return requests


def test_a_request_moved_in_sql_is_counted_nowhere_its_list_leaves_it_out(
    rushan_queue: dict[str, Any], make_staff: Any, signed_in: Any
) -> None:
    shown = sorted(f"CR{rushan_queue[k].pk}" for k in ("own", "moved"))
    forged = f"CR{rushan_queue['forged'].pk}"
    reviewer = signed_in(make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN))
    assert dashboard_count(reviewer.get("/").content.decode()) == 2
    assert alerts() == 1  # the forged move is checked, and refused, once for the page
    queues = reviewer.get("/queues/").content.decode()
    assert sorted(listed(queues)) == shown and section_count(queues) == 2
    todo = reviewer.get("/queues/todo/change_request.review/").content.decode()
    assert sorted(listed(todo)) == shown and "共 2 条" in todo and forged not in todo
    assert alerts() == 3
    # Neither the district it was filed in (its person is no longer there) nor the city level (its list leaves
    # the row out) counts it.
    for name, district, count in (("reviewer_hc", HUANCUI, 0), ("reviewer_city", "371000", 2)):
        other = signed_in(make_staff(name, posts=("reviewer",), district=district))
        assert dashboard_count(other.get("/").content.decode()) == count, name
        page = other.get("/queues/todo/change_request.review/").content.decode()
        assert len(listed(page)) == count and f"共 {count} 条" in page and forged not in page, name


def test_the_submitters_own_list_counts_what_it_shows(
    rushan_queue: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """我提交的: the clerk follows the request whose person moved through the pipeline, not the forged one."""
    clerk = signed_in(huancui_clerk)
    page = clerk.get("/queues/").content.decode()
    mine = page.split('id="change_request.mine"')[1].split("</section>")[0]
    assert listed(mine) == [f"CR{rushan_queue['moved'].pk}"]
    assert '<span class="count">1</span></h2>' in mine


def test_a_count_checks_a_bounded_number_of_moved_rows_and_agrees_with_its_list(
    rushan_queue: dict[str, Any], huancui_clerk: Any, make_staff: Any, make_person: Any, signed_in: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Each reading checks the first MOVED_CHECKED rows that moved, in the queue's order; any beyond wait, in
    the list as in its count, until those are handled."""
    later = make_person(id_number=id_number("37100219600101004"), name="赵六")
    held = held_name_change(huancui_clerk, later)
    move(make_staff, later)
    reviewer_rs = make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN)
    (view,) = [
        v for v in workflows.queues_for(reviewer_rs, [ChangeRequest]) if v.key == "change_request.review"
    ]
    everything = workflows.shown(view, actor=reviewer_rs)
    assert everything.count() == 3 and held.pk in set(everything.values_list("pk", flat=True))
    monkeypatch.setattr(workflows, "MOVED_CHECKED", 2)  # the forged row and the first genuine move
    bounded = workflows.shown(view, actor=reviewer_rs)
    assert sorted(bounded.values_list("pk", flat=True)) == sorted(
        [rushan_queue["own"].pk, rushan_queue["moved"].pk]
    )
    reviewer = signed_in(reviewer_rs)
    assert dashboard_count(reviewer.get("/").content.decode()) == 2
    todo = reviewer.get("/queues/todo/change_request.review/").content.decode()
    assert len(listed(todo)) == 2 and "共 2 条" in todo
