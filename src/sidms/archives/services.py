"""The services of the electronic archive (R2.4, R7.4): upload, review, read, catalogue, rules, rotation.

Every write of an archive item goes through the pipeline's single-row writer
(``sidms.changes.services.apply_values``): a revision and an audit event in the same transaction, the row
checked against its history before it is built on. Every view, download and thumbnail of a file is an audit
event naming the item (never its content). The files live in the store of ``sidms.archives.store``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access import workflow as workflows
from sidms.access.policies import has_permission, owner_district, scoped_by_owner
from sidms.archives.models import TARGETS, ArchiveItem, ArchiveRequirement, ItemStatus
from sidms.archives.store import LocalStore, Storage, StoreDamaged, seal, unseal, versions
from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.changes.integrity import check_row, integrity_alert, record_alert
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, Method, ReviewStatus
from sidms.changes.services import apply_values, audited_refusals, deny, require_permission, require_scope
from sidms.continuity.base import create
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted, SeparationOfDuties, Text
from sidms.core.kernel import spec_for
from sidms.core.keys import keyring
from sidms.lib import files
from sidms.parameters.codes import code_label, is_code

DOC_TYPES = "archive_doc_type"
SYSTEM = Caller("system:archives", request_id="")

MAY_NOT_UPLOAD = _("Your posts may not attach archive scans.")
MAY_NOT_VIEW = _("Your posts may not see the electronic archive.")
MAY_NOT_REVIEW = _("Only an archive reviewer accepts or rejects archive items.")
OWN_UPLOAD = _("You may not review a scan you uploaded yourself.")
OWN_REQUEST = _("You may not review a scan attached to a request you submitted yourself.")
NO_SUCH_ITEM = _("There is no such archive item in your scope.")
DAMAGED = _(
    "Archive item %(record)s: its stored file is missing or altered; refused. Tell the information centre."
)

# The archive department's rules: which accepted documents a business needs before it may be approved
# (R7.4). Source: 《社会保险业务档案管理规定（试行）》(人力资源和社会保障部、国家档案局令第3号, 2009) and the
# Weihai agency's material lists (notes/business-rules.md): an enrolment (参保登记: a new employment) needs
# the person's ID copy and the labour contract; a new person's registration needs the ID copy; a query by a
# delegate (a delegated query's registration) needs the written authorisation (授权委托书). Seeded once;
# afterwards they are data.
DEFAULT_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "employment.create": ("id_copy", "labour_contract"),
    "person.create": ("id_copy",),
    "delegated_query.create": ("authorisation",),
}
# Retention periods per document type, years (0 = permanent), after the same regulation's two classes
# (永久 and 定期); to be confirmed with the archive department, which may change an item's period.
DEFAULT_RETENTION: dict[str, int] = {
    "id_copy": 0,
    "labour_contract": 30,
    "authorisation": 10,
    "business_licence": 30,
    "signed_agreement": 30,
    "other": 10,
}


def file_store() -> Storage:
    return LocalStore(archive_dir())


def archive_dir() -> Any:
    configured = getattr(settings, "SIDMS_ARCHIVE_DIR", None)
    return configured if configured is not None else settings.DATA_DIR / "archives"


def max_bytes() -> int:
    return int(getattr(settings, "SIDMS_ARCHIVE_MAX_BYTES", 20 * 1024 * 1024))


def max_pixels() -> int:
    return int(getattr(settings, "SIDMS_ARCHIVE_MAX_PIXELS", 60_000_000))


def content_mac(data: bytes) -> str:
    """The keyed hash of a scan's content: its name in the store (HMAC under the ring's MAC key)."""
    return keyring().mac(b"archive.content\x00" + data)


def refused(error: files.FileRefused) -> ChangeRefused:
    return ChangeRefused(Text(pair=(error.message, error.message_en)), code=f"file_{error.reason}")


# --------------------------------------------------------------------------------------------------------
# Targets


def _district_of(kind: str, target: models.Model, caller: Caller) -> str:
    """The district whose scope TARGET's catalogue is in, and which a new item of it is filed in. A request's
    or order's is its record's now, once a move of the record is found genuine (workflow.require_move_verified)."""
    if kind in REQUESTS:
        workflows.require_move_verified(target, actor=caller)
        return str(workflows.scope_district(target))
    if kind == "batch_application":
        return str(target.applicant.district_id)  # type: ignore[attr-defined]
    if kind == "agreement":
        return str(settings.SIDMS_CITY_DISTRICT)
    return str(target.district_id)  # type: ignore[attr-defined]


def _business_of(held: Any) -> str:
    return f"{held.entity}.{'create' if held.record_id is None else 'update'}"


# --------------------------------------------------------------------------------------------------------
# Upload


def lock_content(name: str) -> None:
    """Serialise uploads of the same content: two first uploads of one scan at once must not both write the
    file (each bound to its own item), the second overwriting the first; nor may a retention sweep delete
    the file an upload is writing (sidms.archives.retention). On PostgreSQL a transaction-level
    advisory lock on the name (locking the existing rows does not block when there are none yet); SQLite
    writers are serialised already (sidms.core.sqlite)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(name[:15], 16)])


