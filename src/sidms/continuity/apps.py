from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContinuityConfig(AppConfig):
    name = "sidms.continuity"
    label = "continuity"
    verbose_name = _("Continuity and supervision")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, post_save

        from sidms.audit.models import AuditEvent
        from sidms.audit.verify import register_check
        from sidms.continuity import alerts
        from sidms.continuity.base import verify_sealed

        # Every register of this app is checked by `sidms audit verify`.
        register_check(verify_sealed)
        # Integrity failures reach the supervising department as soon as their event is committed, not at
        # the next timer run (R20).
        post_save.connect(alerts.on_audit_event, sender=AuditEvent, dispatch_uid="sidms.continuity.integrity")
        post_migrate.connect(_seed, dispatch_uid="sidms.continuity.seed_rules")


def _seed(sender: AppConfig, **kwargs: object) -> None:
    if sender.label != "continuity":
        return
    from pathlib import Path

    from django.conf import settings

    if Path(settings.SIDMS_KEY_FILE).exists():
        from sidms.continuity.alerts import seed_rules

        seed_rules()
