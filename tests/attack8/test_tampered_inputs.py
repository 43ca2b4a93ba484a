"""Attack round 8 as a database administrator on what the assessment reads: a base declaration lowered (or
raised) in SQL before the month is assessed.

``sidms audit verify`` names the declaration (its live row no longer matches its latest revision), so the
act is evident (R20). But the assessment reads the declarations as they stand and vouches for the entries
it computed from the altered base with its Merkle root; the pension run refuses an entitlement altered the
same way (attack round 6). Checking every declaration's and enrolment's digest and latest revision in the
assessment — a million of each for a city — would cost more than the bench's goal leaves (the run is at
0.44–0.69 of a plain INSERT … SELECT, goal 0.5): left as a known gap, this test marks it."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.business.ledger import run_through
from sidms.business.models import EntryKind, LedgerEntry
from sidms.changes.verify import verify_store
from sidms.core.errors import IntegrityAlert
from tests.audit.test_tampering import _raw

pytestmark = pytest.mark.django_db


@pytest.mark.req("R20")
@pytest.mark.req("R2.2")
@pytest.mark.xfail(
    strict=True,
    reason="the assessment does not check the digests of the declarations it reads (a million rows a run); "
    "verify names the altered declaration, the run does not refuse it",
)
def test_a_declaration_lowered_in_sql_is_not_assessed(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    employee = insured["employee"]
    _raw("UPDATE business_basedeclaration SET base = %s WHERE person_id = %s", ["4000.00", employee.pk])
    assert not verify_store().ok  # evident to verify
    with pytest.raises(IntegrityAlert):
        run_through(huancui_clerk, approver, "assessment", "2025-03")
    assert not LedgerEntry.objects.filter(person=employee, kind=EntryKind.ASSESSED).exists()
