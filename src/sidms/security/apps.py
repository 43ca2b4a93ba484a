from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "sidms.security"
    label = "security"
    verbose_name = _("Security")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Registers post proposals with the review service and the staff check with verification.
        from sidms.security import accounts, limits

        post_migrate.connect(_adopt, dispatch_uid="sidms.security.adopt_staff")
        _ = accounts, limits


def _adopt(sender: AppConfig, **kwargs: object) -> None:
    if sender.label != "security":
        return
    from pathlib import Path

    from django.conf import settings

    if Path(settings.SIDMS_KEY_FILE).exists():
        from sidms.security.accounts import adopt_existing_accounts

        adopt_existing_accounts()
