"""A person's page lists their employments, each linking to its unit (and a new one can be entered here), and
their business data (issue 8): enrolments, yearly bases, benefit entitlements and contributions."""

from django.utils.translation import gettext_lazy as _

from sidms.web.records.pages import PageModule, Related, register

register(
    PageModule(
        "person",
        related=(
            Related(
                _("Employment"), "employment", "person", ("unit_id", "start_date", "end_date"), create=True
            ),
            Related(
                _("Enrolments"), "person_enrolment", "person",
                ("insurance", "kind", "unit_id", "status", "start_date", "status_date"), create=True,
            ),
            Related(_("Contribution bases"), "base_declaration", "person", ("year", "unit_id", "declared_wage", "base")),
            Related(
                _("Benefit entitlements"), "entitlement", "person",
                ("kind", "start_date", "monthly_amount", "one_time_amount", "status", "certified_on"),
            ),
            Related(
                _("Delegated queries"), "delegated_query", "person", ("delegate_name", "purpose", "valid_until"),
                create=True,
            ),
            Related(
                _("Contributions"), "ledger_entry", "person",
                ("period", "insurance", "kind", "base", "unit_amount", "individual_amount", "account_credit"),
                newest_first="period", limit=24,
            ),
        ),
    )
)  # fmt: skip
