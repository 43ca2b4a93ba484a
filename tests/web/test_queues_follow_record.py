"""A request or an order about a record belongs to the district the record is in now (R10.3), as the record
itself and its archive catalogue do: once a person moves from 环翠区 to 乳山市 while a change of theirs waits
for review (R7.3) or a correction of theirs for its next step (R9.3), 乳山市 lists, opens and decides it and
环翠区 no longer does — not in its 待办, not in its 已办, not by the page's address, not by a decision posted
to it. The clerk who submitted it still follows it in 我提交的."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sidms.access import workflow as workflows
from sidms.archives.services import archive_open, archive_upload, catalogue, review_queue
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import NotPermitted
from sidms.lib.idcard import check_digit
from sidms.registry.models import Person
from tests.archives.conftest import data_dir, noise

__all__ = ["data_dir"]  # a fixture

pytestmark = [pytest.mark.django_db]

HUANCUI = tuple(body + check_digit(body) for body in ("37100219600101001", "37100219620101002"))
RUSHAN = "371083"


def section(page: str, key: str) -> str:
    parts = page.split(f'id="{key}"')
    return parts[1].split("</section>")[0] if len(parts) > 1 else ""


def listed(page: str, prefix: str) -> list[str]:
    return re.findall(rf'href="[^"]*">({prefix}\d+)</a>', page)


def move(make_staff: Any, person: Any, district: str = RUSHAN) -> None:
    """The person moves district through the pipeline, as a city-level clerk records it."""
    city_clerk = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    submit_change(actor=city_clerk, channel=Channel.WINDOW, entity="person",
                  record=Person.objects.get(pk=person.pk), values={"district_id": district})  # fmt: skip
    assert Person.objects.get(pk=person.pk).district_id == district


@pytest.fixture
def reviewers(make_staff: Any) -> dict[str, Any]:
    return {
        "huancui": make_staff("reviewer_hc", posts=("reviewer",), district="371002"),
        "rushan": make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN),
    }


def held_name_change(clerk: Any, person: Any) -> ChangeRequest:
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": person.name + "华"}).held  # fmt: skip
    assert held is not None
    return held


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_a_pending_request_is_listed_opened_and_decided_by_the_district_its_person_moved_to(
    huancui_clerk: Any, make_staff: Any, make_person: Any, reviewers: dict[str, Any], signed_in: Any
) -> None:
    person = make_person(id_number=HUANCUI[0], name="王建国")
    held = held_name_change(huancui_clerk, person)
    move(make_staff, person)

    rushan = signed_in(reviewers["rushan"])
    queue = section(rushan.get("/queues/").content.decode(), "change_request.review")
    assert listed(queue, "CR") == [f"CR{held.pk}"]
    # Its district column names where the person is now, the district whose queue it is in.
    assert "<td>乳山市</td>" in queue and "环翠区" not in queue
    assert rushan.get(f"/queues/review/{held.pk}/").status_code == 200

    huancui = signed_in(reviewers["huancui"])
    assert f"CR{held.pk}<" not in huancui.get("/queues/").content.decode()
    assert huancui.get(f"/queues/review/{held.pk}/").status_code == 404
    refused = huancui.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    assert refused.status_code in (403, 404)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING

    # The clerk who submitted it still follows it, without learning where the person went.
    clerk = signed_in(huancui_clerk)
    mine = section(clerk.get("/queues/").content.decode(), "change_request.mine")
    assert listed(mine, "CR") == [f"CR{held.pk}"]
    assert "<td>环翠区</td>" in mine and "乳山" not in mine
    own_page = clerk.get(f"/queues/review/{held.pk}/").content.decode()
    assert "乳山" not in own_page

    assert rushan.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}).status_code == 302
    assert Person.objects.get(pk=person.pk).name == "王建国华"
    done = section(rushan.get("/queues/").content.decode(), "change_request.review_done")
    assert listed(done, "CR") == [f"CR{held.pk}"]


@pytest.fixture
def two_held(
    huancui_clerk: Any, make_person: Any
) -> tuple[tuple[Any, Any], tuple[ChangeRequest, ChangeRequest]]:
    """Two 环翠区 persons (王甲, 王乙), each with a change of name waiting for review: one to stay, one to move."""
    persons = tuple(
        make_person(id_number=n, name=name) for n, name in zip(HUANCUI, ("王甲", "王乙"), strict=True)
    )
    return (persons[0], persons[1]), (
        held_name_change(huancui_clerk, persons[0]),
        held_name_change(huancui_clerk, persons[1]),
    )


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_the_read_door_and_the_review_service_follow_the_record_not_the_district_filed_in(
    huancui_clerk: Any, make_staff: Any, two_held: Any, reviewers: dict[str, Any], city_reviewer: Any
) -> None:
    (_stays, moves), (kept, moved) = two_held
    move(make_staff, moves)

    def pks(rows: Any) -> set[int]:
        return set(rows.values_list("pk", flat=True))

    assert pks(workflows.visible(reviewers["huancui"], ChangeRequest)) == {kept.pk}
    assert pks(workflows.visible(reviewers["rushan"], ChangeRequest)) == {moved.pk}
    assert pks(workflows.visible(city_reviewer, ChangeRequest)) == {kept.pk, moved.pk}
    assert pks(workflows.queue(reviewers["huancui"], ChangeRequest, "review")) == {kept.pk}
    assert pks(workflows.queue(reviewers["rushan"], ChangeRequest, "review")) == {moved.pk}
    assert pks(workflows.visible(huancui_clerk, ChangeRequest)) == {kept.pk, moved.pk}  # their own

    review_decide(actor=reviewers["rushan"], change_request_id=moved.pk, approve=False, reason="户口簿不符")
    assert ChangeRequest.objects.get(pk=moved.pk).status == ReviewStatus.REJECTED


@pytest.mark.req("R9.3")
@pytest.mark.req("R10.3")
def test_a_maintenance_order_goes_with_its_person_to_the_new_district(
    huancui_clerk: Any, make_staff: Any, make_person: Any, signed_in: Any
) -> None:
    person = make_person(id_number=HUANCUI[0], name="王建国")
    order = maintenance_apply(actor=huancui_clerk, entity="person", record=person,
                              values={"address": "环翠区新威路 1 号"}, reason="补充地址")  # fmt: skip
    move(make_staff, person)

    huancui = signed_in(make_staff("approver_hc", posts=("approver",), district="371002"))
    assert f"MO{order.pk}<" not in huancui.get("/queues/").content.decode()
    assert huancui.get(f"/maintenance/{order.pk}/").status_code == 404

    rushan = signed_in(make_staff("approver_rs", posts=("approver",), district=RUSHAN))
    assert listed(section(rushan.get("/queues/").content.decode(), "maintenance.approve"), "MO") == [
        f"MO{order.pk}"
    ]
    assert rushan.post(f"/maintenance/{order.pk}/approve/", {"decision": "approve"}).status_code == 302
    assert MaintenanceOrder.objects.get(pk=order.pk).status == "approved"
    assert listed(
        section(signed_in(huancui_clerk).get("/queues/").content.decode(), "maintenance.mine"), "MO"
    ) == [f"MO{order.pk}"]


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_the_done_list_of_a_district_no_longer_lists_a_person_who_left_it(
    make_staff: Any, two_held: Any, reviewers: dict[str, Any], signed_in: Any
) -> None:
    (_stays, leaves), (kept, gone) = two_held
    for held in (kept, gone):
        review_decide(actor=reviewers["huancui"], change_request_id=held.pk, approve=True)
    move(make_staff, leaves)

    huancui = signed_in(reviewers["huancui"])
    page = huancui.get("/queues/").content.decode()
    assert listed(section(page, "change_request.review_done"), "CR") == [f"CR{kept.pk}"]
    full = huancui.get("/queues/done/change_request.review_done/").content.decode()
    assert listed(full, "CR") == [f"CR{kept.pk}"] and f"CR{gone.pk}" not in full
    assert huancui.get(f"/queues/review/{gone.pk}/").status_code == 404


@pytest.mark.req("R7.4")
@pytest.mark.req("R10.3")
def test_the_documents_of_a_request_go_with_it_to_the_new_district(
    data_dir: Any, huancui_clerk: Any, rushan_clerk: Any, make_staff: Any, make_person: Any,
    reviewers: dict[str, Any],
) -> None:  # fmt: skip
    """The scans attached to a request (the ID copy its approval needs) are the request's: once the person
    moved, 环翠区 opened the catalogue of a request it may no longer see and the scans in it, and 乳山市,
    which now decides the request, could not read the documents it decides on."""
    person = make_person(id_number=HUANCUI[0], name="王建国")
    held = held_name_change(huancui_clerk, person)
    secret = noise("PNG")
    item = archive_upload(actor=huancui_clerk, target_kind="change_request", target=held, doc_type="id_copy",
                          data=secret)  # fmt: skip
    order = maintenance_apply(actor=huancui_clerk, entity="person", record=person,
                              values={"address": "环翠区新威路 1 号"}, reason="补充地址")  # fmt: skip
    order_item = archive_upload(actor=huancui_clerk, target_kind="maintenance_order", target=order,
                                doc_type="id_copy", data=noise("PNG", (60, 40)))  # fmt: skip
    huancui_archivist = make_staff("archivist_hc", posts=("archive_reviewer",), district="371002")
    rushan_archivist = make_staff("archivist_rs", posts=("archive_reviewer",), district=RUSHAN)
    move(make_staff, person)

    for who in (huancui_clerk, reviewers["huancui"], huancui_archivist):
        for kind, target in (("change_request", held), ("maintenance_order", order)):
            with pytest.raises(NotPermitted):
                catalogue(actor=who, target_kind=kind, target=target)
        for pk in (item.pk, order_item.pk):
            with pytest.raises(NotPermitted):
                archive_open(actor=who, item_id=pk, action="view")
    assert review_queue(actor=huancui_archivist) == []

    listed_items = catalogue(actor=reviewers["rushan"], target_kind="change_request", target=held)
    assert [i.pk for i in listed_items] == [item.pk]
    assert archive_open(actor=reviewers["rushan"], item_id=item.pk, action="view")[1] == secret
    assert {i.pk for i in review_queue(actor=rushan_archivist)} == {item.pk, order_item.pk}
    later = archive_upload(actor=rushan_clerk, target_kind="change_request", target=held, doc_type="id_copy",
                           data=noise("PNG", (50, 30)))  # fmt: skip
    assert later.district_id == RUSHAN


@pytest.mark.req("R10.3")
def test_the_scope_district_written_in_sql_is_the_one_read_row_by_row(
    huancui_clerk: Any, make_staff: Any, make_person: Any, make_unit: Any
) -> None:
    """ScopeDistrict writes its SQL from the declarations by hand (the ORM's took 7 ms to compile on every
    queue): for every kind of record, with the record there or not, a new record and a proposal, it says what
    workflow.scope_district says of the row — on a person who moved, an employment of theirs (its district
    is the person's) and a unit."""
    from django.utils import timezone

    from sidms.core.kernel import ENTITIES
    from sidms.registry.models import Employment

    person = make_person(id_number=HUANCUI[0], name="王建国")
    unit = make_unit(name="乳山市海产品有限公司", district=RUSHAN)
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                  values={"person_id": person.pk, "unit_id": unit.pk, "start_date": "2024-03-01"})  # fmt: skip
    employment = Employment.objects.get()
    move(make_staff, person, "371082")
    pointers = [("person", person.pk), ("employment", employment.pk), ("unit", unit.pk), ("person", None),
                ("collection_rule", 1), *((name, 10**9) for name in ENTITIES), *((name, person.pk) for name in ENTITIES)]  # fmt: skip
    ChangeRequest.objects.bulk_create(
        ChangeRequest(entity=entity, record_id=record, record_label="x", district_id="371002", base_version=1,
                      proposed={}, channel=Channel.WINDOW, submitted_by=huancui_clerk, submitted_at=timezone.now())
        for entity, record in pointers
    )  # fmt: skip
    in_sql = dict(ChangeRequest.objects.annotate(scope=workflows.ScopeDistrict()).values_list("pk", "scope"))
    by_row = {row.pk: workflows.scope_district(row) for row in ChangeRequest.objects.all()}
    assert in_sql == by_row
    assert {by_row[pk] for pk in by_row} >= {"371082", RUSHAN, "371002"}
