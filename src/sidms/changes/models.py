"""The change pipeline's records: revisions (history), review requests, maintenance orders, batches.

Revisions are immutable (the database refuses UPDATE and DELETE) and kept apart from the live tables, so
that live queries stay simple and any record can be rebuilt as of any instant (R9.2).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.core.declare import Queue, Step, Workflow

# What an approver or a modifier decided, shown in their 已办 lists whatever the row's status has become since.
APPROVED = _("Approved")
MODIFIED = _("Modified")


class Channel(models.TextChoices):
    """R6: the way data came in. Every stored value records it through its revision."""

    WINDOW = "window", _("Service window")
    COLLABORATION = "collaboration", _("Business collaboration")
    ONLINE = "online", _("Online platform")
    KIOSK = "kiosk", _("Self-service kiosk")
    IMPORT = "import", _("Import")
    MAINTENANCE = "maintenance", _("Maintenance")


class Method(models.TextChoices):
    """How an applied change was decided."""

    DIRECT = "direct", _("Applied on submission")
    REVIEW = "review", _("Approved by manual review")
    MAINTENANCE = "maintenance", _("Maintenance modification")
    SEND_BACK = "send_back", _("Restored by re-check send-back")
    BATCH = "batch", _("Authorised batch")
    IMPORT = "import", _("Authorised import")
    RULES = "rules", _("Rule edit by the city-level administrator")
    REKEY = "rekey", _("Re-encrypted under the record's identity")
    UPGRADE = "upgrade", _("Digest rule extended by an upgrade")


class Revision(models.Model):
    append_only: ClassVar[bool] = True

    entity = models.CharField(_("entity"), max_length=32)
    record_id = models.BigIntegerField(_("record"))
    version = models.PositiveIntegerField(_("version"))
    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.CharField(_("actor"), max_length=150)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    request_id = models.CharField(_("request"), max_length=64, blank=True)
    reference = models.CharField(_("reference"), max_length=64, blank=True)  # review/maintenance/batch id
    changes = models.JSONField(_("changes"))  # {field: [old, new]}; encrypted fields as {"enc": …}
    state = models.JSONField(_("state after the change"))  # every governed field, same representation
    digest = models.CharField(_("digest"), max_length=64)
    # The digest of the revision before it ("" for the first): each record's history is a chain of its own,
    # and the pipeline refuses to build on a row whose digest is not the head of that chain.
    prev_digest = models.CharField(_("previous digest"), max_length=64, blank=True, default="")
    # What the quality work must know, e.g. {"nonconforming": {field: reason}} for legacy data migrated
    # as found. Not part of the digest: it describes the revision, it is not the record.
    notes = models.JSONField(_("notes"), default=dict, blank=True)
    seal = models.CharField(_("seal"), max_length=64, blank=True)  # keyed MAC of the metadata (seals.py)

    class Meta:
        ordering = ["entity", "record_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "record_id", "version"], name="revision_record_version")
        ]
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")

    def __str__(self) -> str:
        return f"{self.entity}#{self.record_id} v{self.version}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    APPROVED = "approved", _("Approved and applied")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ChangeRequest(models.Model):
    """Fields held for manual review (R7.3): the old value stays in force until a reviewer approves."""

    entity = models.CharField(_("entity"), max_length=32)
    record_id = models.BigIntegerField(_("record"), null=True, blank=True)  # None: a new record
    record_label = models.CharField(_("record"), max_length=64)
    district = models.ForeignKey("parameters.Region", on_delete=models.PROTECT, related_name="+")
    base_version = models.PositiveIntegerField(_("version when submitted"))
    proposed = models.JSONField(_("proposed values"))  # {field: [old, new]}, encrypted fields sealed
    crosschecks = models.JSONField(_("cross-check results"), default=list)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"))
    status = models.CharField(_("status"), max_length=16, choices=ReviewStatus.choices, default="pending")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason"), max_length=500, blank=True)
    # Who decides: a reviewer (R7.3), or for rule and parameter changes a second city-level administrator.
    decider_post = models.CharField(_("decided by post"), max_length=32, default="reviewer")
    # The blind index of the value that must stay unique (a new person's ID number), so that a second
    # submission of the same number is found while the first still waits.
    match_index = models.CharField(max_length=64, blank=True, db_index=True)
    note = models.CharField(_("note"), max_length=200, blank=True)  # e.g. suspected duplicate
    step = models.PositiveIntegerField(_("step"), default=1)  # grows with each step; the audit chain vouches
    seal = models.CharField(_("seal"), max_length=64, blank=True)

    workflow = Workflow(
        name="change_request",
        prefix="CR",
        district="district",
        view_permissions=("review.decide", "rules.confirm", "staff.confirm"),
        own="submitted_by",
        own_permissions=("record.submit", "rules.edit", "staff.manage"),
        follows_record=True,
        decider="decider_post",
        withdrawable="pending",
        withdrawn="withdrawn",
        queues=(
            Queue(
                "review", "review.decide", where={"status": "pending", "decider_post": "reviewer"},
                exclude=("submitted_by",), order="submitted_at", title=_("Waiting for review"),
                empty=_("Nothing waits for your review."),
            ),
            Queue(
                "review_done", "review.decide", where={"decider_post": "reviewer"}, actor="decided_by",
                at="decided_at", order="-decided_at", todo=False, title=_("Decided by me"),
                empty=_("You have decided no request yet."),
            ),
            Queue(
                "confirm", "rules.confirm", where={"status": "pending", "decider_post": "city_admin"},
                exclude=("submitted_by",), order="submitted_at", city_level=True,
                title=_("Rule changes waiting for confirmation"), empty=_("No rule change waits for you."),
            ),
            Queue(
                "confirm_done", "rules.confirm", where={"decider_post": "city_admin"}, actor="decided_by",
                at="decided_at", order="-decided_at", city_level=True, todo=False,
                title=_("Rule changes I decided"), empty=_("You have decided no rule change yet."),
            ),
            Queue(
                "confirm_staff", "staff.confirm", where={"status": "pending", "decider_post": "security_admin"},
                exclude=("submitted_by",), order="submitted_at", city_level=True,
                title=_("Posts waiting for confirmation"), empty=_("No post waits for your confirmation."),
            ),
            Queue(
                "confirm_staff_done", "staff.confirm", where={"decider_post": "security_admin"},
                actor="decided_by", at="decided_at", order="-decided_at", city_level=True, todo=False,
                title=_("Posts I decided"), empty=_("You have decided no post yet."),
            ),
            Queue(
                "mine", "record.submit", mine=True, order="-submitted_at", todo=False,
                title=_("Submitted by me"), empty=_("You have submitted nothing that needed review."),
            ),
        ),
    )  # fmt: skip

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["status", "district"], name="changerequest_queue")]
        verbose_name = _("review request")
        verbose_name_plural = _("review requests")

    def __str__(self) -> str:
        return f"CR{self.pk} {self.entity}#{self.record_id}"


class MaintenanceStatus(models.TextChoices):
    APPLIED = "applied", _("Applied for, waiting for approval")
    APPROVED = "approved", _("Approved, waiting for modification")
    REFUSED = "refused", _("Refused")
    MODIFIED = "modified", _("Modified, waiting for re-check")
    ACCEPTED = "accepted", _("Re-checked and accepted")
    SENT_BACK = "sent_back", _("Sent back; previous values restored")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class MaintenanceOrder(models.Model):
    """A correction of stored data: apply → approve → modify → re-check (R9.3), each by another person."""

    entity = models.CharField(_("entity"), max_length=32)
    record_id = models.BigIntegerField(_("record"))
    record_label = models.CharField(_("record"), max_length=64)
    district = models.ForeignKey("parameters.Region", on_delete=models.PROTECT, related_name="+")
    proposed = models.JSONField(_("proposed values"))  # {field: [old, new]} at application time
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(
        _("status"), max_length=16, choices=MaintenanceStatus.choices, default="applied"
    )
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(_("applied at"))
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    modifier = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    modified_at = models.DateTimeField(null=True, blank=True)
    modified_version = models.PositiveIntegerField(null=True, blank=True)
    rechecker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rechecked_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(_("reason for the decision"), max_length=500, blank=True)
    step = models.PositiveIntegerField(_("step"), default=1)
    seal = models.CharField(_("seal"), max_length=64, blank=True)

    # apply → approve → modify → re-check (R9.3), each step by a person who took no earlier one.
    workflow = Workflow(
        name="maintenance",
        prefix="MO",
        district="district",
        view_permissions=(
            "maintenance.apply", "maintenance.approve", "maintenance.modify", "maintenance.recheck",
        ),
        own="applicant",
        follows_record=True,
        withdrawable="applied",
        withdrawn="withdrawn",
        queues=(
            Queue(
                "approve", "maintenance.approve", where={"status": "applied"}, exclude=("applicant",),
                order="applied_at", title=_("Waiting for approval"), empty=_("Nothing waits for your approval."),
            ),
            Queue(
                "approve_done", "maintenance.approve", actor="approver", at="approved_at", order="-approved_at",
                todo=False, decisions=dict.fromkeys(("approved", "modified", "accepted", "sent_back"), APPROVED),
                title=_("Maintenance I approved or refused"), empty=_("You have decided no maintenance yet."),
            ),
            Queue(
                "modify", "maintenance.modify", where={"status": "approved"}, exclude=("applicant", "approver"),
                order="approved_at", title=_("Waiting for modification"),
                empty=_("Nothing waits for you to modify."),
            ),
            Queue(
                "modify_done", "maintenance.modify", actor="modifier", at="modified_at", order="-modified_at",
                todo=False, decisions=dict.fromkeys(("modified", "accepted", "sent_back"), MODIFIED),
                title=_("Maintenance I modified"), empty=_("You have modified no maintenance order yet."),
            ),
            Queue(
                "recheck", "maintenance.recheck", where={"status": "modified"},
                exclude=("applicant", "approver", "modifier"), order="modified_at",
                title=_("Waiting for re-check"), empty=_("Nothing waits for your re-check."),
            ),
            Queue(
                "recheck_done", "maintenance.recheck", actor="rechecker", at="rechecked_at",
                order="-rechecked_at", todo=False, title=_("Maintenance I re-checked"),
                empty=_("You have re-checked no maintenance order yet."),
            ),
            Queue(
                "mine", "maintenance.apply", mine=True, order="-applied_at", todo=False,
                title=_("Maintenance I applied for"), empty=_("You have applied for no maintenance."),
            ),
        ),
        steps=(
            Step("applied", "approve", "maintenance.approve", ("applicant",)),
            Step("approved", "modify", "maintenance.modify", ("applicant", "approver")),
            Step("modified", "recheck", "maintenance.recheck", ("applicant", "approver", "modifier")),
        ),
    )  # fmt: skip

    class Meta:
        ordering = ["-applied_at"]
        verbose_name = _("maintenance order")
        verbose_name_plural = _("maintenance orders")

    def __str__(self) -> str:
        return f"MO{self.pk} {self.entity}#{self.record_id}"


class BatchStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Waiting for city-level approval")
    APPROVED = "approved", _("Approved: one execution authorised")
    REFUSED = "refused", _("Refused")
    EXECUTED = "executed", _("Executed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class BatchKind(models.TextChoices):
    UPDATE = "update", _("Change the selected records")
    IMPORT = "import", _("Import new records")


class BatchApplication(models.Model):
    """A change to many records at once (R9.3). Approval at city level fixes the row count and the time
    window of exactly one execution; anything outside that authorisation is refused."""

    kind = models.CharField(_("kind"), max_length=16, choices=BatchKind.choices)
    entity = models.CharField(_("entity"), max_length=32)
    selection = models.JSONField(
        _("selection"), default=dict
    )  # field lookups, e.g. {"district_id": "371002"}
    # {field: new value} (update batches), in the pipeline's representation: an encrypted field's new value
    # is a ciphertext ({"enc": …, "idx": …}) bound to this application, never plain text.
    change = models.JSONField(_("change"), default=dict)
    payload_digest = models.CharField(_("import file digest"), max_length=64, blank=True)
    # Migration of legacy data (存量数据迁移): values that fail a rule are stored as found and flagged for
    # rectification (R13–R15) instead of refusing the row. Only a city-approved batch can do this.
    legacy = models.BooleanField(_("legacy data migration"), default=False)
    row_count = models.PositiveIntegerField(_("rows when applied for"))
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(_("status"), max_length=16, choices=BatchStatus.choices, default="submitted")
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(_("applied at"))
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    authorised_rows = models.PositiveIntegerField(_("authorised rows"), null=True, blank=True)
    window_start = models.DateTimeField(_("execution window opens"), null=True, blank=True)
    window_end = models.DateTimeField(_("execution window closes"), null=True, blank=True)
    executor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    executed_at = models.DateTimeField(null=True, blank=True)
    executed_rows = models.PositiveIntegerField(null=True, blank=True)
    decision_reason = models.CharField(_("reason for the decision"), max_length=500, blank=True)
    uid = models.UUIDField(_("identity"), null=True, blank=True, unique=True)  # binds encrypted values
    step = models.PositiveIntegerField(_("step"), default=1)
    seal = models.CharField(_("seal"), max_length=64, blank=True)

    # The city level sees every application; a district those its own staff applied for.
    workflow = Workflow(
        name="batch",
        prefix="BA",
        district="applicant__district",
        view_permissions=("batch.apply", "batch.approve", "batch.execute"),
        own="applicant",
        withdrawable="submitted",
        withdrawn="withdrawn",
        queues=(
            Queue(
                "approve", "batch.approve", where={"status": "submitted"}, exclude=("applicant",),
                order="applied_at", city_level=True, title=_("Batches waiting for approval"),
                empty=_("No batch waits for your approval."),
            ),
            Queue(
                "approve_done", "batch.approve", actor="approver", at="approved_at", order="-approved_at",
                city_level=True, todo=False, decisions=dict.fromkeys(("approved", "executed"), APPROVED),
                title=_("Batches I approved or refused"), empty=_("You have decided no batch yet."),
            ),
            Queue(
                "execute", "batch.execute", where={"status": "approved"}, exclude=("approver",),
                order="approved_at", title=_("Approved batches to execute"),
                empty=_("No approved batch waits for execution."),
            ),
            Queue(
                "execute_done", "batch.execute", actor="executor", at="executed_at", order="-executed_at",
                todo=False, title=_("Batches I executed"), empty=_("You have executed no batch yet."),
            ),
        ),
    )  # fmt: skip

    class Meta:
        ordering = ["-applied_at"]
        verbose_name = _("batch application")
        verbose_name_plural = _("batch applications")

    def __str__(self) -> str:
        return f"BA{self.pk} {self.kind} {self.entity}"
