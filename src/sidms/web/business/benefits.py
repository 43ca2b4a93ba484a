"""Benefit pages (issue 8 §7) for the window and the back office.

* 待遇核定 (``/persons/<no>/benefits/new/``): the window clerk chooses the benefit, enters what its rule needs
  (for a pension the category, the average contribution index and the contribution months; for an
  unemployment benefit the first day; for a disability grant the injury date, the appraisal date, the grade and
  the own wage; for a disability allowance these and the retirement category; for its top-up after retirement
  nothing (it is computed from the recorded pension and allowance); for a maternity allowance the birth, the unit's average wage and the leave circumstances), sees
  the amount and how it was computed from the parameter table, and submits it. The submission is held for
  a second person's review like every grant (the entitlement's fields are "manual"); the page computes
  again on submission rather than trusting what it showed.
* 待遇发放核查 (``/business/benefits/``): the payments made for months after a registered death and the
  unemployment benefit paid for months in which the recipient turns out to have been insured again (both to
  recover), and the pensions suspended because their certification lapsed, in the viewer's data scope, with the
  yearly certification (待遇领取资格认证) recorded from the list. Names are masked; the view is audited.
* 更正认证日期 (``/business/benefits/<id>/certification/``, from the entitlement's page): a certification
  recorded with a wrong, later date is corrected to an earlier one with a stated reason, held for a second
  person's review.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sidms.access import policies
from sidms.audit.services import audit_record
from sidms.business import benefits
from sidms.business.ledger import month_bounds
from sidms.business.models import BenefitKind, Entitlement
from sidms.business.parameters import MissingParameter
from sidms.core.errors import SidmsError
from sidms.core.kernel import spec_for
from sidms.core.masks import mask_name
from sidms.lib.errors import StandardError
from sidms.lib.pension import RetirementCategory
from sidms.registry.models import Person
from sidms.web.context import caller_of, staff_of

_DATE = {"placeholder": "2026-01-15"}


class PensionForm(forms.Form):
    category = forms.ChoiceField(
        label=gettext_lazy("Retirement category"),
        choices=[
            (RetirementCategory.MALE.value, gettext_lazy("Male employee (originally 60)")),
            (RetirementCategory.FEMALE_55.value, gettext_lazy("Female employee, originally 55")),
            (RetirementCategory.FEMALE_50.value, gettext_lazy("Female employee, originally 50")),
        ],
    )
    index = forms.DecimalField(
        label=gettext_lazy("Average contribution index"), min_value=Decimal("0.1"), max_value=Decimal("3"),
        decimal_places=4,
    )  # fmt: skip
    months = forms.IntegerField(label=gettext_lazy("Contribution months"), min_value=0, max_value=720)
    transitional = forms.DecimalField(
        label=gettext_lazy("Transitional pension (yuan a month)"), min_value=Decimal(0), max_digits=7,
        decimal_places=2, required=False,
    )  # fmt: skip


class UnemploymentForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("First day of unemployment benefit"), widget=forms.TextInput(_DATE)
    )

    def clean_start(self) -> date:
        start: date = self.cleaned_data["start"]
        if start > timezone.localdate() + timedelta(days=366):
            raise forms.ValidationError(_("The first day cannot lie more than a year ahead."))
        return start


class DisabilityForm(forms.Form):
    # 工伤保险条例 Art. 62: the fund pays only for an injury while the work-injury insurance was paid.
    injured = forms.DateField(
        label=gettext_lazy("Date of the injury (or of the occupational disease's diagnosis)"),
        widget=forms.TextInput(_DATE),
    )
    on = forms.DateField(
        label=gettext_lazy("Date of the working-capacity appraisal"), widget=forms.TextInput(_DATE)
    )
    grade = forms.IntegerField(label=gettext_lazy("Disability grade"), min_value=1, max_value=10)
    own_wage = forms.DecimalField(
        label=gettext_lazy("Own monthly wage before the injury"), min_value=Decimal("0.01"), max_digits=9,
        decimal_places=2,
    )  # fmt: skip


class AllowanceForm(DisabilityForm):
    """伤残津贴: the appraisal, grade and own wage, and the retirement category that ends it."""

    category = PensionForm.base_fields["category"]


class TopUpForm(forms.Form):
    """伤残津贴差额 (工伤保险条例 Art. 35): nothing to enter — computed from the recorded basic pension and the
    disability allowance that ended the day before it."""


class MaternityForm(forms.Form):
    birth = forms.DateField(
        label=gettext_lazy("Date of birth (or miscarriage)"), widget=forms.TextInput(_DATE)
    )
    unit_average_wage = forms.DecimalField(
        label=gettext_lazy("Unit's average monthly wage of the previous year"), min_value=Decimal("0.01"),
        max_digits=9, decimal_places=2,
    )  # fmt: skip
    babies = forms.IntegerField(label=gettext_lazy("Babies born"), min_value=1, max_value=9, initial=1)
    difficult = forms.BooleanField(label=gettext_lazy("Difficult birth"), required=False)
    miscarriage_months = forms.IntegerField(
        label=gettext_lazy("Miscarriage: months of pregnancy"), min_value=1, max_value=10, required=False
    )


def _pension(person: Person, d: dict[str, Any]) -> dict[str, Any]:
    return benefits.pension_values(person=person, category=d["category"], index=d["index"], months=d["months"],
                                   transitional=d.get("transitional") or Decimal(0))  # fmt: skip


def _unemployment(person: Person, d: dict[str, Any]) -> dict[str, Any]:
    return benefits.unemployment_values(person=person, start=d["start"])


def _disability(person: Person, d: dict[str, Any]) -> dict[str, Any]:
    return benefits.disability_grant_values(
        person=person, on=d["on"], grade=d["grade"], own_wage=d["own_wage"], injured=d["injured"]
    )


def _allowance(person: Person, d: dict[str, Any]) -> dict[str, Any]:
    return benefits.disability_allowance_values(
        person=person,
        on=d["on"],
        grade=d["grade"],
        own_wage=d["own_wage"],
        category=d["category"],
        injured=d["injured"],
    )


def _top_up(person: Person, d: dict[str, Any]) -> dict[str, Any]:
    return benefits.injury_top_up_values(person=person)


def _maternity(person: Person, d: dict[str, Any]) -> dict[str, Any]:
    return benefits.maternity_values(
        person=person, birth=d["birth"], unit_average_wage=d["unit_average_wage"], babies=d["babies"],
        difficult=d["difficult"], miscarriage_months=d.get("miscarriage_months"),
    )  # fmt: skip


# benefit kind -> (its form, what computes its entitlement values)
KINDS: dict[str, tuple[type[forms.Form], Callable[[Person, dict[str, Any]], dict[str, Any]]]] = {
    BenefitKind.PENSION.value: (PensionForm, _pension),
    BenefitKind.UNEMPLOYMENT.value: (UnemploymentForm, _unemployment),
    BenefitKind.WORK_INJURY.value: (DisabilityForm, _disability),
    BenefitKind.INJURY_ALLOWANCE.value: (AllowanceForm, _allowance),
    BenefitKind.INJURY_TOP_UP.value: (TopUpForm, _top_up),
    BenefitKind.MATERNITY.value: (MaternityForm, _maternity),
}


def _refusal(error: Exception) -> str:
    if isinstance(error, StandardError):  # the calculation library's own refusals carry both languages
        return error.message if translation.get_language() == "zh-hans" else error.message_en
    return str(error)


@require_http_methods(["GET", "POST"])
def benefit_grant(request: HttpRequest, key: str) -> HttpResponse:
    caller = caller_of(request)
    policies.require(caller, "record.submit", path=request.path)
    person = policies.record_get(actor=caller, spec=spec_for("person"), key=key)
    kind = request.POST.get("kind") or request.GET.get("kind") or BenefitKind.PENSION.value
    if kind not in KINDS:
        raise Http404
    form_class, compute = KINDS[kind]
    form = form_class(request.POST if request.method == "POST" else None)
    preview: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            values = compute(person, form.cleaned_data)
            if request.POST.get("action") == "submit":
                outcome = benefits.submit_grant(caller, values)
                if outcome.held is not None:
                    messages.success(request, _("Submitted for review as request CR%(id)s; a second person approves it before it is paid.") % {"id": outcome.held.pk})  # fmt: skip
                else:
                    messages.success(request, _("Recorded."))
                return redirect("web:record_detail", "persons", person.person_no)
            preview = values
        except (SidmsError, StandardError) as error:
            form.add_error(None, _refusal(error))
        except MissingParameter:
            # A date before the parameter table begins (or a gap in it): the clerk's date, not a crash.
            form.add_error(None, _("The parameter table has no value in force on that day; check the date."))
    return render(
        request,
        "business/benefit_grant.html",
        {
            "person": person, "key": key, "name": mask_name(person.name), "kind": kind, "form": form,
            "kinds": [(k, BenefitKind(k).label) for k in KINDS], "kind_label": BenefitKind(kind).label,
            "preview": preview, "one_time": kind in benefits.ONE_TIME,
        },
    )  # fmt: skip


def _month(request: HttpRequest) -> str:
    text = request.GET.get("period") or ""
    try:
        month_bounds(text)
    except ValueError:
        return timezone.localdate().strftime("%Y-%m")
    return text


# The most rows each list of 待遇发放核查 shows (as ``policies.record_related`` shows related records).
SHOWN = 200


@require_GET
def benefit_checks(request: HttpRequest) -> HttpResponse:
    """Overpayments after a death or a re-employment recorded late, and pensions suspended for a lapsed
    certification, in the viewer's scope."""
    caller = caller_of(request)
    policies.require(caller, "record.view", path=request.path)
    staff = staff_of(request)
    period = _month(request)
    visible = policies.record_scope(staff, spec_for("person"))
    over = benefits.overpayments(visible)
    again = benefits.reemployed_overpayments(visible)
    suspended = benefits.suspended(period, visible)
    ids = {o.person_id for o in over} | {r.person_id for r in again} | {e.person_id for e in suspended}
    # A person whose row does not match their history is left out, with an alert (policies.withhold): the
    # scope was read from that row, and a district written in SQL listed the person here (attack round 14).
    found = list(visible.filter(pk__in=ids))
    withheld = policies.withhold(spec_for("person"), found, caller)
    people = {p.pk: p for p in found if p not in withheld}
    over = [o for o in over if o.person_id in people]
    again = [r for r in again if r.person_id in people]
    suspended = [e for e in suspended if e.person_id in people]
    # Each list shows at most SHOWN rows, and the audit event names every person shown (attack round 4: the
    # event named the first 200 of an unbounded list, so the rest were read unrecorded).
    more = len(over) > SHOWN or len(again) > SHOWN or len(suspended) > SHOWN
    total = sum((o.amount for o in over), Decimal(0))
    total_again = sum((r.amount for r in again), Decimal(0))
    over, again, suspended = over[:SHOWN], again[:SHOWN], suspended[:SHOWN]
    # Each person by their number, as the subject index reads it (audit.subjects.named: ``shown``, of the
    # event's object type), so that the person's access record lists this view (B1); each list by the same.
    number = spec_for("person").label
    overpaid, reemployed, lapsed = (
        sorted({number(people[row.person_id]) for row in rows}) for rows in (over, again, suspended)
    )
    audit_record("read.benefit_checks", actor=caller, object_type="person",
                 detail={"period": period, "shown": sorted({*overpaid, *reemployed, *lapsed}),
                         "overpaid": overpaid, "reemployed": reemployed, "suspended": lapsed})  # fmt: skip
    labels = {p.pk: (p.person_no, mask_name(p.name)) for p in people.values()}
    return render(
        request,
        "business/benefit_checks.html",
        {
            "period": period, "labels": labels,
            "over": [(labels[o.person_id], o) for o in over],
            "total": total, "more": more, "shown": SHOWN,
            "again": [(labels[r.person_id], r) for r in again], "total_again": total_again,
            "suspended": [(labels[e.person_id], e) for e in suspended],
            "can_certify": policies.has_permission(staff, "record.submit"),
            "today": timezone.localdate(),
        },
    )  # fmt: skip


