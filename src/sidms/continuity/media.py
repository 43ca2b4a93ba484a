"""The register of storage media and of computers that hold data, and their disposal (R19).

A medium or computer sent for repair or scrapped is first wiped; its disposal records the wipe method, the
operator, a witness (another person), the date and the certificate scan, and cannot be closed without all
of them. The register prints as a PDF (``sidms.continuity.pdf``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.changes.services import audited_refusals
from sidms.continuity.base import advance, create, locked
from sidms.continuity.common import require
from sidms.continuity.models import (
    DisposalReason,
    DisposalStatus,
    MediaDisposal,
    MediumKind,
    MediumStatus,
    StorageMedium,
    WipeMethod,
)
from sidms.core.errors import ChangeRefused, Invalid, NotPermitted, SeparationOfDuties
from sidms.registry.models import Staff

MAY_NOT = _("Only the information centre and the backup officer keep the media register.")


def medium_register(
    *,
    actor: Any,
    asset_no: str,
    kind: str,
    description: str,
    location: str,
    serial_no: str = "",
    holds_data: bool = True,
    custodian: Staff | None = None,
    status: str = MediumStatus.IN_USE,
) -> StorageMedium:
    caller = require(actor, "media.manage", MAY_NOT)
    errors: dict[str, Invalid] = {}
    if not asset_no.strip():
        errors["asset_no"] = Invalid("required", _("Give the asset number."))
    elif StorageMedium.objects.filter(asset_no=asset_no.strip()).exists():
        errors["asset_no"] = Invalid("duplicate", _("This asset number is registered already."))
    if kind not in MediumKind.values:
        errors["kind"] = Invalid("choice", _("Choose the kind of medium."))
    if status not in (MediumStatus.IN_USE, MediumStatus.IN_STORE, MediumStatus.OFFSITE):
        errors["status"] = Invalid("choice", _("A medium is registered in use, in the safe or off-site."))
    for name, value in (("description", description), ("location", location)):
        if not value.strip():
            errors[name] = Invalid("required", _("This field is required."))
    if errors:
        raise ChangeRefused(errors=errors)
    with transaction.atomic():
        medium = StorageMedium(
            asset_no=asset_no.strip(), kind=kind, description=description.strip(), location=location.strip(),
            serial_no=serial_no.strip(), holds_data=holds_data, custodian=custodian, status=status,
            registered_by=caller.staff,
        )  # fmt: skip
        return create(
            medium, "medium.register", actor=caller,
            detail={"asset_no": medium.asset_no, "kind": kind, "location": medium.location},
        )  # fmt: skip


def medium_move(
    *, actor: Any, medium_id: int, location: str, status: str, custodian: Staff | None = None
) -> StorageMedium:
    """Record where a medium is kept now (a backup tape taken off-site, back to the safe)."""
    caller = require(actor, "media.manage", MAY_NOT)
    if (
        status not in (MediumStatus.IN_USE, MediumStatus.IN_STORE, MediumStatus.OFFSITE)
        or not location.strip()
    ):
        raise ChangeRefused(_("Give where the medium is kept and its state."), code="invalid")
    with audited_refusals(), transaction.atomic():
        medium = locked(StorageMedium, medium_id, actor=caller)
        if medium is None:
            raise NotPermitted(_("There is no such medium."))
        if medium.status in (MediumStatus.DISPOSAL, MediumStatus.SCRAPPED):
            raise ChangeRefused(_("A medium being wiped or scrapped cannot be moved."), code="state")
        medium.location, medium.status = location.strip(), status
        if custodian is not None:
            medium.custodian = custodian
        return advance(
            medium, "medium.move", actor=caller, detail={"location": medium.location, "status": status}
        )


def disposal_open(*, actor: Any, medium_id: int, reason: str, note: str = "") -> MediaDisposal:
    """A medium or computer is to leave custody for repair or scrapping: it is wiped first."""
    caller = require(actor, "media.manage", MAY_NOT)
    if reason not in DisposalReason.values:
        raise ChangeRefused(errors={"reason": Invalid("choice", _("Repair or scrapping?"))})
    with audited_refusals(), transaction.atomic():
        medium = locked(StorageMedium, medium_id, actor=caller)
        if medium is None:
            raise NotPermitted(_("There is no such medium."))
        if medium.status in (MediumStatus.DISPOSAL, MediumStatus.SCRAPPED):
            raise ChangeRefused(_("This medium is already being wiped or has been scrapped."), code="state")
        medium.status = MediumStatus.DISPOSAL
        advance(medium, "medium.disposal", actor=caller, detail={"reason": reason})
        disposal = MediaDisposal(medium=medium, reason=reason, note=note.strip(), opened_by=caller.staff)
        return create(
            disposal, "disposal.open", actor=caller, detail={"asset_no": medium.asset_no, "reason": reason}
        )


def disposal_close(
    *,
    actor: Any,
    disposal_id: int,
    wipe_method: str,
    operator: Staff | None,
    witness: Staff | None,
    wiped_on: date | None,
    certificate_ref: str,
) -> MediaDisposal:
    """Record the wipe and close the disposal: refused unless the method, the operator, a witness who is
    another person, the date (not in the future) and the certificate scan are all given."""
    caller = require(actor, "media.manage", MAY_NOT)
    errors: dict[str, Invalid] = {}
    if wipe_method not in WipeMethod.values:
        errors["wipe_method"] = Invalid("required", _("Record how the medium was wiped."))
    if operator is None:
        errors["operator"] = Invalid("required", _("Name who wiped it."))
    if witness is None:
        errors["witness"] = Invalid("required", _("Name the witness."))
    elif operator is not None and witness.pk == operator.pk:
        errors["witness"] = Invalid(
            "same_person", _("The witness is another person than the one who wiped it.")
        )
    if wiped_on is None:
        errors["wiped_on"] = Invalid("required", _("Give the date of the wipe."))
    elif wiped_on > timezone.localdate():
        errors["wiped_on"] = Invalid("future", _("The wipe cannot be dated in the future."))
    if not certificate_ref.strip():
        errors["certificate_ref"] = Invalid("required", _("Attach the wipe certificate's scan."))
    if errors:
        if list(errors) == ["witness"] and errors["witness"].code == "same_person":
            raise SeparationOfDuties(errors["witness"].text)
        raise ChangeRefused(_("A disposal cannot be closed without the complete wipe record."), errors=errors)
    with audited_refusals(), transaction.atomic():
        disposal = locked(MediaDisposal, disposal_id, actor=caller)
        if disposal is None:
            raise NotPermitted(_("There is no such disposal."))
        if disposal.status != DisposalStatus.OPEN:
            raise ChangeRefused(_("This disposal is closed already."), code="state")
        medium = locked(StorageMedium, disposal.medium_id, actor=caller)
        assert medium is not None
        disposal.wipe_method, disposal.operator, disposal.witness = wipe_method, operator, witness
        disposal.wiped_on, disposal.certificate_ref = wiped_on, certificate_ref.strip()
        disposal.status, disposal.closed_by, disposal.closed_at = (
            DisposalStatus.CLOSED,
            caller.staff,
            timezone.now(),
        )
        advance(
            disposal, "disposal.close", actor=caller,
            detail={"asset_no": medium.asset_no, "method": wipe_method, "operator": getattr(operator, "username", ""),
                    "witness": getattr(witness, "username", ""), "wiped_on": wiped_on.isoformat() if wiped_on else None,
                    "certificate": disposal.certificate_ref},
        )  # fmt: skip
        medium.status = (
            MediumStatus.REPAIR if disposal.reason == DisposalReason.REPAIR else MediumStatus.SCRAPPED
        )
        advance(
            medium, "medium.wiped", actor=caller, detail={"disposal": disposal.pk, "status": medium.status}
        )
    return disposal
