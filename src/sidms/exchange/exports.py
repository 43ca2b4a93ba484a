"""Exports of lists (B3, R10.3): XLSX, or CSV in UTF-8 with BOM or GBK, of any list a staff member may see,
read through the read door (``access.policies.record_list``: the view permission, the district scope, an
audit event naming the records read) and masked per the entity's declared "export" channel.

Every file carries a watermark — who exported it, when, for what stated purpose, and the export's number —
in the XLSX page header and footer and as its first row, and as the first line (a ``#`` comment) of a CSV.
The file's SHA-256 is in the export's audit event, so a leaked file can be traced to its export. An ID number
in the stated purpose is masked (birth date starred out) before it is stored or printed, as the audit log
masks it; the search text, which may be an ID number, is stored encrypted, bound to the request
(``ExportRequest.query``), and read again only to build the file.

Above a row threshold (``export_threshold()``) an export is a request: a second person with the approving
post decides, and an approval lets the requester download the file once, within a time window. The request
is a sealed row (``continuity.base.SealedRow``): forging "approved" or putting a downloaded request back in
the database no longer matches its seal or its latest audit event, so the download is refused and
`sidms audit verify` names it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from sidms.access import texts
from sidms.access.policies import (
    has_permission,
    in_scope,
    read_query,
    record_list,
    record_scope,
    require,
    scoped,
    view_permission,
    withhold,
)
from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.business.parameters import value_at
from sidms.changes.models import Revision
from sidms.changes.services import (
    ALREADY_WITHDRAWN,
    WITHDRAW_DECIDED,
    WITHDRAW_NOT_OWN,
    audited_refusals,
    deny,
    field_label,
)
from sidms.continuity.base import advance, create, locked
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from sidms.core.fields import Sealed
from sidms.core.kernel import EntitySpec, spec_for
from sidms.core.keys import keyring
from sidms.core.logging import mask as mask_id_numbers
from sidms.core.masks import mask_id_number, mask_name
from sidms.exchange.models import ExportRequest, ExportStatus
from sidms.lib.crypto import token_version

FORMATS = ("xlsx", "csv")
ENCODINGS = {"utf-8-sig": "utf-8-sig", "gbk": "gb18030"}  # GB18030: GBK's superset, same bytes for GBK text
PAGE = 1000  # records per read through the door (one audit event each)
DEFAULT_WINDOW = timedelta(hours=24)
APPROVE = "batch.approve"  # the city-level approving post decides large exports as it decides batches
QUERY_LENGTH = 200  # ExportRequest.query
QUERY_TOO_LONG = _("The search text of an export holds at most %(n)s characters.")
GROWN = _(
    "The list now holds %(rows)s rows, more than the %(counted)s counted when the export was asked for and "
    "above the threshold that needs a second person's approval; ask again."
)


def export_threshold() -> int:
    """Rows above which an export needs a second person's approval (R10.3): the business-handling parameter
    "export.approval_rows" in force today, which the city-level system administrators change four-eyes."""
    return int(value_at("export.approval_rows"))


@dataclass
class ExportFile:
    request: ExportRequest
    data: bytes | None  # None while the request waits for approval
    filename: str
    content_type: str


def _selected(caller: Caller, spec: EntitySpec, query: str, filters: Mapping[str, str]) -> QuerySet[Any]:
    """The records the list holds for the caller (the read door's scope, query and filters)."""
    require(caller, view_permission(spec))
    records = record_scope(caller.staff, spec).filter(**read_query(spec, query)[2])
    for name, value in filters.items():
        if name in spec.declaration.list_filters and value not in ("", None):
            records = records.filter(**{name: value})
    return records


CHECKED_AT_ONCE = 500  # records read and checked against their history in one go (_shown_up_to)


def _shown_up_to(caller: Caller, spec: EntitySpec, records: QuerySet[Any], limit: int) -> int:
    """How many of RECORDS the file would hold, counted up to LIMIT: those that match their history (the read
    door withholds the others from the file, each with its integrity alert, as it does from the list page).
    It stops once LIMIT are found, so that deciding whether an export needs approval checks at most about
    as many records as the threshold, however long the list."""
    found, part = 0, []
    for record in records.order_by("pk").iterator(chunk_size=CHECKED_AT_ONCE):
        part.append(record)
        if len(part) >= min(CHECKED_AT_ONCE, limit - found):  # no more read than could still be wanted
            found += len(part) - len(withhold(spec, part, caller))
            part = []
            if found >= limit:
                return found
    return found + len(part) - len(withhold(spec, part, caller))


def request_export(
    *,
    actor: Any,
    entity: str,
    purpose: str,
    query: str = "",
    filters: Mapping[str, str] | None = None,
    sort: str = "",
    fmt: str = "xlsx",
    encoding: str = "utf-8-sig",
) -> ExportFile:
    """Export the list at once (at or below the threshold), or record a request for approval (above it)."""
    caller = Caller.of(actor)
    spec = spec_for(entity)
    # An ID number in the purpose ("核查3710…的家庭成员") is kept and printed with its birth date starred out, as
    # the audit log keeps it: it was stored whole and printed whole in the file's watermark (attack round 17).
    purpose = mask_id_numbers(one_line(purpose))
    if not purpose:
        raise ChangeRefused(_("State the purpose of the export."), code="purpose_required")
    if fmt not in FORMATS or (fmt == "csv" and encoding not in ENCODINGS):
        raise ChangeRefused(_("Choose XLSX, or CSV in UTF-8 or GBK."), code="format")
    query = query.strip()
    if len(query) > QUERY_LENGTH:
        # Counted as typed but kept cut, "张" + 250 blanks + "x" counted no one and was built as "张" (attack
        # round 10): the text counted is the text kept, or the export is refused.
        raise ChangeRefused(QUERY_TOO_LONG, {"n": QUERY_LENGTH}, code="query_too_long")
    filters = {k: str(v) for k, v in (filters or {}).items() if k in spec.declaration.list_filters and v}
    records = _selected(caller, spec, query, filters)
    count, threshold = records.count(), export_threshold()
    large = count > threshold
    if large:
        # Counted in SQL, the list holds records the file would withhold (they do not match their history): the
        # threshold is held against the rows the file would hand out. Below it, every record was checked and
        # the count is what the file will hold; above it, the count stays SQL's, and the download records the
        # rows the file held.
        shown = _shown_up_to(caller, spec, records, threshold + 1)
        if shown <= threshold:
            count, large = shown, False
    with transaction.atomic():
        request = create(
            ExportRequest(
                uid=uuid.uuid4(), entity=spec.name, query=query, filters=filters, sort=sort[:64],
                format=fmt, encoding=encoding if fmt == "csv" else "", purpose=purpose[:200],
                row_count=count, status=ExportStatus.PENDING if large else ExportStatus.APPROVED,
                requester=caller.staff, requested_at=timezone.now(),
                window_end=None if large else timezone.now() + DEFAULT_WINDOW,
            ),
            "export.request", actor=caller,
            detail={"entity": spec.name, "rows": count, "format": fmt, "needs_approval": large},
        )  # fmt: skip
    if large:
        return ExportFile(request, None, "", "")
    return download_export(actor=caller, export_id=request.pk)


def decide_export(
    *, actor: Any, export_id: int, approve: bool, reason: str = "", window: timedelta = DEFAULT_WINDOW
) -> ExportRequest:
    """A second person (the approving post, never the requester) approves or refuses a large export."""
    caller = Caller.of(actor)
    require(caller, APPROVE)
    # The approver's data scope (R10.3): a district's approver decides its own district's exports only; the
    # export's district is its requester's, whose scope bounded the rows. Out of scope reads as "no such".
    requester_district = (
        ExportRequest.objects.filter(pk=export_id).values_list("requester__district_id", flat=True).first()
    )
    if requester_district is not None and not in_scope(caller.staff, requester_district):
        audit_record("access.denied", actor=caller, object_type="export", object_id=export_id,
                     outcome=Outcome.DENIED, detail={"permission": APPROVE, "reason": "out_of_scope"})  # fmt: skip
        raise NotPermitted(_("There is no such export."))
    with transaction.atomic():
        request = locked(ExportRequest, export_id, actor=caller)
        if request is None or not in_scope(caller.staff, request.requester.district_id):
            raise NotPermitted(_("There is no such export."))
        if request.requester_id == caller.staff.pk:
            raise SeparationOfDuties(
                _("An export is approved by someone other than the person who asked for it.")
            )
        if request.status != ExportStatus.PENDING:
            raise ChangeRefused(_("This export is not waiting for approval."), code="not_pending")
        if not approve and not reason.strip():
            raise ChangeRefused(_("A refusal needs a reason."), code="reason_required")
        now = timezone.now()
        request.status = ExportStatus.APPROVED if approve else ExportStatus.REFUSED
        request.approver = caller.staff
        request.decided_at = now
        request.decision_reason = reason.strip()[:500]
        request.window_end = now + window if approve else None
        advance(
            request, "export.approve" if approve else "export.refuse", actor=caller,
            detail={"entity": request.entity, "rows": request.row_count},
        )  # fmt: skip
    return request


def withdraw_export(*, actor: Any, export_id: int) -> ExportRequest:
    """The requester withdraws their export while it waits for approval (撤回): it leaves the approvers' list
    and can no longer be approved or downloaded. Nobody else may, and a decided export cannot be withdrawn."""
    caller = Caller.of(actor)
    with audited_refusals(), transaction.atomic():
        request = locked(ExportRequest, export_id, actor=caller)
        if request is None or not (
            request.requester_id == caller.staff.pk or _approver_of(caller.staff, request)
        ):
            raise NotPermitted(_("There is no such export."))
        if request.requester_id != caller.staff.pk:
            raise deny(
                NotPermitted(WITHDRAW_NOT_OWN, code="not_own"), "access.denied", actor=caller,
                object_type="export", object_id=request.pk,
                detail={"reason": "withdraw_not_own"},
            )  # fmt: skip
        if request.status == ExportStatus.WITHDRAWN:
            raise ChangeRefused(ALREADY_WITHDRAWN, code="withdrawn")
        if request.status != ExportStatus.PENDING:
            raise ChangeRefused(WITHDRAW_DECIDED, code="decided")
        request.status = ExportStatus.WITHDRAWN
        advance(
            request,
            "export.withdraw",
            actor=caller,
            detail={"entity": request.entity, "rows": request.row_count},
        )
    return request


def _approver_of(staff: Any, request: ExportRequest) -> bool:
    """Whether STAFF sees REQUEST as one of those waiting for their decision (:func:`visible_exports`)."""
    return has_permission(staff, APPROVE) and in_scope(staff, request.requester.district_id)


SCOPE_CHANGED = _("Your data scope has changed since this export was asked for; ask again.")


def _scope_changed_since(request: ExportRequest) -> bool:
    """Whether the requester's district (their data scope) was changed after they asked for the export. The
    file is built at download, through the read door, with the scope the requester has then: moved from 环翠区
    to 乳山市 after 环翠's approver approved three of 环翠's rows, a clerk downloaded all of 乳山's, which no
    one with authority over 乳山 had approved (attack round 9)."""
    later = Revision.objects.filter(
        entity="staff", record_id=request.requester_id, at__gt=request.requested_at
    )
    return any("district" in (changes or {}) for changes in later.values_list("changes", flat=True))


def download_export(*, actor: Any, export_id: int) -> ExportFile:
    """The file of an approved export, to its requester, once, within its window. The file is built now,
    through the read door, and its digest goes into the audit event of the download."""
    caller = Caller.of(actor)
    with audited_refusals(), transaction.atomic():
        request = locked(ExportRequest, export_id, actor=caller)
        if request is None or request.requester_id != caller.staff.pk:
            raise NotPermitted(_("There is no such export."))
        if request.status == ExportStatus.DOWNLOADED:
            raise ChangeRefused(
                _("This export was already downloaded; it is handed out once."), code="downloaded"
            )
        if request.status != ExportStatus.APPROVED:
            raise ChangeRefused(_("This export needs a second person's approval first."), code="not_approved")
        now = timezone.now()
        if request.window_end is None or now > request.window_end:
            raise ChangeRefused(
                _("The download window of this export has closed; ask again."), code="window_closed"
            )
        if _scope_changed_since(request):
            raise deny(
                NotPermitted(SCOPE_CHANGED), "access.denied", actor=caller, object_type="export",
                object_id=request.pk, detail={"permission": APPROVE, "reason": "scope_changed"},
            )  # fmt: skip
        data, rows = _build(caller, request, now)
        if rows > request.row_count and rows > export_threshold():
            # Counted (and approved, or handed out at once below the threshold) in one transaction, built in
            # another: rows that arrived in between do not ride along past the threshold unapproved.
            raise ChangeRefused(GROWN, {"rows": rows, "counted": request.row_count}, code="grown")
        digest = hashlib.sha256(data).hexdigest()
        request.status = ExportStatus.DOWNLOADED
        request.downloaded_at = now
        request.file_digest = digest
        request.row_count = rows  # what the file holds: records withheld from it are not among them
        advance(
            request, "export.download", actor=caller,
            detail={"entity": request.entity, "rows": rows, "format": request.format, "file_digest": digest,
                    "purpose": request.purpose},
        )  # fmt: skip
    ext = request.format
    content_type = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if ext == "xlsx"
        else f"text/csv; charset={'gb18030' if request.encoding == 'gbk' else 'utf-8'}"
    )
    return ExportFile(request, data, f"EX{request.pk}-{request.entity}.{ext}", content_type)


