"""Spreadsheet imports (B3, R6.2): a file is checked row by row, the applicant keeps the valid rows, and
an import batch application carries exactly those rows through a second person's approval to one
execution (sidms.changes.batches).

1. ``check_file`` reads the file (sidms.lib.sheets: UTF-8 with or without BOM, GBK/GB18030, XLSX; title
   rows above the header), maps the columns by their Chinese headers (the kind's data, ``kinds.KINDS``),
   repairs what Excel did where it is safe, and checks every row as the batch will: the collection rules in
   force (``changes.services.clean_values``), the entity's entry rules (``entry_check_errors``: a base that
   is not the clamp of the declared wage, a death in the future) and those that hold the file's rows
   against each other (``FileEntryRules``: two enrolments in exclusive schemes, a death twice) — the
   execution's own functions, so a clean dry run is not refused at execution for a rule — the same record
   twice in the file, a record already in the registry. Nothing is written; ``Checked.report()`` is the XLSX
   error report (原行号 … 错误原因).
2. ``apply_import`` stores the file encrypted (bound to the import's identity) and applies for a batch over
   the kept rows; the batch's rows digest pins them. The same file (by SHA-256) is recognised: it is not
   applied for twice while an application of it is open or executed. Beside the file it seals the kept rows
   with the values the dry run cleaned them to (``_store_rows``).
3. ``execute_import`` (the executor, not the approver) reads the stored file back, checks its digest,
   and hands the sealed rows (or, without them, the rows prepared from the file again) to
   ``batch_execute``: one transaction, so an execution killed halfway stores nothing, and running it again
   carries out the whole file. The rows must hash to the approved digest either way; sealed rows that do not
   authenticate are an integrity alert.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import record_scope
from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.changes.batches import (
    Executed,
    ImportRefused,
    Prechecked,
    batch_apply_import,
    batch_execute,
    rules_digest,
)
from sidms.changes.integrity import integrity_alert
from sidms.changes.models import BatchApplication, BatchKind, BatchStatus, ChangeRequest, ReviewStatus
from sidms.changes.services import (
    ENTRY_CHECKS,
    ROW_RULE,
    FileEntryRules,
    audited_refusals,
    clean_values,
    entry_check_errors,
    entry_checks_context,
    field_label,
    rules_in_force,
)
from sidms.continuity.base import create, require_intact
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, IntegrityAlert, Invalid
from sidms.core.fields import aad
from sidms.core.kernel import EntitySpec, spec_for
from sidms.core.keys import keyring
from sidms.core.workers import ordered_map, worker_count
from sidms.exchange.kinds import ImportKind, kind_of
from sidms.exchange.models import ImportFile
from sidms.lib import sheets, sweep
from sidms.parameters.codes import code_choices

Progress = Callable[[str, int, int], None]  # (stage, done, total)
_FILE_DOMAIN = "exchange.import_file"
PROGRESS_EVERY = 1000


def _quiet(_stage: str, _done: int, _total: int) -> None:
    pass


@dataclass
class RowResult:
    """One data row: its number as the spreadsheet shows it, the values the batch would get, and every
    reason it is refused (Chinese, each naming its column)."""

    number: int
    values: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    # What the collection rules cleaned VALUES to (None for a refused row): sealed at application, so that
    # execution need not validate the row again (see _store_rows).
    cleaned: dict[str, Any] | None = None


@dataclass
class Checked:
    kind: ImportKind
    filename: str
    digest: str
    size: int
    table: sheets.Table
    rows: list[RowResult]
    rules: str = ""  # batches.rules_digest of the rules the rows were cleaned under

    @property
    def valid(self) -> list[RowResult]:
        return [row for row in self.rows if not row.errors]

    @property
    def failing(self) -> list[RowResult]:
        return [row for row in self.rows if row.errors]

    def errors(self) -> dict[int, str]:
        return {row.number: "；".join(row.errors) for row in self.rows if row.errors}

    def report(self, *, all_rows: bool = False) -> bytes:
        """The XLSX error report: 原行号, the original columns, 错误原因."""
        return sheets.error_report(
            self.table, self.errors(), sheet_title=f"{self.kind.name}错误报告", all_rows=all_rows
        )


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------------------
# Reading and preparing rows (shared by the check and the execution, so both see the same rows)


REPAIR_UNIT = 2000


def _read(data: bytes, kind: ImportKind, filename: str) -> tuple[sheets.Table, list[sheets.Repaired]]:
    """The table and its rows repaired (full-width digits, Excel's dates, …): a large file's rows in parts,
    in forked workers (sidms.core.workers; the repairs are pure functions of the cells)."""
    table, columns = _table(data, kind, filename)
    repair = functools.partial(_repair_part, table.headers, columns, kind.types)
    workers = worker_count(len(table.rows), unit=REPAIR_UNIT)
    return table, [row for part in ordered_map(repair, _parts(table), workers) for row in part]


def _table(data: bytes, kind: ImportKind, filename: str) -> tuple[sheets.Table, dict[int, str]]:
    """The table as read, and which of its columns hold which field."""
    table = sheets.read_table(data, filename_hint=filename, known_headers=kind.headers.keys())
    return table, sheets.map_columns(table.headers, kind.headers, kind.required)


def _parts(table: sheets.Table) -> Iterator[tuple[list[int], list[list[Any]]]]:
    for start in range(0, len(table.rows), REPAIR_UNIT):
        yield table.row_numbers[start : start + REPAIR_UNIT], table.rows[start : start + REPAIR_UNIT]


def _repair_part(
    headers: list[str],
    columns: dict[int, str],
    types: dict[str, str],
    part: tuple[list[int], list[list[Any]]],
) -> list[sheets.Repaired]:
    return sheets.repair_cells(headers, part[0], part[1], columns, types)


def _plain_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return (
            f"{value:.2f}"  # an amount (sheets.repair_money) as the window stores it: yuan with two decimals
        )
    return value


class _Resolver:
    """The ids of the records a kind's reference columns name, looked up in bulk.

    With STAFF (the dry run of a staff member), the reference that decides the new record's district (an
    employment's or a death's person: their district is the person's) is looked up within the staff
    member's data scope (R10.3), and a number outside it gets the same answer as a number never
    registered: the dry run must not tell a clerk which person numbers exist in other districts. Rows
    refused so are left out of the batch, so the execution (which prepares the kept rows again) meets none
    of them. Other references (the unit of an employment, which may lie in another district) are looked up
    whatever their district, as at the window."""

    def __init__(
        self, kind: ImportKind, repaired: Sequence[sheets.Repaired], spec: EntitySpec, staff: Any = None
    ) -> None:
        self.found: dict[str, dict[str, int]] = {}
        self.scoped: set[str] = set()
        owner = str(spec.declaration.district or "")
        for name, ref in kind.references.items():
            target = spec_for(ref.entity)
            records: QuerySet[Any] = target.model._default_manager.all()
            if staff is not None and owner.startswith(ref.target.removesuffix("_id") + "__"):
                records = record_scope(staff, target)
                self.scoped.add(name)
            wanted = sorted({str(r.values[name]) for r in repaired if r.values.get(name)})
            hits: dict[str, int] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                hits.update(
                    (str(k), pk)
                    for k, pk in records.filter(**{f"{ref.field}__in": chunk})
                    .order_by()
                    .values_list(ref.field, "pk")
                )
            self.found[name] = hits


def _prepare(
    kind: ImportKind, repaired: Sequence[sheets.Repaired], spec: EntitySpec, staff: Any = None
) -> Iterator[tuple[sheets.Repaired, dict[str, Any], list[str]]]:
    """Each row's values for the batch (words as codes, dates as ISO text, references as ids, defaults),
    and the reasons found on the way (a refused cell, a word that is no code, a record that does not exist
    or, for STAFF, is outside their data scope: see :class:`_Resolver`)."""
    resolver = _Resolver(kind, repaired, spec, staff) if kind.references else None
    words = _words(kind, spec)
    for row in repaired:
        yield row, *_prepared(kind, spec, words, resolver, row)


def _words(kind: ImportKind, spec: EntitySpec) -> dict[str, dict[str, Any]]:
    """The words a kind's columns accept for codes: the kind's own, and a code table's Chinese names (在职职工
    for employee)."""
    words = {name: dict(mapping) for name, mapping in kind.words.items()}
    for name, table in spec.declaration.codes.items():
        with translation.override("zh-hans"):
            words.setdefault(name, {}).update((label, code) for code, label in code_choices(table))
    return words


def _prepared(
    kind: ImportKind,
    spec: EntitySpec,
    words: dict[str, dict[str, Any]],
    resolver: _Resolver | None,
    row: sheets.Repaired,
) -> tuple[dict[str, Any], list[str]]:
    errors = [f"{row.labels.get(n, n)}：{error.message}" for n, error in row.errors.items()]
    values: dict[str, Any] = {}
    for name, raw in row.values.items():
        value = _plain_value(raw)
        known = words.get(name)
        if known and value:
            value = known.get(str(value).strip(), value)
        if resolver is not None and name in kind.references:
            ref = kind.references[name]
            if value:
                pk = resolver.found[name].get(str(value))
                if pk is None:
                    missing = (
                        gettext("No %(entity)s with this number is registered in your data scope.")
                        if name in resolver.scoped
                        else gettext("No %(entity)s with this number is registered.")
                    )
                    errors.append(
                        f"{row.labels.get(name, name)}："
                        + missing % {"entity": spec_for(ref.entity).model._meta.verbose_name}
                    )
                values[ref.target] = "" if pk is None else str(pk)
            continue
        values[name] = value
    for name, value in kind.defaults.items():
        if not values.get(name):
            values[name] = value
    return values, errors


# --------------------------------------------------------------------------------------------------------
# The dry run


def check_file(
    data: bytes,
    *,
    kind: str,
    filename: str = "",
    progress: Progress = _quiet,
    language: str = "zh-hans",
    actor: Any = None,
) -> Checked:
    """Every row's errors, before anything is applied (nothing is written). A file that cannot be read as
    a table at all raises ``sheets.SheetError`` (its message says why, in Chinese). ACTOR is the staff
    member checking it (the page and ``sidms import --operator``): the persons the rows name are looked up
    within their data scope. Without one (a dry run on the server's command line) they are looked up in
    every district."""
    staff = Caller.of(actor).staff if actor is not None else None
    import_kind = kind_of(kind)
    spec = spec_for(import_kind.entity)
    with translation.override(language):
        progress("read", 0, 0)
        table, columns = _table(data, import_kind, filename)
        total = len(table.rows)
        rules = rules_in_force(spec.name)
        rows: list[RowResult] = []
        # The entity's entry rules (issue 8 §2–§3) as the execution applies them (changes.batches
        # ._execute_import): the same functions on the same cleaned values, in the same context and with the
        # file's earlier rows held against later ones (FileEntryRules), so that a file whose dry run is clean
        # is not refused at execution for an entry rule.
        in_file = FileEntryRules(spec.name)
        entry_rules = bool(ENTRY_CHECKS.get(spec.name))  # as the execution asks (none for persons)
        checker = _Checker(import_kind, spec, rules, table.headers, columns)
        registered = _Registered(import_kind, spec)
        labels = sheets.column_labels(table.headers, columns)
        work: Iterable[Any]
        if import_kind.references:
            # References are looked up for the whole file at once (_Resolver): the rows are repaired and
            # prepared first, and only the field rules run in the workers.
            repaired = sheets.repair_rows(table, columns, import_kind.types)
            prepared = _prepare(import_kind, repaired, spec, staff)
            work = (("prepared", unit) for unit in _batched(prepared, PROGRESS_EVERY))
        else:
            work = (("cells", part) for part in _parts(table))
        with entry_checks_context(spec.name):
            # The repairs, the preparation and the field rules (most of a row's cost) run in forked workers
            # over parts of the file while this process goes on (sidms.core.workers); the entry rules, which
            # hold the file's rows together, run here in the rows' order.
            for checked, keys in ordered_map(checker, work, worker_count(total, unit=REPAIR_UNIT)):
                first = len(rows)
                for number, notes, values, errors, kept, broken in checked:
                    if kept is not None and entry_rules:  # the field rules passed
                        broken = entry_check_errors(spec, kept)
                        if not broken and in_file.keys:  # the rules that hold the file's rows together
                            broken = in_file.clash(number, kept)
                    if broken:
                        kept = None
                        errors.extend(
                            _reason(import_kind, spec, labels, name, e) for name, e in broken.items()
                        )
                    rows.append(RowResult(number, values, errors, notes, kept))
                registered.feed(rows[first:], keys)
                progress("check", len(rows), total)
        _mark_duplicates(import_kind, spec, rows, registered)
        _mark_numbers_in_use(import_kind, spec, rows)
        progress("check", total, total)
    return Checked(import_kind, filename, file_digest(data), len(data), table, rows, rules_digest(rules))


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of SIZE items in order (itertools.batched, which needs Python 3.12)."""
    iterator = iter(items)
    while unit := list(itertools.islice(iterator, size)):
        yield unit


class _Checker:
    """A part of the file checked as the dry run checks it: ("cells", (row numbers, rows)) repaired,
    prepared and cleaned; ("prepared", rows already prepared) cleaned. Each row comes back as (repaired row,
    values, reasons, cleaned values or None, refusals of the field rules), with the blind indexes the
    registry is searched by, per row number. No database access (it runs in
    forked workers): the rules, the code tables' words and the columns are read before."""

    def __init__(
        self, kind: ImportKind, spec: EntitySpec, rules: Any, headers: list[str], columns: dict[int, str]
    ) -> None:
        self.kind, self.spec, self.rules = kind, spec, rules
        self.headers, self.columns = headers, columns
        self.words = _words(kind, spec)
        # The blind index of each encrypted field the registry is searched by (an HMAC a row, computed here
        # in the worker rather than in the importing process).
        self.indexed = [
            (name, spec.encrypted_fields[name].index)
            for name in (_registry_checked(kind, spec) if kind.same_record else [])
            if name in spec.encrypted_fields
        ]

    def __call__(self, work: tuple[str, Any]) -> tuple[list[tuple[Any, ...]], dict[int, dict[str, str]]]:
        what, part = work
        if what == "cells":
            repaired = sheets.repair_cells(self.headers, part[0], part[1], self.columns, self.kind.types)
            prepared: Iterable[tuple[Any, ...]] = (
                (row, *_prepared(self.kind, self.spec, self.words, None, row)) for row in repaired
            )
        else:
            prepared = part
        out: list[tuple[Any, ...]] = []
        for row, values, errors in prepared:
            kept: dict[str, Any] | None = None
            broken: dict[str, Invalid] = {}
            if not errors:
                try:
                    kept = clean_values(self.spec, self.rules, values, creating=True, typed=False).values
                except ChangeRefused as refused:
                    broken = refused.errors
            out.append((row.row_number, row.notes, values, errors, kept, broken))
        keys: dict[int, dict[str, str]] = {}
        for number, _notes, values, errors, _kept, _broken in out:
            if not errors and self.indexed:
                keys[number] = {
                    name: index.index_of(str(values[name]))
                    for name, index in self.indexed
                    if values.get(name)
                }
        return out, keys


def _reason(
    kind: ImportKind, spec: EntitySpec, labels: Mapping[str, str], name: str, invalid: Invalid
) -> str:
    """One refusal of a row as the report shows it: the column's label, then the message; an entry rule's
    refusal concerns the whole row and has no column."""
    if name == ROW_RULE:
        return invalid.localized()
    label = labels.get(name) or _column_label(kind, spec, name)
    return f"{label}：{invalid.localized()}"


def _column_label(kind: ImportKind, spec: EntitySpec, name: str) -> str:
    for file_field, ref in kind.references.items():
        if ref.target == name:
            return f"“{kind.label(file_field)}”"
    if name in kind.headers.values():
        return f"“{kind.label(name)}”"
    return f"“{field_label(spec, name)}”"


def _registry_checked(kind: ImportKind, spec: EntitySpec) -> list[str]:
    """The SAME_RECORD fields whose values must not be registered already (by a unique field)."""
    return [
        name
        for name in kind.same_record
        if name in spec.declaration.unique or name == spec.declaration.key or name in kind.registered
    ]


class _Registered:
    """The rows' values already in the registry, by field, looked up part by part while the workers check the
    next parts (the importing process would otherwise wait on them, then look up the whole file alone).
    KEYS, a row's blind indexes made in a worker (_Checker), spare this process the HMAC of each value."""

    LOOKUP = 500

    def __init__(self, kind: ImportKind, spec: EntitySpec) -> None:
        self.kind, self.spec = kind, spec
        self.names = _registry_checked(kind, spec) if kind.same_record else []
        self.keys: dict[tuple[int, str], str] = {}  # (row number, field) -> its key as stored
        self.found: dict[str, set[str]] = {name: set() for name in self.names}
        self._asked: dict[str, set[str]] = {name: set() for name in self.names}

    def key_of(self, name: str, value: Any) -> str:
        enc = self.spec.encrypted_fields.get(name)
        return enc.index.index_of(str(value)) if enc else _plain_key(value)

    def feed(self, rows: Iterable[RowResult], keys: Mapping[int, Mapping[str, str]]) -> None:
        """Look up the values of ROWS not refused so far (a row refused later is simply not marked)."""
        for name in self.names:
            wanted: list[str] = []
            asked = self._asked[name]
            for row in rows:
                if row.errors or not row.values.get(name):
                    continue
                key = keys.get(row.number, {}).get(name) or self.key_of(name, row.values[name])
                self.keys[(row.number, name)] = key
                if key not in asked:
                    asked.add(key)
                    wanted.append(key)
            for start in range(0, len(wanted), self.LOOKUP):
                self.found[name].update(self._lookup(name, wanted[start : start + self.LOOKUP]))

    def _lookup(self, name: str, chunk: list[str]) -> set[str]:
        spec = self.spec
        enc = spec.encrypted_fields.get(name)
        column = enc.index.attname if enc else name
        found = set(
            spec.model._default_manager.filter(**{f"{column}__in": chunk})
            .order_by()  # not the model's ordering: a sort of every answer for nothing
            .values_list(column, flat=True)
        )
        # As for a record entered at the window (changes.services.check_unique, issue 7 item 9): a value
        # waiting in a new record's review, in any district, is registered too, and the answer is the
        # same whatever the district — the dry run must not tell a number held elsewhere from a free one.
        found.update(
            ChangeRequest.objects.filter(entity=spec.name, status=ReviewStatus.PENDING, match_index__in=chunk)
            .order_by()
            .values_list("match_index", flat=True)
        )
        return found

    def key(self, row: RowResult, name: str) -> str:
        """ROW's key of NAME, as fed: a row not refused now was not refused when it was fed (refusals only
        accumulate), so it was looked up."""
        return self.keys[(row.number, name)]


def _mark_duplicates(
    kind: ImportKind, spec: EntitySpec, rows: list[RowResult], registered: _Registered | None = None
) -> None:
    """The same record twice in the file (the later rows are refused, naming the first), and records already
    in the registry (by a unique field: an ID number by its blind index, 15 and 18 digits alike), looked up
    by REGISTERED as the rows were checked (or now, without it)."""
    if not kind.same_record:
        return
    if registered is None:
        registered = _Registered(kind, spec)
        registered.feed(rows, {})
    if kind.registered_together:
        _mark_registered_together(kind, spec, rows)
    keys = [_record_field(kind, name) for name in kind.same_record]
    labels = "、".join(f"“{kind.label(name)}”" for name in kind.same_record)
    valid = [row for row in rows if not row.errors]
    repeats = sheets.duplicates(((row.number, _compared(kind, row.values)) for row in valid), keys)
    for row in valid:
        if row.number in repeats:
            row.errors.append(
                gettext("Same %(columns)s as row %(row)s of this file.")
                % {"columns": labels, "row": repeats[row.number]}
            )
    for name in registered.names:
        found = registered.found[name]
        message = gettext("This %(column)s is already registered.") % {"column": f"“{kind.label(name)}”"}
        for row in rows:
            if not row.errors and row.values.get(name) and registered.key(row, name) in found:
                row.errors.append(message)


def _mark_numbers_in_use(kind: ImportKind, spec: EntitySpec, rows: list[RowResult]) -> None:
    """A record number the file brings (个人编号, 单位编号 of a legacy list) that is already in use, or that an
    earlier row of the file gives: the dry run passed such rows and their execution met the database's
    unique key (attack round 5). The message is the same whatever the district of the record holding the
    number, as for an ID number: it says the number is taken, not where."""
    key = spec.declaration.key
    if key == "pk" or key not in kind.headers.values() or key in kind.same_record:
        return
    label = f"“{kind.label(key)}”"
    valid = [row for row in rows if not row.errors and str(row.values.get(key) or "").strip()]
    repeats = sheets.duplicates(((row.number, row.values) for row in valid), [key])
    wanted = sorted({str(row.values[key]).strip() for row in valid})
    taken: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        taken.update(spec.model._default_manager.filter(**{f"{key}__in": chunk}).values_list(key, flat=True))
    for row in valid:
        if str(row.values[key]).strip() in taken:
            row.errors.append(gettext("This %(column)s is already registered.") % {"column": label})
        elif row.number in repeats:
            row.errors.append(
                gettext("Same %(columns)s as row %(row)s of this file.")
                % {"columns": label, "row": repeats[row.number]}
            )


def _mark_registered_together(kind: ImportKind, spec: EntitySpec, rows: list[RowResult]) -> None:
    """Rows whose SAME_RECORD fields together match a registered record (a person's death; a declaration of
    the same person, unit and year): the model's unique constraint, reported here rather than met as a
    database error at execution. An empty value (a flexible worker's unit) matches an empty one."""
    fields = [_record_field(kind, name) for name in kind.same_record]
    pending = [row for row in rows if not row.errors and row.values.get(fields[0])]
    if not pending:
        return
    first = sorted({str(row.values[fields[0]]) for row in pending})
    found: set[tuple[str, ...]] = set()
    for start in range(0, len(first), 500):
        records = spec.model._default_manager.filter(
            **{f"{fields[0]}__in": first[start : start + 500]}
        ).order_by()
        found.update(tuple(_key_text(v) for v in values) for values in records.values_list(*fields))
    labels = "、".join(f"“{kind.label(name)}”" for name in kind.same_record)
    for row in pending:
        if tuple(_key_text(row.values.get(name)) for name in fields) in found:
            row.errors.append(
                gettext("A record with the same %(columns)s is already registered; it is not imported again.")
                % {"columns": labels}
            )


def _key_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _compared(kind: ImportKind, values: dict[str, Any]) -> dict[str, Any]:
    """VALUES with each registered code in its stored form, so that 91…p and 91…P are one credit code."""
    if not kind.registered:
        return values
    return {**values, **{n: _plain_key(values[n]) for n in kind.registered if values.get(n)}}


def _plain_key(value: Any) -> str:
    """A plain (not encrypted) registered value as stored: codes such as a credit code are upper case."""
    return str(value).strip().upper()


def _record_field(kind: ImportKind, name: str) -> str:
    ref = kind.references.get(name)
    return ref.target if ref else name


# --------------------------------------------------------------------------------------------------------
# Applying for the batch


def _store_path(uid: uuid.UUID) -> Path:
    return Path(settings.DATA_DIR) / "imports" / f"{uid}.sealed"


def _store(uid: uuid.UUID, data: bytes) -> None:
    """The file, encrypted under the key ring and bound to the import's identity; never written in plain."""
    token = keyring().encrypt(base64.b64encode(data).decode("ascii"), aad=aad(_FILE_DOMAIN, uid))
    path = _store_path(uid)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".part")  # <uid>.sealed.part, <uid>.rows.part
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(token)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def stored_file(imported: ImportFile, *, actor: Any = "system") -> bytes:
    """The applied-for file, decrypted, refused unless it is the file whose digest the import carries (an
    integrity alert naming the import, with its audit event)."""
    path = _store_path(imported.uid)
    try:
        token = path.read_bytes()
        data = base64.b64decode(keyring().decrypt(token, aad=aad(_FILE_DOMAIN, imported.uid)))
    except (OSError, ValueError):
        data = b""
    if file_digest(data) != imported.file_digest:
        raise integrity_alert(
            str(imported), "import_file", imported.pk, {"reason": "stored_file", "batch": imported.batch_id},
            actor=actor, message=_("The stored file of %(record)s is missing or is not the file applied for; refused."),
        )  # fmt: skip
    return data


