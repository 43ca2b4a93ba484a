"""Attack round 13: a person's district written in SQL hands the district it names their pending requests,
their maintenance orders and the scans attached to them.

Requests and orders now follow the district their record is in (access.workflow.ScopeDistrict), read from the
live row. A person moved to 乳山市 by an UPDATE, with no revision, then put 环翠区's pending change and
correction of them in 乳山市's queues: 乳山市's reviewer opened the review page, rejected the change, its
approver approved the correction, its clerk opened and downloaded the ID copy attached to the request and its
archive reviewer could accept it — and no integrity alert was raised, where a person's own scans moved the same
way are refused since round 11. Found and fixed: a request or order whose record is now in another district
than it was filed in is opened, decided or stepped on, and its scans read, only once the record has been
checked against its history (changes.integrity.check_row, through access.workflow.require_move_verified); a
move made in SQL is refused with an integrity alert naming the person (R20). A move made through the pipeline
passes the same check (tests/web/test_queues_follow_record.py)."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.archives.models import ItemStatus
from sidms.archives.services import archive_open, archive_review, archive_thumbnail, archive_upload, catalogue
from sidms.audit.models import AuditEvent
from sidms.changes.maintenance import maintenance_apply, maintenance_approve
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import IntegrityAlert
from sidms.lib.idcard import check_digit
from tests.archives.conftest import noise
from tests.audit.test_tampering import _raw

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.3"), pytest.mark.req("R20")]

RUSHAN = "371083"
ID_NUMBER = "37100219600101001" + check_digit("37100219600101001")


@pytest.fixture
def moved_in_sql(data_dir: Any, huancui_clerk: Any, make_person: Any) -> dict[str, Any]:
    """A 环翠区 person with a held name change and a maintenance order, each with an ID copy attached; then
    the person's district is rewritten to 乳山市 in SQL, past the pipeline."""
    person = make_person(id_number=ID_NUMBER, name="王建国")
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": "王建华"}).held  # fmt: skip
    assert held is not None
    order = maintenance_apply(actor=huancui_clerk, entity="person", record=person,
                              values={"address": "环翠区新威路 1 号"}, reason="补充地址")  # fmt: skip
    items = {
        kind: archive_upload(
            actor=huancui_clerk, target_kind=kind, target=target, doc_type="id_copy", data=noise("PNG")
        )
        for kind, target in (("change_request", held), ("maintenance_order", order), ("person", person))
    }
    _raw("UPDATE registry_person SET district_id = %s WHERE id = %s", [RUSHAN, person.pk])
    return {"person": person, "held": held, "order": order, "items": items}


def alerts() -> int:
    return AuditEvent.objects.filter(action="integrity.alert", object_type="person").count()


@pytest.mark.req("R7.3")
def test_the_district_named_in_sql_neither_opens_nor_decides_the_request(
    moved_in_sql: dict[str, Any], make_staff: Any, signed_in: Any
) -> None:
    held = moved_in_sql["held"]
    reviewer = make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN)
    page = signed_in(reviewer).get(f"/queues/review/{held.pk}/")
    assert page.status_code == 409
    assert "王建华" not in page.content.decode()
    assert alerts() == 1
    with pytest.raises(IntegrityAlert):
        review_decide(actor=reviewer, change_request_id=held.pk, approve=False, reason="户口簿不符")
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
    assert alerts() == 2  # once per refused attempt, after the refused decision rolled back
    assert not AuditEvent.objects.filter(action__startswith="read.change_request", outcome="ok").exists()


@pytest.mark.req("R9.3")
def test_the_district_named_in_sql_takes_no_step_of_the_order(
    moved_in_sql: dict[str, Any], make_staff: Any, signed_in: Any
) -> None:
    order = moved_in_sql["order"]
    approver = make_staff("approver_rs", posts=("approver",), district=RUSHAN)
    assert signed_in(approver).get(f"/maintenance/{order.pk}/").status_code == 409
    with pytest.raises(IntegrityAlert):
        maintenance_approve(actor=approver, order_id=order.pk, approve=True, reason="")
    assert MaintenanceOrder.objects.get(pk=order.pk).status == "applied"
    assert alerts() == 2


