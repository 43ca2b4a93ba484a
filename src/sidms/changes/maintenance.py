"""Maintenance of stored data (R9.3): apply → approve → modify → re-check, each step by a different person
holding that step's post. A re-check accepts the modification or sends it back, and a send-back restores
the previous values through the same pipeline, so the restoration is itself a revision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from sidms.access.policies import in_scope, scoped
from sidms.audit.services import audit_record
from sidms.changes.entities import represent, reveal, spec_for
from sidms.changes.errors import ChangeRefused, NotPermitted, SeparationOfDuties, StaleChange
from sidms.changes.models import Channel, MaintenanceOrder, MaintenanceStatus, Method
from sidms.changes.seals import require_intact, reseal
from sidms.changes.services import (
    _plain,
    _require,
    apply_values,
    audited_refusals,
    clean_values,
    deny,
    district_of,
    require_scope,
    rules_in_force,
)
from sidms.registry.models import Staff

S = MaintenanceStatus


def maintenance_scope(actor: Staff) -> Any:
    return scoped(
        actor, MaintenanceOrder.objects.select_related("applicant", "approver", "modifier", "rechecker")
    )


def maintenance_apply(
    *,
    actor: Staff,
    entity: str,
    record: Any,
    values: Mapping[str, Any],
    reason: str,
    request: HttpRequest | None = None,
) -> MaintenanceOrder:
    """Step 1 (申报): a clerk applies for a correction, completion or clean-up of a stored record."""
    _require(
        actor,
        "maintenance.apply",
        "您的岗位不能申报数据维护",
        "Your posts may not apply for maintenance",
        request,
    )
    spec = spec_for(entity)
    require_scope(actor, district_of(record), request)
    if not reason.strip():
        raise ChangeRefused("请填写维护理由", "Give the reason for the maintenance")
    # Maintenance is a formal correction: every field is checked by its validator, whatever its level.
    rules = rules_in_force(entity)
    changed = {
        n: v for n, v in values.items() if n not in spec.fields or _plain(getattr(record, n)) != _plain(v)
    }
    if not changed:
        raise ChangeRefused("没有需要维护的变化", "Nothing would change")
    if "district_id" in changed:
        require_scope(actor, str(changed["district_id"] or "") or None, request)
    cleaned = clean_values(spec, rules, changed, creating=False)
    proposed = {
        n: [represent(spec, n, getattr(record, n)), represent(spec, n, v)] for n, v in cleaned.values.items()
    }
    with transaction.atomic():
        order = MaintenanceOrder.objects.create(
            entity=entity, record_id=record.pk, record_label=spec.label(record), district_id=str(district_of(record)),
            proposed=proposed, reason=reason.strip(), applicant=actor, applied_at=timezone.now(),
        )  # fmt: skip
        reseal(order)
        _event("maintenance.apply", actor, order, request)
    return order


def maintenance_approve(
    *, actor: Staff, order_id: int, approve: bool, reason: str = "", request: HttpRequest | None = None
) -> MaintenanceOrder:
    """Step 2 (审批): an approver, not the applicant, approves or refuses."""
    _require(
        actor,
        "maintenance.approve",
        "您的岗位不能审批数据维护",
        "Your posts may not approve maintenance",
        request,
    )
    with audited_refusals(), transaction.atomic():
        order = _locked(actor, order_id, S.APPLIED, request)
        _distinct(actor, order, ("applicant",), request)
        if not approve and not reason.strip():
            raise ChangeRefused("不批准时必须填写理由", "A refusal needs a reason")
        order.status = S.APPROVED if approve else S.REFUSED
        order.approver = actor
        order.approved_at = timezone.now()
        order.decision_reason = reason.strip()
        order.save()
        reseal(order)
        _event("maintenance.approve" if approve else "maintenance.refuse", actor, order, request)
    return order


def maintenance_modify(
    *, actor: Staff, order_id: int, request: HttpRequest | None = None
) -> MaintenanceOrder:
    """Step 3 (修改): a third person carries out the approved modification through the pipeline."""
    _require(
        actor,
        "maintenance.modify",
        "您的岗位不能执行数据维护",
        "Your posts may not carry out maintenance",
        request,
    )
    with audited_refusals(), transaction.atomic():
        order = _locked(actor, order_id, S.APPROVED, request)
        _distinct(actor, order, ("applicant", "approver"), request)
        spec = spec_for(order.entity)
        record = spec.model.objects.select_for_update().get(pk=order.record_id)
        for name, (old, _new) in order.proposed.items():
            if _plain(getattr(record, name)) != _plain(reveal(spec, name, old)):
                raise StaleChange(
                    "申报后该记录已被修改，请重新申报",
                    "The record changed after the application; apply again",
                )
        values = {name: reveal(spec, name, new) for name, (_old, new) in order.proposed.items()}
        revision = apply_values(
            spec, record, values, actor=actor, channel=Channel.MAINTENANCE, method=Method.MAINTENANCE,
            reference=f"MO{order.pk}", request=request,
        )  # fmt: skip
        order.status = S.MODIFIED
        order.modifier = actor
        order.modified_at = timezone.now()
        order.modified_version = revision.version
        order.save()
        reseal(order)
        _event("maintenance.modify", actor, order, request)
    return order


def maintenance_recheck(
    *, actor: Staff, order_id: int, accept: bool, reason: str = "", request: HttpRequest | None = None
) -> MaintenanceOrder:
    """Step 4 (复核): a fourth person accepts, or sends back and so restores the previous values."""
    _require(
        actor,
        "maintenance.recheck",
        "您的岗位不能复核数据维护",
        "Your posts may not re-check maintenance",
        request,
    )
    with audited_refusals(), transaction.atomic():
        order = _locked(actor, order_id, S.MODIFIED, request)
        _distinct(actor, order, ("applicant", "approver", "modifier"), request)
        if not accept:
            if not reason.strip():
                raise ChangeRefused("退回时必须填写理由", "A send-back needs a reason")
            spec = spec_for(order.entity)
            record = spec.model.objects.select_for_update().get(pk=order.record_id)
            if record.version != order.modified_version:
                raise StaleChange(
                    "修改后该记录又有变更，不能自动恢复，请另行申报维护",
                    "The record changed again after the modification; restore it by a new maintenance order",
                )
            previous = {name: reveal(spec, name, old) for name, (old, _new) in order.proposed.items()}
            apply_values(
                spec, record, previous, actor=actor, channel=Channel.MAINTENANCE, method=Method.SEND_BACK,
                reference=f"MO{order.pk}", request=request,
            )  # fmt: skip
        order.status = S.ACCEPTED if accept else S.SENT_BACK
        order.rechecker = actor
        order.rechecked_at = timezone.now()
        order.decision_reason = reason.strip()
        order.save()
        reseal(order)
        _event("maintenance.accept" if accept else "maintenance.send_back", actor, order, request)
    return order


def _locked(actor: Staff, order_id: int, status: str, request: HttpRequest | None = None) -> MaintenanceOrder:
    order = maintenance_scope(actor).select_for_update(of=("self",)).filter(pk=order_id).first()
    if order is None:
        raise deny(
            NotPermitted("没有这张维护单，或不在您的数据范围内", "No such maintenance order in your scope"),
            "maintenance.denied", actor=actor, request=request, object_type="maintenance", object_id=order_id,
            detail={"reason": "not_found_or_out_of_scope"},
        )  # fmt: skip
    require_intact(order)
    record_district = district_of(spec_for(order.entity).model.objects.get(pk=order.record_id))
    if not in_scope(actor, record_district):
        raise deny(
            NotPermitted("该记录已不在您的数据范围内", "The record is no longer in your data scope"),
            "maintenance.denied", actor=actor, request=request, object_type="maintenance", object_id=order_id,
            detail={"reason": "record_out_of_scope"},
        )  # fmt: skip
    if order.status != status:
        raise ChangeRefused(
            f"维护单当前状态为“{order.get_status_display()}”，不能执行此步骤",
            f"The order is '{order.status}'; this step does not apply",
        )
    return order


def _distinct(
    actor: Staff, order: MaintenanceOrder, earlier: tuple[str, ...], request: HttpRequest | None
) -> None:
    for step in earlier:
        if getattr(order, f"{step}_id") == actor.pk:
            # the event is written after the step's transaction rolls back (services.audited_refusals).
            raise deny(
                SeparationOfDuties(
                    "同一张维护单的申报、审批、修改、复核须由不同人员完成",
                    "Apply, approve, modify and re-check of one order must be done by different people",
                ),
                "maintenance.denied", actor=actor, request=request, object_type="maintenance", object_id=order.pk,
                detail={"reason": f"also_{step}"},
            )  # fmt: skip


def _event(action: str, actor: Staff, order: MaintenanceOrder, request: HttpRequest | None) -> None:
    audit_record(
        action, actor=actor, request=request, object_type="maintenance", object_id=order.pk,
        channel=Channel.MAINTENANCE, detail={"entity": order.entity, "record": order.record_label, "status": order.status},
    )  # fmt: skip