class SameFile(ChangeRefused):
    code = "same_file"

    def __init__(self, existing: ImportFile) -> None:
        batch = existing.batch
        super().__init__(
            _("This file was already applied for as BA%(batch)s (%(status)s); it is not imported twice."),
            {"batch": batch.pk, "status": batch.get_status_display()},
        )
        self.existing = existing


def same_file(digest: str, kind: str) -> ImportFile | None:
    """The application of this file (by SHA-256) that is still open or was executed, if any (a refused or
    withdrawn one, or an approved one whose execution window closed unused, no longer holds the file back)."""
    return (
        ImportFile.objects.filter(file_digest=digest, kind=kind)
        .exclude(batch__status__in=(BatchStatus.REFUSED, BatchStatus.WITHDRAWN))
        .exclude(batch__status=BatchStatus.APPROVED, batch__window_end__lt=timezone.now())
        .select_related("batch")
        .order_by("-pk")
        .first()
    )


def apply_import(
    *, actor: Any, data: bytes, checked: Checked, reason: str, exclude: Iterable[int] = ()
) -> ImportFile:
    """Apply for an import batch of the checked file's valid rows, less the row numbers in EXCLUDE. The
    file is stored encrypted; the batch carries the rows' digest; one audit event names the file's digest."""
    caller = Caller.of(actor)
    if file_digest(data) != checked.digest:
        raise ChangeRefused(
            _("The file differs from the one that was checked; check it again."), code="file_differs"
        )
    existing = same_file(checked.digest, checked.kind.name)
    if existing is not None:
        raise SameFile(existing)
    left_out = {row.number for row in checked.failing} | {int(n) for n in exclude}
    rows = [row.values for row in checked.rows if row.number not in left_out]
    if not rows:
        raise ChangeRefused(_("No row of the file can be imported."), code="no_rows")
    uid = uuid.uuid4()
    with audited_refusals(), transaction.atomic():
        batch = batch_apply_import(actor=caller, entity=checked.kind.entity, rows=rows, reason=reason)
        imported = ImportFile(
            uid=uid, kind=checked.kind.name, filename=checked.filename[:255], file_digest=checked.digest,
            size=checked.size, rows_total=len(checked.rows), rows_kept=len(rows), excluded=sorted(left_out),
            batch=batch, applicant=caller.staff, applied_at=timezone.now(),
        )  # fmt: skip
        # Stored before the row commits: a crash in between leaves an encrypted orphan, never a row
        # without its file.
        _store(uid, data)
        stored_rows = _store_rows(
            imported, batch, [row for row in checked.rows if row.number not in left_out], checked.rules
        )
        create(
            imported, "import.apply", actor=caller,
            detail={"batch": batch.pk, "kind": imported.kind, "file_digest": imported.file_digest,
                    "rows": imported.rows_kept, "refused": len(checked.failing),
                    **({"rows_digest": stored_rows} if stored_rows else {})},
        )  # fmt: skip
    return imported


