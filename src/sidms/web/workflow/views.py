"""Workflow pages: the dashboard with each post's 待办, the queues, review requests (R7.3) and maintenance
orders (R9.3). Which rows a person sees, the queues and the next step of an order come from the read door
(sidms.access.workflow); the decisions are the services' of sidms.changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Count, DateTimeField, F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from sidms.access import policies
from sidms.access import workflow as workflows
from sidms.access.posts import DECIDERS
from sidms.changes.maintenance import (
    maintenance_approve,
    maintenance_modify,
    maintenance_recheck,
    maintenance_withdraw,
    proposed_values,
)
from sidms.changes.models import (
    BatchApplication,
    ChangeRequest,
    MaintenanceOrder,
    MaintenanceStatus,
    ReviewStatus,
)
from sidms.changes.services import named_as, review_decide, review_recheck_registries, review_withdraw
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted, StaleChange
from sidms.core.kernel import ENTITIES
from sidms.web.bad_input import BadInput, answers_bad_input, no_such_page
from sidms.web.context import caller_of, staff_of
from sidms.web.display import label_for, shown
from sidms.web.governance.forms import within_days
from sidms.web.records.forms import DecisionForm
from sidms.web.records.views import PER_PAGE, PER_PAGE_CHOICES
from sidms.web.workflow import presenters
from sidms.web.workflow.forms import QueueFilterForm

WORKFLOWS: list[type[Any]] = [ChangeRequest, MaintenanceOrder, BatchApplication]
QUEUE_LIMIT = 100


# Each workflow's page of one row, by its model.
DETAIL_PAGES: dict[type[Any], str] = {
    ChangeRequest: "web:review_detail",
    MaintenanceOrder: "web:maintenance_detail",
    BatchApplication: "gov:batch_detail",
}


def _detail_url(row: Any) -> str:
    return reverse(DETAIL_PAGES[type(row)], args=[row.pk])


def _list_url(view: workflows.QueueView) -> str:
    """The paged page of a queue: its 已办 list, or every row of a 待办 (or 我提交的) list."""
    return reverse("web:done_list" if view.queue.actor else "web:todo_list", args=[view.key])


def _district_text(code: str) -> str:
    from sidms.parameters.codes import region_name

    return f"{region_name(code)}（{code}）" if region_name(code) else str(code)


def _overdue_before() -> datetime:
    """A row still waiting in a 待办 queue that entered its step before this moment has waited longer than
    the step's time limit: the business-handling parameter workflow.step_days (calendar days) in force."""
    from sidms.business.parameters import value_at

    return timezone.now() - timedelta(days=int(value_at("workflow.step_days")))


def _waiting_since(view: workflows.QueueView) -> str:
    """The column with the time a row entered the step a 待办 queue holds it in (the queue's order: submitted,
    applied, approved, modified at), or "" for a list that is no step waiting on the viewer."""
    if not view.queue.todo or view.queue.mine or view.queue.actor:
        return ""
    name = view.queue.order.removeprefix("-")
    try:
        field = view.model._meta.get_field(name)
    except FieldDoesNotExist:
        return ""
    return name if isinstance(field, DateTimeField) else ""


