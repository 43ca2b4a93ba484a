"""A unit's page lists its current employees who are in the viewer's data scope, its enrolments per
insurance (with the work-injury class and tier) and its contributions (issue 8)."""

from django.utils.translation import gettext_lazy as _

from sidms.web.records.pages import PageModule, Related, register

register(
    PageModule(
        "unit",
        related=(
            Related(
                _("Current employees"),
                "employment",
                "unit",
                ("person_id", "start_date"),
                only_current="end_date",
            ),
            Related(
                _("Enrolments"), "unit_enrolment", "unit",
                ("insurance", "industry_class", "tier", "status", "start_date"), create=True,
            ),
            Related(
                _("Contributions"), "ledger_entry", "unit",
                ("period", "person_id", "insurance", "kind", "unit_amount", "individual_amount"),
                newest_first="period", limit=50,
            ),
        ),
    )
)  # fmt: skip