# --------------------------------------------------------------------------------------------------------
# Executing the approved batch


def import_rows(
    imported: ImportFile, data: bytes, *, progress: Progress = _quiet
) -> Iterator[dict[str, Any]]:
    """The rows the application was made for, prepared from the stored file exactly as at the check."""
    kind = kind_of(imported.kind)
    spec = spec_for(kind.entity)
    _table, repaired = _read(data, kind, imported.filename)
    left_out = set(imported.excluded)
    total = imported.rows_kept
    done = 0
    for row, values, _errors in _prepare(kind, repaired, spec):
        if row.row_number in left_out:
            continue
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress("execute", done, total)
        yield values
    progress("execute", done, total)


def execute_import(*, actor: Any, batch_id: int, progress: Progress = _quiet) -> Executed:
    """Carry out an approved import batch from its stored file (one transaction: all rows or none).

    The rows come from the sealed rows of the dry run where they are stored (:func:`_store_rows`): the rows
    the application's digest covers, with the values the rules cleaned them to. Otherwise (an application
    made before they were kept) they are prepared from the stored file again, as at the check. Either way
    the stored file must be intact and the rows must be the approved ones (batches: digest and count)."""
    caller = Caller.of(actor)
    imported = ImportFile.objects.select_related("batch").filter(batch_id=batch_id).first()
    if imported is None:
        raise ChangeRefused(_("This batch has no import file."), code="no_import_file")
    with audited_refusals():  # outside the execution's transaction: each alert's event is written at once
        require_intact(imported, actor=caller)
        data = stored_file(imported, actor=caller)
    # The store is taken only when the application's audit event vouches for it (and is there): otherwise the
    # rows are prepared from the stored file, hashed and validated as at the check.
    vouched = applied_rows_digest(imported)
    sealed = bool(vouched) and _rows_path(imported.uid).exists()

    def rows() -> Iterator[dict[str, Any] | Prechecked]:
        if sealed:
            return sealed_rows(imported, progress=progress, digest=vouched, actor=caller)
        return import_rows(imported, data, progress=progress)

    # Executed once and for all, the sealed rows are removed once the execution has committed
    # (discard_rows, called by batch_execute); the stored file stays as the import's record.
    try:
        with translation.override("zh-hans"):
            return batch_execute(actor=caller, batch_id=batch_id, rows=rows)
    except ImportRefused as refused:
        # Rows refused now (a credit code another import or the window registered since the dry run): named
        # by their row in the spreadsheet too, as the dry run's error report named them (原行号).
        table, _columns = _table(data, kind_of(imported.kind), imported.filename)
        left_out = set(imported.excluded)
        kept = [number for number in table.row_numbers if number not in left_out]
        refused.file_rows = {n: kept[n - 1] for n in refused.rows if 0 < n <= len(kept)}
        raise


