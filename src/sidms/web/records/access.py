"""A person's access record (个人信息访问记录, B1): who looked at or changed the person's data, when and how,
as the audit log recorded it — shown at the window to the person who asks in person (Order 14, R10.1–R10.2).

The page is a view of the person's record through the read door (``read.person_access``): the clerk's post and
data scope decide, and opening it is itself an event of the list. It finds the events two ways, each by an
index: by the log's own (object type, object id) — the person's own events and those of records that are the
person's alone (their archive items and statements) or that changed the person (review requests, maintenance
orders, batch changes and imports, as the person's revisions name them) — and by the subject index, which
names the person in every list page, export page and page of queues that showed them among others
(``audit.subjects``); and says on the page what that leaves out. Each event is shown by time, the staff
member's agency and account, the act in the audit log's own words, the channel, the outcome, and an export's
number and stated purpose: never the event's other detail, which names other persons, nor addresses or
request ids."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from sidms.access import workflow as workflows
from sidms.archives.models import ArchiveItem
from sidms.audit.models import AuditEvent, AuditSubject, Outcome
from sidms.business.models import IssuedStatement
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus, Revision
from sidms.core.kernel import spec_for
from sidms.parameters.codes import region_name
from sidms.registry.models import Staff
from sidms.web.bad_input import BadInput, answers_bad_input, no_such_page
from sidms.web.governance.audit_words import Names, action_label
from sidms.web.governance.forms import DayField, within_days
from sidms.web.records.views import PER_PAGE, PER_PAGE_CHOICES, get_record, record_context
from sidms.web.workflow.forms import QueueFilterForm
from sidms.web.workflow.views import WORKFLOWS

ACTION = "read.person_access"


class AccessFilterForm(QueueFilterForm):
    """The 已办 lists' dates and paging (their checks: a start after the end, a page size not offered), with
    the audit log's labels: here the dates are those of the events."""

    date_from = DayField(gettext_lazy("From"))
    date_to = DayField(gettext_lazy("To"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, done=True, **kwargs)  # the labels above, not a 待办 list's


def about_person(person: Any) -> Q:
    """The audit events about PERSON the index on (object_type, object_id) finds: each condition below is one
    range of that index. The person by their number (views of the page, the history and the rights record,
    changes, refused attempts, integrity alerts) and by their row id (the archive catalogue and refused
    uploads, which name the row); their archive items; their issued statements (one by its id, the yearly
    batch by its chunk, the first 24 digits of the id), public verifications among them; and the review
    requests, maintenance orders and batch applications (imports among them) named by the person's revisions
    (a batch writes one event for all its records, not one per record), and the review requests waiting in
    the review queue (found by the queue's index)."""
    number = spec_for("person").label(person)
    about = Q(object_type="person", object_id=number)
    about |= Q(object_type="person", object_id=str(person.pk), action__startswith="archive.")
    items = [str(pk) for pk in ArchiveItem.objects.filter(person_id=person.pk).values_list("pk", flat=True)]
    if items:
        about |= Q(object_type="archive_item", object_id__in=items)
    statements = list(
        IssuedStatement.objects.filter(person_id=person.pk).values_list("statement_id", flat=True)
    )
    if statements:
        about |= Q(
            object_type="statement", object_id__in=sorted({*statements, *(s[:24] for s in statements)})
        )
    # Each declared workflow by the prefix its rows are named by in a revision's reference (CR12, MO3, BA7).
    kinds = {workflows.declaration(model).prefix: workflows.declaration(model).name for model in WORKFLOWS}
    named: dict[str, set[str]] = {prefix: set() for prefix in kinds}
    for reference in Revision.objects.filter(entity="person", record_id=person.pk).values_list(
        "reference", flat=True
    ):
        head = reference.partition("/")[0]  # CR12/reviewer_hc: the request and its reviewer
        for prefix, numbers in named.items():
            number = head.removeprefix(prefix)
            if number != head and number.isascii() and number.isdigit():
                numbers.add(str(int(number)))
    pending = ChangeRequest.objects.filter(
        status=ReviewStatus.PENDING, district_id=person.district_id, entity="person", record_id=person.pk
    )
    named[workflows.declaration(ChangeRequest).prefix].update(
        str(pk) for pk in pending.values_list("pk", flat=True)
    )
    for prefix, numbers in named.items():
        if numbers:
            about |= Q(object_type=kinds[prefix], object_id__in=sorted(numbers))
    return about


def named_in(person: Any) -> QuerySet[Any]:
    """The sequence numbers of the events that name PERSON among other records (a list page, an export's page,
    a page of queues), by the subject index's primary key (entity, record key, seq)."""
    return AuditSubject.objects.filter(entity="person", record_key=spec_for("person").label(person)).values(
        "seq"
    )


def events_about(person: Any, date_from: date | None = None, date_to: date | None = None) -> QuerySet[Any]:
    """The sequence numbers (``{"seq": n}``) of the events of :func:`about_person` and of those that name the
    person among others (:func:`named_in`), newest first, between the two days (both included): a UNION of the
    two, each read by its own index. One condition OR-ed with the other made PostgreSQL scan the whole log (a
    bitmap OR cannot hold ``seq IN (subquery)``); on each side of the UNION it is an index range each."""
    about = within_days(AuditEvent.objects.filter(about_person(person)), "at", date_from, date_to)
    named = within_days(AuditEvent.objects.filter(seq__in=named_in(person)), "at", date_from, date_to)
    return about.order_by().values("seq").union(named.order_by().values("seq")).order_by("-seq")


def events_of(seqs: list[int]) -> list[AuditEvent]:
    """The events of a page of :func:`events_about`, newest first."""
    return list(AuditEvent.objects.filter(seq__in=seqs).order_by("-seq"))


def _who(events: list[AuditEvent]) -> tuple[Names, dict[str, str]]:
    """The staff names of a page of events by login, and each one's agency (or district) by name, now."""
    names: dict[str, str] = {}
    agencies: dict[str, str] = {}
    for member in Staff.objects.filter(username__in={e.actor for e in events}).select_related("agency"):
        names[member.username] = member.display_name
        agencies[member.username] = (
            member.agency.name if member.agency is not None else region_name(member.district_id or "")
        ) or "—"
    return Names(by_login=names, by_id={}), agencies


def access_rows(events: list[AuditEvent]) -> list[dict[str, Any]]:
    """A page of events as the person may read them: no detail, object, address or request id. Of an export's
    read of a page of its list (``read.<entity>_export``), the export's number beside the act and the purpose
    its requester stated; of a list, which names other persons, nothing of its detail."""
    names, agencies = _who(events)
    rows = []
    for event in events:
        payload = json.loads(event.payload)
        channel = str(payload.get("channel") or "")
        action, purpose = action_label(event.action), ""
        if event.action.startswith("read.") and event.action.endswith("_export"):
            detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
            action = f"{action} {detail.get('export', '')}".strip()
            purpose = str(detail.get("purpose") or "")
        staff = event.actor in names.by_login
        rows.append(
            {
                "at": event.at,
                "agency": agencies.get(event.actor, "—"),
                "actor": names.actor(event.actor),
                # The account beside a name that differs from it; the system and the public have none.
                "login": event.actor if staff and names.by_login[event.actor] != event.actor else "",
                "action": action,
                "purpose": purpose,
                "channel": Channel(channel).label if channel in Channel.values else "",
                "outcome": Outcome(event.outcome).label if event.outcome in Outcome.values else event.outcome,
                "refused": event.outcome != Outcome.OK,
            }
        )
    return rows


@require_GET
@answers_bad_input
def person_access(request: HttpRequest, key: str) -> HttpResponse:
    spec = spec_for("person")
    reset = reverse("web:person_access", args=[key])
    form = AccessFilterForm(request.GET, auto_id="f-%s")
    form.is_valid()
    wanted = form.cleaned_data
    asked = {name: wanted[name].isoformat() for name in form.DATES if wanted.get(name)}
    # Through the read door first: out of the scope the person does not exist for the clerk (404, recorded),
    # whatever else the address holds.
    person = get_record(request, spec, key, action=ACTION, detail={"filters": asked} if asked else None)
    if form.paging_invalid:
        raise BadInput(
            _("The list cannot be shown with these filters: a page number or filter is not one the list offers."),
            back=reset, back_text=_("Show the list from the start"),
        )  # fmt: skip
    per_page = wanted.get("per_page") or PER_PAGE
    params = dict(asked)
    if per_page != PER_PAGE:
        params["per_page"] = str(per_page)
    context: dict[str, Any] = {
        **record_context(request, spec, person),
        "form": form, "reset_url": reset, "invalid": form.dates_invalid, "filtered": bool(asked),
        "params": params, "per_page": per_page, "default_per_page": PER_PAGE, "per_page_choices": PER_PAGE_CHOICES,
        "rows": [], "total": "0",
    }  # fmt: skip
    context["crumbs"] = [*context["crumbs"], (_("Access record"), "")]
    if form.dates_invalid:
        # Dates that cannot be read list nothing rather than everything (the audit log's rule).
        return render(request, "records/access.html", context, status=400)
    paginator = Paginator(events_about(person, wanted.get("date_from"), wanted.get("date_to")), per_page)
    number = wanted.get("page") or 1
    if number > paginator.num_pages:
        raise no_such_page(number, paginator.num_pages, reset, params)
    page = paginator.page(number)
    context.update(
        rows=access_rows(events_of([row["seq"] for row in page])), page_obj=page, total=f"{paginator.count:,}"
    )
    return render(request, "records/access.html", context)
