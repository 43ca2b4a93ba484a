from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "sidms.registry"
    label = "registry"
    verbose_name = _("Base data registry")

    def ready(self) -> None:
        from sidms.changes.services import register_entry_check
        from sidms.registry import delegated

        register_entry_check("delegated_query", delegated.check_delegated_query)
