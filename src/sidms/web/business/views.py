"""Business pages of issue 8: a person's rights record (through the read door, each view audited), the
issued PDF statement, and the public verification page of a printed statement's number."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from html import escape as html_escape
from typing import Any, NamedTuple
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.utils import formats, timezone, translation
from django.utils.html import escape
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sidms.access import policies
from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.business import accounts, ledger, rights, transfers
from sidms.business import parameters as params
from sidms.business.models import AssessmentRun, ParameterKind, RunKind
from sidms.core.caller import caller_from_request
from sidms.core.errors import ChangeRefused, SidmsError
from sidms.core.kernel import spec_for
from sidms.security import limits
from sidms.web.business.presenters import value_text
from sidms.web.context import caller_of, staff_of
from sidms.web.display import money


def _cut_off(request: HttpRequest) -> date | None:
    text = request.GET.get("cut_off") or request.POST.get("cut_off") or ""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@require_GET
def rights_page(request: HttpRequest, key: str) -> HttpResponse:
    try:
        data = rights.rights_record_for(actor=caller_of(request), person_key=key, cut_off=_cut_off(request))
    except ChangeRefused as refused:
        # A cut-off after today (or before 1951): the page for today, with the reason. Only then: a refusal
        # on the page without a cut-off redirected to itself for ever (a staff member without the post to
        # view records met ERR_TOO_MANY_REDIRECTS); NotPermitted is a 403, as on every page.
        if "cut_off" not in request.GET:
            raise
        messages.error(request, refused.localized())
        return redirect("web:rights", key)
    return render(request, "business/rights.html", {
        "statement_url": _statement_url(request, key), "record": _record_html(data),
        "delegated_query": _delegated_query(request) or "",
    })  # fmt: skip


# The statement's URL around its key, per script prefix and URLconf: reverse() matched and quoted the whole
# URL anew on every page (~1 % of the page's time) for the one part that changes.
_STATEMENT_URL: dict[tuple[str, Any], tuple[str, str]] = {}
_MARK = "KEY"  # letters only: quoted and matched as themselves


def _statement_url(request: HttpRequest, key: str) -> str:
    """``reverse("web:statement_pdf", args=[key])``: the URL reversed once with a stand-in for the key, the key
    quoted as reverse() quotes it. A key the route could not have given (with a "/") goes to reverse()."""
    urlconf = getattr(request, "urlconf", None)
    if "/" in key:
        return reverse("web:statement_pdf", args=[key], urlconf=urlconf)
    around = _STATEMENT_URL.get((get_script_prefix(), urlconf))
    if around is None:
        before, _mark, after = reverse("web:statement_pdf", args=[_MARK], urlconf=urlconf).rpartition(_MARK)
        around = (before, after)
        if len(_STATEMENT_URL) < 16:  # one per prefix and URLconf in use; never unbounded
            _STATEMENT_URL[get_script_prefix(), urlconf] = around
    return quote(key, safe=RFC3986_SUBDELIMS + "/~:@").join(around)


class _Texts(NamedTuple):
    """The rights page's fixed texts in one language, translated and escaped (as ``{% translate %}`` gives
    them): the table heads and headings around the record's values."""

    enrolment: str
    grid_head: str
    none_enrolled: str
    none_paid: str
    account: str


_TEXTS: dict[str | None, _Texts] = {}


def _texts() -> _Texts:
    language = translation.get_language()
    texts = _TEXTS.get(language)
    if texts is None:
        # Each message a literal of its own (not in an f-string): makemessages finds them only so.
        heads = (_("Insurance"), _("enrolled on"), _("Status"), _("Months paid"))
        enrolment = "".join(f"<th>{escape(text)}</th>" for text in heads)
        months = "".join(f"<th>{month}</th>" for month in range(1, 13))
        none = escape(_("None."))
        account = (
            (_("Balance at the end of last year"), "balance_prior"), (_("Principal this year"), "principal"),
            (_("Interest this year"), "interest"), (_("Balance"), "balance"),
        )  # fmt: skip
        enrolment_heading, account_heading = escape(_("Enrolment")), escape(_("Personal account"))
        texts = _Texts(
            enrolment=f"<h2>{enrolment_heading}</h2>\n<table><thead><tr>{enrolment}</tr></thead>\n",
            grid_head=f"<th>{escape(heads[0])}</th>{months}",
            none_enrolled=f'<tr><td colspan="4" class="muted">{none}</td></tr>',
            none_paid=f'<tr><td colspan="13" class="muted">{none}</td></tr>',
            account=f"<h2>{account_heading}</h2>\n<table><tbody>"
            + "\n".join(f"<tr><th>{escape(text)}</th><td>{{{name}}}</td></tr>" for text, name in account)
            + "</tbody></table>",
        )
        if len(_TEXTS) < 16:  # one per language in use; never unbounded
            _TEXTS[language] = texts
    return texts


