"""The contribution ledger partitioned by period on PostgreSQL (issue 8 §4, R2.2, R20): one partition per
year and a default one, (person, period) indexed on every partition, the append-only triggers on each
partition (an attacker would aim at the partition by name), the keys a partitioned table no longer enforces
checked by `sidms audit verify`, the conversion of a filled ledger, and `sidms ledger partitions`."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from sidms.business import partitions as lp
from sidms.business import rights
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry
from sidms.changes.verify import verify_store
from tests.audit.test_tampering import _raw, broken_at

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the ledger is partitioned on PostgreSQL only; SQLite keeps one table",
)
TABLE = lp.TABLE
Y2025 = lp.year_partition(2025)
NEXT_ID = f"(SELECT MAX(id) + 1 FROM {TABLE})"  # noqa: S608


def rows(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def where_rows_are() -> dict[str, int]:
    """Partition name -> how many ledger rows it holds."""
    return dict(rows(f"SELECT tableoid::regclass::text, COUNT(*) FROM {TABLE} GROUP BY 1"))  # noqa: S608


@pytest.fixture
def assessed(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> Iterator[Any]:
    yield run_through(huancui_clerk, approver, "assessment", "2025-03")


@postgres_only
@pytest.mark.req("R2.2")
def test_the_ledger_is_partitioned_by_year_with_one_persons_history_indexed_on_every_partition(
    assessed: Any, insured: dict[str, Any]
) -> None:
    assert rows(
        "SELECT p.partstrat, a.attname FROM pg_partitioned_table p JOIN pg_attribute a "
        "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE p.partrelid = %s::regclass",
        [TABLE],
    ) == [("r", "period")]
    bounds = lp.partitions(connection.cursor())
    assert set(bounds) == {lp.year_partition(y) for y in range(1992, 2041)} | {lp.DEFAULT}
    assert bounds[Y2025] == "FOR VALUES FROM ('2025') TO ('2026')" and bounds[lp.DEFAULT] == "DEFAULT"
    # The run's five entries went to 2025's partition, through COPY (changes.ledger.append_rows).
    assert where_rows_are() == {Y2025: 5}
    # One person's history: a local (person_id, period) index on every partition, attached to the table's,
    # carrying the columns the rights record reads.
    local = rows(
        "SELECT t.relname FROM pg_inherits i JOIN pg_class x ON x.oid = i.inhrelid "
        "JOIN pg_index ix ON ix.indexrelid = x.oid JOIN pg_class t ON t.oid = ix.indrelid "
        "WHERE i.inhparent = 'business_ledger_history'::regclass"
    )
    assert {name for (name,) in local} == set(bounds)
    # The rights record's own query (rights._ledger_rows, as sent) reads each partition by an index-only
    # scan of that index: a person's entries from adjacent index pages, not one heap page per entry. (The
    # planner would take a sequential scan of the few test rows: it is told not to, as it chooses by itself
    # on a real ledger.) A column added to the record's query and not to the index fails here.
    person = insured["employee"]
    with transaction.atomic():
        _raw("SET LOCAL enable_seqscan = off")
        _raw("SET LOCAL enable_bitmapscan = off")
        with CaptureQueriesContext(connection) as sent:
            assert rights._ledger_rows([person.pk], actor=None)[0]
        plan = "\n".join(r[0] for r in rows(f"EXPLAIN {sent.captured_queries[-1]['sql']}"))
    assert f"Index Only Scan using {Y2025}_person_id_period" in plan and "Seq Scan" not in plan, plan
    assert plan.count("Index Only Scan") == len(bounds), plan


@postgres_only
@pytest.mark.req("R20")
@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {Y2025} SET unit_amount = 1",  # noqa: S608
        f"DELETE FROM {Y2025}",  # noqa: S608
        f"TRUNCATE {Y2025}",
        f"TRUNCATE {TABLE}",
        f"DROP TRIGGER {TABLE}_append_only ON {Y2025}",
    ],
)
def test_a_partition_aimed_at_by_name_refuses_change(assessed: Any, statement: str) -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        _raw(statement)
    assert where_rows_are() == {Y2025: 5}
    assert verify_store().ok


def _forge(**changes: Any) -> None:
    """Insert into 2025's partition (or PARTITION) a copy of the run's first entry with CHANGES, as someone
    with SQL access and no key could: its digest stays the copied one."""
    partition = changes.pop("partition", Y2025)
    columns = [c for (c,) in rows("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                                  "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", [TABLE])]  # fmt: skip
    chosen = ", ".join(changes.get(c, c) for c in columns)
    _raw(f"INSERT INTO {partition} ({', '.join(columns)}) SELECT {chosen} FROM {TABLE} ORDER BY id LIMIT 1")  # noqa: S608


@postgres_only
@pytest.mark.req("R20")
def test_verify_names_the_run_of_an_entry_forged_into_a_partition(assessed: Any) -> None:
    _forge(id=NEXT_ID, uid="gen_random_uuid()")
    problem = broken_at()
    assert problem.kind == "ledger" and f"账务批次 #{assessed.pk}" in problem.where


@postgres_only
@pytest.mark.req("R20")
@pytest.mark.parametrize(
    ("changes", "named"),
    [
        # the same id and uid in another year's partition: no key of the table sees it
        ({"period": "'2024-03'", "partition": lp.year_partition(2024)}, "share one id:"),
        ({"id": NEXT_ID, "period": "'2024-03'", "partition": lp.year_partition(2024)}, "share one uid:"),
        ({"id": NEXT_ID, "uid": "gen_random_uuid()", "corrects_id": "987654321"}, "(corrects #987654321)"),
        ({"id": NEXT_ID, "uid": "gen_random_uuid()", "settles_id": "987654321"}, "(settles #987654321)"),
    ],
)
def test_verify_names_what_a_partitioned_ledgers_keys_no_longer_refuse(
    assessed: Any, changes: dict[str, str], named: str
) -> None:
    _forge(**changes)
    problem = broken_at()
    assert problem.kind == "ledger" and named in problem.message_en, problem


@postgres_only
@pytest.mark.req("R2.2")
def test_a_filled_ledger_is_converted_with_its_rows_ids_and_triggers(
    assessed: Any, huancui_clerk: Any, approver: Any
) -> None:
    before = set(LedgerEntry.objects.values_list("pk", "uid", "row_digest"))
    migration = importlib.import_module("sidms.business.migrations.0007_ledger_partitioned")
    with connection.schema_editor() as editor:
        migration.backward(apps, editor)
    assert not lp.is_partitioned(connection.cursor())
    assert where_rows_are() == {TABLE: 5}
    assert {c for (c,) in rows("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' "
                               "AND confrelid = conrelid", [TABLE])} != set()  # fmt: skip
    with connection.schema_editor() as editor:
        migration.forward(apps, editor)
    assert lp.is_partitioned(connection.cursor()) and where_rows_are() == {Y2025: 5}
    assert set(LedgerEntry.objects.values_list("pk", "uid", "row_digest")) == before
    assert verify_store().ok
    # The identity goes on from where it was: the next run's ids follow the copied ones.
    run_through(huancui_clerk, approver, "assessment", "2025-04")
    assert LedgerEntry.objects.filter(period="2025-04").order_by("pk").first().pk > max(
        p for p, _u, _d in before
    )
    assert verify_store().ok
    with pytest.raises(DatabaseError), transaction.atomic():
        _raw(f"DELETE FROM {Y2025}")  # noqa: S608
    with pytest.raises(DatabaseError), transaction.atomic():
        _raw(f"TRUNCATE {Y2025}")


@postgres_only
@pytest.mark.req("R2.2")
def test_a_period_without_its_year_goes_to_the_default_partition_and_moves_when_the_year_is_added(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    _raw(f"DROP TABLE {Y2025}")  # as if 2025 lay beyond the span
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    assert where_rows_are() == {lp.DEFAULT: 5}
    out = StringIO()
    call_command("ledger_partitions", until=2042, stdout=out)
    assert "2025, 2041, 2042" in out.getvalue()
    assert where_rows_are() == {Y2025: 5}
    assert verify_store().ok  # ids, uids and digests moved unchanged: every Merkle root holds
    for partition in (Y2025, lp.DEFAULT, lp.year_partition(2042)):  # new and rebuilt ones guarded too
        with pytest.raises(DatabaseError), transaction.atomic():
            _raw(f"TRUNCATE {partition}")
    with pytest.raises(DatabaseError), transaction.atomic():
        _raw(f"DELETE FROM {Y2025}")  # noqa: S608
    again = StringIO()
    call_command("ledger_partitions", until=2042, stdout=again)  # idempotent
    assert "already exist" in again.getvalue()
    assert set(lp.partitions(connection.cursor())) >= {lp.year_partition(2041), lp.year_partition(2042)}


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="the refusal is SQLite's; on PostgreSQL the command adds partitions (tests above)",
)
@pytest.mark.req("R2.2")
def test_ledger_partitions_is_refused_on_sqlite_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("ledger_partitions", until=2045)
    assert not rows("SELECT name FROM sqlite_master WHERE name LIKE %s", [f"{TABLE}_y%"])


def _catalogue(name: str) -> tuple[float, int]:
    """(reltuples, relallvisible) of NAME: what ANALYZE and VACUUM leave for the planner."""
    (row,) = rows("SELECT reltuples, relallvisible FROM pg_class WHERE relname = %s", [name])
    return float(row[0]), int(row[1])


@postgres_only
@pytest.mark.req("R2.2")
def test_a_bulk_run_analyses_the_partition_it_wrote_so_one_persons_history_is_planned_on_fresh_statistics(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run of BULK entries or more refreshes the statistics of the partitions it wrote: a partition never
    # analysed is planned as what it was (empty), and one person's history read by sequential scans.
    # BULK (10,000 entries) is lowered here to the test's five.
    assert _catalogue(Y2025)[0] < 0  # never analysed
    monkeypatch.setattr(lp, "BULK", 5)
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    assert _catalogue(Y2025)[0] == 5
    assert _catalogue(lp.year_partition(2024))[0] < 0  # only what the run wrote
    # Inside a transaction (this test's) ANALYZE alone: VACUUM, which sets the visibility map that the
    # history index's index-only scans need, cannot run in one. Outside (sidms, the bench) a run gets both;
    # bench/business.py prints the rights query's heap fetches after the measured runs (0 when vacuumed).
    assert _catalogue(Y2025)[1] == 0
    assert lp.after_bulk_write(connection, {2025, 2099}) == [lp.DEFAULT, Y2025]


@postgres_only
@pytest.mark.req("R2.2")
def test_the_maintenance_after_a_run_is_best_effort_the_run_stands_and_the_transaction_goes_on(
    assessed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Another session holds 2025's partition (a long report, an operator's lock): the ANALYZE after a run
    # waits past lock_timeout and fails. The run has committed by then (here: the test's transaction holds
    # it), so the failure is logged and the partition left to autovacuum; the transaction is still usable.
    import psycopg

    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"], dbname=settings["NAME"]
    )
    try:
        other.execute(f"LOCK TABLE {Y2025} IN SHARE UPDATE EXCLUSIVE MODE")  # as ANALYZE or VACUUM takes
        _raw("SET LOCAL lock_timeout = '200ms'")
        with caplog.at_level("WARNING", logger="sidms.business.partitions"):
            assert lp.after_bulk_write(connection, {2025}) == []
        assert f"{Y2025} left to autovacuum" in caplog.text
        assert where_rows_are() == {Y2025: 5}  # the same transaction goes on
    finally:
        other.rollback()
        other.close()
