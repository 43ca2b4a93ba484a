"""Confidentiality agreements for staff, service institutions and IT vendors (R16), vendor accounts and their
maintenance windows (R20(5)), and staff members' own ID numbers for the "own record" alert rule.

The register is the source of truth for a staff account's agreement: registering or revoking an agreement
writes the agreement in force onto the account through ``sidms.security.accounts.staff_record_agreement``
(a revision of the account), and the sign-in middleware refuses every request of an account without a valid
one. A vendor's engineer signs in only through a vendor account, which is enabled while an approved
maintenance window is open and the vendor's agreement is valid, and disabled otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import has_permission
from sidms.changes.services import audited_refusals
from sidms.continuity.base import advance, create, locked
from sidms.continuity.common import SYSTEM, next_number, require
from sidms.continuity.models import (
    Agreement,
    AgreementStatus,
    MaintenanceWindow,
    PartyKind,
    StaffIdentity,
    Vendor,
    VendorAccount,
    WindowStatus,
)
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, Invalid, NotPermitted, SeparationOfDuties
from sidms.lib import idcard
from sidms.registry.models import ServiceInstitution, Staff
from sidms.security.accounts import staff_create, staff_record_agreement, staff_set_active

MAY_NOT = _("Only a city-level security administrator keeps the agreement register.")
NO_SUCH = _("There is no such agreement.")
MAX_WINDOW = timedelta(days=7)


def _reason(text: str) -> str:
    if not text.strip():
        raise ChangeRefused(_("Give the reason for the change."), code="reason_required")
    return text.strip()


# --------------------------------------------------------------------------------------------------------
# Vendors and agreements


def vendor_register(*, actor: Any, name: str, credit_code: str = "", contact: str = "") -> Vendor:
    caller = require(actor, "agreement.manage", MAY_NOT, city_level=True)
    if not name.strip():
        raise ChangeRefused(errors={"name": Invalid("required", _("Give the vendor's name."))})
    with transaction.atomic():
        vendor = Vendor(
            name=name.strip(),
            credit_code=credit_code.strip(),
            contact=contact.strip(),
            registered_by=caller.staff,
        )
        return create(vendor, "vendor.register", actor=caller, detail={"name": vendor.name})


def agreement_register(
    *,
    actor: Any,
    party_kind: str,
    scope: str,
    signed_on: date,
    expires_on: date | None,
    staff: Staff | None = None,
    institution: ServiceInstitution | None = None,
    vendor: Vendor | None = None,
    scan_ref: str = "",
) -> Agreement:
    """Register a signed agreement. For a staff member the account's agreement follows the register."""
    caller = require(actor, "agreement.manage", MAY_NOT, city_level=True)
    parties: dict[str, object] = {
        PartyKind.STAFF: staff,
        PartyKind.INSTITUTION: institution,
        PartyKind.VENDOR: vendor,
    }
    if (
        party_kind not in parties
        or parties[party_kind] is None
        or sum(p is not None for p in parties.values()) != 1
    ):
        raise ChangeRefused(_("Name exactly one party of the agreement's kind."), code="party")
    errors: dict[str, Invalid] = {}
    if not scope.strip():
        errors["scope"] = Invalid("required", _("Describe what the agreement covers."))
    if expires_on is not None and expires_on < signed_on:
        errors["expires_on"] = Invalid("dates", _("An agreement cannot expire before it is signed."))
    if party_kind == PartyKind.VENDOR and expires_on is None:
        errors["expires_on"] = Invalid("required", _("An outsider's agreement needs an expiry date."))
    if errors:
        raise ChangeRefused(errors=errors)
    with audited_refusals(), transaction.atomic():
        agreement = Agreement(
            number=next_number(Agreement, "number", "BM"),
            party_kind=party_kind,
            staff=staff,
            institution=institution,
            vendor=vendor,
            scope=scope.strip(),
            signed_on=signed_on,
            expires_on=expires_on,
            scan_ref=scan_ref.strip(),
            registered_by=caller.staff,
        )
        create(
            agreement, "agreement.register", actor=caller,
            detail={"number": agreement.number, "party_kind": party_kind, "party": agreement.party,
                    "signed_on": signed_on.isoformat(), "expires_on": expires_on.isoformat() if expires_on else None},
        )  # fmt: skip
        if staff is not None:
            _mirror(staff, caller)
    return agreement


