"""Attack round 8 on the runs page (R9.3): the approver approves what he cannot see.

The page listed each run's kind, period, status and applicant, never its parameters: the approver of a
correction did not see which entry nor the base it was corrected to, of a payment extract neither its rows
nor its total, of a transfer neither the months nor the balance credited. A correction to the ceiling and a
payment of a few fen read the same as any other. The page now shows what each run would write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sidms.business.ledger import run_apply, run_through
from sidms.business.models import EntryKind, LedgerEntry

pytestmark = [pytest.mark.django_db, pytest.mark.req("R9.3")]


def test_the_approver_sees_the_base_of_a_correction_and_the_total_of_a_payment_extract(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    unit = insured["unit"]
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    entry = LedgerEntry.objects.get(person=insured["employee"], insurance="110", kind=EntryKind.ASSESSED)
    run_apply(actor=huancui_clerk, kind="correction", period="2025-03",
              params={"entry": entry.pk, "base": "7654.32"})  # fmt: skip
    rows = [
        {"unit_id": unit.pk, "period": "2025-03", "amount": "1000.50", "paid_on": "2025-03-20"},
        {
            "person_id": insured["flexible"].pk,
            "period": "2025-03",
            "amount": "234.56",
            "paid_on": "2025-03-21",
        },
    ]
    run_apply(actor=huancui_clerk, kind="payment", period="2025-03", params={"rows": rows})
    page = signed_in(approver).get("/business/runs/").content.decode()
    assert f"#{entry.pk}" in page and "¥7,654.32" in page
    assert "¥1,235.06" in page and f"¥{Decimal('1000.50') + Decimal('234.56'):,}" in page
