from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "sidms.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from sidms.audit import signals  # noqa: F401  (connects the login/logout receivers)

        post_migrate.connect(_reinstall_guards, sender=self)


def _reinstall_guards(sender: object, using: str = "default", **kwargs: object) -> None:
    from django.db import connections

    from sidms.audit.guards import install_append_only

    install_append_only(connections[using])