# --------------------------------------------------------------------------------------------------------
# The file


def one_line(text: str) -> str:
    """TEXT with every control, format (bidi overrides …) and separator character a single blank: the
    watermark is one line. A purpose "核对\r\n=HYPERLINK(…)" put a formula on a line of its own in the CSV,
    under the watermark (attack round 10)."""
    kept = "".join(" " if unicodedata.category(ch) in _NOT_TEXT else ch for ch in text)
    return " ".join(kept.split())


_NOT_TEXT = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Zs"}


def watermark(staff: Any, at: Any, purpose: str, number: str) -> str:
    """The file's watermark: who, when, the stated purpose (an ID number in it masked, also in a purpose
    stored before that was done) and the export's number, on one line."""
    name = getattr(staff, "display_name", "") or getattr(staff, "username", "")
    when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S")
    return "  ".join(
        one_line(part)
        for part in (f"导出人：{name}（{getattr(staff, 'username', '')}）", f"导出时间：{when}",
                     f"用途：{mask_id_numbers(purpose)}", f"导出编号：{number}")
    )  # fmt: skip


def _records(caller: Caller, spec: EntitySpec, request: ExportRequest) -> Iterator[Any]:
    """The list's records, page by page through the read door: each page an audit event ``read.<entity>_export``
    naming them, with the export's number and stated purpose, so that a person's access record says which
    export read their record and why (B1)."""
    page = 1
    while True:
        listing = record_list(
            actor=caller, spec=spec, query=str(request.query), filters=request.filters, sort=request.sort,
            page=page, per_page=PAGE, action=export_action(spec.name),
            detail={"export": f"EX{request.pk}", "purpose": request.purpose},
        )  # fmt: skip
        yield from listing.page.object_list
        if not listing.page.has_next():
            return
        page += 1


