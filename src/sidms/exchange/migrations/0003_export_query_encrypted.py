"""An export's search text is encrypted, bound to its request (attack round 17): an ID number searched for was
kept in plain text in ``exchange_exportrequest`` (and every backup), beside every person's own ID number
encrypted. Each stored text is encrypted under the key ring's current version with the request's uid as
associated data, as ``ExportRequest.query`` now stores it.

The request's seal covers the text (``changes.seals.row_seal`` reads the decrypted value), so each row keeps the
seal and step its latest audit event recorded: no event is written and verification finds every row as it was.
Reversed, the texts are decrypted back into a plain column."""

from django.db import migrations

import sidms.core.fields

DOMAIN = "export.query"


def encrypt(apps, schema_editor):
    from sidms.core.fields import seal

    model = apps.get_model("exchange", "ExportRequest")
    rows = model.objects.exclude(query="").values_list("pk", "uid", "query")
    for pk, uid, query in rows.iterator(chunk_size=1000):
        # The historical model has no write path of its own: this migration is the only writer here.
        model.objects.filter(pk=pk).update(query_sealed=seal(DOMAIN, uid, query))


def decrypt(apps, schema_editor):
    from sidms.core.fields import unseal

    model = apps.get_model("exchange", "ExportRequest")
    rows = model.objects.filter(query_sealed__isnull=False).values_list("pk", "uid", "query_sealed")
    for pk, uid, token in rows.iterator(chunk_size=1000):
        model.objects.filter(pk=pk).update(query=str(unseal(DOMAIN, uid, token.token)))


class Migration(migrations.Migration):
    dependencies = [("exchange", "0002_withdrawn_status")]

    operations = [
        migrations.AddField(
            model_name="exportrequest",
            name="query_sealed",
            field=sidms.core.fields.EncryptedTextField(
                blank=True, domain=DOMAIN, null=True, verbose_name="query"
            ),
        ),
        migrations.RunPython(encrypt, decrypt),
        migrations.RemoveField(model_name="exportrequest", name="query"),
        migrations.RenameField(model_name="exportrequest", old_name="query_sealed", new_name="query"),
    ]
