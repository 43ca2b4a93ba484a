"""The registers of continuity and supervision (R4.1, R16–R20).

Every model is a sealed workflow row (``sidms.continuity.base.SealedRow``): changed only by the services of
this app, each change an audit event with the row's step and seal, verified by `sidms audit verify`.

Scans (signed agreements, wipe certificates) will be archive items of ``sidms.archives``; until that app
exists a register holds the archive reference as text (``scan_ref``, ``certificate_ref``), to become a
foreign key to the archive item.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.continuity.base import SealedRow
from sidms.core.fields import BlindIndexField, EncryptedTextField


def _who(field: Any) -> Any:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=field,
    )


# --------------------------------------------------------------------------------------------------------
# R16: confidentiality agreements for staff, service institutions and IT vendors


class Vendor(SealedRow):
    """An IT vendor that maintains the system (an outsider: R16, R20(5))."""

    object_type = "vendor"

    name = models.CharField(_("name"), max_length=200)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    registered_by = _who(_("registered by"))
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("IT vendor")
        verbose_name_plural = _("IT vendors")

    def __str__(self) -> str:
        return self.name


class PartyKind(models.TextChoices):
    STAFF = "staff", _("Staff member")
    INSTITUTION = "institution", _("Service institution")
    VENDOR = "vendor", _("IT vendor")


class AgreementStatus(models.TextChoices):
    ACTIVE = "active", _("In force")
    REVOKED = "revoked", _("Revoked")


class Agreement(SealedRow):
    """A signed confidentiality agreement (保密协议). Valid from the day it is signed until it expires or is
    revoked; for a staff member the register is the source of the account's agreement dates."""

    object_type = "agreement"

    number = models.CharField(_("agreement number"), max_length=32, unique=True)
    party_kind = models.CharField(_("party"), max_length=16, choices=PartyKind.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("staff member"),
    )
    institution = models.ForeignKey(
        "registry.ServiceInstitution",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("service institution"),
    )
    vendor = models.ForeignKey(
        Vendor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="agreements",
        verbose_name=_("IT vendor"),
    )
    scope = models.CharField(_("scope"), max_length=500)
    signed_on = models.DateField(_("signed on"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    # The signed scan: an archive item of sidms.archives (its reference until that app exists).
    scan_ref = models.CharField(_("signed scan (archive reference)"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=AgreementStatus.choices, default="active")
    registered_by = _who(_("registered by"))
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)
    revoked_by = _who(_("revoked by"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoke_reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        ordering = ["-signed_on", "number"]
        verbose_name = _("confidentiality agreement")
        verbose_name_plural = _("confidentiality agreements")

    def __str__(self) -> str:
        return self.number

    def valid_on(self, day: date) -> bool:
        return (
            self.status == AgreementStatus.ACTIVE
            and self.signed_on <= day
            and (self.expires_on is None or day <= self.expires_on)
        )

    @property
    def party(self) -> str:
        target = self.staff or self.institution or self.vendor
        if target is None:
            return ""
        return str(getattr(target, "display_name", None) or target)


class StaffIdentity(SealedRow):
    """A staff member's own citizen ID number, encrypted and blind-indexed, so that a staff member reading
    their own record is found (R20 alert rule "own record") without the number ever being stored in plain
    text. Kept here rather than on the account because the account has no record identity to bind a
    ciphertext to; the security administrator records it."""

    object_type = "staff_identity"

    uid = models.UUIDField(_("identity"), default=uuid.uuid4, unique=True, editable=False)
    staff = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("staff member")
    )
    id_number = EncryptedTextField(_("citizen ID number"), domain="staff.id_number")
    id_number_index = BlindIndexField(source="id_number", domain="person.id_number", normaliser="idcard")

    class Meta:
        verbose_name = _("staff identity")
        verbose_name_plural = _("staff identities")

    def __str__(self) -> str:
        return f"staff #{self.staff_id}"


class VendorAccount(SealedRow):
    """A staff account that belongs to a vendor's engineer: enabled only while an approved maintenance window
    is open and the vendor's agreement is valid (R20(5): no outsider manages data alone or at will)."""

    object_type = "vendor_account"

    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("IT vendor")
    )
    staff = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    created_by = _who(_("created by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("vendor account")
        verbose_name_plural = _("vendor accounts")

    def __str__(self) -> str:
        return f"{self.vendor} · {self.staff_id}"


class WindowStatus(models.TextChoices):
    REQUESTED = "requested", _("Waiting for approval")
    APPROVED = "approved", _("Approved, not yet open")
    REFUSED = "refused", _("Refused")
    OPEN = "open", _("Open: account enabled")
    CLOSED = "closed", _("Closed: account disabled")


class MaintenanceWindow(SealedRow):
    """A vendor's maintenance window: applied for by the information centre, approved by the security
    administrator; the vendor account is enabled only while it is open."""

    object_type = "maintenance_window"

    account = models.ForeignKey(
        VendorAccount, on_delete=models.PROTECT, related_name="windows", verbose_name=_("vendor account")
    )
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="+", verbose_name=_("confidentiality agreement")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    purpose = models.CharField(_("purpose"), max_length=500)
    status = models.CharField(_("status"), max_length=16, choices=WindowStatus.choices, default="requested")
    applicant = _who(_("applicant"))
    applied_at = models.DateTimeField(_("applied at"), default=timezone.now)
    approver = _who(_("approver"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason for the decision"), max_length=500, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")

    def __str__(self) -> str:
        return f"MW{self.pk}"


# --------------------------------------------------------------------------------------------------------
# R19: storage media and computers that hold data; wiping before repair or scrapping


class MediumKind(models.TextChoices):
    DISK = "disk", _("Hard disk or SSD")
    TAPE = "tape", _("Backup tape")
    REMOVABLE = "removable", _("Removable drive")
    OPTICAL = "optical", _("Optical disc")
    SERVER = "server", _("Server")
    WORKSTATION = "workstation", _("Workstation")
    LAPTOP = "laptop", _("Laptop")


class MediumStatus(models.TextChoices):
    IN_USE = "in_use", _("In use")
    IN_STORE = "in_store", _("In the safe")
    OFFSITE = "offsite", _("At the off-site location")
    DISPOSAL = "disposal", _("Being wiped")
    REPAIR = "repair", _("Sent for repair (wiped)")
    SCRAPPED = "scrapped", _("Scrapped (wiped)")


class StorageMedium(SealedRow):
    object_type = "storage_medium"

    asset_no = models.CharField(_("asset number"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=MediumKind.choices)
    description = models.CharField(_("description"), max_length=200)
    serial_no = models.CharField(_("serial number"), max_length=64, blank=True)
    holds_data = models.BooleanField(_("holds social-insurance data"), default=True)
    location = models.CharField(_("kept at"), max_length=200)
    custodian = _who(_("custodian"))
    status = models.CharField(_("status"), max_length=16, choices=MediumStatus.choices, default="in_use")
    registered_by = _who(_("registered by"))
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)

    class Meta:
        ordering = ["asset_no"]
        verbose_name = _("storage medium")
        verbose_name_plural = _("storage media")

    def __str__(self) -> str:
        return self.asset_no


class DisposalReason(models.TextChoices):
    REPAIR = "repair", _("Sent for repair")
    SCRAP = "scrap", _("Scrapped")


class WipeMethod(models.TextChoices):
    OVERWRITE = "overwrite", _("Overwritten (every sector, verified)")
    SECURE_ERASE = "secure_erase", _("Drive's secure erase (ATA/NVMe sanitize)")
    CRYPTO_ERASE = "crypto_erase", _("Crypto-erase (encryption key destroyed)")
    DEGAUSS = "degauss", _("Degaussed")
    DESTROYED = "destroyed", _("Physically destroyed")


class DisposalStatus(models.TextChoices):
    OPEN = "open", _("Open: wipe to be recorded")
    CLOSED = "closed", _("Closed: wiped and certified")


class MediaDisposal(SealedRow):
    """A medium or computer leaving custody for repair or scrapping: it cannot be closed without the wipe
    method, the operator, a witness (another person), the date and the certificate scan (R19)."""

    object_type = "media_disposal"

    medium = models.ForeignKey(
        StorageMedium, on_delete=models.PROTECT, related_name="disposals", verbose_name=_("storage medium")
    )
    reason = models.CharField(_("reason"), max_length=16, choices=DisposalReason.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=DisposalStatus.choices, default="open")
    opened_by = _who(_("opened by"))
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    wipe_method = models.CharField(_("wipe method"), max_length=16, choices=WipeMethod.choices, blank=True)
    operator = _who(_("wiped by"))
    witness = _who(_("witness"))
    wiped_on = models.DateField(_("wiped on"), null=True, blank=True)
    # The wipe certificate's scan: an archive item of sidms.archives (its reference until that app exists).
    certificate_ref = models.CharField(_("wipe certificate (archive reference)"), max_length=64, blank=True)
    closed_by = _who(_("closed by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("media disposal")
        verbose_name_plural = _("media disposals")

    def __str__(self) -> str:
        return f"MD{self.pk}"


# --------------------------------------------------------------------------------------------------------
# R18: backups and drills


class BackupEngine(models.TextChoices):
    SQLITE = "sqlite", _("Embedded store (SQLite online backup)")
    POSTGRESQL = "postgresql", _("PostgreSQL (pgBackRest)")


class BackupStatus(models.TextChoices):
    REGISTERED = "registered", _("Kept")
    PRUNED = "pruned", _("Pruned by the retention policy")


class Backup(SealedRow):
    """One backup: who took it, when, its size and digest, the chain head and record counts it contains, and
    where its media is kept (R18.1–R18.3)."""

    object_type = "backup"

    label = models.CharField(_("label"), max_length=64, unique=True)
    engine = models.CharField(_("engine"), max_length=16, choices=BackupEngine.choices)
    kind = models.CharField(_("kind"), max_length=16)  # "snapshot" (SQLite) or pgBackRest's full/diff/incr
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("backup officer")
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    path = models.CharField(_("file"), max_length=500)
    size = models.BigIntegerField(_("size (bytes)"))
    digest = models.CharField(_("SHA-256 of the encrypted backup"), max_length=64)
    cipher = models.CharField(_("encryption"), max_length=64)
    key_version = models.PositiveIntegerField(_("key version"), null=True, blank=True)
    chain_seq = models.BigIntegerField(_("audit chain head (event)"))
    chain_hash = models.CharField(_("audit chain head (hash)"), max_length=64)
    counts = models.JSONField(_("record counts"), default=dict)
    restore_point = models.CharField(_("restore point"), max_length=64, blank=True)
    location = models.CharField(_("media kept at"), max_length=200)
    medium = models.ForeignKey(
        StorageMedium,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("storage medium"),
    )
    status = models.CharField(_("status"), max_length=16, choices=BackupStatus.choices, default="registered")
    pruned_at = models.DateTimeField(_("pruned at"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("backup")
        verbose_name_plural = _("backups")

    def __str__(self) -> str:
        return self.label


class DrillKind(models.TextChoices):
    RESTORE = "restore", _("Restore drill")
    FAILOVER = "failover", _("Standby failover drill")


class DrillResult(models.TextChoices):
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")


class RestoreDrill(SealedRow):
    """A recovery drill and what it proved (R18.3): a backup restored into a scratch database and verified, or
    a failover to the standby with its measured RPO and RTO (R18.2)."""

    object_type = "restore_drill"

    kind = models.CharField(_("kind"), max_length=16, choices=DrillKind.choices)
    backup = models.ForeignKey(
        Backup,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="drills",
        verbose_name=_("backup"),
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("operator")
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    seconds = models.FloatField(_("duration (s)"))
    result = models.CharField(_("result"), max_length=16, choices=DrillResult.choices)
    message = models.CharField(_("finding"), max_length=1000, blank=True)
    message_en = models.CharField(_("finding (English)"), max_length=1000, blank=True)
    measured = models.JSONField(_("measured"), default=dict)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("recovery drill")
        verbose_name_plural = _("recovery drills")

    def __str__(self) -> str:
        return f"DR{self.pk}"


# --------------------------------------------------------------------------------------------------------
# R20, R4.1: violation rules, alerts to the supervising department, rectification orders


class RuleCode(models.TextChoices):
    BULK_READS = "bulk_reads", _("Bulk reads of personal data by one account")
    OFF_HOURS = "off_hours", _("Reads outside working hours")
    DENIED = "denied", _("Repeated denied access")
    OWN_RECORD = "own_record", _("A staff member reading their own record")
    BULK_EXPORT = "bulk_export", _("Export above the threshold")
    DISABLED_ACCOUNT = "disabled_account", _("Use of a disabled or expired account")
    INTEGRITY = "integrity", _("Integrity failure")


class AlertRule(SealedRow):
    """A violation rule held as data: its threshold, time window and parameters are changed by the audit
    administrator, each change a new version."""

    object_type = "alert_rule"

    code = models.CharField(_("rule"), max_length=32, choices=RuleCode.choices, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    threshold = models.PositiveIntegerField(_("threshold"))
    window_minutes = models.PositiveIntegerField(_("time window (minutes)"))
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    changed_by = _who(_("changed by"))
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        ordering = ["code"]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self) -> str:
        return self.code


class AlertScan(SealedRow):
    """Where the evaluation of the audit stream has got to (one row)."""

    object_type = "alert_scan"

    last_seq = models.BigIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("alert scan position")

    def __str__(self) -> str:
        return f"#{self.last_seq}"


class AlertStatus(models.TextChoices):
    OPEN = "open", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    INVESTIGATING = "investigating", _("Under investigation")
    CLOSED = "closed", _("Closed")


class Alert(SealedRow):
    """A violation found in the audit stream, in the supervising department's inbox until closed with a
    conclusion; every step is audited."""

    object_type = "alert"

    rule = models.CharField(_("rule"), max_length=32, choices=RuleCode.choices)
    rule_version = models.PositiveIntegerField(_("rule version"))
    subject = models.CharField(_("account"), max_length=150, blank=True)
    summary = models.CharField(_("summary"), max_length=500)
    evidence = models.JSONField(_("evidence"), default=dict)
    first_seq = models.BigIntegerField(_("first event"))
    last_seq = models.BigIntegerField(_("last event"))
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default="open")
    acknowledged_by = _who(_("acknowledged by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    investigation = models.TextField(_("investigation"), blank=True)
    investigated_by = _who(_("investigated by"))
    investigated_at = models.DateTimeField(_("investigated at"), null=True, blank=True)
    conclusion = models.TextField(_("conclusion"), blank=True)
    closed_by = _who(_("closed by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["rule", "subject", "raised_at"], name="alert_rule_subject")]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")

    def __str__(self) -> str:
        return f"AL{self.pk}"


class OrderStatus(models.TextChoices):
    ISSUED = "issued", _("Issued: rectification due")
    RESPONDED = "responded", _("Rectification reported")
    CLOSED = "closed", _("Closed: rectified")


class RectificationOrder(SealedRow):
    """A rectification order (责令改正) from the supervising department to an agency, with a deadline, tracked
    until closed (R4.1, R20)."""

    object_type = "rectification_order"

    number = models.CharField(_("order number"), max_length=32, unique=True)
    agency = models.ForeignKey(
        "registry.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("agency")
    )
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", verbose_name=_("alert")
    )
    problems = models.TextField(_("problems found"))
    requirements = models.TextField(_("rectification required"))
    deadline = models.DateField(_("deadline"))
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default="issued")
    issued_by = _who(_("issued by"))
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    response = models.TextField(_("rectification report"), blank=True)
    responded_by = _who(_("reported by"))
    responded_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    closing_note = models.TextField(_("closing note"), blank=True)
    closed_by = _who(_("closed by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("rectification order")
        verbose_name_plural = _("rectification orders")

    def __str__(self) -> str:
        return self.number

    def overdue(self, today: date | None = None) -> bool:
        return self.status != OrderStatus.CLOSED and self.deadline < (today or timezone.localdate())