def export_action(entity: str) -> str:
    """The audit action of an export's read of a page of ENTITY's list."""
    return f"read.{entity}_export"


def _cell(spec: EntitySpec, record: Any, name: str, staff: Any) -> str:
    """Column NAME of RECORD as the list page shows it (sidms.access.texts), masked per the export channel: a
    code by its name (在职职工, not ``employee``), a district by name and code, a related record by its name
    and key, or not named outside the reader's scope, never by its database id; a field shown apart for some
    records (a one-time grant's amount, Declaration.apart) in its own column for those, the field's own left
    empty."""
    shown_field = spec.declaration.column(record, name)
    if shown_field is None:
        return ""
    if texts.is_reference(spec, shown_field):
        return texts.reference(getattr(record, shown_field[:-3], None), staff, empty="")[0]
    return texts.value_text(spec, shown_field, getattr(record, shown_field, None), channel="export", empty="")


def _header(spec: EntitySpec, name: str) -> str:
    apart = spec.declaration.column_label(name)
    return str(apart) if apart is not None else str(field_label(spec, name))


def _build(caller: Caller, request: ExportRequest, now: Any) -> tuple[bytes, int]:
    spec = spec_for(request.entity)
    columns = list(spec.declaration.list_columns)
    with translation.override("zh-hans"):
        headers = [_header(spec, name) for name in columns]
    mark = watermark(caller.staff, now, request.purpose, f"EX{request.pk}")
    rows = (
        [_cell(spec, record, name, caller.staff) for name in columns]
        for record in _records(caller, spec, request)
    )
    if request.format == "xlsx":
        return _xlsx(mark, headers, rows)
    return _csv(mark, headers, rows, ENCODINGS[request.encoding])


