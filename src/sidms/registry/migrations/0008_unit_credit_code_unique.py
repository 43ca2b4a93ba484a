"""One unit per 统一社会信用代码, held by the database too: a partial unique key on the credit code of every
unit not flagged as a legacy duplicate. A database loaded before the key may hold duplicates (a legacy
migration kept them as found, as the demo's unit_name_variant does): in each group of units sharing a code,
the first registered (lowest id) keeps it and the others are flagged, so the key is added without refusing
what is stored; the quality work still finds every group by its credit code. The flag is not a governed
field: no row digest or revision changes."""

from typing import Any

from django.db import migrations, models
from django.db.models import Count, Min


def flag_duplicates(apps: Any, schema_editor: Any) -> None:
    unit = apps.get_model("registry", "Unit")
    groups = (
        unit.objects.exclude(credit_code="")
        .values("credit_code")
        .annotate(n=Count("id"), first=Min("id"))
        .filter(n__gt=1)
        .order_by()
    )
    for group in groups.iterator():
        unit.objects.filter(credit_code=group["credit_code"]).exclude(pk=group["first"]).update(
            credit_code_duplicate=True
        )


class Migration(migrations.Migration):
    dependencies = [
        ("parameters", "0006_archive_doc_types"),
        ("registry", "0007_delegated_query"),
    ]

    operations = [
        migrations.AddField(
            model_name="unit",
            name="credit_code_duplicate",
            field=models.BooleanField(
                default=False, editable=False, verbose_name="credit code kept as a legacy duplicate"
            ),
        ),
        migrations.RunPython(flag_duplicates, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="unit",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("credit_code_duplicate", False), models.Q(("credit_code", ""), _negated=True)
                ),
                fields=("credit_code",),
                name="unit_credit_code_unique",
            ),
        ),
    ]