def agreement_revoke(*, actor: Any, agreement_id: int, reason: str) -> Agreement:
    """Revoke an agreement (the person left, the contract ended): access ends at once."""
    caller = require(actor, "agreement.manage", MAY_NOT, city_level=True)
    text = _reason(reason)
    with audited_refusals(), transaction.atomic():
        agreement = locked(Agreement, agreement_id, actor=caller)
        if agreement is None:
            raise NotPermitted(NO_SUCH)
        if agreement.status == AgreementStatus.REVOKED:
            raise ChangeRefused(_("This agreement has already been revoked."), code="decided")
        agreement.status = AgreementStatus.REVOKED
        agreement.revoked_by = caller.staff
        agreement.revoked_at = timezone.now()
        agreement.revoke_reason = text
        advance(
            agreement, "agreement.revoke", actor=caller, detail={"number": agreement.number, "reason": text}
        )
        if agreement.staff is not None:
            _mirror(agreement.staff, caller)
    if agreement.vendor_id is not None:
        windows_sweep()
    return agreement


def effective_agreement(agreements: Iterable[Agreement], today: date) -> Agreement | None:
    """The agreement an account carries: one valid today (the longest-running), else one that starts later."""
    active = [a for a in agreements if a.status == AgreementStatus.ACTIVE]
    valid = [a for a in active if a.valid_on(today)]
    if valid:
        return max(valid, key=lambda a: (a.expires_on or date.max, a.signed_on, a.pk))
    future = [a for a in active if a.signed_on > today]
    return min(future, key=lambda a: (a.signed_on, a.pk)) if future else None


def _mirror(staff: Staff, caller: Caller, today: date | None = None) -> bool:
    """Write the register's agreement in force onto the account (a revision of it) if it differs."""
    day = today or timezone.localdate()
    chosen = effective_agreement(Agreement.objects.filter(staff=staff), day)
    dates = (chosen.signed_on, chosen.expires_on) if chosen else (None, None)
    account = Staff.objects.get(pk=staff.pk)
    if (account.agreement_signed_on, account.agreement_expires_on) == dates:
        return False
    staff_record_agreement(actor=caller, staff=account, signed_on=dates[0], expires_on=dates[1])
    return True


def agreements_refresh(*, today: date | None = None, everyone: bool = False) -> int:
    """Bring staff accounts into line with the register (by the minute timer): those with an agreement that
    starts or ended around TODAY (one that starts today replaces one that ended yesterday), or EVERYONE with a
    registered agreement. Returns how many accounts changed."""
    day = today or timezone.localdate()
    changed = 0
    agreements = Agreement.objects.filter(party_kind=PartyKind.STAFF)
    if not everyone:
        around = (day - timedelta(days=1), day)
        agreements = agreements.filter(Q(signed_on__range=around) | Q(expires_on__range=around))
    ids = agreements.values_list("staff_id", flat=True).distinct()
    for staff in Staff.objects.filter(pk__in=list(ids)).order_by("pk"):
        with transaction.atomic():
            changed += _mirror(staff, SYSTEM, day)
    return changed


@dataclass(frozen=True)
class AgreementNotice:
    """An agreement that expires soon with no successor registered: for the dashboard (R16)."""

    agreement_id: int
    number: str
    party: str
    party_kind: str
    expires_on: date
    days_left: int
    own: bool  # the viewer's own agreement


def agreement_notices(
    staff: Any, *, today: date | None = None, within_days: int = 30
) -> list[AgreementNotice]:
    """What the dashboard announces: the viewer's own agreement if it expires within WITHIN_DAYS, and for those
    who keep or read the register, every agreement that does (staff, institutions, vendors) without a later
    one of the same party already registered."""
    day = today or timezone.localdate()
    until = day + timedelta(days=within_days)
    soon = Agreement.objects.filter(
        status=AgreementStatus.ACTIVE, expires_on__isnull=False, expires_on__gte=day, expires_on__lte=until
    ).select_related("staff", "institution", "vendor")
    if not has_permission(staff, "agreement.view"):
        soon = soon.filter(staff=staff)
    notices = []
    for agreement in soon.order_by("expires_on", "number"):
        assert agreement.expires_on is not None
        same_party: dict[str, Any] = {
            "staff_id": agreement.staff_id,
            "institution_id": agreement.institution_id,
            "vendor_id": agreement.vendor_id,
        }
        successor = Agreement.objects.filter(
            status=AgreementStatus.ACTIVE, party_kind=agreement.party_kind, **same_party
        ).filter(Q(expires_on__isnull=True) | Q(expires_on__gt=agreement.expires_on))
        if successor.exclude(pk=agreement.pk).exists():
            continue
        notices.append(
            AgreementNotice(
                agreement.pk, agreement.number, agreement.party, agreement.party_kind, agreement.expires_on,
                (agreement.expires_on - day).days, agreement.staff_id == getattr(staff, "pk", None),
            )
        )  # fmt: skip
    return notices


