"""Workflow rows of the continuity app: keyed seals, step counters, one audited service per state change.

The registers kept here (agreements, backups, drills, media, alerts, rectification orders, …) are not
governed registry records: they are decision rows like the pipeline's batch applications. Each row carries
a keyed seal over all its columns (``sidms.changes.seals.row_seal``) and a ``step`` that grows with every
change; every change is made by a service that writes an audit event naming the row, its step and its
seal. So

* a row altered in SQL no longer matches its seal,
* an old copy put back carries a valid seal of its own, but not the step and seal the latest audit event
  recorded, and
* a row inserted behind the system's back has no event, a deleted one leaves events without a row;

services refuse to act on such a row (an integrity alert, audited even though the step rolls back), and
`sidms audit verify` names it (``verify_sealed``, registered with ``sidms.audit.verify.register_check``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar, TypeVar

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.audit.models import AuditEvent, Outcome
from sidms.audit.services import audit_record
from sidms.audit.verify import Report, broken
from sidms.changes.integrity import integrity_alert
from sidms.changes.seals import reseal, row_seal
from sidms.core.caller import Caller
from sidms.core.errors import IntegrityAlert
from sidms.lib.crypto import DecryptionError

Row = TypeVar("Row", bound="SealedRow")


class SealedRow(models.Model):
    """A row whose every change is a service call with an audit event carrying its step and seal."""

    object_type: ClassVar[str] = ""  # the audit events' object type for rows of this model

    step = models.PositiveIntegerField(_("step"), default=1)
    seal = models.CharField(_("seal"), max_length=64, blank=True)

    class Meta:
        abstract = True


def sealed_models() -> list[type[SealedRow]]:
    """Every concrete sealed model, in the order of the installed apps."""
    return [m for m in apps.get_models() if issubclass(m, SealedRow) and m.object_type]


BROKEN = _(
    "%(record)s does not match its seal or its audit record (changed outside the system); refused. "
    "Tell the information centre."
)


def _claims(object_type: str, object_id: str | None = None) -> Iterator[tuple[str, int, str, int]]:
    """(object id, step, seal, event seq) of every event about rows of OBJECT_TYPE that recorded a step."""
    events = AuditEvent.objects.filter(object_type=object_type)
    if object_id is not None:
        events = events.filter(object_id=object_id)
    for seq, oid, payload in (
        events.order_by("seq").values_list("seq", "object_id", "payload").iterator(chunk_size=2000)
    ):
        detail = json.loads(payload).get("detail", {})
        if "step" in detail and "seal" in detail:
            yield oid, int(detail["step"]), str(detail["seal"]), int(seq)


def latest_claim(row: SealedRow) -> tuple[int, str] | None:
    last = None
    for _oid, step, seal, _seq in _claims(row.object_type, str(row.pk)):
        last = (step, seal)
    return last


# What reading a row's encrypted column raises when its ciphertext is not this row's (put in from another row):
# the key ring's error, or the field's integrity alert naming the value (core.fields.damaged_value).
NOT_ITS_CIPHERTEXT = (DecryptionError, IntegrityAlert)


def _problem(row: SealedRow) -> str:
    try:
        expected = row_seal(row)
    except NOT_ITS_CIPHERTEXT:
        return "ciphertext"
    if row.seal != expected:
        return "seal"
    if latest_claim(row) != (row.step, row.seal):
        return "put_back"
    return ""


def require_intact(row: SealedRow, *, actor: Any) -> None:
    """Refuse to act on a row changed outside the system (raise an audited integrity alert)."""
    reason = _problem(row)
    if not reason:
        return
    raise integrity_alert(f"{row._meta.verbose_name} {row}", row.object_type, row.pk, {"reason": reason},
                          actor=actor, message=BROKEN)  # fmt: skip


def locked(model: type[Row], pk: Any, *, actor: Any) -> Row | None:
    """The row, locked for this transaction and checked against its seal and its audit record."""
    row = model._default_manager.select_for_update().filter(pk=pk).first()
    if row is not None:
        require_intact(row, actor=actor)
    return row


def _event(row: SealedRow, action: str, caller: Caller, detail: dict[str, Any], outcome: str) -> None:
    audit_record(
        action,
        actor=caller,
        object_type=row.object_type,
        object_id=row.pk,
        outcome=outcome,
        detail={**detail, "step": row.step, "seal": row.seal},
    )


def create(
    row: Row, action: str, *, actor: Any, detail: dict[str, Any] | None = None, outcome: str = Outcome.OK
) -> Row:
    """Store a new row at step 1 with its seal and its audit event (inside the caller's transaction)."""
    row.step = 1
    row.save()
    # The seal is computed over the row as stored (a datetime entered in local time comes back in UTC).
    row.refresh_from_db()
    reseal(row)
    _event(row, action, Caller.of(actor), dict(detail or {}), outcome)
    return row


def advance(
    row: Row, action: str, *, actor: Any, detail: dict[str, Any] | None = None, outcome: str = Outcome.OK
) -> Row:
    """Save a changed row as its next step, reseal it and record the step (inside the caller's transaction;
    the row was taken with ``locked``)."""
    row.step += 1
    row.save()
    row.refresh_from_db()
    reseal(row)
    _event(row, action, Caller.of(actor), dict(detail or {}), outcome)
    return row


def reseal_columns(
    row: Row, action: str, *, actor: Any, columns: dict[str, Any], detail: dict[str, Any] | None = None
) -> Row:
    """``advance`` for columns whose field would recompute them on save (a blind index under a key that is
    not in force yet): written as given, with the row's next step, seal and audit event."""
    row.step += 1
    for name, value in columns.items():
        setattr(row, name, value)
    type(row)._default_manager.filter(pk=row.pk).update(step=row.step, **columns)
    row.refresh_from_db()
    reseal(row)
    _event(row, action, Caller.of(actor), dict(detail or {}), Outcome.OK)
    return row


# --------------------------------------------------------------------------------------------------------
# Verification (sidms audit verify): every row matches its seal and the latest event about it


def verify_sealed(report: Report, latest: dict[str, dict[int, tuple[int, str]]]) -> None:
    for model in sealed_models():
        label = str(model._meta.verbose_name)
        claims: dict[str, tuple[int, str, int]] = {}
        for oid, step, seal, seq in _claims(model.object_type):
            claims[oid] = (step, seal, seq)
        seen = 0
        for row in model._default_manager.order_by("pk").iterator(chunk_size=2000):
            where = f"{label} {row}（#{row.pk}） / {model.object_type} #{row.pk}"
            try:
                sealed_ok = row.seal == row_seal(row)
            except NOT_ITS_CIPHERTEXT:  # a ciphertext copied from another row (an export's search text)
                sealed_ok = False
            if not sealed_ok:
                raise broken("continuity", where, "该登记记录的内容与其校验值不符：有人绕过系统修改了它",
                             "the row differs from its seal: changed outside the system")  # fmt: skip
            claim = claims.pop(str(row.pk), None)
            if claim is None:
                raise broken("continuity", where, "没有审计事件记载该登记记录：它不是经由系统写入的",
                             "no audit event records this row: it was not written by the system")  # fmt: skip
            if (claim[0], claim[1]) != (row.step, row.seal):
                raise broken("continuity", f"{where}（审计事件 #{claim[2]}）",
                             "该登记记录回到了早先的状态：与审计记录的最新一步不符",
                             "the row was put back to an earlier state: it is not what the latest audit event recorded")  # fmt: skip
            seen += 1
        if claims:
            oid = sorted(claims, key=lambda k: claims[k][2])[0]
            raise broken("continuity", f"{label} #{oid} / {model.object_type} #{oid}",
                          "审计事件记载的登记记录已不存在：记录被删除",
                          "a row recorded by the audit chain is gone: it was deleted")  # fmt: skip
        if seen:
            report.rows[f"continuity.{model.object_type}"] = seen
