"""Archive retention (issue 9): a governed purge of the items past their retention period, and the store's
orphans.

**Purge.** Each item has a retention period in years (0 = permanent) counted from the day it was received.
An archive reviewer lists the items past it (``expired``) and proposes their purge with a reason
(``purge_propose``: the listing is frozen into an :class:`~sidms.archives.models.ArchivePurge`, a sealed
row); a second archive reviewer — never the proposer, and in scope of every item listed — approves or
refuses it (``purge_decide``). Approved, each item becomes a tombstone (status ``purged``, a revision and an
audit event through the pipeline's ``apply_values``: the catalogue keeps its type, dates and history) and,
once that has committed, the encrypted file of every content no live item still shares is deleted from the
store. A crash between the two leaves files no live item names: the orphan listing shows them and a
repeated ``purge_sweep`` deletes them. `sidms audit verify` keeps passing: a tombstone needs no file, and
every tombstone must be an item of a purge that was approved (else it is named).

**Orphans.** ``orphans`` lists, for the information centre, the stored files no live item references and the
live items whose file is missing (``sidms archives orphans`` and the archives page).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import has_permission, in_scope
from sidms.archives.models import ArchiveItem, ArchivePurge, ItemStatus, PurgeStatus
from sidms.archives.services import OWNERS, file_store, item_district, lock_content, visible_items
from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.audit.verify import Report, broken
from sidms.changes.integrity import check_row, integrity_alert, record_alert
from sidms.changes.models import Channel, Method
from sidms.changes.services import apply_values, audited_refusals, deny, require_permission
from sidms.continuity.base import advance, create, locked, require_intact
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted, SeparationOfDuties
from sidms.core.kernel import spec_for

MAY_NOT_PURGE = _("Only an archive reviewer lists and purges archive items past their retention period.")
MAY_NOT_LIST_ORPHANS = _("Only the information centre lists the archive store's orphans.")
OWN_PURGE = _("A purge is approved by someone other than the person who proposed it.")
NO_SUCH_PURGE = _("There is no such purge in your scope.")
LISTED = 500  # items per purge: a listing a person can read before approving it


def retention_ends(item: ArchiveItem) -> date | None:
    """The last day of ITEM's retention period (None when it is kept permanently)."""
    years = int(item.retention_years)
    if years == 0:
        return None
    received = item.received_on
    try:
        return received.replace(year=received.year + years)
    except ValueError:  # received on 29 February, ending in a common year
        return received.replace(year=received.year + years, day=28)


def expired(*, actor: Any, as_of: date | None = None) -> list[ArchiveItem]:
    """The live items in the archive reviewer's scope whose retention period ended before AS_OF (today);
    the listing is an audit event naming the items."""
    caller = Caller.of(actor)
    require_permission(caller, "archive.purge", MAY_NOT_PURGE)
    day = as_of or timezone.localdate()
    try:  # every period is a year or more: nothing received since a year before DAY can have ended
        year_before = day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        year_before = date(day.year - 1, 3, 1)
    candidates = (
        visible_items(caller.staff)
        .exclude(status=ItemStatus.PURGED)
        .exclude(retention_years=0)
        .filter(received_on__lt=year_before)
        .order_by("received_on", "pk")
    )
    items = [i for i in candidates.iterator() if (end := retention_ends(i)) is not None and end < day]
    audit_record("archive.retention_list", actor=caller, object_type="archive_item",
                 detail={"as_of": day.isoformat(), "items": [i.pk for i in items][:LISTED]})  # fmt: skip
    return items


def purge_propose(
    *, actor: Any, item_ids: Iterable[int], reason: str, as_of: date | None = None
) -> ArchivePurge:
    """Propose the purge of ITEM_IDS, each of which must be in the proposer's listing of expired items."""
    caller = Caller.of(actor)
    day = as_of or timezone.localdate()
    wanted = sorted({int(i) for i in item_ids})
    if not reason.strip():
        raise ChangeRefused(_("A purge needs a reason."), code="reason_required")
    if not wanted or len(wanted) > LISTED:
        raise ChangeRefused(
            _("Choose between 1 and %(n)s items past their retention period."), {"n": LISTED}, code="items"
        )
    listed = {i.pk for i in expired(actor=caller, as_of=day)}
    if not set(wanted) <= listed:
        raise ChangeRefused(
            _("Items %(items)s are not past their retention period (or not in your scope); refused."),
            {"items": ", ".join(str(i) for i in sorted(set(wanted) - listed))}, code="not_expired",
        )  # fmt: skip
    with transaction.atomic():
        return create(
            ArchivePurge(items=wanted, as_of=day, reason=reason.strip()[:500], status=PurgeStatus.PENDING,
                         proposed_by=caller.staff, proposed_at=timezone.now()),
            "archive.purge_propose", actor=caller, detail={"items": wanted, "as_of": day.isoformat()},
        )  # fmt: skip


