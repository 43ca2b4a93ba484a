"""Attack round 14: another person's enrolment pointed at a person in SQL was shown as theirs on their rights
record (个人权益记录) and printed on the statement handed over the counter.

The person's page withholds a related record that does not match its history (``record_related``, this
round), but the rights record reads the enrolments by one plain SELECT, unchecked: 王建国's pension
enrolment since 2001, its person_id rewritten to 李四's, gave 李四 twenty-odd years of coverage on paper.
Fixed: the rights record and a statement issued at the window check the enrolments they show against their
history first (``changes.integrity.require_all_intact``) and are refused with an integrity alert naming the
enrolment (409). The yearly batch of statements does not check them (a known gap, docs/architecture.md)."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.business.models import PersonEnrolment
from sidms.business.rights import issue_statement
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import IntegrityAlert
from tests.audit.test_tampering import _raw
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10"), pytest.mark.req("R20")]


@pytest.mark.req("R10.1")
def test_an_enrolment_pointed_at_another_person_in_sql_is_not_shown_as_theirs(
    make_unit: Any, make_person: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    unit = make_unit(unit_no="U3710020001", name="环翠区一号公司", district="371002")
    owner = make_person(id_number=id_number("37100219600101001"), name="王建国")
    other = make_person(id_number=id_number("37100219600101003"), name="李四")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                  values={"person_id": owner.pk, "unit_id": unit.pk, "start_date": "2000-06-01"})  # fmt: skip
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="unit_enrolment",
                  values={"unit_id": unit.pk, "insurance": "110", "status": "paying", "start_date": "2000-01-01"})  # fmt: skip
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment",
                  values={"person_id": owner.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
                          "status": "paying", "start_date": "2001-01-01"})  # fmt: skip
    clerk = signed_in(huancui_clerk)
    assert "2001" in clerk.get(f"/persons/{owner.person_no}/rights/").content.decode()  # shown while genuine
    enrolment = PersonEnrolment.objects.get()
    _raw("UPDATE business_personenrolment SET person_id = %s WHERE id = %s", [other.pk, enrolment.pk])
    page = clerk.get(f"/persons/{other.person_no}/rights/")
    assert page.status_code == 409 and "2001" not in page.content.decode()
    with pytest.raises(IntegrityAlert):
        issue_statement(actor=huancui_clerk, person_key=other.person_no)
    alerts = AuditEvent.objects.filter(action="integrity.alert", object_type="person_enrolment")
    assert alerts.count() == 2
    # The person it was taken from reads without it (what the rows say of them now), and without an alert.
    assert clerk.get(f"/persons/{owner.person_no}/rights/").status_code == 200
    assert alerts.count() == 2