class CorrectionForm(forms.Form):
    on = forms.DateField(label=gettext_lazy("Correct certification date"), widget=forms.TextInput(_DATE))
    reason = forms.CharField(
        label=gettext_lazy("Reason for the correction"), max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def benefit_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a certification recorded with a wrong, later date: an earlier date with its reason, held for
    a second person's review (a plain certification may only move later)."""
    caller = caller_of(request)
    policies.require(caller, "record.submit", path=request.path)
    entitlement = policies.record_get(actor=caller, spec=spec_for("entitlement"), key=str(pk))
    form = CorrectionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = benefits.correct_certification(
                actor=caller, entitlement=entitlement, on=form.cleaned_data["on"],
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except SidmsError as error:
            form.add_error(None, str(error))
        else:
            if outcome.held is not None:
                messages.success(request, _("The correction waits for review as request CR%(id)s; the recorded date stays until a second person approves it.") % {"id": outcome.held.pk})  # fmt: skip
            return redirect("web:record_detail", "entitlements", entitlement.pk)
    person = entitlement.person
    return render(
        request,
        "business/benefit_correct.html",
        {"entitlement": entitlement, "form": form, "name": mask_name(person.name), "person_no": person.person_no,
         "kind_label": BenefitKind(entitlement.kind).label},
    )  # fmt: skip


@require_POST
def benefit_certify(request: HttpRequest) -> HttpResponse:
    """Record a recipient's yearly certification (today, or the date given) through the pipeline."""
    caller = caller_of(request)
    policies.require(caller, "record.submit", path=request.path)
    try:
        entitlement_id = int(request.POST.get("entitlement", ""))
        on = date.fromisoformat(request.POST["on"]) if request.POST.get("on") else None
    except (ValueError, KeyError):
        raise Http404 from None
    staff = staff_of(request)
    visible = policies.scoped(staff, Entitlement.objects.filter(pk=entitlement_id), "person__district_id")
    entitlement = visible.first()
    if entitlement is None:
        raise PermissionDenied
    try:
        benefits.certify(actor=caller, entitlement=entitlement, on=on)
        messages.success(request, _("The certification is recorded."))
    except SidmsError as error:
        messages.error(request, str(error))
    return redirect(reverse("web:benefit_checks") + f"?period={_month(request)}")
