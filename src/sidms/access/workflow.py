"""Reads of workflow rows (review requests, maintenance orders, batch applications), generic over the
``workflow = Workflow(...)`` each such model declares (sidms.core.declare): who sees which rows, the work
queues and their counts, and which step a viewer may take next. The services of sidms.changes use the same
selectors when they lock a row, so a page, an API and a service cannot disagree about scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import CharField, Expression, F, Model, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from sidms.access.policies import by_owner, has_permission, in_scope, require
from sidms.access.posts import DECIDERS
from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.core.caller import Caller
from sidms.core.declare import Queue, Step, Workflow
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import ENTITIES, EntitySpec, spec_for


def declaration(model: type[Model]) -> Workflow:
    workflow = getattr(model, "workflow", None)
    if not isinstance(workflow, Workflow):
        raise TypeError(f"{model.__name__} declares no workflow")
    return workflow


def visible(staff: Any, model: type[Model]) -> QuerySet[Any]:
    """The rows of MODEL the staff member may see: every row in scope for those who work them, their own
    rows for those who only submit them. Where the workflow names the post that decides each row (review
    requests), those who work them see the rows their posts decide, and their own: a security or system
    administrator opened any person's change by its number (name, birth date, the values proposed), and a
    reviewer the proposals of posts and parameters (attack round 11).

    In scope means the district of the record a row concerns now, where the workflow follows its record
    (:func:`in_scope_of`); the submitter's own rows stay theirs in the district they filed them in."""
    workflow = declaration(model)
    rows = _with_scope_district(workflow, model._default_manager.all())
    mine = _own_filed(staff, workflow)
    if any(has_permission(staff, name) for name in workflow.view_permissions):
        worked = in_scope_of(staff, workflow)
        if workflow.decider:
            worked &= _decided_by(staff, workflow.decider)
        return rows.filter(worked | mine)
    if workflow.own and any(has_permission(staff, name) for name in workflow.own_permissions):
        return rows.filter(mine)
    return rows.none()


# The alias under which a row that follows its record carries the district whose scope it is in.
SCOPE_DISTRICT = "scope_district"


class ScopeDistrict(Expression):
    """:func:`scope_district` in SQL: the district of the record a workflow row concerns, now — for the row's
    kind, a correlated subquery reading the record's declared path to its district (``person__district``
    joins the person) — or, for a new record, a kind without a district, a proposal or a record not there,
    the district the row was filed in. That is policies.scoped_by_owner's rule (the owner's district now,
    else the row's own), as one value, so that each row reads it once.

    Written from the kernel's declarations once per database, not built through the ORM on every query: a
    CASE of a dozen ORM subqueries cost 7 ms of compiling on each queue and page (28 ms as the owner rule
    used it three times), against 0.6 ms for the rest of the query. The row's table is whatever alias the
    query it is compiled in gives it (its own name, or U0 inside another query)."""

    output_field = CharField()

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        query = compiler.query
        alias = next(iter(query.alias_map))
        if query.alias_map[alias].table_name != query.model._meta.db_table:
            raise TypeError("ScopeDistrict is read on the workflow row's own table")
        template, params = _scope_district_sql(query.model, connection)
        return template.replace(_OUTER, compiler.quote_name_unless_alias(alias)), params


_OUTER = "\x00outer\x00"
_SQL: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}


def _scope_district_sql(model: type[Model], connection: Any) -> tuple[str, tuple[str, ...]]:
    """The SQL of ScopeDistrict for MODEL's rows on CONNECTION's database, the row's table written _OUTER. Only
    names taken from the models' metadata, quoted, go into the text; the kinds of record are parameters."""
    key = (connection.vendor, model._meta.label)
    if key not in _SQL:
        q = connection.ops.quote_name

        def column(of: Any, name: str) -> str:
            return str(q(of._meta.get_field(name).column))

        own = declaration(model).district
        if "__" in own:
            raise TypeError(f"{model._meta.label}: a workflow that follows its record names its own district")
        branches, params = [], []
        for name, spec in ENTITIES.items():
            if not spec.declaration.district:
                continue
            *hops, last = spec.declaration.district.split("__")
            target: Any = spec.model
            alias = "sidms_r0"
            tables = f"{q(target._meta.db_table)} {alias}"
            where = f"{alias}.{q(target._meta.pk.column)} = {_OUTER}.{column(model, 'record_id')}"
            for i, hop in enumerate(hops, 1):
                joined: Any = target._meta.get_field(hop).related_model
                next_alias = f"sidms_r{i}"
                tables += (
                    f" INNER JOIN {q(joined._meta.db_table)} {next_alias}"
                    f" ON {alias}.{column(target, hop)} = {next_alias}.{q(joined._meta.pk.column)}"
                )
                target, alias = joined, next_alias
            # Only names from the models' metadata, quoted, are written into the text.
            select = f"SELECT {alias}.{column(target, last)} FROM {tables} WHERE {where}"  # noqa: S608
            branches.append(f"WHEN %s THEN ({select})")
            params.append(name)
        record_district = f"CASE {_OUTER}.{column(model, 'entity')} {' '.join(branches)} ELSE NULL END"
        _SQL[key] = (f"COALESCE({record_district}, {_OUTER}.{column(model, own)})", tuple(params))
    return _SQL[key]


