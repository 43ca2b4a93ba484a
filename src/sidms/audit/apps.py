from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "sidms.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        from sidms.audit import signals  # noqa: F401  (connects the login/logout receivers)
