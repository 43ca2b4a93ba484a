"""Attack round 14: another person's enrolment pointed at a person in SQL was shown as theirs on their rights
record (个人权益记录) and printed on the statement handed over the counter.

The person's page withholds a related record that does not match its history (``record_related``, this
round), but the rights record reads the enrolments by one plain SELECT, unchecked: 王建国's pension
enrolment since 2001, its person_id rewritten to 李四's, gave 李四 twenty-odd years of coverage on paper.
Fixed: the rights record and a statement issued at the window check the enrolments they show against their
history first (``changes.integrity.require_all_intact``) and are refused with an integrity alert naming the
enrolment (409). The yearly batch of statements (``sidms statements YEAR``) now checks each chunk's persons,
their enrolments and the units those name, and withholds the statement of a person whose printed data fail,
with an alert naming the record, while the rest of the chunk is issued."""

from __future__ import annotations

import json
from io import StringIO
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


# The yearly batch (sidms statements YEAR): each chunk's printed records are checked against their history, and
# a person whose printed data fail is withheld, named by an alert, while the others are issued.


def _contributions_in_2025(insured: dict[str, Any], clerk: Any, approver: Any) -> None:
    from sidms.business.ledger import run_through

    run_through(clerk, approver, "assessment", "2025-01")  # the employee and the flexible worker


@pytest.mark.req("R10.1")
def test_the_yearly_batch_does_not_print_an_enrolment_pointed_at_another_person_in_sql(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, tmp_path: Any
) -> None:
    from django.core.management import call_command

    from sidms.business.models import IssuedStatement

    _contributions_in_2025(insured, huancui_clerk, approver)
    employee, flexible = insured["employee"], insured["flexible"]
    # The employee's medical insurance (since 2021), taken from them and given to the flexible worker.
    taken = PersonEnrolment.objects.get(person=employee, insurance="310")
    _raw("UPDATE business_personenrolment SET person_id = %s WHERE id = %s", [flexible.pk, taken.pk])
    out = StringIO()
    call_command("statements", "2025", "--out", str(tmp_path / "out"), stdout=out)
    # The flexible worker's statement would have shown the employee's medical insurance as theirs: withheld.
    assert not IssuedStatement.objects.filter(person=flexible).exists()
    assert IssuedStatement.objects.filter(person=employee).count() == 1  # the rest of the chunk issued
    assert len(list((tmp_path / "out").glob("*.pdf"))) == 1
    assert (
        "1 withheld" in out.getvalue()
        and f"{flexible.person_no}: person_enrolment {taken.pk}" in out.getvalue()
    )
    alert = AuditEvent.objects.get(action="integrity.alert")
    assert (alert.object_type, alert.object_id) == ("person_enrolment", str(taken.pk))
    # The chunk's event names the statement withheld and the record that failed.
    batch = AuditEvent.objects.get(action="statement.issue")
    assert json.loads(batch.payload)["detail"]["withheld"] == {
        flexible.person_no: f"person_enrolment {taken.pk}"
    }


@pytest.mark.req("R10.1")
def test_the_yearly_batch_withholds_a_statement_whose_person_or_employer_was_changed_in_sql(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    from sidms.business.rights import yearly_statements

    _contributions_in_2025(insured, huancui_clerk, approver)
    _raw("UPDATE registry_unit SET name = %s WHERE id = %s", ["别人的公司", insured["unit"].pk])
    _raw("UPDATE registry_person SET name = %s WHERE id = %s", ["赵改名", insured["flexible"].pk])
    batch = yearly_statements(2025, chunk=5)
    assert list(batch) == []
    assert sorted(batch.withheld) == sorted([
        (insured["employee"].person_no, f"unit {insured['unit'].unit_no}"),
        (insured["flexible"].person_no, f"person {insured['flexible'].person_no}"),
    ])  # fmt: skip
    assert set(AuditEvent.objects.filter(action="integrity.alert").values_list("object_type", flat=True)) == {
        "unit", "person",
    }  # fmt: skip


@pytest.mark.req("R10")
def test_an_intact_chunk_of_the_yearly_batch_is_issued_as_before(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    from sidms.business.rights import verify_number, yearly_statements

    _contributions_in_2025(insured, huancui_clerk, approver)
    batch = yearly_statements(2025, chunk=5)
    issued = list(batch)
    assert {i.row.person_id for i in issued} == {insured["employee"].pk, insured["flexible"].pk}
    assert batch.withheld == [] and not AuditEvent.objects.filter(action="integrity.alert").exists()
    assert all(verify_number(i.number).unchanged for i in issued)
    assert (
        "withheld" not in json.loads(AuditEvent.objects.get(action="statement.issue_batch").payload)["detail"]
    )
