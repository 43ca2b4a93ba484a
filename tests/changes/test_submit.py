"""Submitting changes: each field is routed by its review level (R7.1–R7.3), bad input is refused whole
(R6.1), and only a clerk of the record's district may submit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import translation

from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Channel, Method, ReviewStatus, Revision
from sidms.changes.services import held_values, submit_change
from sidms.core.errors import ChangeRefused, NotPermitted, StaleChange
from sidms.core.fields import blind_index
from sidms.core.kernel import reveal, spec_for
from sidms.registry.models import Person
from tests.changes.conftest import (
    ORIGINAL_ADDRESS,
    ORIGINAL_PHONE,
    WANG_ID,
    WANG_NEW_ID,
    id_number,
    person_row,
)

pytestmark = pytest.mark.django_db

PERSON = spec_for("person")


def submit(actor: Any, record: Any, **values: Any) -> Any:
    return submit_change(actor=actor, channel=Channel.WINDOW, entity="person", record=record, values=values)


def revisions_of(person: Any) -> list[Revision]:
    return list(Revision.objects.filter(entity="person", record_id=person.pk).order_by("version"))


@pytest.mark.req("R7.2")
def test_a_valid_phone_is_applied_at_once_and_its_revision_holds_old_and_new_as_ciphertext(
    huancui_clerk, wang
) -> None:  # type: ignore[no-untyped-def]
    outcome = submit(huancui_clerk, wang, phone="139 6310 0001")

    assert outcome.applied == ("phone",) and outcome.held is None
    stored = Person.objects.get(pk=wang.pk)
    assert stored.phone == "13963100001"  # normalised by the phone rule
    assert (
        Person.objects.filter(phone_index=blind_index("person.phone", "13963100001", "digits")).get()
        == stored
    )
    revision = revisions_of(wang)[-1]
    assert (revision.version, revision.method, revision.channel, revision.actor) == (
        2, Method.DIRECT, Channel.WINDOW, "clerk_hc",
    )  # fmt: skip
    assert list(revision.changes) == ["phone"]
    old, new = revision.changes["phone"]
    assert (reveal(PERSON, "phone", old, wang.uid), reveal(PERSON, "phone", new, wang.uid)) == (
        ORIGINAL_PHONE, "13963100001",
    )  # fmt: skip
    history_text = json.dumps([revision.changes, revision.state])
    assert "13963100001" not in history_text and ORIGINAL_PHONE not in history_text
    event = AuditEvent.objects.get(action="write.person", object_id=wang.person_no)
    assert event.actor == "clerk_hc" and json.loads(event.payload)["detail"]["fields"] == ["phone"]


@pytest.mark.req("R7.2")
@pytest.mark.req("R6.1")
def test_an_invalid_phone_refuses_the_whole_submission_in_chinese_and_stores_nothing(
    huancui_clerk, wang
) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        submit(huancui_clerk, wang, phone="1234567", address="威海市环翠区新威路9号")

    assert set(refused.value.errors) == {"phone"}
    message = str(refused.value)
    assert "未保存任何内容" in message and "电话号码无效" in message
    stored = Person.objects.get(pk=wang.pk)
    assert (stored.phone, stored.address, stored.version) == (ORIGINAL_PHONE, ORIGINAL_ADDRESS, 1)
    assert len(revisions_of(wang)) == 1
    assert not ChangeRequest.objects.exists()


@pytest.mark.req("R7.1")
def test_an_address_is_saved_at_once_without_validation(huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    # Review level "none": whatever the clerk types is kept (trimmed), no rule is consulted.
    outcome = submit(huancui_clerk, wang, address="  乳山市 某村 3#-2（暂住）  ")

    assert outcome.applied == ("address",) and outcome.held is None
    assert Person.objects.get(pk=wang.pk).address == "乳山市 某村 3#-2（暂住）"
    assert revisions_of(wang)[-1].method == Method.DIRECT
    assert not ChangeRequest.objects.exists()


@pytest.mark.req("R7.3")
def test_an_id_number_change_is_held_and_the_old_number_stays_in_force(huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    outcome = submit(huancui_clerk, wang, id_number=WANG_NEW_ID)

    assert outcome.applied == () and outcome.revision is None
    held = outcome.held
    assert held is not None and held.status == ReviewStatus.PENDING
    assert (held.record_id, held.district_id, held.submitted_by, held.base_version) == (
        wang.pk, "371002", huancui_clerk, 1,
    )  # fmt: skip
    assert Person.objects.get(pk=wang.pk).id_number == WANG_ID
    assert len(revisions_of(wang)) == 1
    assert (held_values(PERSON, held, 0)["id_number"], held_values(PERSON, held, 1)["id_number"]) == (
        WANG_ID, WANG_NEW_ID,
    )  # fmt: skip
    assert WANG_NEW_ID not in json.dumps(held.proposed)
    # No registry is configured: the reviewer sees "not verified", never a silent pass.
    assert {check["registry"] for check in held.crosschecks} == {"public_security", "civil_affairs"}
    assert all(check["status"] == "unavailable" and "未配置" in check["detail"] for check in held.crosschecks)


@pytest.mark.req("R7.3")
@pytest.mark.req("R7.2")
def test_a_mixed_submission_applies_the_phone_and_holds_the_id_number(huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    outcome = submit(huancui_clerk, wang, phone="13963100002", id_number=WANG_NEW_ID)

    assert outcome.applied == ("phone",)
    assert outcome.held is not None and list(outcome.held.proposed) == ["id_number"]
    stored = Person.objects.get(pk=wang.pk)
    assert (stored.phone, stored.id_number) == ("13963100002", WANG_ID)
    assert list(revisions_of(wang)[-1].changes) == ["phone"]


@pytest.mark.req("R7.3")
def test_a_new_person_with_an_id_number_waits_whole_for_review(huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    row = person_row(7, name="孙新来")
    del row["person_no"]  # assigned by the system when the record is created
    outcome = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", values=row)

    assert outcome.record is None and outcome.revision is None and outcome.applied == ()
    held = outcome.held
    assert held is not None and held.record_id is None and held.record_label == ""
    assert set(held.proposed) == set(row)  # the phone waits too
    assert not Person.objects.exists()
    assert not Revision.objects.filter(entity="person").exists()


@pytest.mark.req("R6.1")
def test_a_new_person_missing_a_required_field_is_refused(huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    row = person_row(8)
    del row["category"], row["person_no"]
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", values=row)
    assert set(refused.value.errors) == {"category"}
    assert not ChangeRequest.objects.exists()


@pytest.mark.req("R7.1")
def test_a_post_without_the_submit_function_is_refused_and_the_refusal_recorded(  # type: ignore[no-untyped-def]
    huancui_reviewer, wang
) -> None:
    with pytest.raises(NotPermitted):
        submit(huancui_reviewer, wang, address="别处")
    assert Person.objects.get(pk=wang.pk).address == ORIGINAL_ADDRESS
    assert (
        AuditEvent.objects.filter(action="access.denied", actor="reviewer_hc", outcome="denied").count() == 1
    )


@pytest.mark.req("R10.3")
def test_a_clerk_of_another_district_may_not_change_or_create_its_records(rushan_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"), pytest.raises(NotPermitted, match="数据范围"):
        submit(rushan_clerk, wang, address="别处")
    with pytest.raises(NotPermitted):
        submit_change(
            actor=rushan_clerk, channel=Channel.WINDOW, entity="person",
            values={**person_row(9, id_number=id_number("37100219900101009"), birth_date="1990-01-01"), "person_no": ""},
        )  # fmt: skip
    assert Person.objects.get(pk=wang.pk).address == ORIGINAL_ADDRESS
    assert not ChangeRequest.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied", actor="clerk_rs").count() == 2


@pytest.mark.req("R9.2")
def test_a_submission_based_on_a_stale_copy_of_the_record_is_refused(huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    stale = Person.objects.get(pk=wang.pk)
    submit(huancui_clerk, Person.objects.get(pk=wang.pk), phone="13963100003")

    with pytest.raises(StaleChange):
        submit(huancui_clerk, stale, address="威海市环翠区新威路9号")
    stored = Person.objects.get(pk=wang.pk)
    assert (stored.phone, stored.address, stored.version) == ("13963100003", ORIGINAL_ADDRESS, 2)
