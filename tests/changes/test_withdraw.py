"""Withdrawal (撤回): the submitter of a review request, a maintenance order or a batch application withdraws it
while it still waits for its first decision. It is a step like the others: the row's step grows, its seal is
renewed and an audit event records both in the same transaction, so `sidms audit verify` still vouches for the
row, and an old copy put back is caught. Only the submitter may; a decided request cannot be withdrawn; a
withdrawn one leaves every 待办 queue and no longer holds back the field it waited on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.utils import translation

from sidms.access import workflow as workflows
from sidms.audit.models import AuditEvent
from sidms.changes.batches import batch_apply_update, batch_decide, batch_withdraw
from sidms.changes.maintenance import maintenance_apply, maintenance_approve, maintenance_withdraw
from sidms.changes.models import (
    BatchApplication,
    BatchStatus,
    ChangeRequest,
    Channel,
    MaintenanceOrder,
    MaintenanceStatus,
    ReviewStatus,
)
from sidms.changes.services import review_decide, review_withdraw, submit_change
from sidms.changes.verify import verify_store
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted
from sidms.registry.models import Person
from tests.changes.conftest import WANG_ID, WANG_NEW_ID, id_number

pytestmark = pytest.mark.django_db

DECIDED = "该申请已审核，不能撤回"


def hold_id_change(clerk: Any, person: Any, number: str = WANG_NEW_ID) -> ChangeRequest:
    held = submit_change(
        actor=clerk, channel=Channel.WINDOW, entity="person", record=person, values={"id_number": number}
    ).held
    assert held is not None
    return held


def zh(refusal: Exception) -> str:
    with translation.override("zh-hans"):
        return str(refusal.localized()) if hasattr(refusal, "localized") else str(refusal)


def last_event(object_type: str, pk: int) -> tuple[str, dict[str, Any]]:
    event = (
        AuditEvent.objects.filter(object_type=object_type, object_id=str(pk))
        .exclude(action__startswith="read.")
        .order_by("-seq")
        .first()
    )
    assert event is not None
    return event.action, json.loads(event.payload)["detail"]


def in_queue(staff: Any, model: type[Any], name: str) -> list[int]:
    view = next(v for v in workflows.queues_for(staff, [model]) if v.queue.name == name)
    return list(workflows.shown(view, actor=staff).values_list("pk", flat=True))


# --------------------------------------------------------------------------------------------------------
# Review requests (变更申请)


@pytest.mark.req("R7.3")
@pytest.mark.req("R20")
def test_the_submitter_withdraws_a_waiting_request_as_an_audited_step_that_verification_vouches_for(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any
) -> None:
    held = hold_id_change(huancui_clerk, wang)
    assert in_queue(huancui_reviewer, ChangeRequest, "review") == [held.pk]

    withdrawn = review_withdraw(actor=huancui_clerk, change_request_id=held.pk)

    stored = ChangeRequest.objects.get(pk=held.pk)
    assert (stored.status, stored.step) == (ReviewStatus.WITHDRAWN, held.step + 1)
    assert stored.decided_by is None  # nobody decided it
    assert stored.seal == withdrawn.seal != held.seal
    action, detail = last_event("change_request", held.pk)
    assert action == "review.withdraw"
    assert (detail["step"], detail["seal"]) == (stored.step, stored.seal)
    assert Person.objects.get(pk=wang.pk).id_number == WANG_ID  # the old value stays in force
    # Out of the reviewer's 待办 (the queue and its count), in the submitter's own list as withdrawn.
    assert in_queue(huancui_reviewer, ChangeRequest, "review") == []
    assert in_queue(huancui_clerk, ChangeRequest, "mine") == [held.pk]
    with translation.override("zh-hans"):
        assert stored.get_status_display() == "已撤回"
    assert verify_store().ok


@pytest.mark.req("R7.3")
def test_a_withdrawn_request_frees_its_field_and_cannot_be_decided_or_withdrawn_again(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any
) -> None:
    held = hold_id_change(huancui_clerk, wang)
    with pytest.raises(ChangeRefused) as pending:  # while it waits, the field is held
        hold_id_change(huancui_clerk, Person.objects.get(pk=wang.pk), id_number("37100219600101005"))
    assert pending.value.code == "pending"
    assert "或提交人撤回该申请后" in zh(pending.value)

    review_withdraw(actor=huancui_clerk, change_request_id=held.pk)

    again = hold_id_change(huancui_clerk, Person.objects.get(pk=wang.pk), id_number("37100219600101005"))
    assert again.status == ReviewStatus.PENDING and again.pk != held.pk
    with pytest.raises(ChangeRefused) as decided:
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    assert decided.value.code == "withdrawn" and zh(decided.value) == "提交人已撤回该申请，无需再审核"
    with pytest.raises(ChangeRefused) as twice:
        review_withdraw(actor=huancui_clerk, change_request_id=held.pk)
    assert twice.value.code == "withdrawn" and zh(twice.value) == "该申请已撤回"
    assert ChangeRequest.objects.get(pk=held.pk).step == held.step + 1  # refused steps change nothing
    review_decide(actor=huancui_reviewer, change_request_id=again.pk, approve=True)
    assert Person.objects.get(pk=wang.pk).id_number == id_number("37100219600101005")


@pytest.mark.req("R7.3")
def test_a_withdrawn_new_record_frees_its_id_number_for_a_new_request(huancui_clerk: Any) -> None:
    values = {
        "id_number": WANG_ID, "name": "王建国", "sex": "1", "birth_date": "1960-01-01", "category": "employee",
        "district_id": "371002", "phone": "13963100000", "status": "active",
    }  # fmt: skip
    first = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", values=values).held
    assert first is not None and first.record_id is None
    with pytest.raises(ChangeRefused) as duplicate:  # the number waits for review in the first request
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", values=values)
    assert duplicate.value.code == "duplicate"
    review_withdraw(actor=huancui_clerk, change_request_id=first.pk)
    second = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", values=values).held
    assert second is not None and second.pk != first.pk


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_only_the_submitter_may_withdraw_not_another_clerk_nor_a_reviewer(
    huancui_clerk: Any, huancui_reviewer: Any, make_staff: Any, wang: Any
) -> None:
    held = hold_id_change(huancui_clerk, wang)
    other_clerk = make_staff("clerk_hc2", posts=("window_clerk",), district="371002")
    with pytest.raises(NotPermitted):  # another clerk does not even see it
        review_withdraw(actor=other_clerk, change_request_id=held.pk)
    # The reviewer sees it, and decides it, but does not withdraw it.
    with pytest.raises(NotPermitted) as reviewer:
        review_withdraw(actor=huancui_reviewer, change_request_id=held.pk)
    assert zh(reviewer.value) == "只有提交该申请的本人可以撤回"
    denied = AuditEvent.objects.filter(action="review.denied", object_id=str(held.pk)).order_by("seq")
    assert [(e.actor, json.loads(e.payload)["detail"]["reason"]) for e in denied] == [
        ("clerk_hc2", "not_found_or_out_of_scope"),
        ("reviewer_hc", "withdraw_not_own"),
    ]
    stored = ChangeRequest.objects.get(pk=held.pk)
    assert (stored.status, stored.step, stored.seal) == (ReviewStatus.PENDING, held.step, held.seal)
    assert workflows.may_withdraw(huancui_clerk, stored)
    assert not workflows.may_withdraw(huancui_reviewer, stored)
    assert not workflows.may_withdraw(other_clerk, stored)


@pytest.mark.req("R7.3")
def test_a_decided_request_cannot_be_withdrawn(huancui_clerk: Any, huancui_reviewer: Any, wang: Any) -> None:
    rejected = hold_id_change(huancui_clerk, wang)
    review_decide(actor=huancui_reviewer, change_request_id=rejected.pk, approve=False, reason="证件不符")
    approved = hold_id_change(huancui_clerk, Person.objects.get(pk=wang.pk))
    review_decide(actor=huancui_reviewer, change_request_id=approved.pk, approve=True)
    for held, status in ((rejected, ReviewStatus.REJECTED), (approved, ReviewStatus.APPROVED)):
        stored = ChangeRequest.objects.get(pk=held.pk)
        assert not workflows.may_withdraw(huancui_clerk, stored)
        with pytest.raises(ChangeRefused) as refused:
            review_withdraw(actor=huancui_clerk, change_request_id=held.pk)
        assert refused.value.code == "decided" and zh(refused.value) == DECIDED
        assert ChangeRequest.objects.get(pk=held.pk).status == status


@pytest.mark.req("R20")
def test_a_withdrawn_request_put_back_to_waiting_in_the_database_is_refused_and_named(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any
) -> None:
    """The pending copy carries a valid seal of its own, but not the step and seal the withdrawal recorded."""
    held = hold_id_change(huancui_clerk, wang)
    review_withdraw(actor=huancui_clerk, change_request_id=held.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE changes_changerequest SET status = 'pending', step = %s, seal = %s WHERE id = %s",
            [held.step, held.seal, held.pk],
        )
    with pytest.raises(IntegrityAlert):
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    assert Person.objects.get(pk=wang.pk).id_number == WANG_ID
    report = verify_store()
    assert report.problem is not None and report.problem.kind == "workflow"
    assert f"CR{held.pk}" in report.problem.where


# --------------------------------------------------------------------------------------------------------
# Maintenance orders (R9.3)


@pytest.fixture
def crew(make_staff: Any) -> dict[str, Any]:
    return {
        "applicant": make_staff("mt_applicant", posts=("window_clerk",)),
        "approver": make_staff("mt_approver", posts=("approver",)),
        "other": make_staff("mt_other", posts=("window_clerk",)),
    }


def apply_order(actor: Any, person: Any) -> MaintenanceOrder:
    return maintenance_apply(
        actor=actor, entity="person", record=person, reason="窗口录入错误，据本人申请更正",
        values={"address": "威海市环翠区统一路88号"},
    )  # fmt: skip


@pytest.mark.req("R9.3")
@pytest.mark.req("R20")
def test_the_applicant_withdraws_an_order_waiting_for_approval(crew: dict[str, Any], wang: Any) -> None:
    order = apply_order(crew["applicant"], wang)
    assert in_queue(crew["approver"], MaintenanceOrder, "approve") == [order.pk]
    with pytest.raises(NotPermitted):  # the approver decides it, but may not withdraw it
        maintenance_withdraw(actor=crew["approver"], order_id=order.pk)
    with pytest.raises(NotPermitted):
        maintenance_withdraw(actor=crew["other"], order_id=order.pk)

    maintenance_withdraw(actor=crew["applicant"], order_id=order.pk)

    stored = MaintenanceOrder.objects.get(pk=order.pk)
    assert (stored.status, stored.step) == (MaintenanceStatus.WITHDRAWN, order.step + 1)
    assert stored.approver is None
    action, detail = last_event("maintenance", order.pk)
    assert action == "maintenance.withdraw"
    assert (detail["status"], detail["step"], detail["seal"]) == ("withdrawn", stored.step, stored.seal)
    assert in_queue(crew["approver"], MaintenanceOrder, "approve") == []
    with pytest.raises(ChangeRefused) as late:
        maintenance_approve(actor=crew["approver"], order_id=order.pk, approve=True)
    assert late.value.code == "wrong_status"
    assert Person.objects.get(pk=wang.pk).address == wang.address
    assert verify_store().ok


@pytest.mark.req("R9.3")
def test_an_approved_order_cannot_be_withdrawn(crew: dict[str, Any], wang: Any) -> None:
    order = apply_order(crew["applicant"], wang)
    maintenance_approve(actor=crew["approver"], order_id=order.pk, approve=True)
    stored = MaintenanceOrder.objects.get(pk=order.pk)
    assert not workflows.may_withdraw(crew["applicant"], stored)
    with pytest.raises(ChangeRefused) as refused:
        maintenance_withdraw(actor=crew["applicant"], order_id=order.pk)
    assert zh(refused.value) == DECIDED
    assert MaintenanceOrder.objects.get(pk=order.pk).status == MaintenanceStatus.APPROVED


# --------------------------------------------------------------------------------------------------------
# Batch applications (R9.3)


@pytest.mark.req("R9.3")
@pytest.mark.req("R20")
def test_the_applicant_withdraws_a_batch_waiting_for_city_level_approval(
    huancui_clerk: Any, importers: tuple[Any, Any], make_staff: Any, load: Any
) -> None:
    from tests.changes.conftest import person_row

    load("person", [person_row(1, category="flexible"), person_row(2, category="flexible")])
    approver = importers[1]
    batch = batch_apply_update(
        actor=huancui_clerk, entity="person", selection={"category": "flexible"}, change={"category": "resident"},
        reason="灵活就业人员转为城乡居民",
    )  # fmt: skip
    assert in_queue(approver, BatchApplication, "approve") == [batch.pk]
    with pytest.raises(NotPermitted):
        batch_withdraw(actor=approver, batch_id=batch.pk)

    batch_withdraw(actor=huancui_clerk, batch_id=batch.pk)

    stored = BatchApplication.objects.get(pk=batch.pk)
    assert (stored.status, stored.step) == (BatchStatus.WITHDRAWN, batch.step + 1)
    action, detail = last_event("batch", batch.pk)
    assert (action, detail["step"], detail["seal"]) == ("batch.withdraw", stored.step, stored.seal)
    assert in_queue(approver, BatchApplication, "approve") == []
    with pytest.raises(ChangeRefused):
        batch_decide(actor=approver, batch_id=batch.pk, approve=True)
    assert verify_store().ok

    approved = batch_apply_update(
        actor=huancui_clerk, entity="person", selection={"category": "flexible"}, change={"category": "resident"},
        reason="再次申请",
    )  # fmt: skip
    batch_decide(actor=approver, batch_id=approved.pk, approve=True)
    with pytest.raises(ChangeRefused) as refused:
        batch_withdraw(actor=huancui_clerk, batch_id=approved.pk)
    assert zh(refused.value) == DECIDED
