"""The kernel's own table: number sequences for system-assigned record numbers."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class NumberSequence(models.Model):
    """The last serial handed out for one entity's record numbers (sidms.lib.recordno). Locked while a
    number is assigned. Winding it back cannot duplicate a number: the record numbers are unique."""

    entity = models.CharField(_("entity"), max_length=32, primary_key=True)
    last = models.BigIntegerField(_("last serial"), default=0)

    class Meta:
        verbose_name = _("number sequence")
        verbose_name_plural = _("number sequences")

    def __str__(self) -> str:
        return f"{self.entity}: {self.last}"
