from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "sidms.web"
    label = "web"
    verbose_name = _("Staff web interface")

    def ready(self) -> None:
        from sidms.web.records import pages
        from sidms.web.workflow import presenters

        pages.discover()
        presenters.discover()