def archive_upload(
    *,
    actor: Any,
    target_kind: str,
    target: models.Model,
    doc_type: str,
    data: bytes,
    received_on: date | None = None,
) -> ArchiveItem:
    """Inspect DATA (type by content, size, pixels, PDF active content), encrypt it into the store and
    register it as a pending archive item of TARGET. A refused file leaves nothing: no row, no file."""
    caller = Caller.of(actor)
    if target_kind not in TARGETS:
        raise ValueError(f"unknown archive target {target_kind!r}")
    permission = "agreement.manage" if target_kind == "agreement" else "archive.upload"
    require_permission(caller, permission, MAY_NOT_UPLOAD)
    district = _district_of(target_kind, target, caller)
    require_scope(caller, district)
    if not is_code(DOC_TYPES, doc_type):
        raise ChangeRefused(_("Choose a document type from the list."), code="doc_type")
    try:
        inspected = files.inspect(data, max_bytes=max_bytes(), max_pixels=max_pixels())
    except files.FileRefused as error:
        audit_record(
            "archive.refused", actor=caller, object_type=target_kind, object_id=target.pk,
            outcome=Outcome.FAILED, detail={"reason": error.reason, "size": len(data)},
        )  # fmt: skip
        raise refused(error) from None
    name = content_mac(data)
    attname = TARGETS[target_kind]
    store = file_store()
    written = False
    with audited_refusals(), transaction.atomic():
        lock_content(name)
        same = (
            ArchiveItem.objects.select_for_update()
            .filter(content_mac=name)
            .exclude(status=ItemStatus.PURGED)  # a tombstone's file is gone: the content is stored afresh
            .order_by("pk")
        )
        duplicate = same.filter(**{attname: target.pk}).first()
        if duplicate is not None:
            raise ChangeRefused(
                _("This file is already in the archive of this record (item %(item)s)."),
                {"item": duplicate.pk}, code="duplicate_file",
            )  # fmt: skip
        first = same.first()
        item_uid = str(uuid.uuid4())
        if first is not None and store.exists(name):
            blob_uid = first.blob_uid  # the same content on another record: one encrypted file, shared
        else:
            blob_uid = item_uid
            store.put(name, seal(keyring(), blob_uid, data))
            written = True
        try:
            values = {
                "uid": item_uid,
                "district_id": district,
                attname: target.pk,
                "doc_type": doc_type,
                "received_on": received_on or timezone.localdate(),
                "kind": inspected.kind,
                "size": inspected.size,
                "pages": inspected.pages,
                "content_mac": name,
                "blob_uid": blob_uid,
                "retention_years": DEFAULT_RETENTION.get(doc_type, 10),
                "status": ItemStatus.PENDING,
                "uploaded_by_id": caller.staff.pk,
                "review_reason": "",
            }
            revision = apply_values(
                spec_for("archive_item"), None, values, actor=caller, channel=Channel.WINDOW,
                method=Method.DIRECT, reference=f"{target_kind}:{target.pk}",
            )  # fmt: skip
        except BaseException:
            if written:
                store.delete(name)
            raise
    return ArchiveItem.objects.get(pk=revision.record_id)