# --------------------------------------------------------------------------------------------------------
# A staff member's own ID number (for the "own record" alert rule)


def staff_identity_record(*, actor: Any, staff: Staff, id_number: str) -> StaffIdentity:
    """Record (or correct) a staff member's citizen ID number, encrypted and blind-indexed, so that reading
    their own social-insurance record raises an alert (R20)."""
    caller = require(actor, "staff.manage", MAY_NOT, city_level=True)
    try:
        number = idcard.parse(id_number).number
    except idcard.InvalidIdNumber as error:
        raise ChangeRefused(errors={"id_number": Invalid.of(error)}) from None
    with audited_refusals(), transaction.atomic():
        existing = StaffIdentity.objects.filter(staff=staff).values_list("pk", flat=True).first()
        if existing is None:
            identity = StaffIdentity(staff=staff, id_number=number)
            return create(
                identity, "staff_identity.record", actor=caller, detail={"username": staff.username}
            )
        stored = locked(StaffIdentity, existing, actor=caller)
        assert stored is not None
        stored.id_number = number
        return advance(stored, "staff_identity.record", actor=caller, detail={"username": staff.username})


# --------------------------------------------------------------------------------------------------------
# Vendor accounts and maintenance windows (R20(5))


def vendor_account_create(
    *, actor: Any, vendor: Vendor, username: str, password: str, full_name: str = ""
) -> VendorAccount:
    """A sign-in account for one of a vendor's engineers: created disabled, without posts or agreement; only
    an open maintenance window enables it."""
    caller = require(actor, "agreement.manage", MAY_NOT, city_level=True)
    with audited_refusals(), transaction.atomic():
        # No district: an outsider's account has no data scope at all.
        staff = staff_create(
            actor=caller, username=username, password=password, district=cast(str, None), full_name=full_name
        )
        staff_set_active(
            actor=caller, staff=staff, active=False, reason="外包维护账号：仅在批准的维护时段内启用"
        )  # fmt: skip
        account = VendorAccount(vendor=vendor, staff=staff, created_by=caller.staff)
        return create(
            account,
            "vendor_account.create",
            actor=caller,
            detail={"vendor": vendor.name, "username": username},
        )


def _valid_through(agreement: Agreement, starts: datetime, ends: datetime) -> bool:
    return agreement.valid_on(timezone.localdate(starts)) and agreement.valid_on(timezone.localdate(ends))


