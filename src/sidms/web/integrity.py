"""A page that meets a damaged record (an encrypted value that does not decrypt as the record's: copied from
another row, or the key file is the wrong one) says so instead of failing, and the meeting is an
`integrity.alert` audit event (R20): a list shows the damaged value as such and the rest of the list; a page
that cannot be built without it answers 409 naming the record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from sidms.audit.services import audit_record
from sidms.changes.integrity import alert_event
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import spec_of_model


def report_damaged(alert: IntegrityAlert, actor: Any) -> None:
    """Write the alert's audit event once (a page may meet the same damaged value several times)."""
    damaged = alert.damaged
    if damaged is None or getattr(alert, "reported", False):
        return
    alert.reported = True  # type: ignore[attr-defined]
    model = apps.get_model(damaged["model"])
    spec = spec_of_model(model)
    object_type, object_id = damaged["model"], str(damaged["pk"])
    if spec is not None:
        object_type = spec.name
        if spec.label_field != "pk":
            key = model._default_manager.filter(pk=damaged["pk"]).values_list(spec.label_field, flat=True)
            object_id = str(key.first() or damaged["pk"])
    audit_record(**alert_event(object_type, object_id, {
        "reason": "ciphertext", "field": damaged["field"], "record_id": damaged["pk"],
    }, actor=actor))  # fmt: skip


def damaged_mark() -> SafeString:
    return format_html(
        '<span class="error">{}</span>', _("Damaged: not shown (an integrity alert was raised)")
    )


class IntegrityAlertMiddleware:
    """An integrity alert that reaches no view's own handling: recorded, and answered with a page naming the
    record (409 Conflict: the stored data conflicts with its history), never a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, IntegrityAlert):
            return None
        user = getattr(request, "user", None)
        if exception.damaged is not None:
            report_damaged(exception, user)
        context = {"message": str(exception), "next_path": "/"}
        return render(request, "integrity_alert.html", context, status=409)
