"""What a governed model declares, next to its fields, so that the kernel needs no list of entities.

    class Person(RegistryRecord):
        ...
        governance = Declaration(entity="person", fields=(...), key="person_no", district="district", ...)

The change pipeline, the access policies, verification, the write guard, the forms and the generic staff
pages read these declarations when the apps are ready (sidms.core.kernel). Adding an entity touches its own
app and its own page module only.

Workflow rows (review requests, maintenance orders, batch applications) declare how they are scoped and
queued in the same way (``Workflow``), so that the read door (sidms.access) serves them without knowing
their models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The channels through which data is shown, each with its own masks (R10.1, R10.3). "history" is what a
# record's timeline and as-of view show, whoever looks.
CHANNELS = ("window", "kiosk", "online", "phone", "export", "history")

# Mask names (sidms.core.masks): "full" shows the value, "hidden" shows nothing.
MASK_NAMES = ("full", "hidden", "id_number", "phone", "account", "email", "name")


@dataclass(frozen=True)
class Numbering:
    """System-assigned record numbers: PREFIX, a SERIAL_DIGITS-digit serial and an ISO 7064 MOD 11-10 check
    digit (sidms.lib.recordno). Never typed at a window; legacy numbers migrated from the old system stay."""

    prefix: str
    serial_digits: int

    @property
    def length(self) -> int:
        return len(self.prefix) + self.serial_digits + 1


@dataclass(frozen=True)
class Search:
    """How a typed query is read for this entity. Each entry is (field, how), tried in order:
    "idcard" — an ID-number shape, by blind index; "number" — the record number, exact;
    "credit_code" — an 18-character credit code, exact; "prefix" / "contains" — text."""

    ways: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Apart:
    """A governed FIELD whose value means something else for the records whose WHEN field holds one of VALUES,
    shown for those under a name of its own: in lists and exports in a column of its own (COLUMN, named in
    ``list_columns``), the field's own column left empty for them; on the record's page under LABEL. An
    entitlement's amount is a monthly amount, but a one-time grant's (一次性伤残补助金, 生育津贴) is paid once,
    and was listed as a monthly amount."""

    field: str
    column: str
    label: Any
    when: str
    values: tuple[str, ...]

    def applies(self, record: Any) -> bool:
        return str(getattr(record, self.when, "")) in self.values


@dataclass(frozen=True)
class Declaration:
    entity: str  # the name history, audit and rules use: "person"
    fields: tuple[str, ...]  # governed attribute names, foreign keys as *_id
    key: str  # the natural key people use ("person_no"), or "pk"
    district: (
        str | None
    )  # path to the district for data scope ("district", "person__district"); None: city-wide
    slug: str = ""  # the URL segment of the staff pages ("persons"); "" for entities without pages
    title: str = ""  # the field that names a record in headers and breadcrumbs ("name")
    numbering: Numbering | None = None
    search: Search | None = None
    list_columns: tuple[str, ...] = ()
    list_filters: tuple[str, ...] = ()
    sortable: tuple[str, ...] = ()
    # Batches (R9.3): what an application may select by and change. Identity fields are never changed by a
    # batch, and encrypted fields are never selected by (their ciphertexts are randomised).
    batch_select: tuple[str, ...] = ()
    batch_change: tuple[str, ...] = ()
    identity: tuple[str, ...] = ()
    # Cross-checks (R7.3): what the partner registries are asked about, by subject name.
    crosscheck_subjects: Mapping[str, str] = field(default_factory=dict)
    # Personal fields' masks per channel; a field not named here is shown as it is. Missing channels: "hidden".
    masks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Fields whose values come from a code table (sidms.parameters.CodeTable), for labels and choices.
    codes: Mapping[str, str] = field(default_factory=dict)
    # Fields holding an amount of money in yuan: the pages show them as ¥1,234.56 (sidms.web.display.money),
    # exports keep the number.
    money: tuple[str, ...] = ()
    # Fields whose value must be unique across the registry, compared by their blind index where encrypted.
    unique: tuple[str, ...] = ()
    # Unique fields that the database holds unique as well (a partial unique constraint on the model), each
    # with the boolean column that marks a record kept although its value was registered already: only a
    # legacy migration keeps such a record (as found, flagged in its revision for the quality work), and the
    # constraint spares it. No rule lets a duplicate of such a field through review, so two requests or
    # imports racing past the pipeline's check cannot both store the value (a unit's credit code).
    database_unique: Mapping[str, str] = field(default_factory=dict)
    # Fields derived from another by a standard, which an entered value must agree with:
    # {"sex": ("id_number", "idcard_sex")}; the derivation names map onto sidms.lib in sidms.changes.
    derived: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # The collection rules a new database starts with (R5): (field, required, validator, review level,
    # cross-checks). Seeded with a revision and an audit event; afterwards the city administrators edit them.
    rules: tuple[tuple[str, bool, str, str, tuple[str, ...]], ...] = ()
    # Fields shown under another name for some records (:class:`Apart`).
    apart: tuple[Apart, ...] = ()
    # Whether someone looks the entity's records up in the lists and exports that showed them (a person's
    # access record, B1): the audit log then indexes each such record a list names (sidms.audit.subjects).
    access_record: bool = False
    # The reference ("person") to the record each of this entity's records is about, when that record has an
    # access record: a list or an export of these records (an employment's, named by its person) names that
    # record too, so that it is on that record's access record (B1, sidms.audit.subjects).
    subject: str = ""
    # Anything a delivery layer needs beyond this (e.g. which related lists a record page shows).
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        overlap = set(self.batch_change) & set(self.identity)
        if overlap:
            raise ValueError(f"{self.entity}: identity fields cannot be batch-changed: {sorted(overlap)}")
        ruled = [rule[0] for rule in self.rules]
        unknown = set(ruled) - set(self.fields)
        if unknown:
            raise ValueError(f"{self.entity}: rules for fields it does not govern: {sorted(unknown)}")
        if set(self.money) - set(self.fields):
            raise ValueError(f"{self.entity}: money names fields it does not govern")
        for apart in self.apart:
            if {apart.field, apart.when} - set(self.fields) or apart.column in self.fields:
                raise ValueError(
                    f"{self.entity}: {apart.column} is shown apart from a field it does not govern"
                )
        if set(self.list_columns) - set(self.fields) - {apart.column for apart in self.apart}:
            raise ValueError(f"{self.entity}: list columns that are neither fields nor columns apart")
        if set(self.database_unique) - set(self.unique):
            raise ValueError(f"{self.entity}: database_unique names fields not declared unique")
        for name, channels in self.masks.items():
            for channel, mask in channels.items():
                if channel not in CHANNELS or mask not in MASK_NAMES:
                    raise ValueError(f"{self.entity}.{name}: unknown channel or mask {channel}={mask}")

    def column(self, record: Any, name: str) -> str | None:
        """The governed field that column NAME of a list or export shows for RECORD, or None when the column is
        left empty for it (the field is shown apart for it, or the column apart does not apply)."""
        for apart in self.apart:
            if name == apart.column:
                return apart.field if apart.applies(record) else None
            if name == apart.field and apart.applies(record):
                return None
        return name

    def column_label(self, name: str) -> Any:
        """The name of a column apart (None for a field's own column)."""
        return next((apart.label for apart in self.apart if name == apart.column), None)

    def field_label_for(self, record: Any, name: str) -> Any:
        """The name of field NAME on RECORD's page where it is shown apart for it (else None)."""
        return next(
            (apart.label for apart in self.apart if name == apart.field and apart.applies(record)), None
        )

    @property
    def duplicate_policy_fields(self) -> tuple[str, ...]:
        """The unique fields whose rule chooses what a duplicate does (refused, or held for review as
        suspected): those the database does not hold unique too."""
        return tuple(name for name in self.unique if name not in self.database_unique)

    def mask(self, name: str, channel: str) -> str:
        channels = self.masks.get(name)
        if channels is None:
            return "full"
        return channels.get(channel, "hidden")


@dataclass(frozen=True)
class Queue:
    """A work queue over a workflow model: rows matching WHERE, for holders of PERMISSION, excluding rows in
    which the viewer already took one of the roles in EXCLUDE (separation of duties compares people, not
    posts). A MINE queue lists the viewer's own rows (the workflow's ``own`` role) instead.

    An ACTOR queue is a 已办 list: the rows in which the viewer took the step that column records
    ("decided_by", "approver"), newest first by AT, the step's time. DECISIONS names what was decided for each
    status the row can be in afterwards (a status not named is shown as itself: "rejected"). It is never 待办:
    nothing in it waits for the viewer."""

    name: str
    permission: str
    where: Mapping[str, Any] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    order: str = "pk"
    title: Any = ""
    empty: Any = ""
    city_level: bool = False  # only city-level holders of the permission work this queue
    mine: bool = False
    todo: bool = True  # counted on the dashboard as 待办
    actor: str = ""  # the column naming who took the step: a 已办 list of the viewer's own steps
    at: str = ""  # the column with that step's time
    decisions: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.actor and (self.todo or self.mine or self.exclude or not self.at):
            raise ValueError(
                f"{self.name}: a 已办 list names its time and is neither 待办, mine nor excluding"
            )
        if self.decisions and not self.actor:
            raise ValueError(f"{self.name}: only a 已办 list shows decisions")


@dataclass(frozen=True)
class Step:
    """One step of a workflow: in STATUS, the holder of PERMISSION takes ACTION unless they took one of
    the roles in EARLIER."""

    status: str
    action: str
    permission: str
    earlier: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workflow:
    """How a workflow model is scoped and queued (read by sidms.access)."""

    name: str  # "change_request", "maintenance", "batch": the object type its audit events name
    district: str  # path to the district that scopes it ("district", "applicant__district")
    view_permissions: tuple[str, ...]  # who may see every such row in their scope
    # How a row is named on its pages and in the audit log: "CR" for CR12 (review request), "MO", "BA".
    prefix: str = ""
    own: str = ""  # the role whose holder sees their own rows ("submitted_by", "applicant")
    own_permissions: tuple[str, ...] = ()  # who may see their own rows only
    follows_record: bool = False  # scoped by the district of the record it concerns, once that moves
    # The field naming the post that decides a row (a review request's ``decider_post``): a holder of one of
    # VIEW_PERMISSIONS sees the rows their posts decide (and their own), not every kind the others decide.
    decider: str = ""
    queues: tuple[Queue, ...] = ()
    steps: tuple[Step, ...] = ()
    # Withdrawal (撤回): while a row is in status WITHDRAWABLE nobody has decided it yet, and the holder of its
    # ``own`` role (its submitter) alone may withdraw it, which puts it in status WITHDRAWN: out of every 待办
    # queue, and no longer holding back what it waited for (a pending field, a file applied for).
    withdrawable: str = ""
    withdrawn: str = ""

    def __post_init__(self) -> None:
        if bool(self.withdrawable) != bool(self.withdrawn) or (self.withdrawable and not self.own):
            raise ValueError(f"{self.name}: a withdrawable workflow names both statuses and its own role")
