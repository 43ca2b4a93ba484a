"""The archive item (a governed record) and the archive department's rules (sealed rows).

An archive item is the catalogue entry of one scan: what it is (a document type from the code table
``archive_doc_type``), what it is attached to (a person, a unit, a review request, a maintenance order, a
batch application or a confidentiality agreement), the keyed content hash that names its encrypted file in
the file store, its review status and its retention period. Every change is a revision and an audit event
(``sidms.changes.services.apply_values``); the file itself is never in the database.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.continuity.base import SealedRow
from sidms.core.declare import Declaration
from sidms.core.governed import RegistryRecord


class ItemStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for archive review")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    # A tombstone: the retention period ran out and a governed purge deleted the file; the catalogue entry
    # stays (sidms.archives.retention).
    PURGED = "purged", _("Purged after retention")


# What an item may be attached to: the attribute name and its audit label.
TARGETS: dict[str, str] = {
    "person": "person_id",
    "unit": "unit_id",
    "change_request": "change_request_id",
    "maintenance_order": "maintenance_order_id",
    "batch_application": "batch_application_id",
    "agreement": "agreement_id",
}


def _target(model: str, name: Any) -> Any:
    return models.ForeignKey(
        model,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="archive_items",
        verbose_name=name,
    )


class ArchiveItem(RegistryRecord):
    """One scanned document in the electronic archive."""

    district = models.ForeignKey("parameters.Region", on_delete=models.PROTECT, verbose_name=_("district"))
    person = _target("registry.Person", _("person"))
    unit = _target("registry.Unit", _("unit"))
    change_request = _target("changes.ChangeRequest", _("review request"))
    maintenance_order = _target("changes.MaintenanceOrder", _("maintenance order"))
    batch_application = _target("changes.BatchApplication", _("batch application"))
    agreement = _target("continuity.Agreement", _("confidentiality agreement"))
    doc_type = models.CharField(_("document type"), max_length=32)  # code table archive_doc_type
    received_on = models.DateField(_("received on"))
    kind = models.CharField(_("file type"), max_length=8)  # jpeg | png | tiff | pdf (sidms.lib.files)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    pages = models.PositiveIntegerField(_("pages"))
    # The keyed hash (HMAC) of the plaintext: the file's name in the store, and how duplicates are found.
    content_mac = models.CharField(_("content hash"), max_length=64, db_index=True)
    # The identity the stored file's chunks are bound to: this item's uid, or the uid of the first item that
    # stored the same content (a duplicate on another record shares the file).
    blob_uid = models.CharField(_("file identity"), max_length=36)
    retention_years = models.PositiveSmallIntegerField(_("retention (years, 0 = permanent)"))
    status = models.CharField(_("status"), max_length=16, choices=ItemStatus.choices, default="pending")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_on = models.DateField(_("reviewed on"), null=True, blank=True)
    review_reason = models.CharField(_("review reason"), max_length=500, blank=True)

    governance = Declaration(
        entity="archive_item",
        fields=(
            "district_id",
            "person_id",
            "unit_id",
            "change_request_id",
            "maintenance_order_id",
            "batch_application_id",
            "agreement_id",
            "doc_type",
            "received_on",
            "kind",
            "size",
            "pages",
            "content_mac",
            "blob_uid",
            "retention_years",
            "status",
            "uploaded_by_id",
            "reviewed_by_id",
            "reviewed_on",
            "review_reason",
        ),
        key="pk",
        district="district",
        identity=("district_id", "content_mac", "blob_uid", "uploaded_by_id"),
        codes={"doc_type": "archive_doc_type"},
    )

    class Meta:
        ordering = ["-received_on", "-pk"]
        verbose_name = _("archive item")
        verbose_name_plural = _("archive items")

    def __str__(self) -> str:
        return f"#{self.pk} {self.doc_type}"

    @property
    def target_kind(self) -> str:
        for kind, attname in TARGETS.items():
            if getattr(self, attname) is not None:
                return kind
        return ""


class ArchiveRequirement(SealedRow):
    """A rule of the archive department: business type BUSINESS needs an accepted document of DOC_TYPE.

    Held as data (seeded after migrate, each row sealed and vouched for by an audit event, so a rule
    removed in SQL is named by `sidms audit verify`)."""

    object_type: ClassVar[str] = "archive_requirement"

    business = models.CharField(_("business type"), max_length=32)
    doc_type = models.CharField(_("document type"), max_length=32)

    class Meta:
        ordering = ["business", "doc_type"]
        constraints = [
            models.UniqueConstraint(fields=["business", "doc_type"], name="archive_requirement_unique")
        ]
        verbose_name = _("archive requirement")
        verbose_name_plural = _("archive requirements")

    def __str__(self) -> str:
        return f"{self.business}: {self.doc_type}"


class PurgeStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a second person")
    DONE = "done", _("Purged")
    REFUSED = "refused", _("Refused")


class ArchivePurge(SealedRow):
    """A purge of archive items past their retention period: the listing one archive reviewer proposed (the
    item ids, frozen), and the decision of a second one; approved, the items become tombstones and their
    encrypted files are deleted (sidms.archives.retention)."""

    object_type: ClassVar[str] = "archive_purge"

    items = models.JSONField(_("items"), default=list)
    as_of = models.DateField(_("past retention on"))
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(_("status"), max_length=16, choices=PurgeStatus.choices)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    proposed_at = models.DateTimeField(_("proposed at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason for the decision"), max_length=500, blank=True)
    files_deleted = models.PositiveIntegerField(_("files deleted"), default=0)

    class Meta:
        ordering = ["-proposed_at"]
        verbose_name = _("archive purge")
        verbose_name_plural = _("archive purges")

    def __str__(self) -> str:
        return f"PU{self.pk}"
