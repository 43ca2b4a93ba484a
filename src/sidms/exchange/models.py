"""The registers of imports and exports (B3, R6.2, R10.3).

Both are sealed workflow rows (``sidms.continuity.base.SealedRow``): every change is a service of this app
that writes an audit event carrying the row's step and seal, so an UPDATE behind the system's back (an
export made "approved", a downloaded one made downloadable again, a different file put under an approved
import) no longer matches its seal or its latest event; the services refuse such a row and
`sidms audit verify` names it (``verify_sealed`` checks every concrete SealedRow).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.continuity.base import SealedRow
from sidms.core.fields import EncryptedTextField

# The encryption domain of an export's search text (ExportRequest.query).
QUERY_DOMAIN = "export.query"


class ImportFile(SealedRow):
    """A spreadsheet applied for import: the file (encrypted at rest under the data directory, named by this
    row's uid and bound to it), its SHA-256, which rows of it the applicant kept, and the import batch
    application that carries it through approval and execution.

    The rows given to the batch are the file's rows minus ``excluded`` (those refused by the dry run and
    those the applicant left out). The batch's rows digest pins them down: a file or a list of exclusions
    changed after approval gives other rows, and execution refuses them (sidms.changes.batches)."""

    object_type = "import_file"

    uid = models.UUIDField(_("identity"), unique=True)
    kind = models.CharField(_("import kind"), max_length=32)
    filename = models.CharField(_("file name"), max_length=255)
    file_digest = models.CharField(_("file digest (SHA-256)"), max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    rows_total = models.PositiveIntegerField(_("data rows in the file"))
    rows_kept = models.PositiveIntegerField(_("rows applied for"))
    # Row numbers (as the spreadsheet shows them) not applied for: refused by the checks or left out.
    excluded = models.JSONField(_("rows left out"), default=list)
    batch = models.OneToOneField(
        "changes.BatchApplication",
        on_delete=models.PROTECT,
        related_name="import_file",
        verbose_name=_("batch"),
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("applicant")
    )
    applied_at = models.DateTimeField(_("applied at"))

    class Meta:
        ordering = ["-applied_at"]
        verbose_name = _("import file")
        verbose_name_plural = _("import files")

    def __str__(self) -> str:
        return f"IM{self.pk} {self.kind} {self.filename}"


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved, not yet downloaded")
    REFUSED = "refused", _("Refused")
    DOWNLOADED = "downloaded", _("Downloaded")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ExportRequest(SealedRow):
    """One export of a list (R10.3): what was asked for (entity, query, filters, sort, format, purpose), by
    whom, how many rows (the search text encrypted, an ID number in the purpose masked); above the threshold a second person's decision and the window in which the file may
    be downloaded once; the digest of the file handed out."""

    object_type = "export"

    uid = models.UUIDField(_("identity"), unique=True)
    entity = models.CharField(_("entity"), max_length=32)
    # The search text as typed, which may be an ID number or a name: encrypted, bound to this request (its uid),
    # as a person's own ID number is; the seal covers the text, so a ciphertext put here from another row no
    # longer decrypts and `sidms audit verify` names the row. No one looks requests up by it: no blind index.
    query = EncryptedTextField(_("query"), domain=QUERY_DOMAIN)
    filters = models.JSONField(_("filters"), default=dict)
    sort = models.CharField(_("sort"), max_length=64, blank=True)
    format = models.CharField(_("format"), max_length=8)  # xlsx | csv
    encoding = models.CharField(_("encoding"), max_length=16, blank=True)  # utf-8-sig | gbk (CSV)
    purpose = models.CharField(_("stated purpose"), max_length=200)
    row_count = models.PositiveIntegerField(_("rows"))
    status = models.CharField(_("status"), max_length=16, choices=ExportStatus.choices)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"))
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason for the decision"), max_length=500, blank=True)
    window_end = models.DateTimeField(_("download window closes"), null=True, blank=True)
    downloaded_at = models.DateTimeField(_("downloaded at"), null=True, blank=True)
    file_digest = models.CharField(_("file digest (SHA-256)"), max_length=64, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"EX{self.pk} {self.entity}"
