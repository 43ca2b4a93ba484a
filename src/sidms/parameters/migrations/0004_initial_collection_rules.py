"""Formerly the initial collection rules. They are now seeded from each entity's declaration, with a
revision and an audit event (sidms.changes.rules.seed_declared_rules); this migration only makes the table
append-only. What it once inserted is kept in sidms.parameters.seed for adoption."""

from django.db import migrations

from sidms.core.guards import append_only_operation


class Migration(migrations.Migration):
    dependencies = [("parameters", "0003_collectionrule")]
    operations = [append_only_operation("parameters_collectionrule")]