def _with_scope_district(workflow: Workflow, rows: QuerySet[Any]) -> QuerySet[Any]:
    return rows.alias(**{SCOPE_DISTRICT: ScopeDistrict()}) if workflow.follows_record else rows


def in_scope_of(staff: Any, workflow: Workflow) -> Q:
    """The rows in the staff member's data scope (R10.3), on a queryset that went through
    :func:`_with_scope_district`: a row that follows its record is the district's the record is in now, as a
    person's archive items are (the rule of policies.scoped_by_owner); any other row the district it was
    filed in. Once a person moves, the district they left neither lists, opens nor decides a request about
    them, and the district they moved to does (the city level sees all)."""
    return by_owner(staff, {}, SCOPE_DISTRICT if workflow.follows_record else f"{workflow.district}_id")


def _own_filed(staff: Any, workflow: Workflow) -> Q:
    """The staff member's own rows (the workflow's ``own`` role) in the district they were filed in: the
    clerk who submitted a request follows it wherever its record has gone since."""
    if not workflow.own:
        return Q(pk__in=[])
    return Q(**{workflow.own: staff.pk}) & by_owner(staff, {}, f"{workflow.district}_id")


def _decided_by(staff: Any, field: str) -> Q:
    """The rows whose deciding post (FIELD) is one whose decision the staff member's posts grant (a post no
    longer known is decided by a reviewer, as the review service reads it)."""
    posts = [post for post, permission in DECIDERS.items() if has_permission(staff, permission)]
    decided = Q(**{f"{field}__in": posts})
    if has_permission(staff, "review.decide"):
        decided |= ~Q(**{f"{field}__in": list(DECIDERS)})
    return decided


def record_district(row: Any, *, lock: bool = False) -> str | None:
    """The district of the record a row concerns (requests and orders follow their record). LOCK (inside a
    transaction) locks the record's row first, so that a move being written waits or is waited for."""
    if getattr(row, "record_id", None) is None or row.entity not in ENTITIES:
        return (
            None  # a new record, or a proposal about a rule or an account: scoped by the row's own district
        )
    spec = spec_for(row.entity)
    records = spec.model._default_manager.filter(pk=row.record_id)
    record = (records.select_for_update(of=("self",)) if lock else records).first()
    if record is None:
        return None
    hop = spec.district_owner
    if lock and hop is not None:
        # The district is read from another record (an employment's, an entitlement's person): that is the
        # row a move writes, so it is the one locked and read as committed (attack round 14: an employment's
        # request was decided by the district its person was leaving).
        owner_model = spec.model._meta.get_field(hop).related_model
        assert isinstance(owner_model, type)
        owner = (
            owner_model._default_manager.select_for_update(of=("self",))
            .filter(pk=getattr(record, f"{hop}_id"))
            .first()
        )
        setattr(record, hop, owner)
    return spec.district_of(record)


def scope_district(row: Any) -> str | None:
    """The district whose data scope ROW is in (:func:`in_scope_of`'s rule for one row): the district of its
    record now where it follows its record, else the one it was filed in."""
    workflow = declaration(type(row))
    if workflow.follows_record and (district := record_district(row)) is not None:
        return district
    target: Any = row
    *hops, last = workflow.district.split("__")
    for hop in hops:
        target = getattr(target, hop, None)
    return None if target is None else getattr(target, f"{last}_id", None)


def scope_district_of(model: type[Model], reference: str) -> Subquery:
    """:func:`scope_district` in SQL, for rows of another table that point at a row of MODEL by REFERENCE (an
    archive item's ``change_request``): the scans attached to a request are in the request's scope."""
    workflow = declaration(model)
    rows = model._default_manager.filter(pk=OuterRef(f"{reference}_id")).order_by()
    scope = ScopeDistrict() if workflow.follows_record else F(f"{workflow.district}_id")
    return Subquery(rows.annotate(**{SCOPE_DISTRICT: scope}).values(SCOPE_DISTRICT)[:1])


