"""The audit browser (R20): events in words — actions and objects in Chinese, staff by name, details as
labelled fields — filters that take Chinese action names, and verification of the whole store on demand."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sidms.access import policies
from sidms.audit.models import AuditEvent, Outcome
from sidms.audit.services import audit_record
from sidms.changes.models import Channel
from sidms.changes.services import require_city_level
from sidms.changes.verify import verify_store
from sidms.continuity.selectors import MAY_NOT_READ
from sidms.registry.models import Staff
from sidms.web.context import caller_of
from sidms.web.governance.audit_words import Names, action_label, actions_matching, detail_rows, object_text
from sidms.web.governance.forms import AuditFilterForm, within_days

AUDIT_PAGE = 50


def _auditor(request: HttpRequest) -> Any:
    """The caller, if an audit administrator at the city level; otherwise 403, the attempt recorded. The log
    is the whole city's: every district's reads of persons, every administrator's acts. An auditor's post
    granted to a district account read all of it (attack round 9), while the staff pages, the rules and the
    parameters keep their administrators at the city level."""
    caller = caller_of(request)
    policies.require(caller, "audit.view", path=request.path)
    require_city_level(caller, MAY_NOT_READ)
    return caller


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
        events = events.filter(action__in=actions_matching(str(filters["action"])))
    if "object_id" in filters:
        events = events.filter(object_id=filters["object_id"])
    if "outcome" in filters:
        events = events.filter(outcome=filters["outcome"])
    return within_days(events, "at", filters.get("date_from"), filters.get("date_to"))


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


def _names(events: list[AuditEvent]) -> Names:
    """Staff names for a page of events, in one query: the actors by login, and the staff members that
    sign-in events are about by id."""
    logins = {event.actor for event in events}
    about_staff = {event.object_id for event in events if event.object_type == "staff"}
    ids = {key for key in about_staff if key.isdigit()}
    logins |= about_staff - ids
    rows = Staff.objects.filter(Q(username__in=logins) | Q(pk__in=ids)).values_list(
        "pk", "username", "first_name"
    )
    return Names(
        by_login={username: name or username for _pk, username, name in rows},
        by_id={str(pk): name or username for pk, username, name in rows},
    )


def _view(event: AuditEvent, names: Names) -> dict[str, Any]:
    body = json.loads(event.payload)
    channel = body.get("channel", "")
    return {
        "event": event,
        "actor": names.actor(event.actor),
        # The login beside the name identifies the account; system acts have no account to name.
        "login": event.actor if names.by_login.get(event.actor, event.actor) != event.actor else "",
        "action": action_label(event.action),
        "object": object_text(event.object_type, event.object_id, names),
        "ip": body.get("ip", ""),
        "channel": Channel(channel).label if channel in Channel.values else "",
        "detail": detail_rows(body, names),
    }


@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    caller = _auditor(request)
    form = AuditFilterForm(request.GET or None)
    invalid = form.is_bound and not form.is_valid()
    filters = form.filters()
    before, after = form.anchor()
    # A filter that cannot be read (a date that does not exist) shows no events rather than all of them:
    # the reader would take the unfiltered log for the answer to the question they asked.
    rows, newer, older = ([], False, False) if invalid else _page(_events(filters), before, after)
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
            "invalid": invalid,
            "chain_status": _last_verification(),
            "crumbs": [(_("Home"), reverse("web:dashboard")), (_("Audit log"), "")],
        },
        status=400 if invalid else 200,
    )


def _last_verification() -> dict[str, Any] | None:
    event = AuditEvent.objects.filter(action="audit.verify").order_by("-seq").first()
    if event is None:
        return None
    detail = json.loads(event.payload).get("detail", {})
    return {"event": event, "who": _names([event]).actor(event.actor), **detail}


@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Verify the whole store now (chain, checkpoints, history, live rows) and record the result."""
    caller = _auditor(request)
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
    caller = _auditor(request)
    event = AuditEvent.objects.filter(seq=seq).first()
    if event is None:
        raise Http404
    audit_record("audit.browse", actor=caller, object_type="audit_event", object_id=event.seq)
    return render(
        request,
        "governance/audit_event.html",
        {
            **_view(event, _names([event])),
            "previous": event.seq - 1 if event.seq > 1 else None,
            "following": event.seq + 1 if AuditEvent.objects.filter(seq=event.seq + 1).exists() else None,
            "crumbs": [
                (_("Home"), reverse("web:dashboard")),
                (_("Audit log"), reverse("gov:audit")),
                (f"#{event.seq}", ""),
            ],
        },
    )


@require_GET
def audit_event_payload(request: HttpRequest, seq: int) -> HttpResponse:
    """The exact bytes the chain hashed, for those who check a hash by hand: a file to download, not a page
    to read (the event's page shows it in words)."""
    caller = _auditor(request)
    event = AuditEvent.objects.filter(seq=seq).first()
    if event is None:
        raise Http404
    audit_record(
        "audit.browse", actor=caller, object_type="audit_event", object_id=event.seq, detail={"payload": True}
    )
    response = HttpResponse(event.payload.encode("utf-8"), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-event-{event.seq}.json"'
    return response
