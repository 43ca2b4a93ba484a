"""The ledger run's upkeep after a bulk write (business.partitions.after_bulk_write): a run of many entries
spread thinly over many years (a transfer-in of working lives) is not a bulk load of any partition."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sidms.business import partitions
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db


@pytest.mark.req("R8")
def test_a_transfer_of_working_lives_does_not_maintain_every_years_partition(
    load: Any, huancui_clerk: Any, approver: Any
) -> None:
    """18 people's months from 16 to 2024 (some 10,600 entries, at most 216 in any year): no partition got a
    bulk load, so none is vacuumed or analysed inside the clerk's request (on a city's ledger each year's
    partition holds millions of rows: one VACUUM each, some forty of them, while the page waits)."""
    if connection.vendor != "postgresql":
        pytest.skip("partitions: PostgreSQL")
    with connection.cursor() as cursor:
        if not partitions.is_partitioned(cursor):
            pytest.skip("the ledger is not partitioned")
    people = load("person", [
        {"person_no": f"P7{i:08d}", "id_number": id_number(f"37100219600101{i + 100:03d}"), "name": "迁入" + "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未"[i],
         "sex": "1" if (i + 100) % 2 else "2", "birth_date": "1960-01-01", "category": "employee",
         "district_id": "371002", "status": "active"}
        for i in range(18)
    ])  # fmt: skip
    load("person_enrolment", [
        {"person_id": p.pk, "insurance": "110", "kind": "flexible", "status": "paying", "start_date": "2025-01-01"}
        for p in people
    ])  # fmt: skip
    months = [{"period": f"{y}-{m:02d}", "base": "3000.00"} for y in range(1976, 2025) for m in range(1, 13)]
    rows = [
        {"person_id": p.pk, "insurance": "110", "region": "370102", "received_on": "2025-03-10", "balance": "0",
         "months": months}
        for p in people
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        run = run_through(huancui_clerk, approver, "transfer_in", "2025-03", params={"rows": rows})
    assert run.entries == LedgerEntry.objects.filter(run=run).count() >= partitions.BULK
    upkeep = [q["sql"] for q in queries if q["sql"].startswith(("VACUUM", "ANALYZE"))]
    assert upkeep == [], upkeep