def archive_refuse_oversized(
    *, actor: Any, target_kind: str, target: models.Model, size: int
) -> ChangeRefused:
    """The refusal of an upload stopped by the upload handler above the size limit (nothing was kept, not
    even in memory beyond the limit): audited like any refused file."""
    caller = Caller.of(actor)
    audit_record(
        "archive.refused", actor=caller, object_type=target_kind, object_id=target.pk, outcome=Outcome.FAILED,
        detail={"reason": "too_large", "size": size},
    )  # fmt: skip
    limit = f"{max_bytes() / 1_048_576:.1f} MB"
    return ChangeRefused(
        _("The file is larger than the limit of %(limit)s; scan at a lower resolution (300 dpi is enough) or "
          "split it into several files."), {"limit": limit}, code="file_too_large",
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Review


# An item of a person or a unit is scoped by the district its owner is in now (the catalogue's rule); an item
# of a request or an order by the district that request or order is in (its record's now: access.workflow,
# the same rule again); an item of a batch or an agreement by the district it was filed in.
OWNERS = {"person": "person__district_id", "unit": "unit__district_id"}
REQUESTS: dict[str, type[models.Model]] = {
    "change_request": ChangeRequest,
    "maintenance_order": MaintenanceOrder,
}


def visible_items(staff: Any) -> Any:
    """The archive items in STAFF's data scope (access.policies.scoped_by_owner)."""
    items = ArchiveItem.objects.alias(
        **{f"{ref}_district": workflows.scope_district_of(model, ref) for ref, model in REQUESTS.items()}
    )
    return scoped_by_owner(staff, items, {**OWNERS, **{ref: f"{ref}_district" for ref in REQUESTS}})


def item_district(item: ArchiveItem) -> str | None:
    for ref in REQUESTS:
        row = getattr(item, ref)
        if row is not None:
            return workflows.scope_district(row)
    return owner_district(item, OWNERS)


def _require_genuine_move(caller: Caller, item: ArchiveItem) -> None:
    """The move that puts ITEM in the reader's scope, checked against history: the record of the request or
    order it is attached to (workflow.require_move_verified), or its owner once the owner is in another
    district than the item was uploaded in. A district written in SQL must not open a scan to the district it
    names, nor let its reviewer decide one (attack rounds 11 and 13)."""
    for ref in REQUESTS:
        row = getattr(item, ref)
        if row is not None:
            workflows.require_move_verified(row, actor=caller)
            return
    owner = item.person if item.person_id is not None else item.unit
    if owner is not None and item_district(item) != item.district_id:
        check_row(spec_for("person" if item.person_id is not None else "unit"), owner, actor=caller)


def archive_review(*, actor: Any, item_id: int, accept: bool, reason: str) -> ArchiveItem:
    """The archive reviewer accepts or rejects a pending item; never the uploader; a rejection needs a
    reason."""
    caller = Caller.of(actor)
    staff = caller.staff
    with audited_refusals(), transaction.atomic():
        if not has_permission(staff, "archive.review"):
            raise deny(NotPermitted(MAY_NOT_REVIEW), "archive.review_denied", actor=caller,
                       object_type="archive_item", object_id=item_id, detail={"reason": "post"})  # fmt: skip
        item = visible_items(staff).select_for_update(of=("self",)).filter(pk=item_id).first()
        if item is None:
            raise deny(NotPermitted(NO_SUCH_ITEM), "archive.review_denied", actor=caller,
                       object_type="archive_item", object_id=item_id,
                       detail={"reason": "not_found_or_out_of_scope"})  # fmt: skip
        _require_genuine_move(caller, item)
        if item.uploaded_by_id == staff.pk:
            raise deny(SeparationOfDuties(OWN_UPLOAD), "archive.review_denied", actor=caller,
                       object_type="archive_item", object_id=item_id, detail={"reason": "own_upload"})  # fmt: skip
        if item.change_request_id is not None and item.change_request.submitted_by_id == staff.pk:
            # The document a request's approval waits for is checked by someone other than the request's
            # submitter (attack round 6: a clerk holding the archive reviewer's post too accepted the
            # authorisation of the delegated query they had registered, a colleague having uploaded it).
            raise deny(SeparationOfDuties(OWN_REQUEST), "archive.review_denied", actor=caller,
                       object_type="archive_item", object_id=item_id, detail={"reason": "own_request"})  # fmt: skip
        if item.status != ItemStatus.PENDING:
            raise ChangeRefused(_("This archive item has already been reviewed."), code="decided")
        reason = reason.strip()
        if not accept and not reason:
            raise ChangeRefused(_("A rejection needs a reason."), code="reason_required")
        apply_values(
            spec_for("archive_item"), item,
            {"status": ItemStatus.ACCEPTED if accept else ItemStatus.REJECTED, "reviewed_by_id": staff.pk,
             "reviewed_on": timezone.localdate(), "review_reason": reason[:500]},
            actor=caller, channel=Channel.WINDOW, method=Method.REVIEW, reference=f"archive:{item.pk}",
        )  # fmt: skip
    return ArchiveItem.objects.get(pk=item_id)


def review_queue(*, actor: Any) -> list[ArchiveItem]:
    """Pending items the archive reviewer may decide (not their own uploads)."""
    caller = Caller.of(actor)
    require_permission(caller, "archive.review", MAY_NOT_REVIEW)
    items = list(
        visible_items(caller.staff)
        .filter(status=ItemStatus.PENDING)
        .exclude(uploaded_by=caller.staff)
        .exclude(change_request__submitted_by=caller.staff)
        .order_by("pk")[:200]
    )
    audit_record("archive.queue", actor=caller, object_type="archive_item",
                 detail={"items": [i.pk for i in items]})  # fmt: skip
    return items


# --------------------------------------------------------------------------------------------------------
# Reading


def view_permission(target_kind: str) -> str:
    """An agreement's signed scan is seen by those who see the agreement register; other items by the
    staff posts of the windows (and the archive reviewer)."""
    return "agreement.view" if target_kind == "agreement" else "archive.view"


def may_view(staff: Any, target_kind: str) -> bool:
    return has_permission(staff, view_permission(target_kind)) or has_permission(staff, "archive.review")


def _item_for(caller: Caller, item_id: int, action: str) -> ArchiveItem:
    item = visible_items(caller.staff).filter(pk=item_id).first()
    if item is not None and not may_view(caller.staff, item.target_kind):
        audit_record(f"archive.{action}", actor=caller, outcome=Outcome.DENIED, object_type="archive_item",
                     object_id=item_id, detail={"reason": "post"})  # fmt: skip
        raise NotPermitted(MAY_NOT_VIEW)
    if item is None:
        audit_record(f"archive.{action}", actor=caller, outcome=Outcome.DENIED, object_type="archive_item",
                     object_id=item_id, detail={"reason": "not_found_or_out_of_scope"})  # fmt: skip
        raise NotPermitted(NO_SUCH_ITEM, code="not_found")
    try:
        # The row names the file, its key binding and its district: one re-pointed at another district's scan
        # or moved to the reader's district in SQL must not open that scan to the reader (attack round 10).
        check_row(spec_for("archive_item"), item, actor=caller)
        _require_genuine_move(caller, item)
    except IntegrityAlert as alert:
        record_alert(alert)
        raise
    if item.status == ItemStatus.PURGED:
        raise ChangeRefused(
            _("Archive item %(item)s was purged after its retention period; only its catalogue entry remains."),
            {"item": item.pk}, code="purged",
        )  # fmt: skip
    return item


def _plaintext(item: ArchiveItem, caller: Caller, action: str) -> bytes:
    try:
        data = unseal(keyring(), item.blob_uid, file_store().get(item.content_mac))
        if content_mac(data) != item.content_mac or len(data) != item.size:
            raise StoreDamaged("content does not match the item's hash")
    except StoreDamaged as damage:
        alert = integrity_alert(str(item.pk), "archive_item", item.pk,
                                {"during": action, "reason": str(damage)[:200]}, actor=caller,
                                message=DAMAGED)  # fmt: skip
        record_alert(alert)  # now: the caller's transaction may roll back (record_alert writes it once)
        raise alert from None
    return data


def archive_open(*, actor: Any, item_id: int, action: str = "view") -> tuple[ArchiveItem, bytes]:
    """The item and its decrypted file, for a view or a download; each is an audit event (R2.4)."""
    if action not in ("view", "download"):
        raise ValueError(action)
    caller = Caller.of(actor)
    item = _item_for(caller, item_id, action)
    data = _plaintext(item, caller, action)
    audit_record(f"archive.{action}", actor=caller, object_type="archive_item", object_id=item.pk,
                 detail={"doc_type": item.doc_type, "size": item.size})  # fmt: skip
    return item, data


def archive_thumbnail(*, actor: Any, item_id: int) -> bytes:
    """A first-page preview rendered in memory (sidms.lib.files.thumbnail); an audit event like a view."""
    caller = Caller.of(actor)
    item = _item_for(caller, item_id, "thumbnail")
    data = _plaintext(item, caller, "thumbnail")
    inspected = files.inspect(data, max_bytes=max(max_bytes(), len(data)), max_pixels=max_pixels())
    png = files.thumbnail(data, inspected)
    audit_record("archive.thumbnail", actor=caller, object_type="archive_item", object_id=item.pk,
                 detail={"doc_type": item.doc_type})  # fmt: skip
    return png


def catalogue(*, actor: Any, target_kind: str, target: models.Model) -> list[ArchiveItem]:
    """The archive catalogue (档案目录) of a record: its items with type, date, status and retention; the
    read is an audit event naming the items listed."""
    caller = Caller.of(actor)
    if not may_view(caller.staff, target_kind):
        require_permission(caller, view_permission(target_kind), MAY_NOT_VIEW)
    require_scope(caller, _district_of(target_kind, target, caller))
    items = list(
        ArchiveItem.objects.filter(**{TARGETS[target_kind]: target.pk}).order_by("-received_on", "-pk")
    )
    audit_record("archive.catalogue", actor=caller, object_type=target_kind, object_id=target.pk,
                 detail={"items": [i.pk for i in items]})  # fmt: skip
    return items


def doc_type_label(code: str) -> str:
    return code_label(DOC_TYPES, code)


# --------------------------------------------------------------------------------------------------------
# The archive department's rules


def seed_requirements() -> int:
    made = 0
    for business, doc_types in DEFAULT_REQUIREMENTS.items():
        for doc_type in doc_types:
            if ArchiveRequirement.objects.filter(business=business, doc_type=doc_type).exists():
                continue
            with transaction.atomic():
                create(ArchiveRequirement(business=business, doc_type=doc_type), "archive_requirement.seed",
                       actor=SYSTEM, detail={"business": business, "doc_type": doc_type})  # fmt: skip
            made += 1
    return made


def required_documents(business: str) -> list[str]:
    return list(
        ArchiveRequirement.objects.filter(business=business)
        .order_by("doc_type")
        .values_list("doc_type", flat=True)
    )


def missing_documents(business: str, items: list[ArchiveItem]) -> tuple[list[str], list[str]]:
    """(missing, rejected) document types of BUSINESS given ITEMS: a type is satisfied by an accepted item;
    rejected means every item of that type was rejected, missing that there is none or none reviewed yet."""
    missing, rejected = [], []
    for doc_type in required_documents(business):
        statuses = {i.status for i in items if i.doc_type == doc_type}
        if ItemStatus.ACCEPTED in statuses:
            continue
        if statuses == {ItemStatus.REJECTED}:
            rejected.append(doc_type)
        else:
            missing.append(doc_type)
    return missing, rejected


def require_documents(held: Any, caller: Caller) -> None:
    """Registered with sidms.changes (``register_approval_check``): a review request is approved only when
    every document its business needs is attached to it and accepted by the archive reviewer."""
    if held.status != ReviewStatus.PENDING:
        return
    items = list(ArchiveItem.objects.filter(change_request_id=held.pk).order_by("pk"))
    spec = spec_for("archive_item")
    for item in items:
        # A status flipped to accepted in SQL (attack round 10) must not stand in for the reviewer's decision.
        check_row(spec, item, actor=caller)
    missing, rejected = missing_documents(_business_of(held), items)
    if not (missing or rejected):
        return
    names = "、".join(doc_type_label(d) for d in missing + rejected)
    refusal = ChangeRefused(
        _("The required archive documents are missing or rejected: %(names)s. Attach them and have the archive "
          "reviewer accept them before approving."), {"names": names}, code="archive_missing",
    )  # fmt: skip
    # Written by the review service's audited_refusals once the refused decision has rolled back.
    refusal.audit_event = {  # type: ignore[attr-defined]
        "action": "archive.approval_refused", "actor": caller, "outcome": Outcome.DENIED,
        "object_type": "change_request", "object_id": held.pk, "detail": {"missing": missing, "rejected": rejected},
    }  # fmt: skip
    raise refusal


# --------------------------------------------------------------------------------------------------------
# Key rotation


def reencrypt_files(caller: Caller, progress: Callable[[str], None]) -> int:
    """Registered with ``sidms.continuity.keys.register_reencrypt``: re-encrypt every archive file whose
    chunks are not all under the current key version. Resumable: a file already under the current version is
    skipped, and each file is replaced atomically, so an interrupted run is simply run again."""
    ring = keyring()
    store = file_store()
    blobs = sorted(
        set(ArchiveItem.objects.exclude(status=ItemStatus.PURGED).values_list("content_mac", "blob_uid"))
    )
    done = 0
    for index, (name, blob_uid) in enumerate(blobs, 1):
        sealed = store.get(name)
        if versions(sealed) == {ring.current}:
            continue
        data = unseal(ring, blob_uid, sealed)
        if content_mac(data) != name:
            raise StoreDamaged(f"archive file {name} does not hold the content its name says")
        store.put(name, seal(ring, blob_uid, data))
        done += 1
        if index % 100 == 0:
            progress(f"  archive files: {index:,}/{len(blobs):,} read, {done:,} re-encrypted")
    if done:
        audit_record("archive.reencrypted", actor=caller, object_type="archive_item",
                     detail={"files": done, "key_version": ring.current})  # fmt: skip
    return done


def sample(population: list[Any], k: int) -> list[Any]:
    return random.SystemRandom().sample(population, min(k, len(population)))