def follows_scope(staff: Any, row: Any, *, lock: bool = False) -> bool:
    """A request or order follows its record: once the record moves to another district, it is theirs. The
    one-row form of :func:`in_scope_of`, for a row already fetched through visible(): false for the
    submitter's own row whose record has left their district (they follow it, they no longer act on it or
    read the record). A step taken on the row passes LOCK: the record's row is locked and its district read
    as committed, so that a move written at the same moment is decided by the district it moves to, not by
    the one the queue was read in (on PostgreSQL the queue's read did not wait for the move's transaction)."""
    workflow = declaration(type(row))
    if not workflow.follows_record:
        return True
    district = record_district(row, lock=lock)
    return district is None or in_scope(staff, district)


# How a move is checked (sidms.changes.seals, a layer above this one, registers it when its app is ready):
# called with the workflow row, its record's spec, the record and the caller, it raises an integrity alert,
# recorded, when the row does not match its seal or the record its history.
RecordCheck = Callable[[Model, EntitySpec, Model, Caller], None]
_RECORD_CHECKS: list[RecordCheck] = []


def register_record_check(check: RecordCheck) -> None:
    _RECORD_CHECKS[:] = [check]


def require_move_verified(row: Any, *, actor: Any) -> None:
    """Before ROW — a request or order whose record is now in another district than ROW was filed in — is
    read or acted on, and before the scans attached to it are, the move is checked: the row against its seal
    and the record against its history. The scope of such a row is read from the live rows
    (:class:`ScopeDistrict`): a district written into the record in SQL, with no revision, or the row's
    record_id pointed at another district's record, would otherwise hand the district named the pending
    requests and orders and their documents (attack round 13), as a district written into a person no longer
    hands it the person's own scans (round 11). A move made through the pipeline passes; a row whose record
    stayed where it was filed costs nothing more."""
    workflow = declaration(type(row))
    if not workflow.follows_record or getattr(row, "record_id", None) is None or row.entity not in ENTITIES:
        return
    spec = spec_for(row.entity)
    record = spec.model._default_manager.filter(pk=row.record_id).first()
    if record is None:
        return
    district = spec.district_of(record)
    if district is None or district == getattr(row, f"{workflow.district}_id"):
        return
    if not _RECORD_CHECKS:
        raise ImproperlyConfigured("no record check is registered (sidms.changes registers it when ready)")
    for check in _RECORD_CHECKS:
        check(row, spec, record, Caller.of(actor))


def moves_verified(
    rows: list[Any], *, now: str, actor: Any, checked: dict[tuple[str, Any], bool] | None = None
) -> list[Any]:
    """ROWS less those whose record moved in SQL: a row whose record is now (the annotation NOW,
    :class:`ScopeDistrict` read with the rows) in another district than the row was filed in is kept only once
    the move passes :func:`require_move_verified`, which records an integrity alert when it does not. The lists
    read the district from the live rows, so a person's district written in SQL listed their pending requests
    in the district it named (attack round 13). A row that stayed where it was filed costs nothing more; a
    genuinely moved one one check (a few milliseconds), as moves are rare. CHECKED, shared by the lists and
    counts of one page, holds each row's outcome, so that a row in two of them is checked and alerted once."""
    kept = []
    for row in rows:
        workflow = declaration(type(row))
        district = getattr(row, now, None)
        if workflow.follows_record and district and district != getattr(row, f"{workflow.district}_id", None):
            key = (type(row)._meta.label, row.pk)
            if checked is None or key not in checked:
                try:
                    require_move_verified(row, actor=actor)
                    passed = True
                except IntegrityAlert:  # recorded where it was met
                    passed = False
                if checked is not None:
                    checked[key] = passed
            else:
                passed = checked[key]
            if not passed:
                continue
        kept.append(row)
    return kept


# How many rows of one list whose record moved district are checked each time the list or its count is read
# (:func:`shown`): a check costs a few milliseconds (its seal, its latest audited step, its record against
# its history), and moves are rare. A queue holding more waits for the first of them to be handled.
MOVED_CHECKED = 100
_MOVED_NOW = "moved_now_district"


