"""Attack on payment extracts (issue 8 §5) across districts.

A payment run's rows name units and flexible workers by id, and nothing held them to the applicant's data
scope: a 乳山 clerk applied for an "extract" paying a 环翠 unit's arrears, a 乳山 approver approved it, and
the 环翠 unit's contributions were marked paid (its arrears and late fees gone) by people who may not even
read its records. Like a correction run's entry (attack2), each row's payer must be in the applicant's scope;
the refusal is audited."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.business.ledger import run_apply, run_through
from sidms.business.models import LedgerEntry
from sidms.core.errors import ChangeRefused

pytestmark = pytest.mark.django_db


@pytest.mark.req("R10.3")
@pytest.mark.req("R2.2")
def test_another_districts_unit_cannot_be_marked_paid(
    insured: dict[str, Any], huancui_clerk: Any, rushan_clerk: Any, approver: Any
) -> None:
    unit, flexible = insured["unit"], insured["flexible"]
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    owed = sum(
        (e.unit_amount + e.individual_amount
         for e in LedgerEntry.objects.filter(kind="assessed", unit=unit, period="2025-03")), Decimal(0),
    )  # fmt: skip
    rows = [{"unit_id": unit.pk, "period": "2025-03", "amount": f"{owed:.2f}", "paid_on": "2025-03-20"}]
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=rushan_clerk, kind="payment", period="2025-03", params={"rows": rows})
    assert refused.value.code == "payment_scope"
    person_rows = [{"person_id": flexible.pk, "period": "2025-03", "amount": "1.00", "paid_on": "2025-03-20"}]
    with pytest.raises(ChangeRefused):
        run_apply(actor=rushan_clerk, kind="payment", period="2025-03", params={"rows": person_rows})
    assert AuditEvent.objects.filter(action="access.denied", object_type="payment_row").count() == 2
    assert not LedgerEntry.objects.filter(kind="paid").exists()
    # The unit's own district pays it.
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows})
    assert LedgerEntry.objects.filter(kind="paid", unit=unit).exists()
