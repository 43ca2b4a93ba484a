"""Append-only audit events, hash-chained (R20, principle 4).

The database refuses UPDATE and DELETE on this table (triggers, see the migration). Each event stores the
exact canonical bytes that were hashed, so verification re-hashes them without re-serialising.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    OK = "ok", _("Succeeded")
    DENIED = "denied", _("Denied")
    FAILED = "failed", _("Failed")


class AuditEvent(models.Model):
    append_only: ClassVar[bool] = True

    seq = models.BigIntegerField(_("sequence"), primary_key=True)
    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.CharField(_("actor"), max_length=150, db_index=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object"), max_length=64, blank=True, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    payload = models.TextField(_("canonical payload"))
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "seq"], name="audit_object"),
            # The write events alone (partial): the roll-back probe's one step to the latest write event about a
            # record, however many read events name it since (sidms.changes.integrity.written_version_sql,
            # whose WHERE repeats this condition so that both planners use it).
            models.Index(
                fields=["object_type", "object_id", "seq"],
                name="audit_write",
                condition=models.Q(action__startswith="write."),
            ),
        ]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.actor}"


class AuditSubject(models.Model):
    """The subject index (B1): one row for each record an event names in its detail without being about it
    alone — a list page's or an export page's records, a queue page's records — so that a person's access
    record finds the lists and exports they appeared in by (entity, record key), as it finds the events about
    them by the event's own (object_type, object_id). Written with its event, in the same transaction, from
    the event's hashed payload by one rule (``audit.subjects.named``), which verification applies again:
    a row deleted to hide an access, or one inserted for an event that does not name the record, is named.

    No row id: the primary key (entity, record_key, seq) is the index the access record reads, and an index on
    seq is the one verification reads the rows of a range of events by. Append-only, as the events are."""

    append_only: ClassVar[bool] = True

    pk = models.CompositePrimaryKey("entity", "record_key", "seq")
    entity = models.CharField(_("entity"), max_length=64)
    record_key = models.CharField(_("record"), max_length=64)
    seq = models.BigIntegerField(_("sequence"))

    class Meta:
        indexes = [models.Index(fields=["seq"], name="audit_subject_seq")]
        verbose_name = _("audit event subject")
        verbose_name_plural = _("audit event subjects")

    def __str__(self) -> str:
        return f"#{self.seq} {self.entity} {self.record_key}"


class ChainHead(models.Model):
    """The last sequence number and hash; locked while an event is appended so the chain stays linear.
    The algorithm is fixed when the chain starts, so a later settings change cannot break verification."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    algorithm = models.CharField(max_length=16)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    # A keyed MAC over (algorithm, seq, hash): the chain itself is an unkeyed hash, so without this anyone
    # with SQL access could append a forged event and move the head along with it.
    mac = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("chain head")

    def __str__(self) -> str:
        return f"head #{self.seq} ({self.algorithm})"

    def expected_mac(self) -> str:
        from sidms.core.keys import keyring
        from sidms.lib import chain

        return keyring().mac(
            chain.canonical({"algorithm": self.algorithm, "seq": self.seq, "hash": self.hash})
        )
