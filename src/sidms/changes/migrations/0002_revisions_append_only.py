"""History is immutable: the database refuses UPDATE and DELETE on revisions (R9.2, R20)."""

from django.db import migrations

from sidms.audit.guards import append_only_sql


def forwards(apps, schema_editor):
    for statement in append_only_sql(schema_editor.connection.vendor, "changes_revision", create=True):
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    for statement in append_only_sql(schema_editor.connection.vendor, "changes_revision", create=False):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("changes", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