def dashboard(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    policies.require(caller_of(request), "dashboard.view", path=request.path)
    before = _overdue_before()
    todo: list[dict[str, Any]] = []
    checked: dict[tuple[str, Any], bool] = {}
    for view in workflows.queues_for(staff, WORKFLOWS):
        if not view.queue.todo:
            continue
        # Counted as the queue's list shows it: a row whose record moved in SQL is neither listed nor counted.
        rows = workflows.shown(view, actor=caller_of(request), checked=checked)
        since = _waiting_since(view)
        todo.append({
            "title": view.queue.title,
            "count": rows.count(),
            "overdue": rows.filter(**{f"{since}__lt": before}).count() if since else 0,
            "url": _list_url(view),  # the queue's paged 待办 page, every row of it
        })  # fmt: skip
    counts = []
    for spec in ENTITIES.values():
        if spec.declaration.slug and policies.has_permission(staff, policies.view_permission(spec)):
            counts.append(
                {
                    "label": spec.model._meta.verbose_name_plural,
                    "count": policies.record_scope(staff, spec).count(),
                    "url": reverse("web:record_list", args=[spec.declaration.slug]),
                }
            )
    by_district: list[tuple[str, str, int]] = []
    person = ENTITIES.get("person")
    if person is not None and policies.has_permission(staff, policies.view_permission(person)):
        from sidms.parameters.codes import region_name

        rows = (
            policies.record_scope(staff, person)
            .values("district_id")
            .annotate(n=Count("pk"))
            .order_by("district_id")
        )
        by_district = [(row["district_id"], region_name(row["district_id"]), row["n"]) for row in rows]
    return render(
        request, "workflow/dashboard.html", {"todo": todo, "counts": counts, "by_district": by_district}
    )


def _district_shown(staff: Any, item: Any) -> str:
    """The district column of a queue row: where the record is now (the district whose queue the row is in,
    workflow.in_scope_of), when that is in the viewer's scope; else where the row was filed. A reviewer of the
    district a person moved to read the district the person left; a submitter whose request has followed its
    record out of their district still reads their own (nothing of where the person went)."""
    now = getattr(item, NOW_DISTRICT, None)
    if now and now != item.district_id and policies.in_scope(staff, now):
        from sidms.parameters.codes import region_name

        return region_name(now) or str(now)
    district = getattr(item, "district", None)
    return str(district.name) if district is not None else ""


def _queue_row(staff: Any, queue: Any, item: Any, overdue: bool = False) -> dict[str, Any]:
    """A row of a queue, as its kind's presenter reads it (an unregistered kind shows nothing of itself); in a
    已办 list, with what the viewer decided and when."""
    presenter = presenters.presenter_for(getattr(item, "entity", ""))
    decision, done_at = workflows.done(queue, item) if queue.actor else ("", None)
    return {
        "item": item,
        "district": _district_shown(staff, item) if hasattr(item, "district_id") else "",
        "url": _detail_url(item),
        "entity_label": presenter.label,
        "record_text": presenter.record_text(item) if hasattr(item, "record_label") else "",
        "fields": presenter.fields(item) if hasattr(item, "proposed") else "",
        "decision": decision,
        "done_at": done_at,
        "overdue": overdue,
    }


# The district a row that follows its record is in now, read with the rows (_district_shown).
NOW_DISTRICT = "now_district"


def _with_columns(view: workflows.QueueView, rows: Any) -> Any:
    """ROWS with what the columns name of each (its district filed and now, its submitter): fetched with the
    rows, not one by one."""
    workflow = workflows.declaration(view.model)
    related = [workflow.own, *(["district"] if hasattr(view.model, "district") else [])]
    if workflow.follows_record:
        rows = rows.annotate(**{NOW_DISTRICT: F(workflows.SCOPE_DISTRICT)})
    return rows.select_related(*filter(None, related))


def _section(
    staff: Any, view: workflows.QueueView, rows: list[Any], *, total: int | None = None
) -> dict[str, Any]:
    """One queue as its table shows it: ROWS; on the queue page, which shows a queue's first rows only, TOTAL
    is how many it holds in all (more than shown: the section links to its paged page)."""
    count = len(rows) if total is None else total
    since = _waiting_since(view)
    before = _overdue_before() if since else None

    def overdue(item: Any) -> bool:  # a row without the step's time (none should be) is not marked
        waited = getattr(item, since) if since else None
        return before is not None and waited is not None and waited < before

    return {
        "key": view.key,
        "title": view.queue.title,
        "empty": view.queue.empty,
        "kind": workflows.declaration(view.model).name,
        "done": bool(view.queue.actor),
        "more": count > len(rows),
        "total": f"{count:,}",
        "rows": [_queue_row(staff, view.queue, item, overdue(item)) for item in rows],
        "all_url": _list_url(view),
    }


def queues(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    views = workflows.queues_for(staff, WORKFLOWS)
    if not views:
        policies.require(caller_of(request), "review.decide", path=request.path)
    sections, shown = [], []
    checked: dict[tuple[str, Any], bool] = {}
    for view in views:
        # The rows and the count as the paged list shows them: a row whose record moved in SQL is in neither.
        listed = workflows.shown(view, actor=caller_of(request), checked=checked)
        rows = list(_with_columns(view, listed)[: QUEUE_LIMIT + 1])
        # A row checked for the count is not checked again; one moved since is, before it is shown.
        first = workflows.moves_verified(rows[:QUEUE_LIMIT], now=NOW_DISTRICT, actor=caller_of(request),
                                         checked=checked)  # fmt: skip
        sections.append(
            _section(staff, view, first, total=listed.count() if len(rows) > len(first) else None)
        )
        shown.append((view.key, first))
    workflows.audit_listed(caller_of(request), shown)
    return render(request, "workflow/queues.html", {"sections": sections, "limit": QUEUE_LIMIT})


@require_GET
@answers_bad_input
def done_list(request: HttpRequest, key: str) -> HttpResponse:
    """One 已办 list whole: what the viewer decided, newest first, in the scope of every queue (a request about
    a person who has since left the district is not listed), filtered by the decision's date and paged as the
    records lists are (notes/ux-conventions.md)."""
    return _queue_list(request, key, done=True)


@require_GET
@answers_bad_input
def todo_list(request: HttpRequest, key: str) -> HttpResponse:
    """One 待办 list whole, past the queue page's first rows: oldest first as the queue is (the longest
    waiting on top), overdue rows marked, in the same scope, filtered by the day a row reached its step and
    paged as the 已办 lists are."""
    return _queue_list(request, key, done=False)


def _queue_list(request: HttpRequest, key: str, *, done: bool) -> HttpResponse:
    """A queue's paged page, in the queue's own order, filtered by the time that order reads (a 已办 list's
    decision, a 待办 list's arrival at its step); each page is recorded as the rows it showed."""
    staff = staff_of(request)
    view = next(
        (v for v in workflows.queues_for(staff, WORKFLOWS) if v.key == key and bool(v.queue.actor) == done),
        None,
    )
    if view is None:
        raise Http404
    reset = _list_url(view)
    form = QueueFilterForm(request.GET, auto_id="f-%s", done=done)
    form.is_valid()
    if form.paging_invalid:
        raise BadInput(
            _("The list cannot be shown with these filters: a page number or filter is not one the list offers."),
            back=reset, back_text=_("Show the list from the start"),
        )  # fmt: skip
    wanted = form.cleaned_data
    per_page = wanted.get("per_page") or PER_PAGE
    params = {name: wanted[name].isoformat() for name in form.DATES if wanted.get(name)}
    if per_page != PER_PAGE:
        params["per_page"] = str(per_page)
    context: dict[str, Any] = {
        "form": form, "reset_url": reset, "invalid": form.dates_invalid, "filtered": bool(params.keys() - {"per_page"}),
        "params": params, "per_page": per_page, "default_per_page": PER_PAGE, "per_page_choices": PER_PAGE_CHOICES,
        "crumbs": [(_("Home"), reverse("web:dashboard")), (_("To do and done"), reverse("web:queues")),
                   (str(view.queue.title), "")],
    }  # fmt: skip
    if form.dates_invalid:
        # A date that cannot be read lists nothing rather than everything: the reader would take the whole
        # list for the answer to the dates they asked for.
        return render(
            request, "workflow/queue_list.html", {**context, "s": _section(staff, view, []), "total": 0}
        )
    # The queue's rows less those whose record moved in SQL, before paging: the total and the pages count
    # only what the pages show.
    checked: dict[tuple[str, Any], bool] = {}
    rows = workflows.shown(view, actor=caller_of(request), checked=checked)
    order = view.queue.order
    at = view.queue.at or order.removeprefix("-")  # a 待办 list's order is the time a row reached its step
    rows = within_days(rows, at, wanted.get("date_from"), wanted.get("date_to"))
    # The queue's order, and rows of the same time by number the same way, so that no row falls between pages.
    paginator = Paginator(
        _with_columns(view, rows.order_by(order, "-pk" if order.startswith("-") else "pk")), per_page
    )
    number = wanted.get("page") or 1
    if number > paginator.num_pages:
        raise no_such_page(number, paginator.num_pages, reset, params)
    page = paginator.page(number)
    shown = workflows.moves_verified(list(page), now=NOW_DISTRICT, actor=caller_of(request), checked=checked)
    workflows.audit_listed(caller_of(request), [(view.key, shown)])
    return render(
        request, "workflow/queue_list.html",
        {**context, "s": _section(staff, view, shown), "page_obj": page, "total": f"{paginator.count:,}"},
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Review of held changes (R7.3)


def _review_page(
    request: HttpRequest, held: ChangeRequest, *, refusal: str = "", status: int = 200
) -> HttpResponse:
    staff = staff_of(request)
    try:
        presenter = presenters.for_review(held.entity)
    except presenters.UnregisteredKind as unregistered:
        return _unregistered(request, f"CR{held.pk}", unregistered)
    own = held.submitted_by_id == staff.pk
    permission = DECIDERS.get(held.decider_post, "review.decide")
    record_text, record_url = _record_link(presenter, staff, held)
    review = presenter.review(held, staff, decides=policies.has_permission(staff, permission) and not own)
    if not workflows.follows_scope(staff, held):
        review["subject"] = []  # who the record is now (its district among it) is no longer theirs to read
    context = {
        "district": _district_text(held.district_id),
        "held": held,
        "entity_label": presenter.label,
        "record_text": record_text,
        **review,
        "own": own,
        "pending": held.status == ReviewStatus.PENDING,
        "may_decide": policies.has_permission(staff, permission)
        and held.status == ReviewStatus.PENDING
        and not own,
        "may_withdraw": workflows.may_withdraw(staff, held),
        "withdrawn_at": workflows.withdrawn_at(held),
        "record_url": record_url,
        "refusal": refusal,
        "reason": request.POST.get("reason", "") if request.method == "POST" else "",
        "crumbs": [
            (_("Home"), reverse("web:dashboard")),
            (_("To do and done"), reverse("web:queues")),
            (f"CR{held.pk}", ""),
        ],
    }
    return render(request, presenter.template, context, status=status)


def _record_link(presenter: presenters.Presenter, staff: Any, row: Any) -> tuple[str, str]:
    """The record a request or order concerns, named and linked; to its submitter once the record has moved
    out of their district, only as it was submitted (they follow their request, not the record)."""
    if workflows.follows_scope(staff, row):
        return presenter.record_link(row)
    return presenter.record_text(row), ""


def _unregistered(request: HttpRequest, number: str, refusal: presenters.UnregisteredKind) -> HttpResponse:
    """The refusal of a request or order whose kind has no presenter: its number and why, nothing of its
    values."""
    context = {
        "number": number,
        "refusal": str(refusal),
        "crumbs": [
            (_("Home"), reverse("web:dashboard")),
            (_("To do and done"), reverse("web:queues")),
            (number, ""),
        ],
    }
    return render(request, "workflow/review_refused.html", context, status=403)


def _unregistered_kind(request: HttpRequest, pk: int) -> HttpResponse | None:
    """Before a decision or a re-check: the refusal when the request (one the person may see) is of a kind no
    presenter is registered for, so that nothing is decided that its decider could not read. A request the
    person may not see is left to the service, which refuses it and records the attempt."""
    kind = workflows.visible(staff_of(request), ChangeRequest).filter(pk=pk).values_list("entity", flat=True)
    try:
        for entity in kind[:1]:
            presenters.for_review(entity)
    except presenters.UnregisteredKind as unregistered:
        return _unregistered(request, f"CR{pk}", unregistered)
    return None


def _change_request(request: HttpRequest, pk: int) -> ChangeRequest:
    return workflows.workflow_get(actor=caller_of(request), model=ChangeRequest, pk=pk)


def review_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    return _review_page(request, _change_request(request, request_id))


def _refused(refusal: ChangeRefused | NotPermitted) -> tuple[str, int]:
    """The person's message and the HTTP status of a refusal shown on the page. An integrity alert is not
    shown on the page: reading the row again to show it would meet the alert a second time and record it
    twice; it goes to IntegrityAlertMiddleware's page (409, naming the record), recorded once."""
    if isinstance(refusal, IntegrityAlert):
        raise refusal
    if isinstance(refusal, NotPermitted):
        return str(refusal), 403
    if isinstance(refusal, StaleChange):
        return refusal.localized(), 409
    return str(refusal), 400


@require_POST
def review_decide_view(request: HttpRequest, request_id: int) -> HttpResponse:
    form = DecisionForm(request.POST)
    if not form.is_valid() or form.cleaned_data["decision"] not in ("approve", "reject"):
        return _review_page(
            request, _change_request(request, request_id), refusal=_("Choose approve or reject."), status=400
        )
    unregistered = _unregistered_kind(request, request_id)
    if unregistered is not None:
        return unregistered
    try:
        held = review_decide(
            actor=caller_of(request),
            change_request_id=request_id,
            approve=form.positive,
            reason=form.reason_text,
        )
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _review_page(request, _change_request(request, request_id), refusal=message, status=status)
    if form.positive:
        messages.success(
            request, _("Request CR%(id)s approved: the new values are in force.") % {"id": held.pk}
        )
    else:
        messages.success(
            request, _("Request CR%(id)s rejected; the submitter will see your reason.") % {"id": held.pk}
        )
    return redirect("web:queues")


@require_POST
def review_withdraw_view(request: HttpRequest, request_id: int) -> HttpResponse:
    """The submitter withdraws their request while it waits (撤回); the page says why when it may not."""
    try:
        held = review_withdraw(actor=caller_of(request), change_request_id=request_id)
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _review_page(request, _change_request(request, request_id), refusal=message, status=status)
    messages.success(
        request, _("Request CR%(id)s withdrawn: it no longer waits for review.") % {"id": held.pk}
    )
    return redirect("web:review_detail", held.pk)


@require_POST
def review_recheck_view(request: HttpRequest, request_id: int) -> HttpResponse:
    unregistered = _unregistered_kind(request, request_id)
    if unregistered is not None:
        return unregistered
    try:
        review_recheck_registries(actor=caller_of(request), change_request_id=request_id)
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _review_page(request, _change_request(request, request_id), refusal=message, status=status)
    messages.success(request, _("The registries have been asked again; the results below are new."))
    return redirect("web:review_detail", request_id)


# --------------------------------------------------------------------------------------------------------
# Maintenance orders (R9.3)

STEP_WAITS_FOR = {
    "approve": gettext_lazy("Waits for an approver, who is not the applicant."),
    "modify": gettext_lazy(
        "Waits for a window clerk who took no earlier step to carry out the modification."
    ),
    "recheck": gettext_lazy("Waits for a re-checker who took no earlier step."),
}


def _maintenance_page(
    request: HttpRequest, order: MaintenanceOrder, *, refusal: str = "", status: int = 200
) -> HttpResponse:
    staff = staff_of(request)
    try:
        presenter = presenters.for_record(order.entity)
    except presenters.UnregisteredKind as unregistered:
        return _unregistered(request, f"MO{order.pk}", unregistered)
    spec = presenter.spec
    step, took_part = workflows.next_step(staff, order)
    old, new = proposed_values(order, 0), proposed_values(order, 1)
    record = spec.model._default_manager.filter(pk=order.record_id).first()
    of = named_as(spec, new, record)  # named as the record's page names them (a one-time grant's amount)
    pairs = [
        {
            "label": label_for(spec, of, name),
            "old": shown(spec, name, old.get(name), staff),
            "new": shown(spec, name, new.get(name), staff),
        }
        for name in order.proposed
        if name in spec.fields
    ]
    names = {
        u.pk: u.display_name
        for u in (order.applicant, order.approver, order.modifier, order.rechecker)
        if u is not None
    }
    S = MaintenanceStatus
    withdrawn_at = workflows.withdrawn_at(order)
    steps = [
        (_("Applied for"), order.applicant_id, order.applied_at, order.reason),
        (_("Refused") if order.status == S.REFUSED else _("Approved"), order.approver_id, order.approved_at,
         order.decision_reason if order.status == S.REFUSED else ""),
        (_("Modified"), order.modifier_id, order.modified_at, ""),
        (_("Sent back") if order.status == S.SENT_BACK else _("Re-checked and accepted"), order.rechecker_id,
         order.rechecked_at, order.decision_reason if order.status == S.SENT_BACK else ""),
        (_("Withdrawn by the applicant"), order.applicant_id if withdrawn_at else None, withdrawn_at, ""),
    ]  # fmt: skip
    record_text, record_url = _record_link(presenter, staff, order)
    context = {
        "district": _district_text(order.district_id),
        "order": order,
        "entity_label": presenter.label,
        "record_text": record_text,
        "pairs": pairs,
        "steps": [
            (title, names.get(who, ""), when, note) for title, who, when, note in steps if who is not None
        ],
        "action": workflows.may_take(staff, order),
        "may_withdraw": workflows.may_withdraw(staff, order),
        "took_part": took_part,
        "waits_for": str(STEP_WAITS_FOR[step.action]) if step is not None else "",
        "record_url": record_url,
        "refusal": refusal,
        "reason": request.POST.get("reason", "") if request.method == "POST" else "",
        "crumbs": [
            (_("Home"), reverse("web:dashboard")),
            (_("To do and done"), reverse("web:queues")),
            (f"MO{order.pk}", ""),
        ],
    }
    return render(request, "workflow/maintenance_detail.html", context, status=status)


def _order(request: HttpRequest, pk: int) -> MaintenanceOrder:
    return workflows.workflow_get(actor=caller_of(request), model=MaintenanceOrder, pk=pk)


def maintenance_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    return _maintenance_page(request, _order(request, order_id))


def _maintenance_step(
    request: HttpRequest,
    order_id: int,
    step: Callable[[Any, DecisionForm | None], MaintenanceOrder],
    *,
    decisions: tuple[str, ...] = (),
) -> HttpResponse:
    form = DecisionForm(request.POST) if decisions else None
    if form is not None and (not form.is_valid() or form.cleaned_data["decision"] not in decisions):
        return _maintenance_page(
            request, _order(request, order_id), refusal=_("Choose a decision."), status=400
        )
    try:
        order = step(caller_of(request), form)
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _maintenance_page(request, _order(request, order_id), refusal=message, status=status)
    messages.success(
        request,
        _("Maintenance order MO%(id)s: %(status)s.") % {"id": order.pk, "status": order.get_status_display()},
    )
    return redirect("web:queues")


@require_POST
def maintenance_approve_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(caller: Any, form: DecisionForm | None) -> MaintenanceOrder:
        assert form is not None
        return maintenance_approve(
            actor=caller, order_id=order_id, approve=form.positive, reason=form.reason_text
        )

    return _maintenance_step(request, order_id, step, decisions=("approve", "reject"))


@require_POST
def maintenance_withdraw_view(request: HttpRequest, order_id: int) -> HttpResponse:
    """The applicant withdraws their order while it waits for approval (撤回)."""
    try:
        order = maintenance_withdraw(actor=caller_of(request), order_id=order_id)
    except (ChangeRefused, NotPermitted) as refusal:
        message, status = _refused(refusal)
        return _maintenance_page(request, _order(request, order_id), refusal=message, status=status)
    messages.success(
        request,
        _("Maintenance order MO%(id)s withdrawn: it no longer waits for approval.") % {"id": order.pk},
    )
    return redirect("web:maintenance_detail", order.pk)


@require_POST
def maintenance_modify_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(caller: Any, form: DecisionForm | None) -> MaintenanceOrder:
        return maintenance_modify(actor=caller, order_id=order_id)

    return _maintenance_step(request, order_id, step)


@require_POST
def maintenance_recheck_view(request: HttpRequest, order_id: int) -> HttpResponse:
    def step(caller: Any, form: DecisionForm | None) -> MaintenanceOrder:
        assert form is not None
        return maintenance_recheck(
            actor=caller, order_id=order_id, accept=form.positive, reason=form.reason_text
        )

    return _maintenance_step(request, order_id, step, decisions=("accept", "send_back"))
