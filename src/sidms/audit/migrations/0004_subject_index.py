"""The subject index (B1): one row for each record an audit event names in its detail (a list page's, an
export page's, a queue page's records), so that a person's access record finds the lists and exports they
appeared in. Append-only, as the events are. The events already in the chain are indexed here from their
hashed payloads by the rule the audit layer applies to every new one (sidms.audit.subjects.named), so that
verification finds every row it expects."""

from django.db import migrations, models

from sidms.core.guards import append_only_operation

CHUNK = 5000


def index_existing(apps, schema_editor):
    import orjson

    from sidms.audit import subjects

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        last = 0
        while True:
            # Only events whose payload may name records are parsed: the rule reads these two keys only.
            cursor.execute(
                "SELECT seq, payload FROM audit_auditevent WHERE seq > %s "
                "AND (payload LIKE %s OR payload LIKE %s) ORDER BY seq LIMIT %s",
                [last, '%"shown":[%', '%"queue_records":[%', CHUNK],
            )
            found = cursor.fetchall()
            if not found:
                return
            rows: list[tuple[str, str, int]] = []
            for seq, payload in found:
                body = orjson.loads(payload)
                rows.extend((e, k, seq) for e, k in subjects.named(body["object_type"], body["detail"]))
            if rows:
                subjects.insert(rows, connection)
            last = found[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_chainhead_mac"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditSubject",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "entity",
                        "record_key",
                        "seq",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("entity", models.CharField(max_length=64, verbose_name="entity")),
                ("record_key", models.CharField(max_length=64, verbose_name="record")),
                ("seq", models.BigIntegerField(verbose_name="sequence")),
            ],
            options={
                "verbose_name": "audit event subject",
                "verbose_name_plural": "audit event subjects",
                "indexes": [models.Index(fields=["seq"], name="audit_subject_seq")],
            },
        ),
        migrations.RunPython(index_existing, migrations.RunPython.noop),
        append_only_operation("audit_auditsubject"),
    ]