def shown(
    view: QueueView, *, actor: Any, checked: dict[tuple[str, Any], bool] | None = None
) -> QuerySet[Any]:
    """VIEW's rows as a list and its count show them: those whose record is in the district they were filed
    in (or that follow no record), and those whose record has moved since that pass the move's check
    (:func:`moves_verified`), the first :data:`MOVED_CHECKED` of them in the list's order. One queryset for
    the rows, their count and their pages: the counts on the queue page and the dashboard were read in SQL and
    counted a request whose person was moved in SQL, telling the district named that it existed, though its
    list left it out. A queue whose rows did not move costs one query more, which finds none and reads each
    row's district no more often than the count does (``QueueView.moved``)."""
    rows = view.rows
    if not declaration(view.model).follows_record:
        return rows
    moved = list(rows.filter(view.moved).annotate(**{_MOVED_NOW: F(SCOPE_DISTRICT)})[: MOVED_CHECKED + 1])
    if len(moved) > MOVED_CHECKED:  # rows past the bound wait, unchecked, in the list as in its count
        kept = moves_verified(moved[:MOVED_CHECKED], now=_MOVED_NOW, actor=actor, checked=checked)
        return rows.filter(~view.moved | Q(pk__in=[row.pk for row in kept]))
    kept_pks = {row.pk for row in moves_verified(moved, now=_MOVED_NOW, actor=actor, checked=checked)}
    refused = [row.pk for row in moved if row.pk not in kept_pks]
    # Only the refused are named: the rows that stayed are not compared again.
    return rows.exclude(pk__in=refused) if refused else rows


def workflow_get(*, actor: Any, model: type[Model], pk: Any, read: bool = True) -> Any:
    """One row the actor may see (404 otherwise). READ records the view as an audit event."""
    caller = Caller.of(actor)
    workflow = declaration(model)
    if not any(
        has_permission(caller.staff, p) for p in (*workflow.view_permissions, *workflow.own_permissions)
    ):
        require(caller, workflow.view_permissions[0])
    # visible() is the scope rule, the record's district now included: no second check after the fetch (it
    # hid the submitter's own request once its record had moved).
    row = (
        visible(caller.staff, model).filter(pk=pk).first()
        if str(pk).isascii() and str(pk).isdigit()
        else None
    )
    if row is None:
        raise Http404
    require_move_verified(row, actor=caller)
    if read:
        audit_record(
            f"read.{workflow.name}", actor=caller, object_type=workflow.name, object_id=row.pk,
            detail={"entity": getattr(row, "entity", ""), "record": getattr(row, "record_label", "")},
        )  # fmt: skip
    return row


def audit_listed(actor: Any, shown: list[tuple[str, list[Any]]]) -> None:
    """One audit event for a page of queues or a 已办 list: the rows shown (CR12, …) and the records they
    concern (a person's number), as the records lists name every record they show, so that a person can
    later learn who saw their data (B1). Nothing shown, nothing recorded."""
    rows = [row for _key, listed in shown for row in listed]
    if not rows:
        return
    # Each record once, as [kind, label]: a person's number, a rule's "person.email", an account's login.
    records = list({(getattr(row, "entity", ""), row.record_label): None for row in rows
                    if getattr(row, "record_label", "")})  # fmt: skip
    audit_record(
        "read.queues", actor=Caller.of(actor), object_type="queue",
        detail={
            "queues": [key for key, listed in shown if listed],
            "requests": [f"{declaration(type(row)).prefix}{row.pk}" for row in rows],
            "queue_records": [list(record) for record in records],
        },
    )  # fmt: skip


def _queue_rows(staff: Any, model: type[Model], queue: Queue) -> QuerySet[Any]:
    workflow = declaration(model)
    if not has_permission(staff, queue.permission) or (queue.city_level and not staff.is_city_level):
        return model._default_manager.none()
    rows = _with_scope_district(workflow, model._default_manager.filter(**queue.where))
    # The viewer's own rows where they filed them; every other queue, 已办 included, by the scope of visible().
    rows = rows.filter(_own_filed(staff, workflow) if queue.mine else in_scope_of(staff, workflow))
    if queue.actor:  # 已办: the steps the viewer took, in the same scope as every other queue
        rows = rows.filter(**{queue.actor: staff.pk})
    excluded = Q()
    for role in queue.exclude:
        excluded |= Q(**{role: staff.pk})
    if queue.exclude:
        rows = rows.exclude(excluded)
    return rows.order_by(queue.order)


def queue(staff: Any, model: type[Model], name: str) -> QuerySet[Any]:
    """The rows waiting in one of MODEL's declared queues for this staff member."""
    for candidate in declaration(model).queues:
        if candidate.name == name:
            return _queue_rows(staff, model, candidate)
    raise KeyError(name)


