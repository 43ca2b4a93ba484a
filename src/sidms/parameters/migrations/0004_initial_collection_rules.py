"""The initial collection rules (R5, R7): which fields are required, how each is validated, its review
level and its external cross-checks. From here on the city-level administrator edits them in the UI."""

from datetime import UTC, datetime

from django.db import migrations

from sidms.audit.guards import append_only_operation

EFFECTIVE = datetime(2017, 12, 31, 16, 0, tzinfo=UTC)  # 2018-01-01 00:00 Beijing time

# (entity, field, required, validator, review level, cross-checks)
RULES = [
    ("person", "person_no", True, "text", "system", []),
    ("person", "id_number", True, "idcard", "manual", ["public_security", "civil_affairs"]),
    ("person", "name", True, "person_name", "manual", ["public_security"]),
    ("person", "sex", True, "sex", "system", []),
    ("person", "birth_date", True, "date", "system", []),
    ("person", "category", True, "code:person_category", "system", []),
    ("person", "district_id", True, "district", "system", []),
    ("person", "phone", False, "phone", "system", []),
    ("person", "email", False, "email", "system", []),
    ("person", "address", False, "text", "none", []),
    ("person", "postcode", False, "postcode", "system", []),
    ("person", "bank_account", False, "bank_account", "system", []),
    ("person", "status", True, "status", "system", []),
    ("unit", "unit_no", True, "text", "system", []),
    ("unit", "name", True, "text", "manual", ["market_regulation", "tax"]),
    ("unit", "credit_code", True, "uscc", "manual", ["market_regulation", "tax"]),
    ("unit", "org_code", False, "text", "system", []),
    ("unit", "unit_type", True, "code:unit_type", "system", []),
    ("unit", "district_id", True, "district", "system", []),
    ("unit", "address", False, "text", "none", []),
    ("unit", "postcode", False, "postcode", "system", []),
    ("unit", "contact_person", False, "text", "none", []),
    ("unit", "phone", False, "phone", "system", []),
    ("unit", "email", False, "email", "system", []),
    ("unit", "industry_risk_class", False, "risk_class", "system", []),
    ("unit", "status", True, "status", "system", []),
    ("employment", "person_id", True, "text", "system", []),
    ("employment", "unit_id", True, "text", "system", []),
    ("employment", "start_date", True, "date", "system", []),
    ("employment", "end_date", False, "date", "system", []),
    ("service_institution", "code", True, "text", "system", []),
    ("service_institution", "name", True, "text", "system", []),
    ("service_institution", "kind", True, "code:service_kind", "system", []),
    ("service_institution", "district_id", True, "district", "system", []),
    ("service_institution", "credit_code", False, "uscc", "manual", ["market_regulation"]),
    ("service_institution", "address", False, "text", "none", []),
    ("service_institution", "phone", False, "phone", "system", []),
    ("service_institution", "status", True, "status", "system", []),
    ("agency", "code", True, "text", "system", []),
    ("agency", "name", True, "text", "system", []),
    ("agency", "level", True, "agency_level", "system", []),
    ("agency", "district_id", True, "district", "system", []),
]


def load(apps, schema_editor):
    rule = apps.get_model("parameters", "CollectionRule")
    rule.objects.bulk_create(
        rule(
            entity=entity, field=field, version=1, required=required, validator=validator,
            review_level=level, crosschecks=checks, effective_from=EFFECTIVE, created_at=EFFECTIVE,
            created_by="system", reason="《威海市社会保险业务数据管理办法》第七条：初始采集规则",
        )
        for entity, field, required, validator, level, checks in RULES
    )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("parameters", "0003_collectionrule")]
    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
        append_only_operation("parameters_collectionrule"),
    ]