# The dry run's cleaned rows, sealed. The key ring's AEAD encrypts them (they hold ID numbers and phones, which
# are never written in plain) and authenticates each chunk under associated data that binds it to the import
# (its identity and file digest), to the batch (its rows digest and count), to the rules the rows were
# cleaned under, and to its place among the chunks. A chunk edited, swapped with another import's or another
# chunk, dropped or added does not decrypt as what execution asks for: an integrity alert, and the
# execution's transaction stores nothing.
_ROWS_DOMAIN = "exchange.import_rows"
_ROWS_FORMAT = 1
ROWS_CHUNK = 5000


def _rows_path(uid: uuid.UUID) -> Path:
    return Path(settings.DATA_DIR) / "imports" / f"{uid}.rows"


def _rows_aad(imported: ImportFile, payload_digest: str, header: dict[str, Any], index: int) -> bytes:
    return (
        f"{_ROWS_DOMAIN}:{imported.uid}:{imported.file_digest}:{payload_digest}:{header['rules']}:"
        f"{header['rows']}:{header['chunks']}:{index}"
    ).encode()


def _tagged(value: Any) -> Any:
    """orjson's hook for the values JSON lacks, tagged so that they come back as the same type."""
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$n": str(value)}
    raise TypeError(type(value).__name__)


