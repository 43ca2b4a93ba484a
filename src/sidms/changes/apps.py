import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)


class ChangesConfig(AppConfig):
    name = "sidms.changes"
    label = "changes"
    verbose_name = _("Change pipeline")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from sidms.access import policies
        from sidms.access import workflow as workflows
        from sidms.changes import reference, rules  # noqa: F401  (register rule proposals and the reference check)
        from sidms.changes.integrity import read_with_history, require_read_intact, withhold_unintact
        from sidms.changes.seals import require_move_genuine

        # A request or order whose record moved is read in its new district once the move is genuine.
        workflows.register_record_check(require_move_genuine)
        # A record page, or a record in a list, is shown only while the record matches its history (its
        # district may have been written in SQL).
        policies.register_read_guard(require_read_intact, many=withhold_unintact, read_with=read_with_history)
        from sidms.changes.batches import cleaning_code

        # The fingerprint of the code that cleans import rows, taken from the files this process loaded
        # (a dry run's sealed rows are trusted at execution only under the same code: batches.rules_digest).
        cleaning_code()

        # post_migrate is sent once per app after the whole migration run, so every table exists by then.
        post_migrate.connect(_seed_rules, dispatch_uid="sidms.changes.seed_rules")


def _seed_rules(sender: AppConfig, using: str = "default", plan: object = None, **kwargs: object) -> None:
    if sender.label != "changes":
        return
    from pathlib import Path

    from django.conf import settings

    if not Path(settings.SIDMS_KEY_FILE).exists():
        # The rules are written with revisions and audit events, which need the key ring; `sidms keys init`
        # and the next `sidms migrate` seed them.
        log.warning("collection rules not seeded: no key file at %s", settings.SIDMS_KEY_FILE)
        return
    from sidms.changes.reference import record_after_migrate
    from sidms.changes.rules import seed_declared_rules

    seed_declared_rules()
    record_after_migrate(plan)
