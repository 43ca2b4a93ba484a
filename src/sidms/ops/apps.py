from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """The operator commands (sidms demo, serve, migrate hooks, audit verify, keys, totp): the delivery
    layer for the information centre, beside the web pages and the API."""

    name = "sidms.ops"
    label = "ops"
    verbose_name = _("Operator commands")