def done(queue: Queue, row: Any) -> tuple[Any, Any]:
    """What the viewer decided in ROW of a 已办 list, and when (the declared label for the row's status now,
    else the status itself: a request rejected is "rejected", an order approved and since modified was
    still approved)."""
    status = getattr(row, "status", "")
    decision = queue.decisions.get(status)
    if decision is None:
        decision = row.get_status_display() if hasattr(row, "get_status_display") else status
    return decision, getattr(row, queue.at)


def _moved(staff: Any, model: type[Model], queue: Queue) -> Q:
    """The rows of QUEUE (as :func:`_queue_rows` selects them for STAFF) whose record is now in another
    district than the row was filed in, written so that the database reads a row's district now
    (:class:`ScopeDistrict`, a correlated subquery) no more often than the queue itself does: at the city
    level, once; in the viewer's own rows (filed in their district), once; in a district's queue, whose rows'
    records are in the district now (:func:`in_scope_of`), never again — a row filed elsewhere has moved. The
    comparison of the two districts read the subquery twice a row, where the queue's count read it once (on
    PostgreSQL 15 ms against 11 ms for a queue of 1,000 rows)."""
    workflow = declaration(model)
    if not workflow.follows_record:
        return Q(pk__in=[])
    filed = f"{workflow.district}_id"
    if staff.is_city_level:
        return ~Q(**{SCOPE_DISTRICT: F(filed)})
    if queue.mine:
        return ~Q(**{SCOPE_DISTRICT: staff.district_id})
    return ~Q(**{filed: staff.district_id})


@dataclass(frozen=True)
class QueueView:
    model: type[Model]
    queue: Queue
    rows: QuerySet[Any]
    # Which of ROWS have moved district since they were filed (:func:`_moved`), for :func:`shown`.
    moved: Q = field(default_factory=lambda: Q(pk__in=[]))

    @property
    def key(self) -> str:
        return f"{declaration(self.model).name}.{self.queue.name}"


def queues_for(staff: Any, models: list[type[Model]]) -> list[QueueView]:
    """Every declared queue of MODELS that the staff member works (for 我的待办 and the queue page)."""
    out = []
    for model in models:
        for candidate in declaration(model).queues:
            if has_permission(staff, candidate.permission) and not (
                candidate.city_level and not staff.is_city_level
            ):
                out.append(
                    QueueView(
                        model,
                        candidate,
                        _queue_rows(staff, model, candidate),
                        _moved(staff, model, candidate),
                    )
                )
    return out


def next_step(staff: Any, row: Any) -> tuple[Step | None, bool]:
    """The step a row in its current status waits for, and whether the viewer took an earlier step of it
    (so may not take this one). The service decides again when the step is asked for."""
    for step in declaration(type(row)).steps:
        if step.status == row.status:
            took_part = any(getattr(row, f"{role}_id") == staff.pk for role in step.earlier)
            return step, took_part
    return None, False


def may_take(staff: Any, row: Any) -> str:
    """The action the viewer may take on ROW now ("" for none)."""
    step, took_part = next_step(staff, row)
    if step is None or took_part or not has_permission(staff, step.permission):
        return ""
    return step.action


def is_own(staff: Any, row: Any) -> bool:
    """Whether STAFF holds ROW's ``own`` role: submitted the request, applied for the order or the batch."""
    own = declaration(type(row)).own
    return bool(own) and getattr(row, f"{own}_id", None) == staff.pk


def may_withdraw(staff: Any, row: Any) -> bool:
    """Whether STAFF may withdraw ROW now (撤回): it is their own and still waits for its first decision (the
    workflow's ``withdrawable`` status). Nobody else may, neither another clerk nor a decider. The service
    decides again, on the locked row."""
    workflow = declaration(type(row))
    return bool(workflow.withdrawable) and row.status == workflow.withdrawable and is_own(staff, row)


def withdrawn_at(row: Any) -> Any:
    """When ROW was withdrawn (the time of the audit event that recorded the withdrawal), None if it was not:
    a withdrawal changes no column but the status, so that no decider's column names the submitter."""
    workflow = declaration(type(row))
    if not workflow.withdrawn or row.status != workflow.withdrawn:
        return None
    return (
        AuditEvent.objects.filter(
            object_type=workflow.name, object_id=str(row.pk), action__endswith=".withdraw"
        )
        .order_by("-seq")
        .values_list("at", flat=True)
        .first()
    )


def step_for(model: type[Model], action: str) -> Step:
    for step in declaration(model).steps:
        if step.action == action:
            return step
    raise KeyError(action)
