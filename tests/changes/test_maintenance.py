"""Maintenance of stored data (R9.3): apply → approve → modify → re-check, each step by a different person
holding that step's post; a re-check can send the change back, which restores the previous values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.changes.maintenance import (
    maintenance_apply,
    maintenance_approve,
    maintenance_modify,
    maintenance_recheck,
)
from sidms.changes.models import Channel, MaintenanceOrder, MaintenanceStatus, Method, Revision
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties, StaleChange
from sidms.core.kernel import spec_for
from sidms.registry.models import Person
from tests.changes.conftest import ORIGINAL_ADDRESS, ORIGINAL_PHONE

pytestmark = pytest.mark.django_db

S = MaintenanceStatus
CORRECTED_PHONE = "13806310000"
CORRECTED_ADDRESS = "威海市环翠区统一路88号"


@pytest.fixture
def crew(make_staff: Callable[..., Any]) -> dict[str, Any]:
    """Four people of 环翠区, one per step."""
    return {
        "applicant": make_staff("mt_applicant", posts=("window_clerk",)),
        "approver": make_staff("mt_approver", posts=("approver",)),
        "modifier": make_staff("mt_modifier", posts=("window_clerk",)),
        "rechecker": make_staff("mt_rechecker", posts=("rechecker",)),
    }


def apply(actor: Any, person: Any) -> MaintenanceOrder:
    return maintenance_apply(
        actor=actor, entity="person", record=person, reason="窗口录入错误，据本人申请更正",
        values={"phone": CORRECTED_PHONE, "address": CORRECTED_ADDRESS},
    )  # fmt: skip


def approve(actor: Any, order: MaintenanceOrder) -> MaintenanceOrder:
    return maintenance_approve(actor=actor, order_id=order.pk, approve=True)


def modify(actor: Any, order: MaintenanceOrder) -> MaintenanceOrder:
    return maintenance_modify(actor=actor, order_id=order.pk)


def recheck(
    actor: Any, order: MaintenanceOrder, *, accept: bool = True, reason: str = ""
) -> MaintenanceOrder:
    return maintenance_recheck(actor=actor, order_id=order.pk, accept=accept, reason=reason)


def in_force(person: Any) -> tuple[str, str]:
    stored = Person.objects.get(pk=person.pk)
    return (stored.phone, stored.address)


def status(order: MaintenanceOrder) -> str:
    return MaintenanceOrder.objects.get(pk=order.pk).status


@pytest.mark.req("R9.3")
def test_four_people_apply_approve_modify_and_recheck_a_correction(crew, wang) -> None:  # type: ignore[no-untyped-def]
    order = apply(crew["applicant"], wang)
    assert (order.status, in_force(wang)) == (S.APPLIED, (ORIGINAL_PHONE, ORIGINAL_ADDRESS))

    approve(crew["approver"], order)
    assert (status(order), in_force(wang)) == (S.APPROVED, (ORIGINAL_PHONE, ORIGINAL_ADDRESS))

    modify(crew["modifier"], order)
    assert (status(order), in_force(wang)) == (S.MODIFIED, (CORRECTED_PHONE, CORRECTED_ADDRESS))
    revision = Revision.objects.get(entity="person", record_id=wang.pk, version=2)
    assert (revision.method, revision.channel, revision.actor, revision.reference) == (
        Method.MAINTENANCE, Channel.MAINTENANCE, "mt_modifier", f"MO{order.pk}",
    )  # fmt: skip
    assert set(revision.changes) == {"phone", "address"}

    recheck(crew["rechecker"], order)
    done = MaintenanceOrder.objects.get(pk=order.pk)
    assert done.status == S.ACCEPTED and in_force(wang) == (CORRECTED_PHONE, CORRECTED_ADDRESS)
    assert [done.applicant, done.approver, done.modifier, done.rechecker] == [
        crew["applicant"], crew["approver"], crew["modifier"], crew["rechecker"],
    ]  # fmt: skip
    steps = AuditEvent.objects.filter(object_type="maintenance", object_id=str(order.pk)).order_by("seq")
    assert list(steps.values_list("action", "actor")) == [
        ("maintenance.apply", "mt_applicant"), ("maintenance.approve", "mt_approver"),
        ("maintenance.modify", "mt_modifier"), ("maintenance.accept", "mt_rechecker"),
    ]  # fmt: skip


@pytest.mark.req("R9.3")
def test_an_application_needs_a_reason_and_a_value_that_meets_the_rules(crew, wang) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChangeRefused):
        maintenance_apply(
            actor=crew["applicant"], entity="person", record=wang, values={"phone": "13806310000"}, reason=" "
        )
    with pytest.raises(ChangeRefused) as refused:
        maintenance_apply(
            actor=crew["applicant"], entity="person", record=wang, values={"phone": "1234567"}, reason="更正"
        )
    assert set(refused.value.errors) == {"phone"}
    assert not MaintenanceOrder.objects.exists()


@pytest.mark.req("R9.3")
def test_each_step_is_refused_to_a_post_that_does_not_hold_it(crew, wang) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotPermitted):
        apply(crew["approver"], wang)
    order = apply(crew["applicant"], wang)
    with pytest.raises(NotPermitted):
        approve(crew["rechecker"], order)
    approve(crew["approver"], order)
    with pytest.raises(NotPermitted):
        modify(crew["rechecker"], order)
    modify(crew["modifier"], order)
    with pytest.raises(NotPermitted):
        recheck(crew["approver"], order)

    assert status(order) == S.MODIFIED
    denied = AuditEvent.objects.filter(action="access.denied", outcome="denied")
    assert sorted(denied.values_list("actor", flat=True)) == [
        "mt_approver",
        "mt_approver",
        "mt_rechecker",
        "mt_rechecker",
    ]


@pytest.mark.req("R9.3")
def test_a_district_clerk_may_not_apply_for_another_districts_record(make_staff, wang) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotPermitted):
        apply(make_staff("mt_rushan", posts=("window_clerk",), district="371083"), wang)
    assert not MaintenanceOrder.objects.exists()


@pytest.mark.req("R9.3")
@pytest.mark.parametrize(
    ("step", "also_did"),
    [
        ("approve", "applicant"),
        ("modify", "applicant"),
        ("modify", "approver"),
        ("recheck", "applicant"),
        ("recheck", "approver"),
        ("recheck", "modifier"),
    ],
)
def test_a_person_who_did_an_earlier_step_may_not_do_a_later_one(
    make_staff, crew, wang, step, also_did
) -> None:  # type: ignore[no-untyped-def]
    # One person holding every post: only the person, not the post, can stop them.
    everything = make_staff("mt_all_posts", posts=("window_clerk", "approver", "rechecker"))
    people = {**crew, also_did: everything}
    order = apply(people["applicant"], wang)
    steps: list[tuple[str, Callable[[Any, MaintenanceOrder], Any]]] = [
        ("approve", approve), ("modify", modify), ("recheck", recheck),
    ]  # fmt: skip
    for name, do in steps:
        if name == step:
            before = (status(order), in_force(wang))
            with pytest.raises(SeparationOfDuties):
                do(everything, order)
            assert (status(order), in_force(wang)) == before
            denied = AuditEvent.objects.get(action="maintenance.denied", actor="mt_all_posts")
            assert denied.outcome == "denied" and denied.object_id == str(order.pk)
            do(crew[{"approve": "approver", "modify": "modifier", "recheck": "rechecker"}[name]], order)
            break
        do(people[{"approve": "approver", "modify": "modifier", "recheck": "rechecker"}[name]], order)


@pytest.mark.req("R9.3")
def test_a_send_back_restores_the_previous_values_through_the_pipeline(crew, wang) -> None:  # type: ignore[no-untyped-def]
    spec = spec_for("person")
    before = {name: str(getattr(wang, name)) for name in spec.fields}
    order = apply(crew["applicant"], wang)
    approve(crew["approver"], order)
    modify(crew["modifier"], order)

    with pytest.raises(ChangeRefused):
        recheck(crew["rechecker"], order, accept=False, reason="")
    assert in_force(wang) == (CORRECTED_PHONE, CORRECTED_ADDRESS)

    recheck(crew["rechecker"], order, accept=False, reason="更正依据不足")

    assert status(order) == S.SENT_BACK
    restored = Person.objects.get(pk=wang.pk)
    assert {name: str(getattr(restored, name)) for name in spec.fields} == before
    revision = Revision.objects.get(entity="person", record_id=wang.pk, version=3)
    assert (revision.method, revision.actor, revision.reference) == (
        Method.SEND_BACK,
        "mt_rechecker",
        f"MO{order.pk}",
    )
    assert set(revision.changes) == {"phone", "address"}


@pytest.mark.req("R9.3")
def test_a_modification_is_refused_when_the_record_changed_after_the_application(
    huancui_clerk, crew, wang
) -> None:  # type: ignore[no-untyped-def]
    order = apply(crew["applicant"], wang)
    approve(crew["approver"], order)
    submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="person",
        record=wang,
        values={"phone": "13963109999"},
    )

    with pytest.raises(StaleChange):
        modify(crew["modifier"], order)

    assert status(order) == S.APPROVED
    assert in_force(wang) == ("13963109999", ORIGINAL_ADDRESS)


@pytest.mark.req("R9.3")
def test_a_send_back_is_refused_when_the_record_changed_after_the_modification(
    huancui_clerk, crew, wang
) -> None:  # type: ignore[no-untyped-def]
    order = apply(crew["applicant"], wang)
    approve(crew["approver"], order)
    modify(crew["modifier"], order)
    current = Person.objects.get(pk=wang.pk)
    submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="person",
        record=current,
        values={"email": "wang@example.cn"},
    )

    with pytest.raises(StaleChange):
        recheck(crew["rechecker"], order, accept=False, reason="更正依据不足")

    assert status(order) == S.MODIFIED
    assert in_force(wang) == (CORRECTED_PHONE, CORRECTED_ADDRESS)
