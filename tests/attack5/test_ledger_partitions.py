"""Attack on the partitioned ledger (business.partitions, migration business/0007) and the other append-only
tables as their owner, with raw SQL.

What held already: a partition DETACHed (its rows vanish from every read) makes `sidms audit verify` exit 1
naming the run whose Merkle root no longer holds; an entry inserted into a partition by name, an id or uid
repeated across partitions, a reference to no entry are named (tests/business/test_partitions.py); a period
outside its partition's range is refused by PostgreSQL itself, even into the default partition.

What did not: the guard can be opened without touching a row, and verification said the store was intact —
``ALTER TABLE <partition> DISABLE TRIGGER`` (the cloned row trigger cannot be dropped from a partition, but it
can be disabled), a table of the intruder's ATTACHed in place of a partition (PostgreSQL clones the row
trigger onto it, not the TRUNCATE one), the refusing function replaced by one that lets everything through,
a trigger recreated for UPDATE only, on SQLite a trigger dropped. Until a row is changed the digests see
nothing, and a change to a column no digest covers (an entry's ``version``) is never seen.

Fix: verification names an append-only table or partition whose guard is missing, disabled or rewritten
(core.guards.guard_problem), after every data check, so that what an opened guard let through is named
first."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from sidms.business import partitions as lp
from sidms.business.ledger import run_through
from sidms.changes.verify import verify_store
from tests.audit.test_tampering import _raw, broken_at

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's partitions")
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's triggers")
TABLE = lp.TABLE
Y2025 = lp.year_partition(2025)
LET_THROUGH = (
    "CREATE OR REPLACE FUNCTION sidms_refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RETURN COALESCE(NEW, OLD); END $$"
)


@pytest.fixture
def assessed(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> Any:
    run = run_through(huancui_clerk, approver, "assessment", "2025-03")
    assert verify_store().ok
    if connection.vendor == "postgresql":
        _raw("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks: ALTER TABLE refuses them
    return run


@postgres_only
@pytest.mark.req("R20")
def test_a_detached_partition_names_the_run_whose_entries_vanished(assessed: Any) -> None:
    _raw(f"ALTER TABLE {TABLE} DETACH PARTITION {Y2025}")
    problem = broken_at()
    assert problem.kind == "ledger" and f"账务批次 #{assessed.pk}" in problem.where


@postgres_only
@pytest.mark.req("R20")
@pytest.mark.parametrize(
    ("statements", "named"),
    [
        ([f"ALTER TABLE {Y2025} DISABLE TRIGGER {TABLE}_append_only"], Y2025),
        ([f"ALTER TABLE {Y2025} DISABLE TRIGGER {TABLE}_no_truncate"], Y2025),
        ([f"DROP TRIGGER {TABLE}_no_truncate ON {lp.DEFAULT}"], lp.DEFAULT),
        ([f"DROP TRIGGER {TABLE}_append_only ON {TABLE}",
          f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE ON {TABLE} FOR EACH ROW "
          "EXECUTE FUNCTION sidms_refuse_change()"], TABLE),  # DELETE let through
        ([f"ALTER TABLE {TABLE} DETACH PARTITION {Y2025}", f"ALTER TABLE {Y2025} RENAME TO forged",
          f"CREATE TABLE {Y2025} (LIKE {TABLE} INCLUDING CONSTRAINTS)", f"INSERT INTO {Y2025} SELECT * FROM forged",  # noqa: S608
          f"ALTER TABLE {TABLE} ATTACH PARTITION {Y2025} FOR VALUES FROM ('2025') TO ('2026')"], Y2025),
        ([LET_THROUGH], "sidms_refuse_change"),
        (["ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only"], "audit_auditevent"),
    ],
    ids=["row-disabled", "truncate-disabled", "truncate-dropped", "update-only", "attached", "function",
         "audit-disabled"],
)  # fmt: skip
def test_a_guard_opened_without_touching_a_row_is_named(
    assessed: Any, statements: list[str], named: str
) -> None:
    for statement in statements:
        _raw(statement)
    problem = broken_at()
    assert problem.kind == "guard" and named in (problem.where + problem.message_en), problem


@postgres_only
@pytest.mark.req("R20")
def test_what_an_opened_guard_let_through_is_named_first(assessed: Any) -> None:
    _raw(f"ALTER TABLE {Y2025} DISABLE TRIGGER {TABLE}_append_only")
    _raw(f"UPDATE {Y2025} SET unit_amount = unit_amount + 1")  # noqa: S608
    problem = broken_at()
    assert problem.kind == "ledger" and f"账务批次 #{assessed.pk}" in problem.where


@sqlite_only
@pytest.mark.req("R20")
@pytest.mark.parametrize("table", [TABLE, "audit_auditevent"])
def test_a_dropped_trigger_is_named(assessed: Any, table: str) -> None:
    _raw(f"DROP TRIGGER {table}_no_delete")
    problem = broken_at()
    assert problem.kind == "guard" and table in problem.where, problem
