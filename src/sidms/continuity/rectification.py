"""Rectification orders (责令改正) from the supervising department to an agency (R4.1, R20).

Issued from an alert or on the department's own initiative, with a deadline; the agency reports what it
did; the supervising department closes the order when satisfied, or sends it back with a new deadline.
Overdue orders are shown as such until closed. Each order prints as a PDF (``sidms.continuity.pdf``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import has_permission, in_scope
from sidms.changes.services import audited_refusals, deny
from sidms.continuity.base import advance, create, locked
from sidms.continuity.common import next_number, require
from sidms.continuity.models import Alert, OrderStatus, RectificationOrder
from sidms.core.errors import ChangeRefused, Invalid, NotPermitted, SeparationOfDuties
from sidms.registry.models import Agency

MAY_NOT_ISSUE = _("Only the supervising department issues rectification orders.")
NO_SUCH = _("There is no such rectification order.")


def order_issue(
    *,
    actor: Any,
    agency: Agency,
    problems: str,
    requirements: str,
    deadline: date,
    alert: Alert | None = None,
) -> RectificationOrder:
    caller = require(actor, "rectification.issue", MAY_NOT_ISSUE)
    errors: dict[str, Invalid] = {}
    if not problems.strip():
        errors["problems"] = Invalid("required", _("State the problems found."))
    if not requirements.strip():
        errors["requirements"] = Invalid("required", _("State what must be rectified."))
    if deadline <= timezone.localdate():
        errors["deadline"] = Invalid("past", _("The deadline must be a day in the future."))
    if errors:
        raise ChangeRefused(errors=errors)
    with transaction.atomic():
        order = RectificationOrder(
            number=next_number(RectificationOrder, "number", "ZG"),
            agency=agency,
            alert=alert,
            problems=problems.strip(),
            requirements=requirements.strip(),
            deadline=deadline,
            issued_by=caller.staff,
        )
        return create(
            order, "rectification.issue", actor=caller,
            detail={"number": order.number, "agency": agency.code, "deadline": deadline.isoformat(),
                    "alert": alert.pk if alert else None},
        )  # fmt: skip


def _own(caller: Any, order: RectificationOrder, role: str) -> NotPermitted:
    """The supervising department's order and the agency's report are two people's acts: whoever issued an
    order does not report on it, and whoever reported does not accept or send back their own report."""
    message = (
        _("You issued this order: the agency's report is written by someone else.")
        if role == "issued"
        else _("You reported this rectification: another supervisor accepts or returns it.")
    )
    return deny(
        SeparationOfDuties(message), "rectification.denied", actor=caller, object_type="rectification_order",
        object_id=order.pk, detail={"reason": f"own_{role}"},
    )  # fmt: skip


def _locked_order(caller: Any, order_id: int) -> RectificationOrder:
    order = locked(RectificationOrder, order_id, actor=caller)
    if order is None:
        raise NotPermitted(NO_SUCH)
    return order


def order_respond(*, actor: Any, order_id: int, response: str) -> RectificationOrder:
    """The agency reports the rectification (someone of that agency's district, or the city level)."""
    caller = require(actor, "rectification.respond", _("Your posts may not report on rectification orders."))
    if not response.strip():
        raise ChangeRefused(errors={"response": Invalid("required", _("Report what was rectified."))})
    with audited_refusals(), transaction.atomic():
        order = _locked_order(caller, order_id)
        if not in_scope(caller.staff, order.agency.district_id):
            raise NotPermitted(NO_SUCH)
        if order.status != OrderStatus.ISSUED:
            raise ChangeRefused(_("This order is not waiting for a report."), code="state")
        if order.issued_by_id == caller.staff.pk:
            # One person holding the supervising department's post and an agency's (approver, city
            # administrator) issued an order, reported its rectification and accepted the report: the
            # supervised and the supervisor in one (attack round 9).
            raise _own(caller, order, "issued")
        order.status = OrderStatus.RESPONDED
        order.response = response.strip()
        order.responded_by, order.responded_at = caller.staff, timezone.now()
        return advance(order, "rectification.respond", actor=caller, detail={"number": order.number})


def order_close(*, actor: Any, order_id: int, note: str) -> RectificationOrder:
    caller = require(actor, "rectification.issue", MAY_NOT_ISSUE)
    if not note.strip():
        raise ChangeRefused(errors={"note": Invalid("required", _("Say why the rectification is accepted."))})
    with audited_refusals(), transaction.atomic():
        order = _locked_order(caller, order_id)
        if order.status != OrderStatus.RESPONDED:
            raise ChangeRefused(
                _("An order is closed once the agency has reported its rectification."), code="state"
            )
        if order.responded_by_id == caller.staff.pk:
            raise _own(caller, order, "responded")
        order.status = OrderStatus.CLOSED
        order.closing_note = note.strip()
        order.closed_by, order.closed_at = caller.staff, timezone.now()
        return advance(order, "rectification.close", actor=caller, detail={"number": order.number})


def order_return(*, actor: Any, order_id: int, note: str, deadline: date) -> RectificationOrder:
    """Send the report back: the rectification is not enough; a new deadline."""
    caller = require(actor, "rectification.issue", MAY_NOT_ISSUE)
    errors: dict[str, Invalid] = {}
    if not note.strip():
        errors["note"] = Invalid("required", _("Say what is still missing."))
    if deadline <= timezone.localdate():
        errors["deadline"] = Invalid("past", _("The deadline must be a day in the future."))
    if errors:
        raise ChangeRefused(errors=errors)
    with audited_refusals(), transaction.atomic():
        order = _locked_order(caller, order_id)
        if order.status != OrderStatus.RESPONDED:
            raise ChangeRefused(_("Only a reported rectification can be sent back."), code="state")
        if order.responded_by_id == caller.staff.pk:
            raise _own(caller, order, "responded")
        order.status = OrderStatus.ISSUED
        order.closing_note = note.strip()
        order.deadline = deadline
        return advance(
            order, "rectification.return", actor=caller,
            detail={"number": order.number, "deadline": deadline.isoformat()},
        )  # fmt: skip


def orders_visible(staff: Any) -> QuerySet[RectificationOrder]:
    """The supervising department and the audit administrator see every order; an agency's people theirs."""
    if not has_permission(staff, "rectification.view"):
        return RectificationOrder.objects.none()
    orders = RectificationOrder.objects.select_related("agency", "alert")
    if has_permission(staff, "rectification.issue") or has_permission(staff, "alert.view"):
        return orders
    if staff.is_city_level:
        return orders
    return orders.filter(agency__district_id=staff.district_id)