_UNTAG: dict[str, Callable[[str], Any]] = {
    "$dt": datetime.fromisoformat,
    "$d": date.fromisoformat,
    "$n": Decimal,
}


def _untagged(values: dict[str, Any]) -> dict[str, Any]:
    for name, value in values.items():
        if type(value) is dict:
            ((tag, text),) = value.items()
            values[name] = _UNTAG[tag](text)
    return values


def _sealable(values: dict[str, Any]) -> bool:
    """Whether VALUES come back from the sealed store as they are (scalars only: a dict would read as a tag)."""
    return _SEALABLE.issuperset(map(type, values.values()))


_SEALABLE = frozenset({str, int, float, bool, type(None), date, datetime, Decimal})


def _store_rows(imported: ImportFile, batch: BatchApplication, rows: Sequence[RowResult], rules: str) -> str:
    """Seal the kept ROWS with their cleaned values beside the stored file (nothing when a row has none, or
    a value JSON cannot carry: execution then prepares the rows from the file again). Returns the store's
    plaintext digest (:class:`_StoreDigest`; "" when nothing was stored), which the application's audit event
    records."""
    if not rules or not all(
        r.cleaned is not None and _sealable(r.cleaned) and _sealable(r.values) for r in rows
    ):
        return ""
    digest = _StoreDigest()
    chunks = [rows[i : i + ROWS_CHUNK] for i in range(0, len(rows), ROWS_CHUNK)]
    header = {"format": _ROWS_FORMAT, "rules": rules, "rows": len(rows), "chunks": len(chunks)}
    ring = keyring()
    path = _rows_path(imported.uid)
    temporary = path.with_name(path.name + ".part")  # <uid>.sealed.part, <uid>.rows.part
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        line = orjson.dumps(header) + b"\n"
        handle.write(line)
        digest.feed(line)
        for index, chunk in enumerate(chunks):
            plain = orjson.dumps(
                [[r.values, r.cleaned] for r in chunk],
                default=_tagged,
                option=orjson.OPT_PASSTHROUGH_DATETIME,
            )
            digest.feed(plain)
            token = ring.encrypt_bytes(plain, aad=_rows_aad(imported, batch.payload_digest, header, index))
            handle.write(len(token).to_bytes(8, "big") + token)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return digest.hexdigest()


