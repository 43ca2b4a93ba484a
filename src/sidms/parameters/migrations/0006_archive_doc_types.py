"""The document types of the electronic archive (sidms.archives): a code table, shipped with the product like
the others, so that a change to it is a migration vouched for by the reference fingerprint."""

from typing import Any

from django.db import migrations, models

# (code, Chinese, English, sort). Types after the Weihai agency's material lists (notes/business-rules.md).
DOC_TYPES = [
    ("id_copy", "居民身份证复印件", "ID card copy", 10),
    ("labour_contract", "劳动合同", "Labour contract", 20),
    ("authorisation", "书面授权委托书", "Written authorisation", 30),
    ("business_licence", "营业执照", "Business licence", 40),
    ("signed_agreement", "签署的保密协议", "Signed confidentiality agreement", 50),
    ("other", "其他材料", "Other material", 90),
]


def load(apps: Any, schema_editor: Any) -> None:
    CodeItem = apps.get_model("parameters", "CodeItem")
    for code, zh, en, sort in DOC_TYPES:
        CodeItem.objects.get_or_create(
            table="archive_doc_type", code=code, defaults={"name_zh": zh, "name_en": en, "sort": sort}
        )


def unload(apps: Any, schema_editor: Any) -> None:
    apps.get_model("parameters", "CodeItem").objects.filter(table="archive_doc_type").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("parameters", "0005_collectionrule_on_duplicate"),
    ]

    operations = [
        migrations.AlterField(
            model_name="codeitem",
            name="table",
            field=models.CharField(
                choices=[
                    ("AAE140", "Insurance type"),
                    ("person_category", "Person category"),
                    ("unit_type", "Unit type"),
                    ("service_kind", "Service institution type"),
                    ("archive_doc_type", "Archive document type"),
                ],
                max_length=32,
                verbose_name="code table",
            ),
        ),
        migrations.RunPython(load, unload),
    ]
