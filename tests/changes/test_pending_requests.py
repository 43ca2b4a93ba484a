"""A second change request of a field that already waits for review is refused at submission (R7.3).

The review refuses at its decision a request whose fields changed after it was submitted (stale): of two
pending requests of the same field, whichever was approved first made the other stale, so the second could
only ever be rejected — after a reviewer had read it and the registries had been asked about it. The
pipeline now refuses it when it is submitted, by any channel, naming the pending request; a request about
other fields of the same record is independent (each decision compares its own fields) and still taken. A
field changed meanwhile another way (a maintenance order) still makes a request stale at its decision
(tests/changes/test_review.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Person
from tests.changes.conftest import WANG_ID, WANG_NEW_ID, id_number
from tests.web.test_records import person_form

pytestmark = [pytest.mark.django_db, pytest.mark.req("R7.3")]


def submit(clerk: Any, person: Any, channel: str = Channel.WINDOW, **values: Any) -> Any:
    return submit_change(actor=clerk, channel=channel, entity="person", record=person, values=values)


def refusal_text(refused: ChangeRefused) -> str:
    with translation.override("zh-hans"):
        return refused.localized()


@pytest.mark.parametrize("channel", [Channel.WINDOW, Channel.ONLINE, Channel.KIOSK, Channel.COLLABORATION])
def test_a_second_request_of_a_pending_field_is_refused_at_submission_naming_the_first(
    huancui_clerk: Any, wang: Any, channel: str
) -> None:
    first = submit(huancui_clerk, wang, id_number=WANG_NEW_ID).held
    assert first is not None
    with pytest.raises(ChangeRefused) as refused:
        # With a field applied at once (the phone, checked by the system): nothing of it is stored either.
        submit(huancui_clerk, Person.objects.get(pk=wang.pk), channel,
               id_number=id_number("37100219600101005"), phone="13963101234")  # fmt: skip
    assert refused.value.code == "pending"
    assert refusal_text(refused.value) == (
        f"该记录的公民身份号码已在变更申请 CR{first.pk} 中等待审核，须待审核人员批准或驳回该申请、或提交人撤回该申请后，"
        "才能再次提交对这些项目的变更"
    )
    assert ChangeRequest.objects.count() == 1
    stored = Person.objects.get(pk=wang.pk)
    assert (stored.id_number, stored.phone, stored.version) == (WANG_ID, wang.phone, wang.version)


def test_a_request_of_other_fields_of_the_record_is_taken_and_both_are_decided(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any
) -> None:
    first = submit(huancui_clerk, wang, id_number=WANG_NEW_ID).held
    second = submit(huancui_clerk, Person.objects.get(pk=wang.pk), name="王建华").held
    assert first is not None and second is not None and first.pk != second.pk
    for held in (second, first):
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    stored = Person.objects.get(pk=wang.pk)
    assert (stored.id_number, stored.name) == (WANG_NEW_ID, "王建华")


def test_once_the_pending_request_is_decided_the_field_may_be_submitted_again(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any
) -> None:
    first = submit(huancui_clerk, wang, id_number=WANG_NEW_ID).held
    assert first is not None
    review_decide(actor=huancui_reviewer, change_request_id=first.pk, approve=False, reason="户口簿不符")
    again = submit(huancui_clerk, Person.objects.get(pk=wang.pk), id_number=id_number("37100219600101005"))
    assert again.held is not None
    assert ChangeRequest.objects.get(pk=first.pk).status == ReviewStatus.REJECTED


def test_a_correction_held_with_its_reason_is_refused_while_a_request_of_its_field_waits(
    huancui_clerk: Any, wang: Any
) -> None:
    """A correction held whole for review (review_reason) holds its fields too."""
    first = submit(huancui_clerk, wang, name="王建华").held
    assert first is not None
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=wang,
                      values={"name": "王建军", "address": "环翠区新威路 2 号"}, review_reason="姓名登记错误")  # fmt: skip
    assert f"CR{first.pk}" in refusal_text(refused.value) and "姓名" in refusal_text(refused.value)
    assert ChangeRequest.objects.count() == 1


def test_the_window_form_answers_409_naming_the_pending_request(
    huancui_clerk: Any, wang: Any, signed_in: Any
) -> None:
    first = submit(huancui_clerk, wang, id_number=WANG_NEW_ID).held
    assert first is not None
    wang = Person.objects.get(pk=wang.pk)
    page = signed_in(huancui_clerk).post(
        f"/persons/{wang.person_no}/edit/", person_form(wang, id_number=id_number("37100219600101005"))
    )
    assert page.status_code == 409
    body = page.content.decode()
    assert f"已在变更申请 CR{first.pk} 中等待审核" in body
    assert ChangeRequest.objects.count() == 1
