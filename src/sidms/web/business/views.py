"""Business pages of issue 8: a person's rights record (through the read door, each view audited), the
issued PDF statement, and the public verification page of a printed statement's number."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from sidms.business import rights
from sidms.web.context import caller_of


def _cut_off(request: HttpRequest) -> date | None:
    text = request.GET.get("cut_off") or request.POST.get("cut_off") or ""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@require_GET
def rights_page(request: HttpRequest, key: str) -> HttpResponse:
    data = rights.rights_record_for(actor=caller_of(request), person_key=key, cut_off=_cut_off(request))
    return render(request, "business/rights.html", {"data": data, "key": key})


@require_POST
def statement_pdf(request: HttpRequest, key: str) -> HttpResponse:
    issued = rights.issue_statement(actor=caller_of(request), person_key=key, cut_off=_cut_off(request))
    response = HttpResponse(issued.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="statement-{issued.row.statement_id}.pdf"'
    return response


@require_GET
def verify_statement(request: HttpRequest) -> HttpResponse:
    """Public: no sign-in. Shows only the masked name, the cut-off and the issuing agency."""
    text = request.GET.get("number", "")
    verdict = rights.verify_number(text) if text else None
    return render(request, "business/verify.html", {"verdict": verdict, "number": text})
