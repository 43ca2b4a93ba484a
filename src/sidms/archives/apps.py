from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArchivesConfig(AppConfig):
    name = "sidms.archives"
    label = "archives"
    verbose_name = _("Electronic archives")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from sidms.archives import retention, services, verify
        from sidms.audit.verify import register_check
        from sidms.changes.services import register_approval_check
        from sidms.continuity.keys import register_reencrypt

        # Every item's file: present, of the size its item implies, decrypting as that item's (verify.py).
        register_check(verify.verify_files)
        # Every tombstone (an item purged after its retention period) belongs to an approved purge.
        register_check(retention.verify_tombstones)
        # `sidms keys rotate` re-encrypts every archive file under the new key version.
        register_reencrypt("archive_files", services.reencrypt_files)
        # A review request whose required documents are missing or rejected cannot be approved.
        register_approval_check("archives", services.require_documents)
        post_migrate.connect(_seed, dispatch_uid="sidms.archives.seed_requirements")


def _seed(sender: AppConfig, **kwargs: object) -> None:
    if sender.label != "archives":
        return
    from pathlib import Path

    from django.conf import settings

    if Path(settings.SIDMS_KEY_FILE).exists():
        from sidms.archives.services import seed_requirements

        seed_requirements()