def _esc(value: Any) -> str:
    """django.utils.html.escape's text (html.escape of str), without its lazy-string wrapper: ~100 values a
    page."""
    return html_escape(str(value))


def _record_html(data: Any) -> SafeString:
    """The record as HTML: the person's heading, the enrolments, the contribution grid and the personal
    account. Built here rather than by the template: the engine resolved, filtered and localised each value
    (and, before, ~400 variables of the grid's nested loops, half the page's time: bench/business.py
    --profile); this is the HTML the template gave, byte for byte (tests/business/test_rights_page_pinned.py).
    Every value is escaped; the fixed texts are translated as ``{% translate %}`` did, once per language.
    A grid cell is a month's base (as money, ¥6,123.45) and its mark; each distinct cell is built once per
    page (a year's months mostly share one base)."""
    texts = _texts()
    identity = data.identity
    title, unit = _("Rights record"), _("Unit")  # literals outside the f-string, for makemessages
    out = [
        f'<h1>{_esc(title)} · {_esc(identity.name)}</h1>\n<p class="muted">'
        f"{_esc(identity.id_type)} {_esc(identity.id_number)} · {_esc(unit)} "
        f"{_esc(identity.unit_name or '—')}</p>\n",
        texts.enrolment,
        "<tbody>",
    ]
    for s in data.summaries:
        since = "" if s.enrolled_since is None else s.enrolled_since.isoformat()
        out.append(f"<tr><td>{_esc(s.insurance.value)}</td><td>{since}</td><td>{_esc(s.status)}</td>"
                   f"<td>{_esc(formats.localize(s.months_total))}</td></tr>")  # fmt: skip
    if not data.summaries:
        out.append(texts.none_enrolled)
    out.append("</tbody></table>\n")
    cells: dict[tuple[Any, str], str] = {}
    for y in data.years:
        out.append(f"<h2>{_esc(formats.localize(y.year))}</h2>\n<table><thead><tr>{texts.grid_head}</tr>"
                   "</thead>\n<tbody>")  # fmt: skip
        for row in y.insurances:
            out.append(f"<tr><td>{_esc(row.insurance.value)}</td>")
            for c in row.months:
                html = cells.get((c.base, c.mark))
                if html is None:
                    shown = "" if c.base is None else money(c.base)
                    html = cells[c.base, c.mark] = f'<td title="{_esc(shown)}">{_esc(c.mark.value)}</td>'
                out.append(html)
            out.append("</tr>")
        if not y.insurances:
            out.append(texts.none_paid)
        out.append("</tbody></table>")
    out.append("\n")
    account = data.account
    if account:
        out.append(texts.account.format(**{name: _esc(money(getattr(account, name))) for name in
                                           ("balance_prior", "principal", "interest", "balance")}))  # fmt: skip
    return mark_safe("".join(out))  # noqa: S308  (every value above escaped)


def _delegated_query(request: HttpRequest) -> int | None:
    """The delegated query (委托查询登记号) a statement is printed under, or None when the person asks
    themself; anything but a plain number names no registration (and is refused as such)."""
    text = (request.POST.get("delegated_query") or request.GET.get("delegated_query") or "").strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else 0


