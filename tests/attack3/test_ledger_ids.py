"""Attack on the ledger as a database administrator: a part payment names the entry it settles by its row
id (``settles``), and an entry's digest covers its uid and content but not its own row id. Swapping the ids
of two assessed entries moves a payment from one debtor to the other: is that named by verify?"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry
from sidms.changes.verify import verify_store
from sidms.core.guards import append_only_sql

pytestmark = pytest.mark.django_db


@pytest.mark.req("R20")
@pytest.mark.req("R2.2")
def test_swapping_the_ids_of_two_entries_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit, flexible = insured["unit"], insured["flexible"]
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    rows = LedgerEntry.objects.filter(kind="assessed", unit=unit, period="2025-03")
    owed = sum((e.unit_amount + e.individual_amount for e in rows), Decimal(0))
    paid = [{"unit_id": unit.pk, "period": "2025-03", "amount": f"{owed - 1:.2f}", "paid_on": "2025-03-20"}]
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": paid})
    assert verify_store().ok
    a = LedgerEntry.objects.filter(kind="assessed", unit=unit, insurance="110").values_list("pk", flat=True)[
        0
    ]
    b = LedgerEntry.objects.filter(kind="assessed", person=flexible, insurance="110").values_list(
        "pk", flat=True
    )[0]
    table = LedgerEntry._meta.db_table
    spare = 10**9
    with connection.cursor() as cursor:  # the administrator lifts the append-only guard and puts it back
        for statement in append_only_sql(connection.vendor, table, create=False):
            cursor.execute(statement)
        for old, new in ((a, spare), (b, a), (spare, b)):
            cursor.execute(f"UPDATE {table} SET id = %s WHERE id = %s", [new, old])  # noqa: S608
        for statement in append_only_sql(connection.vendor, table, create=True):
            cursor.execute(statement)
    report = verify_store()
    assert not report.ok
    assert "ledger" in str(report.problem).lower() or "账" in str(report.problem), report.problem
