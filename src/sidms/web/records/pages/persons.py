"""A person's page lists their employments, each linking to its unit (and a new one can be entered here)."""

from django.utils.translation import gettext_lazy as _

from sidms.web.records.pages import PageModule, Related, register

register(
    PageModule(
        "person",
        related=(
            Related(
                _("Employment"), "employment", "person", ("unit_id", "start_date", "end_date"), create=True
            ),
        ),
    )
)
