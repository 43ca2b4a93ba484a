"""Business data of the five insurances (issue 8): versioned policy parameters, enrolments, contribution
bases, the contribution ledger and its assessment runs.

Parameter versions are append-only rows vouched for by the audit chain (sidms.business.parameters);
enrolments and base declarations are governed registry records (declared, written through sidms.changes);
ledger entries are ``LedgerFact`` rows, each run's entries vouched for by one Merkle root in its audit event
(sidms.business.ledger).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class ParameterKind(models.TextChoices):
    POLICY = "policy", _("Policy parameter")
    BUSINESS = "business", _("Business-handling parameter")
    SYSTEM = "system", _("System parameter")


class ParameterVersion(models.Model):
    """One version of one parameter for one region ("" = the whole city), effective from a date.

    Rows are never changed (append-only triggers): a new value is a new version, proposed by one city-level
    system administrator and confirmed by a second. Each row carries a keyed digest over its content, and an
    audit event of the chain names the row and that digest, so a version altered, inserted or deleted
    behind the system's back is named by ``sidms audit verify``.
    """

    append_only: ClassVar[bool] = True

    key = models.CharField(_("parameter"), max_length=64)
    region = models.CharField(_("region"), max_length=6, blank=True, default="")
    version = models.PositiveIntegerField(_("version"))
    value = models.JSONField(_("value"))
    effective_from = models.DateField(_("effective from"))
    source = models.CharField(_("source document"), max_length=500)
    status = models.CharField(_("source status"), max_length=1)  # V / S / U of the business-rules notes
    checked = models.BooleanField(_("checked against the official notice"), default=False)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("recorded at"))
    created_by = models.CharField(_("recorded by"), max_length=150)
    digest = models.CharField(_("digest"), max_length=64)

    class Meta:
        ordering = ["key", "region", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "region", "version"], name="business_param_version")
        ]
        indexes = [models.Index(fields=["key", "region", "effective_from"], name="business_param_eff")]
        verbose_name = _("parameter version")
        verbose_name_plural = _("parameter versions")

    def __str__(self) -> str:
        return f"{self.key}@{self.region or '*'} v{self.version}"
