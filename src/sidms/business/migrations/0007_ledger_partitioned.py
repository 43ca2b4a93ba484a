"""On PostgreSQL, the contribution ledger becomes a table partitioned by period (one partition per year and a
default one; sidms.business.partitions says what changes). SQLite keeps one table: nothing to do there."""

from typing import Any

from django.db import migrations

from sidms.business.partitions import SELF_REFERENCES, partition, unpartition


def forward(apps: Any, schema_editor: Any) -> None:
    partition(schema_editor.connection)


def backward(apps: Any, schema_editor: Any) -> None:
    # The foreign keys of corrects and settles come back as Django makes them (its name and definition).
    model = apps.get_model("business", "LedgerEntry")
    fields = [model._meta.get_field(column.removesuffix("_id")) for column in SELF_REFERENCES]
    restore = [str(schema_editor._create_fk_sql(model, f, "_fk_%(to_table)s_%(to_column)s")) for f in fields]
    unpartition(schema_editor.connection, restore)


class Migration(migrations.Migration):
    dependencies = [("business", "0006_entitlement_and_more")]

    operations = [migrations.RunPython(forward, backward)]
