"""Attack round 16: a record rolled back together with its latest revision (the revisions' guard dropped, the
revision deleted, the row put back at the version before) is refused by a single change and by a run, since
the latest write event about it names a later version (``changes.integrity.check_row``,
``changes.inputs.ROLLED_BACK``). The yearly statement batch (``business.rights.issue_checked``) checked the
persons and enrolments it prints against their revisions only, which the rolled-back row matches: an enrolment
suspended at the window and put back to paying in SQL, its suspension's revision deleted, was printed as paying
on the person's official statement. The read door's check (``changes.integrity.unintact``) now asks the latest
write event of each record too (one statement a chunk and entity): the statement is withheld, naming the
enrolment."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.business.ledger import run_through
from sidms.business.models import PersonEnrolment
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import IntegrityAlert
from tests.audit.test_tampering import _raw, _unguarded

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.1"), pytest.mark.req("R20")]


def _rolled_back_enrolment(insured: dict[str, Any], clerk: Any) -> PersonEnrolment:
    """The flexible worker's pension enrolment suspended at the window (version 2), then put back in SQL at
    version 1 with the suspension's revision deleted."""
    enrolment = PersonEnrolment.objects.get(person=insured["flexible"], insurance="110")
    before = {name: getattr(enrolment, name) for name in ("version", "row_digest", "status")}
    submit_change(actor=clerk, channel=Channel.WINDOW, entity="person_enrolment", record=enrolment,
                  values={"status": "suspended"})  # fmt: skip
    assert PersonEnrolment.objects.get(pk=enrolment.pk).version == before["version"] + 1
    restore = _unguarded("changes_revision")
    _raw("DELETE FROM changes_revision WHERE entity = 'person_enrolment' AND record_id = %s AND version = %s",
         [enrolment.pk, before["version"] + 1])  # fmt: skip
    restore()
    _raw("UPDATE business_personenrolment SET version = %s, row_digest = %s, status = %s WHERE id = %s",
         [*before.values(), enrolment.pk])  # fmt: skip
    return PersonEnrolment.objects.get(pk=enrolment.pk)


def test_a_change_of_the_rolled_back_enrolment_is_refused(
    insured: dict[str, Any], huancui_clerk: Any
) -> None:
    """The pipeline's own check names the roll-back (the premise of the test below)."""
    enrolment = _rolled_back_enrolment(insured, huancui_clerk)
    with pytest.raises(IntegrityAlert):
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment", record=enrolment,
                      values={"status": "suspended"})  # fmt: skip


def test_the_yearly_batch_withholds_a_person_whose_enrolment_was_rolled_back(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    from sidms.business.rights import yearly_statements

    run_through(huancui_clerk, approver, "assessment", "2025-01")
    _rolled_back_enrolment(insured, huancui_clerk)
    batch = yearly_statements(2025, chunk=5)
    issued = {i.row.person_id for i in batch}
    assert insured["flexible"].pk not in issued
    assert [person for person, _record in batch.withheld] == [insured["flexible"].person_no]
