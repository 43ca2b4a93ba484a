"""Manual review (R7.3): held values take effect only when another person, a reviewer of the record's
district or of the city, approves them, having seen the external cross-checks."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.utils import translation

from sidms.access.workflow import visible
from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Channel, Method, ReviewStatus, Revision
from sidms.changes.services import review_decide, review_recheck_registries, submit_change
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties, StaleChange
from sidms.core.fields import blind_index
from sidms.registry.models import Person
from tests.archives.conftest import provide_documents
from tests.changes.conftest import LI_ID, WANG_ID, WANG_NEW_ID, id_number, person_row

pytestmark = pytest.mark.django_db


def hold_id_change(clerk: Any, person: Any, new: str = WANG_NEW_ID) -> ChangeRequest:
    outcome = submit_change(
        actor=clerk, channel=Channel.WINDOW, entity="person", record=person, values={"id_number": new}
    )
    assert outcome.held is not None
    return outcome.held


def status_of(held: ChangeRequest) -> str:
    return ChangeRequest.objects.get(pk=held.pk).status


@pytest.mark.req("R7.3")
def test_an_approved_id_number_takes_effect_with_a_review_revision(
    huancui_clerk, huancui_reviewer, wang
) -> None:  # type: ignore[no-untyped-def]
    held = hold_id_change(huancui_clerk, wang)

    decided = review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)

    assert (decided.status, decided.decided_by) == (ReviewStatus.APPROVED, huancui_reviewer)
    stored = Person.objects.get(pk=wang.pk)
    assert stored.id_number == WANG_NEW_ID and stored.version == 2
    index = blind_index("person.id_number", WANG_NEW_ID, "idcard")
    assert Person.objects.filter(id_number_index=index).get() == stored
    revision = Revision.objects.get(entity="person", record_id=wang.pk, version=2)
    assert revision.method == Method.REVIEW and list(revision.changes) == ["id_number"]
    assert revision.reference == f"CR{held.pk}/reviewer_hc"
    assert AuditEvent.objects.filter(action="review.approve", actor="reviewer_hc").count() == 1


@pytest.mark.req("R7.3")
def test_an_approved_new_person_is_created_at_version_one(huancui_clerk, city_reviewer) -> None:  # type: ignore[no-untyped-def]
    row = person_row(11, name="孙新来")
    del row["person_no"]  # assigned by the system
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", values=row).held
    assert held is not None
    provide_documents(held)  # the ID copy, accepted by the archive reviewer (R7.4)

    review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)

    held.refresh_from_db()
    person = Person.objects.get(pk=held.record_id)
    assert held.record_label == person.person_no  # the request names the record it created
    assert (person.name, person.id_number, person.phone, person.version) == (
        "孙新来", row["id_number"], row["phone"], 1,
    )  # fmt: skip
    assert Revision.objects.get(entity="person", record_id=person.pk).method == Method.REVIEW


@pytest.mark.req("R7.3")
def test_a_rejection_needs_a_reason_and_leaves_the_old_value(huancui_clerk, huancui_reviewer, wang) -> None:  # type: ignore[no-untyped-def]
    held = hold_id_change(huancui_clerk, wang)

    with translation.override("zh-hans"), pytest.raises(ChangeRefused, match="理由"):
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=False, reason="  ")
    assert status_of(held) == ReviewStatus.PENDING

    review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=False, reason="与户籍证明不符")

    decided = ChangeRequest.objects.get(pk=held.pk)
    assert (decided.status, decided.decision_reason) == (ReviewStatus.REJECTED, "与户籍证明不符")
    assert Person.objects.get(pk=wang.pk).id_number == WANG_ID
    assert Revision.objects.filter(entity="person", record_id=wang.pk).count() == 1
    with pytest.raises(ChangeRefused):  # decided once, for good
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)


@pytest.mark.req("R7.3")
@pytest.mark.req("R9.3")
def test_nobody_reviews_their_own_submission_even_holding_both_posts(
    make_staff, huancui_reviewer, wang
) -> None:  # type: ignore[no-untyped-def]
    both = make_staff("clerk_and_reviewer", posts=("window_clerk", "reviewer"), district="371002")
    held = hold_id_change(both, wang)

    with pytest.raises(SeparationOfDuties):
        review_decide(actor=both, change_request_id=held.pk, approve=True)

    assert status_of(held) == ReviewStatus.PENDING
    assert Person.objects.get(pk=wang.pk).id_number == WANG_ID
    denied = AuditEvent.objects.get(action="review.denied", actor="clerk_and_reviewer")
    assert denied.outcome == "denied" and denied.object_id == str(held.pk)
    review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)  # another person may
    assert Person.objects.get(pk=wang.pk).id_number == WANG_NEW_ID


@pytest.mark.req("R10.3")
def test_a_district_reviewer_neither_sees_nor_decides_another_districts_requests(  # type: ignore[no-untyped-def]
    huancui_clerk, rushan_reviewer, city_reviewer, wang
) -> None:
    held = hold_id_change(huancui_clerk, wang)

    assert held not in visible(rushan_reviewer, ChangeRequest)
    assert held in visible(city_reviewer, ChangeRequest)
    with pytest.raises(NotPermitted):
        review_decide(actor=rushan_reviewer, change_request_id=held.pk, approve=True)
    assert status_of(held) == ReviewStatus.PENDING
    assert Person.objects.get(pk=wang.pk).id_number == WANG_ID


@pytest.mark.req("R7.3")
def test_a_post_without_review_may_not_decide(huancui_clerk, make_staff, wang) -> None:  # type: ignore[no-untyped-def]
    other_clerk = make_staff("clerk_hc2", posts=("window_clerk",), district="371002")
    held = hold_id_change(huancui_clerk, wang)
    with pytest.raises(NotPermitted):
        review_decide(actor=other_clerk, change_request_id=held.pk, approve=True)
    assert status_of(held) == ReviewStatus.PENDING


@pytest.mark.req("R7.3")
def test_a_request_whose_field_changed_meanwhile_is_refused_as_stale(
    huancui_clerk, huancui_reviewer, make_staff, wang
) -> None:  # type: ignore[no-untyped-def]
    """Changed by a maintenance order while the request waited (a second request of the same field is refused
    at submission, tests/changes/test_pending_requests.py)."""
    from sidms.changes.maintenance import maintenance_apply, maintenance_approve, maintenance_modify

    held = hold_id_change(huancui_clerk, wang, id_number("37100219600101005"))
    order = maintenance_apply(actor=make_staff("mt_applicant", posts=("window_clerk",)), entity="person",
                              record=wang, values={"id_number": WANG_NEW_ID}, reason="户籍更正")  # fmt: skip
    maintenance_approve(actor=make_staff("mt_approver", posts=("approver",)), order_id=order.pk, approve=True)
    maintenance_modify(actor=make_staff("mt_modifier", posts=("window_clerk",)), order_id=order.pk)

    with pytest.raises(StaleChange):
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)

    assert status_of(held) == ReviewStatus.PENDING
    assert Person.objects.get(pk=wang.pk).id_number == WANG_NEW_ID


# --------------------------------------------------------------------------------------------------------
# Cross-checks through a real registry on loopback


def public_security_result(held: ChangeRequest) -> dict[str, Any]:
    (result,) = [check for check in held.crosschecks if check["registry"] == "public_security"]
    return result


@pytest.mark.req("R7.3")
def test_the_reviewer_sees_what_public_security_answers(public_security, huancui_clerk, make_person) -> None:  # type: ignore[no-untyped-def]
    wang = make_person(id_number=WANG_ID, name="王建国")
    li = make_person(id_number=LI_ID, name="李红", sex="2", birth_date="1970-02-02")
    other = id_number("37100219700202004")
    public_security.known = {WANG_NEW_ID: "王建国", other: "李洪"}

    confirmed = hold_id_change(huancui_clerk, wang, WANG_NEW_ID)
    different_name = hold_id_change(huancui_clerk, li, other)

    assert public_security_result(confirmed)["status"] == "verified"
    assert public_security_result(confirmed)["source"] == f"http:{public_security.base_url}"
    assert public_security_result(different_name)["status"] == "mismatch"
    assert [(a["id_number"], a["name"]) for a in public_security.asked] == [
        (WANG_NEW_ID, "王建国"),
        (other, "李红"),
    ]
    # The unconfigured registry still says so.
    civil = [check for check in confirmed.crosschecks if check["registry"] == "civil_affairs"]
    assert civil[0]["status"] == "unavailable"


@pytest.mark.req("R7.3")
def test_an_unreachable_registry_is_reported_unavailable_within_the_deadline(  # type: ignore[no-untyped-def]
    public_security, huancui_clerk, huancui_reviewer, wang
) -> None:
    public_security.known = {WANG_NEW_ID: "王建国"}
    public_security.stop()

    started = time.monotonic()
    held = hold_id_change(huancui_clerk, wang)
    elapsed = time.monotonic() - started

    assert elapsed < 2.0  # the configured deadline
    assert public_security_result(held)["status"] == "unavailable"
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
    assert Person.objects.get(pk=wang.pk).id_number == WANG_ID

    # Once the registry answers again the reviewer can ask it anew before deciding.
    public_security.start()
    rechecked = review_recheck_registries(actor=huancui_reviewer, change_request_id=held.pk)
    assert public_security_result(rechecked)["status"] == "verified"
    assert public_security_result(ChangeRequest.objects.get(pk=held.pk))["status"] == "verified"


@pytest.mark.req("R10.3")
def test_a_request_follows_its_record_when_the_record_moves_to_another_district(  # type: ignore[no-untyped-def]
    wang, huancui_clerk, huancui_reviewer, make_staff
) -> None:
    held = submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="person",
        record=wang,
        values={"id_number": WANG_NEW_ID},
    ).held
    city_clerk = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    submit_change(
        actor=city_clerk,
        channel=Channel.WINDOW,
        entity="person",
        record=wang,
        values={"district_id": "371083"},
    )

    with pytest.raises(NotPermitted):
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    assert Person.objects.get(pk=wang.pk).id_number == WANG_ID
    assert AuditEvent.objects.filter(action="review.denied", object_id=str(held.pk)).exists()
