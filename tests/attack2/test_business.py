"""Attack: a database administrator replays, forges or reads around the business ledger and its runs."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.business.ledger import run_apply, run_decide, run_execute
from sidms.business.models import AssessmentRun, LedgerEntry
from sidms.core.errors import ChangeRefused
from tests.audit.test_tampering import broken_at

pytestmark = pytest.mark.django_db


@pytest.mark.req("R20")
def test_an_executed_run_put_back_to_its_approved_copy_is_not_executed_again(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """The run row carries a valid seal at every step, so an old copy (from a backup, or rebuilt from the
    approval's audit event) put back in SQL matched its seal: the run executed a second time and wrote
    the period's entries twice. The run must match the step and seal of its latest audit event."""
    run = run_apply(actor=huancui_clerk, kind="assessment", period="2025-03")
    run_decide(actor=approver, run_id=run.pk, approve=True)
    approved_copy = AssessmentRun.objects.filter(pk=run.pk).values().get()
    run_execute(actor=huancui_clerk, run_id=run.pk)
    entries = LedgerEntry.objects.filter(run_id=run.pk).count()
    assert entries > 0

    AssessmentRun.objects.filter(pk=run.pk).update(**{k: v for k, v in approved_copy.items() if k != "id"})
    with pytest.raises(ChangeRefused):
        run_execute(actor=huancui_clerk, run_id=run.pk)
    assert LedgerEntry.objects.filter(run_id=run.pk).count() == entries
    problem = broken_at()
    assert problem.kind == "ledger" and f"#{run.pk}" in problem.where


@pytest.mark.req("R2.2")
def test_a_rushan_clerk_cannot_apply_to_correct_a_huancui_persons_entry(
    insured: dict[str, Any], huancui_clerk: Any, rushan_clerk: Any, approver: Any
) -> None:
    """A correction run named any ledger entry by its id (an IDOR on the entry number): the applicant's
    data scope now bounds it, refused like a missing entry (no oracle) and audited."""
    from sidms.audit.models import AuditEvent
    from sidms.business.ledger import run_through

    run = run_through(huancui_clerk, approver, "assessment", "2025-03")
    entry = LedgerEntry.objects.filter(run=run, person=insured["employee"], insurance="110").get()
    params = {"entry": entry.pk, "base": "7000"}
    with pytest.raises(ChangeRefused):
        run_apply(actor=rushan_clerk, kind="correction", period="2025-03", params=params)
    assert AuditEvent.objects.filter(action="access.denied", object_id=str(entry.pk)).exists()
    assert run_apply(actor=huancui_clerk, kind="correction", period="2025-03", params=params).pk
