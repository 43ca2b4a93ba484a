"""Maintenance of stored data (R9.3): apply → approve → modify → re-check, each step by a different person
holding that step's post (the steps are declared on MaintenanceOrder.workflow). A re-check accepts the
modification or sends it back, and a send-back restores the previous values through the same pipeline, so
the restoration is itself a revision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access import workflow as workflows
from sidms.audit.services import audit_record
from sidms.changes.integrity import check_row, require_owner_intact
from sidms.changes.models import Channel, MaintenanceOrder, MaintenanceStatus, Method
from sidms.changes.seals import require_intact, reseal
from sidms.changes.services import (
    _current_refs,
    _entry_checks,
    _plain,
    apply_values,
    audited_refusals,
    check_unique,
    clean_values,
    deny,
    require_permission,
    require_scope,
    rules_in_force,
    withdraw_own,
)
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties, StaleChange
from sidms.core.fields import Sealed, seal
from sidms.core.kernel import EntitySpec, represent, reveal, spec_for, state_of

S = MaintenanceStatus


def _uid(order: MaintenanceOrder) -> str:
    """Proposed encrypted values are sealed to the order (they are not the record's until modified)."""
    return f"MO:{order.applicant_id}:{order.applied_at.isoformat()}"


def _proposed(
    spec: EntitySpec, record: Any, values: Mapping[str, Any], order: MaintenanceOrder
) -> dict[str, Any]:
    stored = state_of(spec, record)
    out = {}
    for name, value in values.items():
        domain = spec.encrypted(name)
        new = represent(spec, name, seal(domain, _uid(order), str(value)) if domain and value else value)
        out[name] = [stored[name], new]
    return out


def proposed_values(order: MaintenanceOrder, which: int) -> dict[str, Any]:
    """The order's new (WHICH=1) or previous (WHICH=0) values, decrypted (mask before display)."""
    spec = spec_for(order.entity)
    record_uid = spec.model._default_manager.filter(pk=order.record_id).values_list("uid", flat=True).first()
    uid = _uid(order) if which == 1 else record_uid
    return {name: reveal(spec, name, pair[which], uid) for name, pair in order.proposed.items()}


def maintenance_apply(
    *, actor: Any, entity: str, record: Any, values: Mapping[str, Any], reason: str
) -> MaintenanceOrder:
    """Step 1 (申报): a clerk applies for a correction, completion or clean-up of a stored record."""
    caller = Caller.of(actor)
    require_permission(caller, "maintenance.apply", _("Your posts may not apply for maintenance."))
    spec = spec_for(entity)
    require_scope(caller, spec.district_of(record))
    require_owner_intact(spec, record, actor=caller)
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the maintenance."), code="reason_required")
    # Maintenance is a formal correction: every field is checked by its validator, whatever its level.
    rules = rules_in_force(entity)
    changed = {
        n: v for n, v in values.items() if n not in spec.fields or _plain(getattr(record, n)) != _plain(v)
    }
    if not changed:
        raise ChangeRefused(_("Nothing would change."), code="no_change")
    cleaned = clean_values(spec, rules, changed, creating=False, record=record)
    moved = spec.district_for_values({**_current_refs(spec, record), **cleaned.values})
    if moved != spec.district_of(record):
        # A record moved to another district (its own district, or its person's: attack round 6 moved a
        # delegated query to another district's person) needs the right to both, as at the window.
        require_scope(caller, moved)
    require_owner_intact(spec, cleaned.values, actor=caller)
    # A unique value (an ID number, a unit's credit code) must not be another record's: a correction does
    # not make a duplicate, whatever the rule says of new records (it is refused, not held as suspected).
    check_unique(spec, rules, cleaned.values, record, caller, refuse=True)
    with audited_refusals(), transaction.atomic():
        check_row(spec, record, actor=caller)
        # The entity's entry rules hold here as at the window and in an import (attack round 6: a maintenance
        # order registered an authorisation for eight years, and dated a certification after the death). A
        # maintenance order is decided by a second person, so a rule that allows a correction only under
        # review allows it here; they run again when the order is carried out.
        _entry_checks(spec, record, cleaned.values, reviewed=True)
        order = MaintenanceOrder(
            entity=entity, record_id=record.pk, record_label=spec.label(record),
            district_id=str(spec.district_of(record)), reason=reason.strip(), applicant=caller.staff,
            applied_at=timezone.now(), proposed={},
        )  # fmt: skip
        order.proposed = _proposed(spec, record, cleaned.values, order)
        order.save()
        reseal(order)
        _event("maintenance.apply", caller, order)
    return order


def maintenance_approve(*, actor: Any, order_id: int, approve: bool, reason: str = "") -> MaintenanceOrder:
    """Step 2 (审批): an approver, not the applicant, approves or refuses."""
    caller = Caller.of(actor)
    require_permission(caller, "maintenance.approve", _("Your posts may not approve maintenance."))
    with audited_refusals(), transaction.atomic():
        order = _locked(caller, order_id, "approve")
        if not approve and not reason.strip():
            raise ChangeRefused(_("A refusal needs a reason."), code="reason_required")
        order.status = S.APPROVED if approve else S.REFUSED
        order.approver = caller.staff
        order.approved_at = timezone.now()
        order.decision_reason = reason.strip()
        _save(order)
        _event("maintenance.approve" if approve else "maintenance.refuse", caller, order)
    return order


def maintenance_modify(*, actor: Any, order_id: int) -> MaintenanceOrder:
    """Step 3 (修改): a third person carries out the approved modification through the pipeline."""
    caller = Caller.of(actor)
    require_permission(caller, "maintenance.modify", _("Your posts may not carry out maintenance."))
    with audited_refusals(), transaction.atomic():
        order = _locked(caller, order_id, "modify")
        spec = spec_for(order.entity)
        record = spec.model.objects.select_for_update().get(pk=order.record_id)
        for name, old in proposed_values(order, 0).items():
            if _plain(getattr(record, name)) != _plain(old):
                raise StaleChange(_("The record changed after the application; apply again."))
        values = {name: _plain_value(v) for name, v in proposed_values(order, 1).items()}
        # Registered to another record since the application (the window, an import): refused now too.
        check_unique(spec, rules_in_force(order.entity), values, record, caller, refuse=True)
        # What was recorded meanwhile may stand against it (the rows the rules read locked, as at the window).
        _entry_checks(spec, record, values, reviewed=True, lock=True)
        revision = apply_values(
            spec, record, values, actor=caller, channel=Channel.MAINTENANCE, method=Method.MAINTENANCE,
            reference=f"MO{order.pk}",
        )  # fmt: skip
        order.status = S.MODIFIED
        order.modifier = caller.staff
        order.modified_at = timezone.now()
        order.modified_version = revision.version
        _save(order)
        _event("maintenance.modify", caller, order)
    return order


def maintenance_recheck(*, actor: Any, order_id: int, accept: bool, reason: str = "") -> MaintenanceOrder:
    """Step 4 (复核): a fourth person accepts, or sends back and so restores the previous values."""
    caller = Caller.of(actor)
    require_permission(caller, "maintenance.recheck", _("Your posts may not re-check maintenance."))
    with audited_refusals(), transaction.atomic():
        order = _locked(caller, order_id, "recheck")
        if not accept:
            if not reason.strip():
                raise ChangeRefused(_("A send-back needs a reason."), code="reason_required")
            spec = spec_for(order.entity)
            record = spec.model.objects.select_for_update().get(pk=order.record_id)
            if record.version != order.modified_version:
                raise StaleChange(
                    _(
                        "The record changed again after the modification; restore it by a new maintenance order."
                    )
                )
            previous = {name: _plain_value(v) for name, v in proposed_values(order, 0).items()}
            # The value given up by the modification may have been registered to another record since.
            check_unique(spec, rules_in_force(order.entity), previous, record, caller, refuse=True)
            # The values restored are judged like any others: what was entered since may stand on the
            # modification (an enrolment on the corrected start of its employment; attack round 17).
            _entry_checks(spec, record, previous, reviewed=True, lock=True)
            apply_values(
                spec, record, previous, actor=caller, channel=Channel.MAINTENANCE, method=Method.SEND_BACK,
                reference=f"MO{order.pk}",
            )  # fmt: skip
        order.status = S.ACCEPTED if accept else S.SENT_BACK
        order.rechecker = caller.staff
        order.rechecked_at = timezone.now()
        order.decision_reason = reason.strip()
        _save(order)
        _event("maintenance.accept" if accept else "maintenance.send_back", caller, order)
    return order


def maintenance_withdraw(*, actor: Any, order_id: int) -> MaintenanceOrder:
    """The applicant withdraws their order while it waits for approval (撤回): nobody has decided it, and
    nothing of the record has changed. Once approved it goes on (or is refused) by its steps."""
    caller = Caller.of(actor)
    with audited_refusals(), transaction.atomic():
        order: MaintenanceOrder = withdraw_own(
            caller, MaintenanceOrder, order_id, denied="maintenance.denied", no_such=NO_SUCH_ORDER
        )
        _event("maintenance.withdraw", caller, order)
    return order


def _plain_value(value: Any) -> Any:
    """Decrypted values go back to the pipeline as plain text: apply_values seals them to the record."""
    return str(value) if isinstance(value, Sealed) else value


NO_SUCH_ORDER = _("There is no such maintenance order in your scope.")


def _locked(caller: Caller, order_id: int, action: str) -> MaintenanceOrder:
    """The order, locked, if the caller may take ACTION on it now (its declared step)."""
    staff = caller.staff
    order = (
        workflows.visible(staff, MaintenanceOrder).select_for_update(of=("self",)).filter(pk=order_id).first()
    )
    if order is None:
        raise deny(
            NotPermitted(NO_SUCH_ORDER), "maintenance.denied", actor=caller, object_type="maintenance",
            object_id=order_id, detail={"reason": "not_found_or_out_of_scope"},
        )  # fmt: skip
    require_intact(order, actor=caller)
    workflows.require_move_verified(order, actor=caller)
    if not workflows.follows_scope(staff, order, lock=True):  # a move being written is waited for
        raise deny(
            NotPermitted(_("The record is no longer in your data scope.")), "maintenance.denied", actor=caller,
            object_type="maintenance", object_id=order_id, detail={"reason": "record_out_of_scope"},
        )  # fmt: skip
    step = workflows.step_for(MaintenanceOrder, action)
    if order.status != step.status:
        raise ChangeRefused(
            _("The order is “%(status)s”; this step does not apply."),
            {"status": order.get_status_display()},
            code="wrong_status",
        )
    for role in step.earlier:
        if getattr(order, f"{role}_id") == staff.pk:
            raise deny(
                SeparationOfDuties(
                    _("Apply, approve, modify and re-check of one order must be done by different people.")
                ),
                "maintenance.denied", actor=caller, object_type="maintenance", object_id=order.pk,
                detail={"reason": f"also_{role}"},
            )  # fmt: skip
    return order


def _save(order: MaintenanceOrder) -> None:
    order.step += 1
    order.save()
    reseal(order)


def _event(action: str, caller: Caller, order: MaintenanceOrder) -> None:
    audit_record(
        action, actor=caller, object_type="maintenance", object_id=order.pk, channel=Channel.MAINTENANCE,
        detail={
            "entity": order.entity, "record": order.record_label, "status": order.status, "step": order.step,
            "seal": order.seal,
        },
    )  # fmt: skip
