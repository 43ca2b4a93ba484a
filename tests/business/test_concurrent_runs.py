"""Two ledger runs executed at the same time (two clerks' payment extracts naming the same arrears, or the
same extract applied twice): the second must see what the first wrote. On PostgreSQL, READ COMMITTED let
each transaction read the arrears before the other committed, so both would pay them in full. A run's
execution now takes a transaction-level advisory lock as its first statement, held until it commits;
SQLite queues its writers already (sidms.core.sqlite, tests/core/test_sqlite_writers.py).

The test database is one transaction per test (its append-only tables refuse the TRUNCATE a transactional
test ends with), so the second run is played by another session of the server: while the first run is
executed and not committed, that session cannot take the runs' lock; once it is committed, it can."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from sidms.business.ledger import RUNS_LOCK, run_through
from sidms.business.models import LedgerEntry
from tests.business.conftest import other_session

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.2")
@pytest.mark.req("R9.1")
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's advisory lock; SQLite queues writers"
)
def test_a_second_run_waits_until_the_first_has_committed(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit = insured["unit"]
    with other_session() as other:
        assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", [RUNS_LOCK]).fetchone() == (True,)
        run_through(huancui_clerk, approver, "assessment", "2025-03")  # executed, not committed (test txn)
        # Another server process executing a run now would wait here, and then read this one's entries.
        other.execute("BEGIN")
        assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", [RUNS_LOCK]).fetchone() == (False,)
        other.execute("ROLLBACK")
    # And the run itself: a second payment of the same arrears, after the first, is refused.
    owed = sum(
        (e.unit_amount + e.individual_amount for e in LedgerEntry.objects.filter(kind="assessed", unit=unit)),
        Decimal(0),
    )
    row = {"unit_id": unit.pk, "period": "2025-03", "amount": f"{owed:.2f}", "paid_on": "2025-04-10"}
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": [row]})
    from sidms.core.errors import ChangeRefused

    with pytest.raises(ChangeRefused) as again:
        run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": [row]})
    assert again.value.code == "payment_unmatched"
