from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BusinessConfig(AppConfig):
    name = "sidms.business"
    label = "business"
    verbose_name = _("Business data of the five insurances")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from sidms.audit.verify import register_check

        # parameters registers its four-eyes proposal, accounts, payments, benefits and transfers their runs
        from sidms.business import accounts, benefits, ledger, parameters, payments, transfers  # noqa: F401

        # Parameter versions and assessment runs are vouched for by the audit chain (issue 8).
        register_check(parameters.verify_parameters)
        register_check(ledger.verify_ledger_keys)  # what a partitioned ledger's keys no longer enforce
        register_check(ledger.verify_runs)
        # The read door shows a ledger entry only while it matches its keyed digest (attack round 15).
        from sidms.changes.integrity import register_fact_digest

        register_fact_digest("ledger_entry", ledger.entry_digest)
        from sidms.business import rights

        register_check(rights.verify_statements)
        # Enrolments' entry rules are checked by the pipeline on every submission (issue 8 §2).
        from sidms.business import enrolment
        from sidms.changes.services import register_entry_check

        register_entry_check("person_enrolment", enrolment.check_person_enrolment)
        register_entry_check("unit_enrolment", enrolment.check_unit_enrolment)
        # …and the employment an employee's enrolment stands on is not changed from under it (round 15).
        register_entry_check("employment", enrolment.check_employment)
        from sidms.business import bases

        register_entry_check("base_declaration", bases.check_declaration)
        from sidms.business import deaths

        register_entry_check("death", deaths.check_death)
        register_entry_check("entitlement", benefits.check_entitlement)
        from sidms.changes.services import register_entry_context, register_entry_key, register_entry_lock

        # Where they decide a write, the rules of both sides lock the person first, so that an enrolment or a
        # declaration and a change of the employment it stands on, made at the same moment, do not both pass
        # on what the other had not committed (attack round 17; PostgreSQL).
        register_entry_lock("person_enrolment", enrolment.lock_person)
        register_entry_lock("base_declaration", enrolment.lock_person)
        register_entry_lock("employment", enrolment.lock_employed_person)

        # The rows of one import file held against each other under the same rules (an import stores its
        # rows together, so the entry checks, which read what is stored, would not see them).
        register_entry_key("person_enrolment", enrolment.person_enrolment_key)
        register_entry_key("death", deaths.death_key)
        register_entry_key("base_declaration", bases.declaration_key)

        # An import's rows read the parameters once for the whole file (one transaction: one snapshot).
        for entity in ("person_enrolment", "unit_enrolment", "base_declaration"):
            register_entry_context(entity, parameters.cached_parameters)
        post_migrate.connect(_seed, dispatch_uid="sidms.business.seed_parameters")


def _seed(sender: AppConfig, **kwargs: object) -> None:
    if sender.label != "business":
        return
    from pathlib import Path

    from django.conf import settings

    if Path(settings.SIDMS_KEY_FILE).exists():
        from sidms.business.parameters import seed_parameters

        seed_parameters()
