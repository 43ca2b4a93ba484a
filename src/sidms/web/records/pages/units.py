"""A unit's page lists its current employees who are in the viewer's data scope."""

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
        ),
    )
)
