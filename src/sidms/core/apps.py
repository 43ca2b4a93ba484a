from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "sidms.core"
    label = "core"
    verbose_name = _("Kernel")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from sidms.core import kernel

        kernel.build()
        post_migrate.connect(_reinstall_guards, sender=self)


def _reinstall_guards(sender: object, using: str = "default", **kwargs: object) -> None:
    from django.db import connections

    from sidms.core.guards import install_append_only

    install_append_only(connections[using])
