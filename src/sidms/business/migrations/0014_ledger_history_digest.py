"""The history index carries what each entry's keyed digest covers (models.HISTORY_COLUMNS): the rights
record checks every entry it counts, still by an index-only scan on PostgreSQL. SQLite ignores INCLUDE."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("business", "0013_ledger_transfer_in"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="ledgerentry",
            name="business_ledger_history",
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                fields=["person", "period"],
                include=(
                    "id",
                    "insurance",
                    "kind",
                    "base",
                    "entry_date",
                    "settles",
                    "corrects",
                    "account_credit",
                    "unit_amount",
                    "individual_amount",
                    "uid",
                    "unit",
                    "unit_rate",
                    "individual_rate",
                    "run",
                    "created_at",
                    "row_digest",
                ),
                name="business_ledger_history",
            ),
        ),
    ]