@pytest.mark.req("R7.4")
def test_the_district_named_in_sql_reads_no_scan_of_the_request_or_the_order(
    moved_in_sql: dict[str, Any], make_staff: Any
) -> None:
    clerk = make_staff("clerk_rs", posts=("window_clerk",), district=RUSHAN)
    items = moved_in_sql["items"]
    for kind in ("change_request", "maintenance_order"):
        with pytest.raises(IntegrityAlert):
            archive_open(actor=clerk, item_id=items[kind].pk, action="download")
        with pytest.raises(IntegrityAlert):
            archive_thumbnail(actor=clerk, item_id=items[kind].pk)
    for kind, target in (
        ("change_request", moved_in_sql["held"]),
        ("maintenance_order", moved_in_sql["order"]),
    ):
        with pytest.raises(IntegrityAlert):
            catalogue(actor=clerk, target_kind=kind, target=target)
        with pytest.raises(IntegrityAlert):
            archive_upload(actor=clerk, target_kind=kind, target=target, doc_type="id_copy",
                           data=noise("PNG", (40, 30)))  # fmt: skip
    assert not AuditEvent.objects.filter(
        action__in=("archive.view", "archive.download", "archive.thumbnail", "archive.catalogue"),
        outcome="ok",
        actor=clerk.username,
    ).exists()
    assert alerts() == 8


@pytest.mark.req("R7.4")
def test_the_archive_reviewer_of_the_district_named_in_sql_decides_no_scan(
    moved_in_sql: dict[str, Any], make_staff: Any
) -> None:
    """Round 11 refused to open a person's scan moved this way, but its reviewer still accepted it unseen."""
    archivist = make_staff("archivist_rs", posts=("archive_reviewer",), district=RUSHAN)
    for item in moved_in_sql["items"].values():
        with pytest.raises(IntegrityAlert):
            archive_review(actor=archivist, item_id=item.pk, accept=True, reason="")
        item.refresh_from_db()
        assert item.status == ItemStatus.PENDING
    assert alerts() == 3


@pytest.mark.req("R7.3")
def test_a_request_pointed_in_sql_at_a_person_of_another_district_is_not_handed_to_it(
    data_dir: Any, huancui_clerk: Any, make_person: Any, make_staff: Any, signed_in: Any
) -> None:
    """The other way round: the request's own record_id rewritten in SQL to name a genuine person of 乳山市. The
    person matches their history; the request does not match its seal, and is what moved."""
    person = make_person(id_number=ID_NUMBER, name="王建国")
    other = make_person(id_number="37100219600101003" + check_digit("37100219600101003"), name="李四",
                        district=RUSHAN)  # fmt: skip
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": "王建华"}).held  # fmt: skip
    assert held is not None
    item = archive_upload(actor=huancui_clerk, target_kind="change_request", target=held, doc_type="id_copy",
                          data=noise("PNG"))  # fmt: skip
    _raw("UPDATE changes_changerequest SET record_id = %s WHERE id = %s", [other.pk, held.pk])
    reviewer = make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN)
    page = signed_in(reviewer).get(f"/queues/review/{held.pk}/")
    assert page.status_code == 409 and "王建华" not in page.content.decode()
    clerk = make_staff("clerk_rs", posts=("window_clerk",), district=RUSHAN)
    with pytest.raises(IntegrityAlert):
        archive_open(actor=clerk, item_id=item.pk, action="view")
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="changerequest").count() == 2


