from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "sidms.exchange"
    label = "exchange"
    verbose_name = _("Imports and exports")

    def ready(self) -> None:
        from sidms.changes.batches import register_ended_hook
        from sidms.continuity.keys import register_reencrypt
        from sidms.exchange.exports import reencrypt_queries
        from sidms.exchange.imports import discard_rows

        # An import application that ends (refused, or executed) leaves no use for its sealed rows.
        register_ended_hook("exchange.sealed_rows", discard_rows)
        # `sidms keys rotate` re-encrypts every export's search text under the new key version.
        register_reencrypt("export_queries", reencrypt_queries)