@require_POST
def statement_pdf(request: HttpRequest, key: str) -> HttpResponse:
    try:
        issued = rights.issue_statement(actor=caller_of(request), person_key=key, cut_off=_cut_off(request),
                                        delegated_query=_delegated_query(request))  # fmt: skip
    except ChangeRefused as refused:
        messages.error(request, str(refused))
        return redirect(reverse("web:rights", args=[key]))
    response = HttpResponse(issued.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="statement-{issued.row.statement_id}.pdf"'
    return response


@require_GET
def verify_statement(request: HttpRequest) -> HttpResponse:
    """Public: no sign-in. Shows only the masked name, the cut-off and the issuing agency. Lookups are
    limited per client address and in all (settings SIDMS_VERIFY_*), so that verification numbers cannot
    be enumerated; a refusal is HTTP 429, and the first one of each window is a security audit event."""
    text = request.GET.get("number", "")
    if text:
        refused = _verify_refused(request)
        if refused:
            response = render(request, "business/verify.html", {"verdict": None, "number": "", "refused": True},
                              status=429)  # fmt: skip
            response["Retry-After"] = str(settings.SIDMS_VERIFY_WINDOW_SECONDS)
            return response
    verdict = rights.verify_number(text) if text else None
    return render(request, "business/verify.html", {"verdict": verdict, "number": text})


def _verify_refused(request: HttpRequest) -> bool:
    window = settings.SIDMS_VERIFY_WINDOW_SECONDS
    address = str(request.META.get("REMOTE_ADDR", ""))
    # Both counters in one transaction, committed without waiting for the disk (limits.counting); the
    # global one counts only requests their address may make, so one address cannot use everyone's up.
    tripped: tuple[str, int] | None = None
    with limits.counting():
        for scope, bucket, ceiling in (
            ("address", limits.address_bucket("verify", address), settings.SIDMS_VERIFY_PER_ADDRESS),
            ("global", "verify:all", settings.SIDMS_VERIFY_GLOBAL),
        ):
            count = limits.hit(bucket, window)
            if count > ceiling:
                tripped = (scope, ceiling) if count == ceiling + 1 else ("", ceiling)
                if tripped[0] == "address":
                    # Each address trips once per window; many addresses (a botnet) must not write one
                    # event each: no more trips are recorded than the global ceiling lets addresses in.
                    cap = settings.SIDMS_VERIFY_GLOBAL // max(settings.SIDMS_VERIFY_PER_ADDRESS, 1) + 1
                    if limits.hit("verify:trips", window) > cap:
                        tripped = ("", ceiling)
                break
    if tripped is None:
        return False
    scope, ceiling = tripped
    if scope:  # once per window and bucket: a flood must not flood the audit chain
        audit_record("security.rate_limited", actor=caller_from_request(request, actor="public"),
                     object_type="page", object_id="verify_statement", outcome=Outcome.DENIED,
                     detail={"scope": scope, "limit": ceiling, "window_seconds": window})  # fmt: skip
    return True


# --------------------------------------------------------------------------------------------------------
# Staff pages: ledger runs, arrears, parameters


def _require(request: HttpRequest, *permissions: str) -> None:
    staff = staff_of(request)
    if not any(policies.has_permission(staff, p) for p in permissions):
        raise PermissionDenied


@require_http_methods(["GET", "POST"])
def runs(request: HttpRequest) -> HttpResponse:
    """Ledger runs: apply (window or information centre), approve (an approver), execute once."""
    _require(request, "batch.apply", "batch.approve", "batch.execute")
    caller = caller_of(request)
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "apply":
                ledger.run_apply(actor=caller, kind=request.POST.get("kind", ""), period=request.POST.get("period", ""),
                                 reason=request.POST.get("reason", ""))  # fmt: skip
            elif action == "transfer":
                _apply_transfer(request, caller)
            elif action in ("approve", "reject"):
                ledger.run_decide(actor=caller, run_id=int(request.POST["run"]), approve=action == "approve")
            elif action == "execute":
                ledger.run_execute(actor=caller, run_id=int(request.POST["run"]))
            messages.success(request, _("Done."))
        except (SidmsError, ValueError, KeyError) as error:
            messages.error(request, str(error))
        return redirect("web:business_runs")
    # Fifty a page (the list was cut at 200: after three years of monthly runs the oldest could not be
    # reached), the run applied for last first. Not by period: a period is the month a run concerns, not when
    # it was made. As text a year-end interest run's "2025" sorted below "2025-01", after all of its year's
    # months, and a correction or a transfer names a month years back, so the run a clerk had just applied
    # for (or that waited for the approver) landed pages down among old runs.
    page = Paginator(
        AssessmentRun.objects.select_related("applied_by", "decided_by", "executed_by").order_by(
            "-applied_at", "-pk"
        ),
        50,
    ).get_page(request.GET.get("page"))
    # A transfer names its person and months: applied for by its own form below, not the period form.
    kinds = [(v, label) for v, label in RunKind.choices if v != RunKind.TRANSFER_IN]
    for run in page.object_list:
        run.summary = _summary(run)  # type: ignore[attr-defined]
    return render(request, "business/runs.html", {"runs": page.object_list, "page": page, "kinds": kinds})


def _summary(run: AssessmentRun) -> str:
    """What a run would write, for its approver (R9.3): the page showed only its kind and period, and a
    correction to any base or an extract of any total read the same (attack round 8). Ids and sums only, no
    names: the list shows every district's runs."""
    params: dict[str, Any] = run.params if isinstance(run.params, dict) else {}
    listed = params.get("rows")
    rows: list[Any] = listed if isinstance(listed, list) else []

    def total(key: str) -> str:
        try:
            return money(
                sum((Decimal(str(r.get(key) or 0)) for r in rows if isinstance(r, dict)), Decimal(0))
            )
        except ArithmeticError:
            return "?"

    if run.kind == RunKind.CORRECTION:
        return _("Entry #%(entry)s to the base %(base)s") % {
            "entry": params.get("entry", "?"), "base": money(params.get("base", "?")),
        }  # fmt: skip
    if run.kind == RunKind.PAYMENT:
        return _("%(rows)s rows, %(total)s in all") % {"rows": len(rows), "total": total("amount")}
    if run.kind == RunKind.TRANSFER_IN:
        months: int = sum(len(r.get("months") or []) for r in rows if isinstance(r, dict))
        return _("%(persons)s persons, %(months)s months, account balance %(total)s") % {
            "persons": len(rows), "months": months, "total": total("balance"),
        }  # fmt: skip
    return ""


def _apply_transfer(request: HttpRequest, caller: Any) -> None:
    """Apply for the transfer-in of one person's pension from another region (养老保险关系转移接续,
    sidms.business.transfers), as the window types it: the person's number (read through the read door: a
    person outside the clerk's data scope does not exist for him), the transferring region, the day it
    arrived, the account balance and the months with their bases."""
    post = request.POST
    try:
        person = policies.record_get(
            actor=caller, spec=spec_for("person"), key=post.get("person", "").strip()
        )
    except Http404:
        raise ChangeRefused(_("There is no such person."), code="transfer_person") from None
    received = post.get("received_on", "").strip()
    row = {
        "person_id": person.pk, "insurance": post.get("insurance", "110").strip(), "region": post.get("region", ""),
        "received_on": received, "balance": post.get("balance", "").strip(),
        "months": transfers.parse_months(post.get("months", "")),
    }  # fmt: skip
    ledger.run_apply(actor=caller, kind=RunKind.TRANSFER_IN, period=received[:7], params={"rows": [row]},
                     reason=post.get("reason", ""))  # fmt: skip


@require_GET
def arrears_page(request: HttpRequest) -> HttpResponse:
    """Arrears per unit in the viewer's data scope, with the late fee to the date asked."""
    _require(request, "record.view")
    staff = staff_of(request)
    day = _cut_off(request) or timezone.localdate()
    owing = accounts.arrears(day, actor=caller_of(request))
    # The units in scope, less those whose row does not match its history (each with an alert): the scope was
    # read from that row, and a unit's district written in SQL listed it, name and arrears, to the district it
    # named (attack round 14).
    units = list(policies.record_scope(staff, spec_for("unit")).filter(pk__in={a.unit_id for a in owing}))
    withheld = policies.withhold(spec_for("unit"), units, caller_of(request))
    names = {unit.pk: unit.name for unit in units if unit not in withheld}
    rows = [a for a in owing if a.unit_id in names]
    # Every unit shown, by its number, as the subject index reads it (audit.subjects.named: ``shown``): the
    # event named the first 200 by row id, which no unit's record could find.
    number = {unit.pk: spec_for("unit").label(unit) for unit in units}
    audit_record("read.arrears", actor=caller_of(request), object_type="unit",
                 detail={"as_of": day.isoformat(), "shown": [number[a.unit_id] for a in rows]})  # fmt: skip
    return render(request, "business/arrears.html", {"rows": rows, "names": names, "day": day})


@require_GET
def parameters_page(request: HttpRequest) -> HttpResponse:
    """Every parameter as of a day, uncertain values marked 示例值（待核对）."""
    _require(request, "rules.edit")
    day = _cut_off(request) or timezone.localdate()
    table = [
        {
            "d": d,
            "v": v,
            "example": v is not None and params.is_example(v),
            "value": value_text(d, v.value) if v is not None else "",
            "kind": ParameterKind(d.kind).label,
        }
        for d, v in params.parameter_table(day)
    ]
    return render(
        request, "business/parameters.html", {"table": table, "day": day, "mark": params.EXAMPLE_MARK}
    )


@require_http_methods(["GET", "POST"])
def parameter_detail(request: HttpRequest, key: str) -> HttpResponse:
    """One parameter's history, and a proposal of a new version (confirmed by a second administrator)."""
    _require(request, "rules.edit")
    definition = params.DEFINITIONS.get(key)
    if definition is None:
        raise Http404
    if request.method == "POST":
        try:
            value = json.loads(request.POST.get("value", ""))
            held = params.parameter_propose(
                actor=caller_of(request), key=key, value=value, region=request.POST.get("region", ""),
                effective_from=date.fromisoformat(request.POST.get("effective_from", "")),
                source=request.POST.get("source", ""), reason=request.POST.get("reason", ""),
                status=request.POST.get("status", "V"), checked=bool(request.POST.get("checked")),
            )  # fmt: skip
            messages.success(request, _("Proposed; a second city-level administrator confirms it."))
            return redirect("web:review_detail", held.pk)
        except RecursionError:  # json.loads of brackets nested past the parser's depth (attack round 8)
            messages.error(request, _("The value does not fit the parameter %(key)s.") % {"key": key})
        except (SidmsError, ValueError) as error:
            messages.error(request, str(error))
    versions = [{"v": v, "example": params.is_example(v), "value": value_text(definition, v.value)}
                for v in params.history(key)]  # fmt: skip
    return render(request, "business/parameter.html",
                  {"d": definition, "versions": versions, "mark": params.EXAMPLE_MARK})  # fmt: skip