class _StoreDigest:
    """SHA-256 over a sealed store's header line and chunk plaintexts, each with its length. The application's
    audit event records it, and execution takes the store only when what it decrypts has this digest: the
    store's AEAD stops anyone without the key file, the audit chain anyone with it (an intruder with the data
    directory and the key file, not the database, could otherwise seal other cleaned values, say another
    bank account, for an approved import)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def feed(self, data: bytes) -> None:
        self._hash.update(len(data).to_bytes(8, "big"))
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def applied_rows_digest(imported: ImportFile) -> str:
    """The sealed store's digest that the application's audit event recorded ("" for none: an application made
    before stores were vouched for this way, or one whose rows were not sealed)."""
    payloads = AuditEvent.objects.filter(
        object_type=ImportFile.object_type, object_id=str(imported.pk), action="import.apply"
    ).values_list("payload", flat=True)
    for payload in payloads[:1]:
        return str(orjson.loads(payload).get("detail", {}).get("rows_digest", ""))
    return ""


def sealed_rows(
    imported: ImportFile, *, progress: Progress = _quiet, digest: str | None = None, actor: Any = "system"
) -> Iterator[Prechecked]:
    """The sealed rows of the application, each with its cleaned values; an integrity alert (and nothing
    stored, the execution's transaction rolls back) for a store that is not the one sealed at application:
    one that does not decrypt, or (what the application's audit event recorded, DIGEST, by default read
    from it) whose plaintext is not the one sealed."""
    batch = imported.batch
    expected = applied_rows_digest(imported) if digest is None else digest
    read = _StoreDigest()

    def alert() -> IntegrityAlert:
        return integrity_alert(
            str(imported), "import_file", imported.pk, {"reason": "stored_rows", "batch": imported.batch_id},
            actor=actor, message=_("The stored rows of %(record)s are not the rows applied for; refused."),
        )  # fmt: skip

    try:
        handle = _rows_path(imported.uid).open("rb")
    except OSError:
        raise alert() from None
    ring = keyring()
    done = 0
    with handle:
        try:
            line = handle.readline()
            read.feed(line)
            header = orjson.loads(line)
            chunks, rules = int(header["chunks"]), str(header["rules"])
            if header.get("format") != _ROWS_FORMAT or chunks < 1:
                # A store is sealed only with rows (an application has some): a header that announces no
                # chunk has nothing the key authenticates, and is not one sealed at application.
                raise ValueError(header.get("format"))
        except (ValueError, KeyError, TypeError):
            raise alert() from None
        for index in range(chunks):
            length = int.from_bytes(handle.read(8), "big")
            try:
                plain = ring.decrypt_bytes(
                    handle.read(length), aad=_rows_aad(imported, batch.payload_digest, header, index)
                )
            except ValueError:
                raise alert() from None
            read.feed(plain)
            for values, cleaned in orjson.loads(plain):
                done += 1
                if done % PROGRESS_EVERY == 0:
                    progress("execute", done, imported.rows_kept)
                yield Prechecked(_untagged(values), _untagged(cleaned), rules, batch.payload_digest)
        if handle.read(1) or done != header["rows"] or read.hexdigest() != expected:
            raise alert()
    progress("execute", done, imported.rows_kept)


def discard_rows(batch: BatchApplication, caller: Caller) -> None:
    """The application BATCH has ended (refused or executed by CALLER, batches.register_ended_hook): no
    execution will read its sealed rows, which are removed once the step commits. The removal is an audit
    event of its own in the step's transaction (the step's event says what the step did, not that the rows
    went), naming the application; a store lost to a crash after the commit is left to the sweep, whose
    event names the application again. The stored file stays: it is the record of what was applied for,
    refused or not."""
    if batch.kind != BatchKind.IMPORT:
        return
    imported = ImportFile.objects.filter(batch=batch).values_list("pk", "uid").first()
    if imported is None:
        return
    path = _rows_path(imported[1])
    if not path.exists():
        return  # an application whose rows were never sealed: nothing to remove
    audit_record(
        "import.rows_discard", actor=caller, object_type="batch", object_id=batch.pk,
        detail={"batch": batch.pk, "import_file": imported[0], "status": batch.status},
    )  # fmt: skip
    transaction.on_commit(lambda: path.unlink(missing_ok=True))


# A store is swept this long after its application's window closed, or after it was written when no
# application names it: an execution that started inside its window, or an application still committing,
# may be about to open it.
SWEEP_AFTER = timedelta(hours=1)
# A temporary file (``.part``) of the import store is swept this long after it was last written: a write
# still under way writes to it (or has just opened it); one older was cut short by a crash and is never
# renamed into place.
PARTS_AFTER = timedelta(hours=1)
SWEEPER = Caller("system:import-sweep", request_id="")


@dataclass(frozen=True)
class Swept:
    """What ``sweep_rows`` removed: STORES sealed-row stores, of the applications BATCHES (the others had
    none: their application rolled back), and PARTS temporary files of writes that never finished."""

    stores: int
    batches: list[int]
    parts: int
    progress: int = 0  # progress files of import pages (counts only) a day old


def _sweep_parts(directory: Path, stale: datetime) -> int:
    """Remove the temporary files of the import store last written before STALE; return how many."""
    return sweep.remove_older(directory.glob("*.part"), stale.timestamp())


# A progress file (exchange.progress: counts only, polled by the import page while its request runs) is of no
# use once the request has ended; one a day old is swept with the stores.
PROGRESS_AFTER = timedelta(days=1)


def _sweep_progress(stale: datetime) -> int:
    directory = Path(settings.DATA_DIR) / "progress"
    return sweep.remove_older([*directory.glob("*.json"), *directory.glob("*.part")], stale.timestamp())


def sweep_rows(*, actor: Any = None, now: datetime | None = None) -> Swept:
    """Remove the sealed rows no execution can use any more: those of an application refused or executed
    (its removal lost to a crash after the commit), approved but with its window closed unused, or of no
    application at all (one that rolled back after its rows were sealed); and the temporary files of writes
    a crash cut short. The stored files stay. What went is one audit event (by ACTOR, by default the system's
    sweeper) naming how many stores and temporary files, and the applications the stores belonged to;
    a sweep that removed nothing records nothing. ``sidms import --sweep``."""
    directory = Path(settings.DATA_DIR) / "imports"
    moment = now or timezone.now()
    stale = moment - SWEEP_AFTER
    stores: dict[uuid.UUID, Path] = {}
    for path in directory.glob("*.rows"):
        try:
            stores[uuid.UUID(path.stem)] = path
        except ValueError:
            continue
    found: dict[uuid.UUID, BatchApplication] = {}
    wanted = list(stores)
    for start in range(0, len(wanted), 500):
        chunk = ImportFile.objects.filter(uid__in=wanted[start : start + 500]).select_related("batch")
        found.update((imported.uid, imported.batch) for imported in chunk)
    removed = 0
    batches: list[int] = []
    for uid, path in stores.items():
        batch = found.get(uid)
        if batch is None:
            ended = sweep.older(path, stale.timestamp())
        else:
            ended = batch.status in (BatchStatus.REFUSED, BatchStatus.WITHDRAWN, BatchStatus.EXECUTED) or (
                batch.status == BatchStatus.APPROVED
                and batch.window_end is not None
                and batch.window_end < stale
            )
        if ended and sweep.unlinked(path):
            removed += 1
            if batch is not None:
                batches.append(batch.pk)
    parts = _sweep_parts(directory, moment - PARTS_AFTER)
    progress = _sweep_progress(moment - PROGRESS_AFTER)
    swept = Swept(removed, sorted(batches), parts, progress)
    if removed or parts or progress:
        with transaction.atomic():
            audit_record(
                "import.sweep", actor=actor or SWEEPER, object_type="import_file",
                detail={"stores": removed, "batches": swept.batches, "orphans": removed - len(batches),
                        "parts": parts, "progress": progress},
            )  # fmt: skip
    return swept


def import_of(batch: BatchApplication) -> ImportFile | None:
    return ImportFile.objects.filter(batch=batch).first()


def resume(imported: ImportFile) -> str:
    """What happens next to an application of a file: "approve", "execute" or "done" (or "refused")."""
    status = str(imported.batch.status)
    steps: dict[str, str] = {
        BatchStatus.SUBMITTED: "approve",
        BatchStatus.APPROVED: "execute",
        BatchStatus.EXECUTED: "done",
    }
    return steps.get(status, "refused")


__all__ = [
    "Checked",
    "RowResult",
    "SameFile",
    "Swept",
    "apply_import",
    "check_file",
    "discard_rows",
    "execute_import",
    "file_digest",
    "import_of",
    "import_rows",
    "resume",
    "same_file",
    "sealed_rows",
    "stored_file",
    "sweep_rows",
]
