"""History is immutable: the database refuses UPDATE and DELETE on revisions (R9.2, R20)."""

from django.db import migrations

from sidms.core.guards import append_only_operation


class Migration(migrations.Migration):
    dependencies = [("changes", "0001_initial")]
    operations = [append_only_operation("changes_revision")]
