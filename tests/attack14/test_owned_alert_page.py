"""Follow-up of attack round 14: the refusal of a record whose district is read from a person moved in SQL told
the district named the person's number.

The read door refuses an employment, an enrolment or an entitlement whose person does not match their history
(409), and the pipeline a new record or a correction for that person, and the review page a request about the
employment. Each page named the person by their number (参保人员 3700000019 与其历史记录不符…) to the very
district the SQL had handed them to. Now the page names the record refused by its own key (就业记录 12), or,
for a new record, only its kind; the audit event still names the person, for the information centre (R20). A
new record for such a person answered 403 with the alert's text in the form; it now answers 409 as every other
integrity refusal does, the alert recorded once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import translation

from sidms.audit.models import AuditEvent
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.registry.models import Employment
from tests.attack14.test_owned_records import RUSHAN, alerts, moved
from tests.audit.test_tampering import _raw
from tests.changes.conftest import id_number

__all__ = ["moved"]  # a fixture

pytestmark = [pytest.mark.django_db, pytest.mark.req("R7.3"), pytest.mark.req("R20")]

ID_NUMBER = id_number("37100219600101001")


def assert_names_nobody(body: str, person: Any) -> str:
    """The page is the alert's, and names the person nowhere (the navigation's 参保人员 link aside): the
    alert's message is returned."""
    assert "完整性告警" in body
    for told in (person.person_no, ID_NUMBER, "王建国"):
        assert told not in body, told
    message = body.split('<p class="error" role="alert">')[1].split("</p>")[0]
    assert "参保人员" not in message, message
    return message


def test_the_alert_page_of_a_persons_record_names_the_record_not_the_person(
    moved: dict[str, Any], rushan_clerk: Any, signed_in: Any
) -> None:
    clerk = signed_in(rushan_clerk)
    person = moved["person"]
    for path, record in (
        (f"/employments/{moved['employment'].pk}/", moved["employment"]),
        (f"/person-enrolments/{moved['enrolment'].pk}/", moved["enrolment"]),
        (f"/entitlements/{moved['entitlement'].pk}/", moved["entitlement"]),
    ):
        with translation.override("zh-hans"):
            named = f"{record._meta.verbose_name} {record.pk} "  # 就业记录 1: the record by its own key
        page = clerk.get(path)
        body = page.content.decode()
        assert page.status_code == 409, path
        message = assert_names_nobody(body, person)
        assert message.startswith(named) and "所属的记录与其历史记录不符" in message, path
    # The audit log names the person whose row failed, for the information centre.
    events = AuditEvent.objects.filter(action="integrity.alert", object_type="person")
    assert events.count() == 3 and {e.object_id for e in events} == {person.person_no}


def test_a_new_record_for_the_person_answers_409_naming_nobody(
    moved: dict[str, Any], rushan_clerk: Any, signed_in: Any
) -> None:
    """Typed on the window's form (the person's number in the person field): refused by the pipeline's owner
    check, once 403 with the alert in the form, now the alert's page."""
    clerk = signed_in(rushan_clerk)
    page = clerk.post(
        "/employments/new/",
        {
            "person_id": moved["person"].person_no,
            "unit_id": moved["unit"].unit_no,
            "start_date": "2024-03-01",
        },
    )
    assert page.status_code == 409
    body = page.content.decode()
    assert assert_names_nobody(body, moved["person"]).startswith("就业记录 所属的记录与其历史记录不符")
    assert Employment.objects.count() == 1 and alerts() == 1


def test_a_correction_of_the_persons_employment_answers_409(
    moved: dict[str, Any], rushan_clerk: Any, signed_in: Any
) -> None:
    """The pipeline's refusal, reached past the page (the service itself): the alert names the employment."""
    from sidms.core.errors import IntegrityAlert

    with pytest.raises(IntegrityAlert) as refused:
        submit_change(actor=rushan_clerk, channel=Channel.WINDOW, entity="employment",
                      record=moved["employment"], values={"end_date": "2022-01-01"})  # fmt: skip
    message = refused.value.localized() if hasattr(refused.value, "localized") else str(refused.value)
    assert f"就业记录 {moved['employment'].pk} " in message and moved["person"].person_no not in message


def test_the_review_page_of_a_request_about_the_employment_names_no_person(
    make_unit: Any, make_person: Any, huancui_clerk: Any, make_staff: Any, signed_in: Any
) -> None:
    unit = make_unit(unit_no="U3710020001", name="环翠区一号公司", district="371002")
    person = make_person(id_number=ID_NUMBER, name="王建国")
    employment = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                               values={"person_id": person.pk, "unit_id": unit.pk,
                                       "start_date": "2021-01-01"}).record  # fmt: skip
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment", record=employment,
                         values={"start_date": "2021-02-01"}, review_reason="入职日期登记错误").held  # fmt: skip
    assert held is not None
    _raw("UPDATE registry_person SET district_id = %s WHERE id = %s", [RUSHAN, person.pk])
    reviewer = signed_in(make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN))
    page = reviewer.get(f"/queues/review/{held.pk}/")
    assert page.status_code == 409
    assert_names_nobody(page.content.decode(), person)
    event = AuditEvent.objects.get(action="integrity.alert", object_type="person")
    assert (
        event.object_id == person.person_no and json.loads(event.payload)["detail"]["record_id"] == person.pk
    )