def _items_in_scope(staff: Any, purge: ArchivePurge) -> bool:
    items = ArchiveItem.objects.filter(pk__in=purge.items).select_related(*OWNERS)
    return all(in_scope(staff, item_district(item)) for item in items)


def purge_decide(*, actor: Any, purge_id: int, approve: bool, reason: str = "") -> ArchivePurge:
    """A second archive reviewer approves (the items become tombstones, their files are deleted) or refuses
    (with a reason) a proposed purge."""
    caller = Caller.of(actor)
    staff = caller.staff
    with audited_refusals(), transaction.atomic():
        if not has_permission(staff, "archive.purge"):
            raise deny(NotPermitted(MAY_NOT_PURGE), "archive.purge_denied", actor=caller,
                       object_type="archive_purge", object_id=purge_id, detail={"reason": "post"})  # fmt: skip
        purge = locked(ArchivePurge, purge_id, actor=caller)
        if purge is None or not _items_in_scope(staff, purge):
            raise deny(NotPermitted(NO_SUCH_PURGE), "archive.purge_denied", actor=caller,
                       object_type="archive_purge", object_id=purge_id,
                       detail={"reason": "not_found_or_out_of_scope"})  # fmt: skip
        if purge.proposed_by_id == staff.pk:
            raise deny(SeparationOfDuties(OWN_PURGE), "archive.purge_denied", actor=caller,
                       object_type="archive_purge", object_id=purge_id, detail={"reason": "own_proposal"})  # fmt: skip
        if purge.status != PurgeStatus.PENDING:
            raise ChangeRefused(_("This purge is not waiting for a decision."), code="decided")
        if not approve and not reason.strip():
            raise ChangeRefused(_("A refusal needs a reason."), code="reason_required")
        purge.decided_by = staff
        purge.decided_at = timezone.now()
        purge.decision_reason = reason.strip()[:500]
        if not approve:
            purge.status = PurgeStatus.REFUSED
            advance(purge, "archive.purge_refuse", actor=caller, detail={"items": purge.items})
            return purge
        spec = spec_for("archive_item")
        items = list(ArchiveItem.objects.select_for_update().filter(pk__in=purge.items).order_by("pk"))
        for item in items:
            end = retention_ends(item)
            if item.status == ItemStatus.PURGED or end is None or end >= purge.as_of:
                raise ChangeRefused(
                    _("Archive item %(item)s is no longer past its retention period; propose the purge again."),
                    {"item": item.pk}, code="not_expired",
                )  # fmt: skip
            apply_values(spec, item, {"status": ItemStatus.PURGED}, actor=caller, channel=Channel.WINDOW,
                         method=Method.REVIEW, reference=f"purge:{purge.pk}")  # fmt: skip
        purge.status = PurgeStatus.DONE
        advance(purge, "archive.purge_approve", actor=caller,
                detail={"items": purge.items, "reason": purge.decision_reason})  # fmt: skip
    # The tombstones are committed: now the files (a crash here leaves orphans that the sweep deletes).
    purge_sweep(caller, purge_id=purge.pk)
    return ArchivePurge.objects.get(pk=purge.pk)


def _genuine_tombstones(caller: Caller, purge_id: int | None) -> dict[int, str]:
    """Tombstone id -> content name, of the purged items whose file may go: items of an approved purge whose
    row is intact, each matching its own history. A status set to "purged" in SQL is not a purge: that item
    keeps its file (its row is named by verify), and the sweep records an integrity alert for it."""
    purges = ArchivePurge.objects.filter(status=PurgeStatus.DONE).order_by("pk")
    if purge_id is not None:
        purges = purges.filter(pk=purge_id)
    approved: set[int] = set()
    for purge in purges:
        try:
            require_intact(purge, actor=caller)
        except IntegrityAlert as alert:
            record_alert(alert)
            continue
        approved.update(int(i) for i in purge.items)
    spec = spec_for("archive_item")
    genuine: dict[int, str] = {}
    for item in ArchiveItem.objects.filter(status=ItemStatus.PURGED).order_by("pk"):
        if item.pk in approved:
            try:
                check_row(spec, item, actor=caller)
            except IntegrityAlert as alert:
                record_alert(alert)
                continue
            genuine[item.pk] = item.content_mac
        elif purge_id is None:
            record_alert(_forged(caller, item))
    return genuine


def _forged(caller: Caller, item: ArchiveItem) -> IntegrityAlert:
    return integrity_alert(f"archive item #{item.pk}", "archive_item", str(item.pk),
                           {"reason": "purged_without_purge", "record_id": item.pk}, actor=caller)  # fmt: skip