def _xlsx(mark: str, headers: list[str], rows: Iterator[list[str]]) -> tuple[bytes, int]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="导出")
    # "&" starts a code in a page header (&K colour, &1 font size, &P page …): a purpose "&KFFFFFF&1…"
    # printed the rest of the watermark white and tiny (attack round 10). "&&" is a plain ampersand.
    printed = mark.replace("&", "&&")
    for part in (sheet.oddHeader, sheet.evenHeader, sheet.firstHeader):
        part.center.text = printed
    for part in (sheet.oddFooter, sheet.evenFooter, sheet.firstFooter):
        part.center.text = printed
    first = WriteOnlyCell(sheet, value=mark)
    first.font = Font(color="808080")
    sheet.append([first])
    sheet.append(headers)
    count = 0
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        sheet.append(cells)
        count += 1
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), count


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv(mark: str, headers: list[str], rows: Iterator[list[str]], encoding: str) -> tuple[bytes, int]:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    out.write(f"# {mark}\r\n")
    writer.writerow(headers)
    count = 0
    for row in rows:
        # A cell that Excel would read as a formula is written with a leading apostrophe (CSV injection).
        writer.writerow(["'" + value if value.startswith(_FORMULA_START) else value for value in row])
        count += 1
    return out.getvalue().encode(encoding), count


