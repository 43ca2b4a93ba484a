"""Attack round 9 on district scope (R10.3, R9.1): who reaches the whole city.

* A move to the city level. A post is granted only when a second security administrator confirms it, but one
  administrator moved a district clerk (or an approver, or a vendor's engineer) to 威海市 alone — and the city
  level reads every district's persons, approves batches and ledger runs city-wide and decides every
  district's exports. Now that move is proposed and takes effect when a second city-level security
  administrator confirms it; moves between districts (and down from the city level) stay immediate.
* The audit log from a district. The audit browser, an event's page, its payload and the administrators' acts
  asked only for the auditor's post: an auditor's post granted to a district account read the whole city's
  log (every district's reads of persons, every administrator's acts) and ran the store's verification. The
  staff pages, rules and parameters already kept their administrators at the city level; so do these now.

What held, pinned here: a clerk, a reviewer and an approver of 乳山市 reach nothing of a 环翠区 person by URL
(the record, its history, edit and maintenance forms, its archive catalogue, a benefit grant, a change request
held for review, its decision), and the refusals are recorded."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused, SeparationOfDuties
from sidms.registry.models import Staff
from sidms.security import accounts

pytestmark = pytest.mark.django_db


@pytest.mark.req("R10.3")
@pytest.mark.req("R9.1")
def test_a_move_to_the_city_level_needs_a_second_security_administrator(
    security: Any, security2: Any, make_staff: Any, signed_in: Any
) -> None:
    clerk = make_staff("clerk_rs", posts=("approver",), district="371083")
    with pytest.raises(ChangeRefused) as refused:
        accounts.staff_set_district(actor=security, staff=clerk, district="371000", reason="调市局")
    assert refused.value.code == "city_level_proposal"
    assert Staff.objects.get(pk=clerk.pk).district_id == "371083"
    held = accounts.staff_district_propose(actor=security, staff=clerk, reason="调市局")
    with pytest.raises(ChangeRefused):  # one proposal at a time
        accounts.staff_district_propose(actor=security, staff=clerk, reason="再提")
    with pytest.raises(SeparationOfDuties):
        review_decide(actor=security, change_request_id=held.pk, approve=True)
    with pytest.raises(SeparationOfDuties):  # nor the one who gains the scope
        accounts.staff_district_propose(actor=security, staff=security, reason="自己")
    # Its confirmer's button says what confirming does: a move, not a post granted.
    confirmer = signed_in(security2)
    confirming = confirmer.get(f"/queues/review/{held.pk}/").content.decode()
    assert "确认：调整为市级" in confirming and "确认：授予岗位" not in confirming
    assert Staff.objects.get(pk=clerk.pk).district_id == "371083"
    review_decide(actor=security2, change_request_id=held.pk, approve=True)
    assert Staff.objects.get(pk=clerk.pk).district_id == "371000"
    event = AuditEvent.objects.filter(action="staff.district", object_id="clerk_rs").get()
    assert event.actor == "security2_city" and '"proposed_by":"security_city"' in event.payload
    # A post proposed for an account shows its confirmer where the post will act.
    grant = accounts.staff_post_propose(actor=security, staff=clerk, post="reviewer", reason="兼任审核")
    page = confirmer.get(f"/queues/review/{grant.pk}/").content.decode()
    assert "所属区市（数据范围）" in page and "威海市（市级：全部区市）" in page
    # Down again, or between districts: at once, by one administrator.
    accounts.staff_set_district(actor=security, staff=clerk, district="371002", reason="调环翠")
    assert Staff.objects.get(pk=clerk.pk).district_id == "371002"
    from sidms.changes.verify import verify_store

    assert verify_store().ok


@pytest.mark.req("R10.3")
@pytest.mark.req("R9.1")
def test_the_district_page_proposes_the_move_and_the_second_administrator_confirms_it(
    security: Any, security2: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    first, second = signed_in(security), signed_in(security2)
    form = first.get(f"/staff/{huancui_clerk.pk}/district/").content.decode()
    assert "调至市级须先提议" in form
    proposed = first.post(
        f"/staff/{huancui_clerk.pk}/district/", {"district": "371000", "reason": "借调市局"}
    )
    assert proposed.status_code == 302
    assert Staff.objects.get(pk=huancui_clerk.pk).district_id == "371002"
    held = ChangeRequest.objects.get(entity="staff", record_id=huancui_clerk.pk)
    page = first.get(f"/staff/{huancui_clerk.pk}/").content.decode()
    assert "调至 威海市" in page and f"CR{held.pk}" in page
    review = second.get(f"/queues/review/{held.pk}/").content.decode()
    assert "所属区市（数据范围）" in review and "环翠区" in review and "借调市局" in review
    assert f"CR{held.pk}" in second.get("/queues/").content.decode()
    assert second.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}).status_code == 302
    held.refresh_from_db()
    assert held.status == ReviewStatus.APPROVED
    assert Staff.objects.get(pk=huancui_clerk.pk).district_id == "371000"


@pytest.mark.req("R10.3")
@pytest.mark.req("R20")
def test_a_district_auditor_reads_no_audit_log(make_staff: Any, auditor: Any, signed_in: Any) -> None:
    district = signed_in(make_staff("auditor_rs", posts=("auditor",), district="371083"))
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    for path in ("/audit/", f"/audit/{seq}/", f"/audit/{seq}/payload/", "/continuity/administrators/"):
        assert district.get(path).status_code == 403, path
    assert district.post("/audit/verify/").status_code == 403
    assert "/audit/" not in district.get("/").content.decode()  # nor a link to it
    refusals = AuditEvent.objects.filter(action="access.denied", actor="auditor_rs")
    assert refusals.count() >= 5
    city = signed_in(auditor)
    assert all(
        city.get(p).status_code == 200 for p in ("/audit/", f"/audit/{seq}/", "/continuity/administrators/")
    )


@pytest.mark.req("R10.3")
def test_another_districts_clerk_reviewer_and_approver_reach_nothing_by_url(
    insured: dict[str, Any], huancui_clerk: Any, rushan_clerk: Any, make_staff: Any, signed_in: Any
) -> None:
    person = insured["employee"]
    held = submit_change(actor=huancui_clerk, entity="person", record=person, values={"name": "王建军"},
                         channel=Channel.WINDOW, review_reason="姓名有误").held  # fmt: skip
    assert held is not None
    clerk = signed_in(rushan_clerk)
    reviewer = signed_in(make_staff("reviewer_rs", posts=("reviewer",), district="371083"))
    number = person.person_no
    for client, path in (
        (clerk, f"/persons/{number}/"), (clerk, f"/persons/{number}/history/"), (clerk, f"/persons/{number}/edit/"),
        (clerk, f"/persons/{number}/maintain/"), (clerk, f"/persons/{number}/benefits/new/"),
        (clerk, f"/archives/person/{person.pk}/"), (clerk, f"/units/{insured['unit'].unit_no}/"),
        (reviewer, f"/queues/review/{held.pk}/"),
    ):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 404 and person.name not in page.content.decode(), path
    assert reviewer.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}).status_code == 404
    held.refresh_from_db()
    assert held.status == ReviewStatus.PENDING
    assert AuditEvent.objects.filter(actor__in=["clerk_rs", "reviewer_rs"], outcome="denied").count() >= 8
    assert Client().get(f"/persons/{number}/").status_code == 302  # and nobody signed out
