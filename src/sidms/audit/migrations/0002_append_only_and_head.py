"""The database itself refuses UPDATE and DELETE on audit events (R20): a bug, a careless script or an
operator with SQL access cannot quietly rewrite history. Dropping the trigger is possible for the owner
of the schema, which is why the hash chain and the off-host checkpoints exist as well."""

from django.conf import settings
from django.db import migrations

from sidms.core.guards import append_only_operation


def start_chain(apps, schema_editor):
    head = apps.get_model("audit", "ChainHead")
    head.objects.create(id=1, algorithm=settings.SIDMS_AUDIT_HASH, seq=0, hash="0" * 64)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [
        migrations.RunPython(start_chain, migrations.RunPython.noop),
        append_only_operation("audit_auditevent"),
    ]
