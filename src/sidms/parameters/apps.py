from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParametersConfig(AppConfig):
    name = "sidms.parameters"
    label = "parameters"
    verbose_name = _("Parameters and code tables")