def visible_exports(actor: Any) -> Any:
    """The exports a staff member asked for, and (for the approving post) those waiting for a decision."""
    staff = Caller.of(actor).staff
    mine = ExportRequest.objects.filter(requester=staff)
    if has_permission(staff, APPROVE):
        waiting = scoped(
            staff, ExportRequest.objects.filter(status=ExportStatus.PENDING), "requester__district_id"
        )
        return (mine | waiting).distinct()
    return mine


def _token(value: Any) -> bytes:
    return bytes(value.token)


def reencrypt_queries(actor: Any, progress: Any = None) -> int:
    """Registered with ``sidms.continuity.keys.register_reencrypt``: every export's search text that is not
    under the key ring's current version, encrypted again under it, bound to its request as before; each a step
    of its request (checked against its seal and audit record first), with its audit event. Returns how many."""
    caller = Caller.of(actor)
    current = keyring().current
    stored = ExportRequest.objects.filter(query__isnull=False).order_by("pk").values_list("pk", "query")
    # Each a Ciphertext as loaded (core.fields.EncryptedTextField.from_db_value): its header names its version.
    older = [pk for pk, token in stored.iterator(chunk_size=2000) if token_version(_token(token)) != current]
    count = 0
    for pk in older:
        with audited_refusals(), transaction.atomic():
            request = locked(ExportRequest, pk, actor=caller)  # its query decrypted by the seal's check
            text = request.__dict__.get("query") if request is not None else None
            if request is None or not isinstance(text, Sealed) or token_version(text.token) == current:
                continue
            request.query = str(text)  # plain again: encrypted under the current version on save
            advance(request, "export.reencrypt", actor=caller, detail={"key_version": current})
            count += 1
    return count


_DIGITS = re.compile(r"\d")
# CJK ideographs: the basic block and extension A, the compatibility ideographs, and extensions B and later
# (生僻字 in names, which the ID card system supports).
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def shown_search(request: ExportRequest) -> str:
    """The export's search text and filters as an approver sees them: a word that could be an ID number (six
    digits or more) or a name (Chinese characters) is masked as the read door masks those values."""
    words = []
    for word in str(request.query).split():
        if len(_DIGITS.findall(word)) >= 6:
            words.append(mask_id_number(word))
        elif _HAN.search(word):
            words.append(mask_name(word))
        else:
            words.append(word)
    filters = [f"{name}={value}" for name, value in sorted(request.filters.items())]
    return " ".join(words + filters)


__all__ = [
    "ExportFile",
    "decide_export",
    "download_export",
    "export_action",
    "export_threshold",
    "reencrypt_queries",
    "request_export",
    "shown_search",
    "visible_exports",
    "watermark",
    "withdraw_export",
]
