"""SQL for append-only tables: triggers that refuse UPDATE and DELETE, on SQLite and on PostgreSQL.

On PostgreSQL a table may be partitioned (the contribution ledger is, by period: sidms.business.partitions).
The row trigger of a partitioned table is cloned onto every partition, present and future, and cannot be
dropped from one alone; a TRUNCATE trigger is not cloned, so each partition gets its own (a DELETE or
TRUNCATE aimed at a partition by name is refused like one aimed at the table).
"""

from __future__ import annotations

from typing import Any


def append_only_sql(vendor: str, table: str, *, create: bool) -> list[str]:
    message = f"{table} is append-only"
    if vendor == "sqlite":
        if not create:
            return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        ]
    if vendor == "postgresql":
        if not create:
            return [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
                _on_partitions(table, create=False),
            ]
        return [
            "CREATE OR REPLACE FUNCTION sidms_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sidms_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION sidms_refuse_change()",
            _on_partitions(table, create=True),
        ]
    raise NotImplementedError(f"append-only guard for {vendor}")


def _on_partitions(table: str, *, create: bool) -> str:
    """PostgreSQL: the TRUNCATE trigger of each partition of TABLE (none if it is not partitioned)."""
    make = (
        "EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT "
        "EXECUTE FUNCTION sidms_refuse_change()', name, part); "
        if create
        else ""
    )
    return (
        f"DO $$ DECLARE part regclass; name text := '{table}_no_truncate'; BEGIN "  # noqa: S608  (a model's table)
        f"FOR part IN SELECT relid FROM pg_partition_tree('{table}') WHERE level > 0 LOOP "
        "EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', name, part); "
        f"{make}END LOOP; END $$"
    )


def append_only_tables() -> list[str]:
    """Tables of models that declare ``append_only = True``: audit events, revisions, versioned rules and
    every ledger fact (sidms.core.governed.LedgerFact). The declaration on the model is the list."""
    from django.apps import apps

    return sorted(m._meta.db_table for m in apps.get_models() if getattr(m, "append_only", False))


def install_append_only(connection: Any) -> None:
    """(Re)install every append-only trigger; idempotent. Run after every migrate, because SQLite rebuilds a
    table for many schema changes (Django's _remake_table) and a rebuilt table has lost its triggers."""
    tables = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table in append_only_tables():
            if table in tables:
                for statement in append_only_sql(connection.vendor, table, create=True):
                    cursor.execute(statement)


def append_only_operation(table: str) -> Any:
    """A migration operation that installs (and on reversal removes) the append-only triggers of TABLE."""
    from django.db import migrations

    def run(schema_editor: Any, *, create: bool) -> None:
        for statement in append_only_sql(schema_editor.connection.vendor, table, create=create):
            # No parameters, so no interpolation: the PostgreSQL function's text holds a literal '%'.
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(
        lambda apps, schema_editor: run(schema_editor, create=True),
        lambda apps, schema_editor: run(schema_editor, create=False),
    )