def window_apply(
    *, actor: Any, account: VendorAccount, starts_at: datetime, ends_at: datetime, purpose: str
) -> MaintenanceWindow:
    """Apply for a maintenance window: the vendor's agreement must be valid throughout it."""
    caller = require(actor, "vendor.window_apply", _("Your posts may not apply for maintenance windows."))
    errors: dict[str, Invalid] = {}
    if not purpose.strip():
        errors["purpose"] = Invalid("required", _("Describe the maintenance."))
    if ends_at <= starts_at:
        errors["ends_at"] = Invalid("dates", _("The window must end after it starts."))
    elif ends_at - starts_at > MAX_WINDOW:
        errors["ends_at"] = Invalid("too_long", _("A maintenance window lasts at most seven days."))
    elif ends_at <= timezone.now():
        errors["ends_at"] = Invalid("past", _("The window has already ended."))
    if errors:
        raise ChangeRefused(errors=errors)
    candidates = Agreement.objects.filter(vendor_id=account.vendor_id, status=AgreementStatus.ACTIVE)
    agreement = next(
        (a for a in candidates.order_by("-expires_on") if _valid_through(a, starts_at, ends_at)), None
    )
    if agreement is None:
        raise ChangeRefused(
            _(
                "The vendor has no confidentiality agreement valid throughout the window; no access without one."
            ),
            code="no_agreement",
        )
    with transaction.atomic():
        window = MaintenanceWindow(
            account=account, agreement=agreement, starts_at=starts_at, ends_at=ends_at, purpose=purpose.strip(),
            applicant=caller.staff,
        )  # fmt: skip
        return create(
            window, "window.apply", actor=caller,
            detail={"vendor": str(account.vendor), "username": account.staff.username,
                    "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
        )  # fmt: skip


def window_decide(*, actor: Any, window_id: int, approve: bool, reason: str = "") -> MaintenanceWindow:
    caller = require(
        actor, "vendor.window_approve", _("Only a city-level security administrator approves maintenance windows."),
        city_level=True,
    )  # fmt: skip
    with audited_refusals(), transaction.atomic():
        window = locked(MaintenanceWindow, window_id, actor=caller)
        if window is None:
            raise NotPermitted(_("There is no such maintenance window."))
        if window.status != WindowStatus.REQUESTED:
            raise ChangeRefused(_("This window has already been decided."), code="decided")
        if window.applicant_id == caller.staff.pk:
            raise SeparationOfDuties(_("Apply and approve must be different people."))
        if not approve:
            _reason(reason)
        window.status = WindowStatus.APPROVED if approve else WindowStatus.REFUSED
        window.approver = caller.staff
        window.decided_at = timezone.now()
        window.decision_reason = reason.strip()
        advance(
            window,
            "window.approve" if approve else "window.refuse",
            actor=caller,
            detail={"reason": reason.strip()},
        )
    if approve:
        windows_sweep()
    return window


def windows_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Open approved windows that have begun (enable the account, give it the vendor's agreement) and close
    those that have ended or whose agreement is no longer valid (disable the account, clear the agreement).
    Run by the minute timer (`sidms alerts run`) and after every decision."""
    moment = now or timezone.now()
    opened = closed = 0
    for pk in MaintenanceWindow.objects.filter(
        status=WindowStatus.APPROVED, starts_at__lte=moment
    ).values_list("pk", flat=True):
        with audited_refusals(), transaction.atomic():
            window = locked(MaintenanceWindow, pk, actor=SYSTEM)
            assert window is not None
            agreement = Agreement.objects.get(pk=window.agreement_id)
            if window.ends_at <= moment or not agreement.valid_on(timezone.localdate(moment)):
                window.status, window.closed_at = WindowStatus.CLOSED, moment
                advance(window, "window.close", actor=SYSTEM, detail={"reason": "not_opened"})
                closed += 1
                continue
            staff = window.account.staff
            expires = min(agreement.expires_on or date.max, timezone.localdate(window.ends_at))
            staff_record_agreement(
                actor=SYSTEM, staff=staff, signed_on=agreement.signed_on, expires_on=expires
            )
            staff_set_active(actor=SYSTEM, staff=staff, active=True, reason=f"维护时段 MW{window.pk} 开始")
            window.status, window.opened_at = WindowStatus.OPEN, moment
            advance(window, "window.open", actor=SYSTEM, detail={"username": staff.username})
            opened += 1
    for window_pk in MaintenanceWindow.objects.filter(status=WindowStatus.OPEN).values_list("pk", flat=True):
        with audited_refusals(), transaction.atomic():
            window = locked(MaintenanceWindow, window_pk, actor=SYSTEM)
            assert window is not None
            agreement = Agreement.objects.get(pk=window.agreement_id)
            if window.ends_at > moment and agreement.valid_on(timezone.localdate(moment)):
                continue
            staff = window.account.staff
            if (
                not MaintenanceWindow.objects.filter(account=window.account, status=WindowStatus.OPEN)
                .exclude(pk=window.pk)
                .exists()
            ):
                staff_set_active(
                    actor=SYSTEM, staff=staff, active=False, reason=f"维护时段 MW{window.pk} 结束"
                )
                staff_record_agreement(actor=SYSTEM, staff=staff, signed_on=None, expires_on=None)
            window.status, window.closed_at = WindowStatus.CLOSED, moment
            advance(window, "window.close", actor=SYSTEM, detail={"username": staff.username})
            closed += 1
    return {"opened": opened, "closed": closed}