@pytest.mark.req("R7.3")
def test_the_queue_of_the_district_named_in_sql_does_not_list_the_request(
    moved_in_sql: dict[str, Any], make_staff: Any, signed_in: Any
) -> None:
    """Once a known gap: the lists read the live district, so 乳山市's queue listed the request (its number, the
    person's number, the fields it changes) though opening it was refused. A listed row whose record moved is
    now shown only once the move is verified (access.workflow.moves_verified), on the queue page and on the
    paged 待办 list; the alert is recorded each time the row is left out."""
    held = moved_in_sql["held"]
    reviewer = signed_in(make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN))
    for path in ("/queues/", "/queues/todo/change_request.review/"):
        page = reviewer.get(path)
        assert page.status_code == 200 and f"CR{held.pk}<" not in page.content.decode(), path
    assert alerts() == 2
    shown = AuditEvent.objects.filter(action="read.queues", actor="reviewer_rs")
    assert all(f"CR{held.pk}" not in event.payload for event in shown)


@pytest.mark.req("R7.3")
def test_the_district_named_in_sql_does_not_open_the_persons_page(
    moved_in_sql: dict[str, Any], make_staff: Any, signed_in: Any
) -> None:
    """The record itself, not only its requests: the read door checks the row against its history before a
    page shows it (changes.integrity.require_read_intact). Before, 乳山市's clerk opened the person's page and
    rights record, the phone and bank account decrypted for the masks, until the nightly verification."""
    person = moved_in_sql["person"]
    person.refresh_from_db()
    clerk = signed_in(make_staff("clerk_rs", posts=("window_clerk",), district=RUSHAN))
    for path in (f"/persons/{person.person_no}/", f"/persons/{person.person_no}/rights/"):
        page = clerk.get(path)
        assert page.status_code == 409, path
        assert "王建国" not in page.content.decode()
    assert alerts() == 2
    assert not AuditEvent.objects.filter(action__startswith="read.person", outcome="ok").exists()


@pytest.mark.req("R7.3")
@pytest.mark.req("R9.3")
def test_a_decision_posted_on_a_row_moved_in_sql_records_one_alert(
    moved_in_sql: dict[str, Any], make_staff: Any, signed_in: Any
) -> None:
    """A refused decision posted from the page once wrote two alerts: the decision's, and the page's again when
    the view read the row a second time to show the refusal. It is now answered by the alert's page (409)."""
    reviewer = signed_in(make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN))
    held = moved_in_sql["held"]
    page = reviewer.post(f"/queues/review/{held.pk}/decide/", {"decision": "reject", "reason": "户口簿不符"})
    assert page.status_code == 409 and "完整性告警" in page.content.decode()
    assert alerts() == 1
    approver = signed_in(make_staff("approver_rs", posts=("approver",), district=RUSHAN))
    order = moved_in_sql["order"]
    page = approver.post(f"/maintenance/{order.pk}/approve/", {"decision": "approve", "reason": ""})
    assert page.status_code == 409
    assert alerts() == 2
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
    assert MaintenanceOrder.objects.get(pk=order.pk).status == "applied"


@pytest.mark.req("R10.3")
def test_the_records_list_of_the_district_named_in_sql_withholds_the_person(
    moved_in_sql: dict[str, Any], make_staff: Any, signed_in: Any, make_person: Any
) -> None:
    """The list read the district from the live row too, and showed 乳山市's clerk the person's name among
    乳山市's. A record that does not match its history is now withheld from a list page, named by its number
    only, with an alert (access.policies.record_list's guard); the page's other records are shown."""
    person = moved_in_sql["person"]
    person.refresh_from_db()
    make_person(
        id_number="37108319600101003" + check_digit("37108319600101003"), name="李四", district=RUSHAN
    )
    clerk = signed_in(make_staff("clerk_rs", posts=("window_clerk",), district=RUSHAN))
    page = clerk.get("/persons/").content.decode()
    assert "李四" in page and "王建国" not in page
    assert f"未予显示：{person.person_no}" in page
    assert alerts() == 1
    listed = AuditEvent.objects.filter(action="read.person_list", actor="clerk_rs").get()
    assert f'"withheld":["{person.person_no}"]' in listed.payload.replace(" ", "")
    found = clerk.get(f"/persons/?q={person.person_no}").content.decode()
    assert (
        f"未予显示：{person.person_no}" in found
        and "本页记录均未予显示" in found
        and "无符合条件" not in found
    )
