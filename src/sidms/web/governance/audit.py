"""The audit browser (R20): events in words — actions and objects in Chinese, staff by name, details as
labelled fields — filters that take Chinese action names, and verification of the whole store on demand."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sidms.access import policies
from sidms.audit.models import AuditEvent, Outcome
from sidms.audit.services import audit_record
from sidms.changes.models import Channel
from sidms.changes.verify import verify_store
from sidms.registry.models import Staff
from sidms.web.context import caller_of
from sidms.web.governance.forms import AuditFilterForm
from sidms.web.governance.labels import action_label, actions_matching, detail_rows, object_label

AUDIT_PAGE = 50


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _events(filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if "actor" in filters:
        text = str(filters["actor"]).strip()
        logins = list(
            Staff.objects.filter(Q(first_name__contains=text) | Q(username=text)).values_list(
                "username", flat=True
            )
        )
        events = events.filter(actor__in=[text, *logins])
    if "action" in filters:
        text = str(filters["action"]).strip()
        codes = actions_matching(text)
        query = Q(action__startswith=text)
        for code in codes:
            query |= Q(action=code) if "." in code and not code.endswith(".") else Q(action__startswith=code)
        events = events.filter(query)
    if "object_id" in filters:
        events = events.filter(object_id=filters["object_id"])
    if "outcome" in filters:
        events = events.filter(outcome=filters["outcome"])
    if "date_from" in filters:
        events = events.filter(at__gte=_day_start(filters["date_from"]))
    if "date_to" in filters:
        events = events.filter(at__lt=_day_start(filters["date_to"] + timedelta(days=1)))
    return events


def _page(
    events: QuerySet[AuditEvent], before: int | None, after: int | None
) -> tuple[list[AuditEvent], bool, bool]:
    """One page of events, newest first, anchored on sequence numbers; and whether there are newer and
    older events beyond it."""
    if after is not None:
        rows = list(events.filter(seq__gt=after).order_by("seq")[: AUDIT_PAGE + 1])
        newer = len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE][::-1]
        older = bool(rows) and events.filter(seq__lt=rows[-1].seq).exists()
        return rows, newer, older
    page = events if before is None else events.filter(seq__lt=before)
    rows = list(page.order_by("-seq")[: AUDIT_PAGE + 1])
    older = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    newer = before is not None and events.filter(seq__gte=before).exists()
    return rows, newer, older


def _names(events: list[AuditEvent]) -> dict[str, str]:
    logins = {event.actor for event in events}
    return {
        u: (n or u)
        for u, n in Staff.objects.filter(username__in=logins).values_list("username", "first_name")
    }


def _view(event: AuditEvent, names: dict[str, str]) -> dict[str, Any]:
    body = json.loads(event.payload)
    channel = body.get("channel", "")
    actor = event.actor
    return {
        "event": event,
        "actor": names.get(actor, _("the system") if actor.startswith("system") else actor),
        "login": actor,
        "action": action_label(event.action),
        "object": object_label(event.object_type) if event.object_type else "",
        "ip": body.get("ip", ""),
        "channel": Channel(channel).label if channel in Channel.values else "",
        "detail": detail_rows(body.get("detail", {}), names),
    }


@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "audit.view", path=request.path)
    form = AuditFilterForm(request.GET or None)
    filters = form.filters()
    before, after = form.anchor()
    rows, newer, older = _page(_events(filters), before, after)
    # Reading the log is itself an act the log records.
    audit_record(
        "audit.browse", actor=caller, object_type="audit_event",
        detail={"filters": {k: str(v) for k, v in filters.items()}, "before": before, "after": after, "shown": len(rows)},
    )  # fmt: skip
    names = _names(rows)
    return render(
        request,
        "governance/audit.html",
        {
            "form": form,
            "rows": [_view(event, names) for event in rows],
            "newer": rows[0].seq if newer and rows else None,
            "older": rows[-1].seq if older and rows else None,
            "paged": before is not None or after is not None,
            "chain_status": _last_verification(),
            "crumbs": [(_("Home"), reverse("web:dashboard")), (_("Audit log"), "")],
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _last_verification() -> dict[str, Any] | None:
    event = AuditEvent.objects.filter(action="audit.verify").order_by("-seq").first()
    if event is None:
        return None
    detail = json.loads(event.payload).get("detail", {})
    return {"event": event, **detail}


@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Verify the whole store now (chain, checkpoints, history, live rows) and record the result."""
    caller = caller_of(request)
    policies.require(caller, "audit.view", path=request.path)
    report = verify_store()
    problem = report.problem
    audit_record(
        "audit.verify", actor=caller, object_type="audit_event",
        outcome=Outcome.OK if report.ok else Outcome.FAILED,
        detail={
            "ok": report.ok, "events": report.events, "revisions": report.revisions, "rows": sum(report.rows.values()),
            "checkpoints": report.checkpoints, "seconds": round(report.seconds, 2),
            "where": problem.where if problem else "", "message": problem.message if problem else "",
            "message_en": problem.message_en if problem else "",
        },
    )  # fmt: skip
    if report.ok:
        messages.success(request, _("The store is intact: every check passed."))
    else:
        messages.error(
            request, _("The store is broken at %(where)s.") % {"where": problem.where if problem else ""}
        )
    return redirect("gov:audit")


@require_GET
def audit_event(request: HttpRequest, seq: int) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "audit.view", path=request.path)
    event = AuditEvent.objects.filter(seq=seq).first()
    if event is None:
        raise Http404
    audit_record("audit.browse", actor=caller, object_type="audit_event", object_id=event.seq)
    payload = json.dumps(json.loads(event.payload), ensure_ascii=False, indent=2, sort_keys=True)
    return render(
        request,
        "governance/audit_event.html",
        {
            **_view(event, _names([event])),
            "payload": payload,
            "previous": event.seq - 1 if event.seq > 1 else None,
            "following": event.seq + 1 if AuditEvent.objects.filter(seq=event.seq + 1).exists() else None,
            "crumbs": [
                (_("Home"), reverse("web:dashboard")),
                (_("Audit log"), reverse("gov:audit")),
                (f"#{event.seq}", ""),
            ],
        },
    )
