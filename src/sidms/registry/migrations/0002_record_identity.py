"""Every governed record gets a stable identity (uid): encrypted values are bound to it and digests cover
it. Added in three steps, because one default for every existing row would not be unique."""

import uuid

import django.db.models.deletion
from django.db import migrations, models

MODELS = ("agency", "employment", "person", "serviceinstitution", "unit")


def fill(apps, schema_editor):
    for name in MODELS:
        model = apps.get_model("registry", name)
        for pk in model.objects.filter(uid__isnull=True).values_list("pk", flat=True).iterator():
            # The historical model has no write guard: this migration is the only writer here.
            model.objects.filter(pk=pk).update(uid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [
        *(
            migrations.AddField(
                model_name=name, name="uid", field=models.UUIDField(null=True, editable=False)
            )
            for name in MODELS
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        *(
            migrations.AlterField(
                model_name=name,
                name="uid",
                field=models.UUIDField(
                    default=uuid.uuid4, editable=False, unique=True, verbose_name="identity"
                ),
            )
            for name in MODELS
        ),
        migrations.AlterField(
            model_name="employment",
            name="person",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="employments",
                to="registry.person",
                verbose_name="person",
            ),
        ),
        migrations.AlterField(
            model_name="employment",
            name="unit",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="employments",
                to="registry.unit",
                verbose_name="unit",
            ),
        ),
    ]