def _unreferenced(names: Iterable[str], tombstones: Iterable[int]) -> list[str]:
    """Of NAMES, the stored files no item but the genuine TOMBSTONES references."""
    names = sorted(set(names))
    gone = set(tombstones)
    referenced = {
        name
        for pk, name in ArchiveItem.objects.filter(content_mac__in=names).values_list("pk", "content_mac")
        if pk not in gone
    }
    return [n for n in names if n not in referenced]


def _delete_unreferenced(names: Iterable[str], genuine: Mapping[int, str]) -> list[str]:
    """Delete each of NAMES that no item but the GENUINE tombstones references, checked again under the lock
    an upload of the same content holds while it writes the file: the same scan uploaded afresh between the
    listing and the deletion keeps its new file."""
    store = file_store()
    gone = []
    for name in sorted(set(names)):
        with transaction.atomic():
            lock_content(name)
            if _unreferenced([name], genuine) and store.exists(name):
                store.delete(name)
                gone.append(name)
    return gone


def purge_sweep(caller: Caller, *, purge_id: int | None = None) -> int:
    """Delete the stored files of purged items that no other item shares (all approved purges', or one
    purge's); the deletion is an audit event naming how many files went."""
    genuine = _genuine_tombstones(caller, purge_id)
    gone = _delete_unreferenced(_unreferenced(genuine.values(), genuine), genuine)
    if purge_id is not None:
        with transaction.atomic():
            row = locked(ArchivePurge, purge_id, actor=caller)
            if row is not None:
                row.files_deleted += len(gone)
                advance(row, "archive.purge_files", actor=caller, detail={"files": len(gone)})
    elif gone:
        audit_record("archive.purge_files", actor=caller, object_type="archive_item",
                     detail={"files": len(gone)})  # fmt: skip
    return len(gone)


# A temporary file of the archive store is swept this long after it was last written (a write under way
# writes to it; one older was cut short by a crash and is never renamed into place).
TEMPORARY_AFTER = 3600.0


def temporary_sweep(caller: Caller) -> int:
    """Delete the archive store's temporary files of writes a crash cut short (ciphertext, never renamed into
    place); an audit event names how many went."""
    require_permission(caller, "archive.orphans", MAY_NOT_LIST_ORPHANS)
    gone = file_store().sweep_temporary(TEMPORARY_AFTER)
    if gone:
        audit_record("archive.temporary_sweep", actor=caller, object_type="archive_item",
                     detail={"files": gone})  # fmt: skip
    return gone


def visible_purges(*, actor: Any) -> list[ArchivePurge]:
    caller = Caller.of(actor)
    if not has_permission(caller.staff, "archive.purge"):
        return []
    rows = list(ArchivePurge.objects.select_related("proposed_by", "decided_by")[:100])
    return [p for p in rows if _items_in_scope(caller.staff, p)]


# --------------------------------------------------------------------------------------------------------
# Orphans


@dataclass(frozen=True)
class Orphans:
    files: list[str]  # stored files no live item references (names: keyed hashes, nothing revealed)
    missing: list[int]  # live items whose file is not in the store


def orphans(*, actor: Any) -> Orphans:
    """The information centre's listing of the store against the catalogue (an audit event)."""
    caller = Caller.of(actor)
    require_permission(caller, "archive.orphans", MAY_NOT_LIST_ORPHANS)
    store = file_store()
    stored = set(store.names())
    live = dict(
        ArchiveItem.objects.exclude(status=ItemStatus.PURGED).order_by("pk").values_list("pk", "content_mac")
    )
    referenced = set(live.values())
    found = Orphans(
        files=sorted(stored - referenced), missing=[pk for pk, name in live.items() if name not in stored]
    )
    audit_record("archive.orphans", actor=caller, object_type="archive_item",
                 outcome=Outcome.OK if not (found.files or found.missing) else Outcome.FAILED,
                 detail={"files": len(found.files), "missing": found.missing[:200]})  # fmt: skip
    return found


# --------------------------------------------------------------------------------------------------------
# Verification


def verify_tombstones(report: Report, latest: dict[str, Any]) -> None:
    """Every purged item is an item of a purge that was approved (else: purged behind the system's back)."""
    approved: set[int] = set()
    for items in ArchivePurge.objects.filter(status=PurgeStatus.DONE).values_list("items", flat=True):
        approved.update(int(i) for i in items)
    for pk in (
        ArchiveItem.objects.filter(status=ItemStatus.PURGED).order_by("pk").values_list("pk", flat=True)
    ):
        if pk not in approved:
            raise broken("archive", f"档案条目 #{pk} / archive item #{pk}", "档案条目被标为已销毁，但没有经批准的销毁记录",
                         "the archive item is marked purged without an approved purge")  # fmt: skip
    report.rows["archive_tombstone"] = ArchiveItem.objects.filter(status=ItemStatus.PURGED).count()
