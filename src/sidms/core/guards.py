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
            f"CREATE OR REPLACE FUNCTION sidms_refuse_change() RETURNS trigger LANGUAGE plpgsql AS ${_REFUSE}$",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sidms_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION sidms_refuse_change()",
            _on_partitions(table, create=True),
        ]
    raise NotImplementedError(f"append-only guard for {vendor}")


# The body of the PostgreSQL function every append-only trigger calls (what pg_proc.prosrc holds).
_REFUSE = "$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $"
REFUSE_BODY = _REFUSE.strip("$")
# pg_trigger.tgtype of the two PostgreSQL triggers: ROW | BEFORE | DELETE | UPDATE, and BEFORE | TRUNCATE.
_ROW_TYPE, _TRUNCATE_TYPE = 1 | 2 | 8 | 16, 2 | 32


def guard_problem(connection: Any) -> tuple[str, str] | None:
    """The first append-only table, or partition of one, whose guard is not as installed: (relation, what).
    Verification reports it (attack round 5): the table owner can disable a partition's cloned trigger
    (``ALTER TABLE … DISABLE TRIGGER``), attach a table of their own as a partition (it gets the row trigger
    but no TRUNCATE trigger), drop and recreate a trigger for UPDATE only, or replace the function the
    triggers call with one that lets every change through. Each leaves the data intact until it is used,
    and the data's digests and Merkle roots then name what changed; this names the opening itself."""
    tables = set(connection.introspection.table_names())
    wanted = [t for t in append_only_tables() if t in tables]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            present = dict(cursor.fetchall())
            for table in wanted:
                for statement in append_only_sql("sqlite", table, create=True):
                    name = statement.split()[5]  # CREATE TRIGGER IF NOT EXISTS <name> BEFORE <event> …
                    sql = " ".join(str(present.get(name) or "").split())
                    if f" BEFORE {statement.split()[7]} ON {table} " not in sql or "RAISE(ABORT" not in sql:
                        return table, f"trigger {name} missing or changed"
                    if " WHEN " in sql.upper():
                        return table, f"trigger {name} changed"
            return None
        if connection.vendor != "postgresql":
            return None
        cursor.execute(
            "SELECT t.name, c.relname, g.tgname, g.tgtype, g.tgenabled, p.prosrc "
            "FROM unnest(%s::text[]) AS t(name) "
            "CROSS JOIN LATERAL (SELECT t.name::regclass AS relid UNION "
            "SELECT relid FROM pg_partition_tree(t.name::regclass)) r "
            "JOIN pg_class c ON c.oid = r.relid "
            "LEFT JOIN pg_trigger g ON g.tgrelid = r.relid AND g.tgname IN (t.name || '_append_only', "
            "t.name || '_no_truncate') LEFT JOIN pg_proc p ON p.oid = g.tgfoid ORDER BY 1, 2, 3",
            [wanted],
        )
        found: dict[tuple[str, str], dict[str, tuple[int, str, str]]] = {}
        for table, relation, trigger, kind, enabled, body in cursor.fetchall():
            triggers = found.setdefault((table, relation), {})
            if trigger is not None:
                triggers[trigger] = (kind, enabled, body)
    for (table, relation), triggers in sorted(found.items()):
        for name, kind in ((f"{table}_append_only", _ROW_TYPE), (f"{table}_no_truncate", _TRUNCATE_TYPE)):
            got = triggers.get(name)
            if got is None:
                return relation, f"trigger {name} missing"
            if got[0] != kind:
                return relation, f"trigger {name} changed"
            if got[1] not in ("O", "A"):
                return relation, f"trigger {name} disabled"
            if got[2] != REFUSE_BODY:
                return relation, "the function sidms_refuse_change changed"
    return None


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
