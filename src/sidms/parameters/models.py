"""Code tables (R2.3, principle 5): data loaded by migrations and maintained as data, not Python constants."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionKind(models.TextChoices):
    PROVINCE = "province", _("Province")
    PREFECTURE = "prefecture", _("Prefecture-level city")
    COUNTY = "county", _("County-level division")
    STATISTICAL_ZONE = "zone", _("Statistical zone (development zone)")


class Region(models.Model):
    """A GB/T 2260 division, or an NBS statistical zone, current or historical.

    Historical codes stay in the table with their end date: ID numbers issued under them remain valid.
    """

    code = models.CharField(_("code"), max_length=6, primary_key=True)
    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=RegionKind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    # Staff and records belong to a district; only divisions that the agency administers are districts.
    is_district = models.BooleanField(_("administered district"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("division")
        verbose_name_plural = _("divisions")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CodeTable(models.TextChoices):
    INSURANCE_TYPE = "AAE140", _("Insurance type")
    PERSON_CATEGORY = "person_category", _("Person category")
    UNIT_TYPE = "unit_type", _("Unit type")
    SERVICE_KIND = "service_kind", _("Service institution type")
    ARCHIVE_DOC_TYPE = "archive_doc_type", _("Archive document type")


class CodeItem(models.Model):
    table = models.CharField(_("code table"), max_length=32, choices=CodeTable.choices)
    code = models.CharField(_("code"), max_length=32)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=96)
    sort = models.PositiveIntegerField(_("order"), default=0)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        ordering = ["table", "sort", "code"]
        constraints = [models.UniqueConstraint(fields=["table", "code"], name="codeitem_table_code_unique")]
        verbose_name = _("code")
        verbose_name_plural = _("codes")

    def __str__(self) -> str:
        return f"{self.table}:{self.code} {self.name_zh}"

    @property
    def label(self) -> str:
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "").startswith("en") else self.name_zh


class ReviewLevel(models.TextChoices):
    """R7: how a change to a field is reviewed before it takes effect."""

    NONE = "none", _("No review: saved at once")
    SYSTEM = "system", _("System validation")
    MANUAL = "manual", _("Manual review with cross-checks")


class OnDuplicate(models.TextChoices):
    """What happens to a new record whose unique value (a person's ID number) is already registered."""

    REFUSE = "refuse", _("Refuse the new record")
    REVIEW = "review", _("Hold it for manual review as a suspected duplicate")


class CollectionRule(models.Model):
    """One version of the collection rule for one field of one entity (R5).

    Rows are never changed: an edit adds a new version with its own effective time, and the rule in force
    at an instant is the latest version whose effective time has come. So the rule history is the table
    itself, and the database refuses UPDATE and DELETE on it.
    """

    append_only: ClassVar[bool] = True

    entity = models.CharField(_("entity"), max_length=32)
    field = models.CharField(_("field"), max_length=64)
    version = models.PositiveIntegerField(_("version"))
    required = models.BooleanField(_("required"), default=False)
    validator = models.CharField(_("validator"), max_length=64, blank=True)
    review_level = models.CharField(_("review level"), max_length=16, choices=ReviewLevel.choices)
    crosschecks = models.JSONField(_("external cross-checks"), default=list, blank=True)
    on_duplicate = models.CharField(
        _("on a duplicate"), max_length=16, choices=OnDuplicate.choices, default=OnDuplicate.REFUSE
    )
    effective_from = models.DateTimeField(_("effective from"))
    created_at = models.DateTimeField(_("created at"))
    created_by = models.CharField(_("created by"), max_length=150)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        ordering = ["entity", "field", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "field", "version"], name="rule_entity_field_version")
        ]
        verbose_name = _("collection rule")
        verbose_name_plural = _("collection rules")

    def __str__(self) -> str:
        return f"{self.entity}.{self.field} v{self.version} ({self.review_level})"
