"""Attacks on delegated queries (委托查询, R10.2), merged an hour before round 6.

A registration is the authority to print a person's records for someone else, so what it names must stay
what the written authorisation (授权委托书, accepted by the archive reviewer) says:

* its person was a "system" field: one clerk's edit moved an approved registration to another person at once,
  with no review and no authorisation of that person — and the window then printed that person's statement
  for the delegate;
* a maintenance order ran none of the entity's entry rules: it set the end date eight years ahead (the rule
  allows one) and moved the registration to a person of another district, out of the applicant's scope;
* a clerk who also holds the archive reviewer's post accepted the authorisation's scan of the registration
  they had submitted themself (a colleague uploaded it): the archive department's check of the written
  authorisation was made by the person it was meant to check;
* the statement trusted the row as stored: an end date moved on by raw SQL printed a statement, and only the
  weekly verification would have said so.

Fix: the entry rule keeps a recorded registration's person and delegate and never moves its end date later
(a new authorisation is registered anew); maintenance orders run the entry rules and check the scope of the
district a record moves to; the archive reviewer never decides a scan attached to their own submission; the
statement checks the registration against its history first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from sidms.archives.models import ArchiveItem, ItemStatus
from sidms.archives.services import archive_review, archive_upload, review_queue
from sidms.audit.models import AuditEvent
from sidms.business.models import IssuedStatement
from sidms.business.rights import issue_statement
from sidms.changes.maintenance import maintenance_apply, maintenance_approve, maintenance_modify
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, ReviewStatus
from sidms.changes.services import submit_change
from sidms.changes.verify import verify_store
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted, SeparationOfDuties
from sidms.registry.models import DelegatedQuery
from tests.archives.conftest import noise
from tests.archives.test_delegated_query import _registered, _values
from tests.changes.conftest import person_row

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.2")]


@pytest.fixture
def registration(data_dir: Any, huancui_clerk: Any, city_reviewer: Any, archivist: Any, person: Any) -> Any:
    return _registered(huancui_clerk, city_reviewer, archivist, person)


@pytest.mark.req("R10")
def test_a_registration_is_not_moved_to_another_person_by_an_edit(
    registration: Any, huancui_clerk: Any, load: Any, person: Any
) -> None:
    other = load("person", [person_row(2, name="李另一")])[0]
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="delegated_query", record=registration,
                      values={"person_id": other.pk})  # fmt: skip
    assert refused.value.code == "delegation_rebound"
    assert DelegatedQuery.objects.get(pk=registration.pk).person_id == person.pk
    # So the window cannot print the other person's records for this delegate.
    with pytest.raises(ChangeRefused) as unknown:
        issue_statement(actor=huancui_clerk, person_key=other.person_no, delegated_query=registration.pk)
    assert unknown.value.code == "delegation_unknown"
    # Nor is the end date moved later by an edit held for review (no new authorisation was scanned)...
    later = (registration.valid_until + timedelta(days=200)).isoformat()
    with pytest.raises(ChangeRefused) as extended:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="delegated_query", record=registration,
                      values={"valid_until": later})  # fmt: skip
    assert extended.value.code == "delegation_extended"
    assert not ChangeRequest.objects.filter(entity="delegated_query", status=ReviewStatus.PENDING).exists()
    # ...while withdrawing it earlier stays possible (held for review, as the field's rule says).
    sooner = (timezone.localdate() + timedelta(days=1)).isoformat()
    outcome = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="delegated_query",
                            record=registration, values={"valid_until": sooner})  # fmt: skip
    assert outcome.held is not None


@pytest.mark.req("R9.3")
def test_a_maintenance_order_neither_extends_nor_moves_a_registration(
    registration: Any, make_staff: Any, load: Any, person: Any
) -> None:
    applicant = make_staff("mt_applicant", posts=("window_clerk",), district="371002")
    approver = make_staff("mt_approver", posts=("approver",), district="371002")
    modifier = make_staff("mt_modifier", posts=("window_clerk",), district="371002")
    far = load("person", [person_row(3, name="张乳山", district="371083")])[0]
    near = load("person", [person_row(4, name="赵环翠")])[0]
    eight_years = (timezone.localdate() + timedelta(days=3000)).isoformat()
    attempts = {
        "delegation_extended": {"valid_until": eight_years},
        "delegation_rebound": {"person_id": near.pk},
    }
    for code, values in attempts.items():
        with pytest.raises(ChangeRefused) as refused:
            maintenance_apply(actor=applicant, entity="delegated_query", record=registration,
                              reason="据委托人电话延长", values=values)  # fmt: skip
        assert refused.value.code == code
    with pytest.raises(NotPermitted):  # 乳山市 is outside a 环翠区 clerk's scope
        maintenance_apply(actor=applicant, entity="delegated_query", record=registration, reason="迁移",
                          values={"person_id": far.pk})  # fmt: skip
    assert not MaintenanceOrder.objects.exists()
    # An order that passed when applied is checked again when carried out: the rules read the record then.
    order = maintenance_apply(actor=applicant, entity="delegated_query", record=registration,
                              reason="目的录入错误", values={"purpose": "办理公积金贷款需缴费证明"})  # fmt: skip
    maintenance_approve(actor=approver, order_id=order.pk, approve=True)
    with freeze_time(registration.valid_until + timedelta(days=1)), pytest.raises(ChangeRefused) as late:
        maintenance_modify(actor=modifier, order_id=order.pk)
    assert late.value.code == "delegation_expired"
    stored = DelegatedQuery.objects.get(pk=registration.pk)
    assert (stored.person_id, stored.valid_until) == (person.pk, registration.valid_until)


@pytest.mark.req("R9.2")
@pytest.mark.req("R20")
def test_a_registration_altered_by_raw_sql_prints_nothing_and_verify_names_it(
    registration: Any, huancui_clerk: Any, person: Any
) -> None:
    with connection.cursor() as cursor:  # an intruder with database access extends the authorisation
        cursor.execute(
            "UPDATE registry_delegatedquery SET valid_until = %s WHERE id = %s",
            [timezone.localdate() + timedelta(days=2000), registration.pk],
        )
    with pytest.raises(IntegrityAlert):
        issue_statement(actor=huancui_clerk, person_key=person.person_no, delegated_query=registration.pk)
    assert not IssuedStatement.objects.filter(person=person).exists()
    alert = AuditEvent.objects.filter(action="integrity.alert", object_type="delegated_query").get()
    assert str(registration.pk) in alert.payload
    report = verify_store()
    assert not report.ok and "delegated_query" in report.problem.where
    assert str(registration.pk) in report.problem.where


@pytest.mark.req("R7.4")
def test_the_submitter_does_not_accept_the_authorisation_of_their_own_registration(
    data_dir: Any, make_staff: Any, huancui_clerk: Any, archivist: Any, person: Any
) -> None:
    both = make_staff("clerk_archivist", posts=("window_clerk", "archive_reviewer"), district="371002")
    held = submit_change(
        actor=both, channel=Channel.WINDOW, entity="delegated_query", values=_values(person)
    ).held
    assert held is not None
    scan = archive_upload(actor=huancui_clerk, target_kind="change_request", target=held, doc_type="authorisation",
                          data=noise("PDF"))  # fmt: skip
    assert scan.pk not in [item.pk for item in review_queue(actor=both)]
    with pytest.raises(SeparationOfDuties):
        archive_review(actor=both, item_id=scan.pk, accept=True, reason="")
    assert ArchiveItem.objects.get(pk=scan.pk).status == ItemStatus.PENDING
    assert AuditEvent.objects.filter(action="archive.review_denied", object_id=str(scan.pk)).exists()
    archive_review(actor=archivist, item_id=scan.pk, accept=True, reason="")  # another archive reviewer may
