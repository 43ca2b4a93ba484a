"""A unit's credit_code_duplicate enters its row digest (issue 7: digests cover every stored column that
affects reads or decisions). The flag takes the unit out of the credit code's unique key, so one set or
cleared in SQL must be evidence; it is part of the record's state while set (kernel.EntitySpec.flags), so
every unit never flagged keeps its digest and history as they are.

The units flagged before this rule — by a legacy migration's import, or by migration 0008 on a live
database's duplicates — each get one revision that holds the flag (method "upgrade", built from their
latest revision), vouched for by one audit event (sidms.changes.upgrade.cover_flags). It runs here, once,
in the transaction that records this migration: afterwards a flag their history does not hold is never
adopted. A database without flagged units (a new one) needs nothing, not even the key file; one with them
needs the key file the data was written with, as every write does."""

from typing import Any

from django.db import migrations


def cover_flags(apps: Any, schema_editor: Any) -> None:
    unit = apps.get_model("registry", "Unit")
    if not unit.objects.filter(credit_code_duplicate=True).exists():
        return
    from sidms.changes.upgrade import cover_flags as cover
    from sidms.core.caller import Caller
    from sidms.core.kernel import spec_for

    cover(spec_for("unit"), actor=Caller("system:upgrade", request_id=""), reference="registry.0009")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_chainhead_mac"),
        ("changes", "0005_revision_method_upgrade"),
        ("registry", "0008_unit_credit_code_unique"),
    ]

    operations = [migrations.RunPython(cover_flags, migrations.RunPython.noop, elidable=False)]
