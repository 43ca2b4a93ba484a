"""Collection rules (R5, R9.1): every post reads them; a city-level system administrator proposes a new
version, and it takes effect only when a second one confirms it (on the review page of the proposal)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from sidms.access import policies
from sidms.changes import rules as rule_service
from sidms.changes.services import field_label, require_city_level, rules_in_force
from sidms.core.errors import ChangeRefused
from sidms.core.kernel import ENTITIES, EntitySpec
from sidms.parameters.models import CollectionRule, OnDuplicate
from sidms.registry.models import Staff
from sidms.web.context import caller_of, staff_of
from sidms.web.governance.forms import RuleForm, RulesAtForm
from sidms.web.governance.labels import registry_label, review_level_label, validator_label


def _row(spec: EntitySpec, rule: CollectionRule, names: dict[str, str]) -> dict[str, Any]:
    return {
        "rule": rule,
        "label": field_label(spec, rule.field),
        "validator": _("Assigned by the system, with a check digit")
        if rule.field == spec.declaration.key and spec.declaration.numbering is not None
        else validator_label(rule.validator),
        "review_level": review_level_label(rule.review_level),
        "crosschecks": [registry_label(name) for name in rule.crosschecks],
        "on_duplicate": OnDuplicate(rule.on_duplicate).label
        if rule.field in spec.declaration.duplicate_policy_fields
        else "",
        "author": names.get(
            rule.created_by, _("the system") if rule.created_by.startswith("system") else rule.created_by
        ),
    }


def _names(usernames: set[str]) -> dict[str, str]:
    return {
        u: (n or u)
        for u, n in Staff.objects.filter(username__in=usernames).values_list("username", "first_name")
    }


@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    policies.require(caller_of(request), "dashboard.view", path=request.path)
    form = RulesAtForm(request.GET or None)
    invalid = form.is_bound and not form.is_valid()
    at = None if invalid or not form.is_bound else form.cleaned_data["at"]
    # A moment that cannot be read shows no rules rather than today's: the reader asked about another time.
    table = [] if invalid else rule_service.rules_table(at)
    names = _names({rule.created_by for rule in table})
    groups: dict[str, dict[str, Any]] = {}
    for rule in table:
        spec = ENTITIES[rule.entity]
        group = groups.setdefault(
            rule.entity, {"entity": rule.entity, "label": spec.model._meta.verbose_name, "rows": []}
        )
        group["rows"].append(_row(spec, rule, names))
    return render(
        request,
        "governance/rules.html",
        {
            "form": form,
            "at": at,
            "groups": list(groups.values()),
            "invalid": invalid,
            "crumbs": [(_("Home"), reverse("web:dashboard")), (_("Collection rules"), "")],
        },
        status=400 if invalid else 200,
    )


@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, entity: str, field: str) -> HttpResponse:
    staff = staff_of(request)
    policies.require(caller_of(request), "dashboard.view", path=request.path)
    spec = ENTITIES.get(entity)
    if spec is None or field not in spec.fields:
        raise Http404
    may_edit = policies.has_permission(staff, "rules.edit") and staff.is_city_level
    unique = field in spec.declaration.duplicate_policy_fields
    form: RuleForm | None = None
    status = 200
    current = rules_in_force(entity).get(field)
    if request.method == "POST":
        # Refused (and recorded) before the input is read: no form errors for those who may not edit.
        policies.require(caller_of(request), "rules.edit", path=request.path)
        require_city_level(caller_of(request), rule_service.ONLY_CITY_ADMIN)
        form = RuleForm(request.POST, spec=spec, field=field, unique=unique)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                held = rule_service.rule_propose(actor=caller_of(request), entity=entity, field=field, **data)
            except ChangeRefused as refused:
                form.add_error(None, refused.localized())
            else:
                messages.success(
                    request,
                    _("The change is proposed as request CR%(id)s. It takes effect when a second city-level "
                      "administrator confirms it.") % {"id": held.pk},
                )  # fmt: skip
                return redirect("gov:rule_edit", entity=entity, field=field)
        status = 400
    if form is None and may_edit:
        form = RuleForm(initial=_initial(current), spec=spec, field=field, unique=unique)
    now = timezone.now()
    versions = list(CollectionRule.objects.filter(entity=entity, field=field).order_by("-version"))
    names = _names({rule.created_by for rule in versions})
    history = [
        {
            **_row(spec, rule, names),
            "in_force": current is not None and rule.pk == current.pk,
            "future": rule.effective_from > now,
        }
        for rule in versions
    ]
    return render(
        request,
        "governance/rule_edit.html",
        {
            "entity": entity,
            "field": field,
            "entity_label": spec.model._meta.verbose_name,
            "field_label": field_label(spec, field),
            "history": history,
            "pending": rule_service.pending_proposals(entity, field),
            "form": form,
            "may_edit": may_edit,
            "crumbs": [
                (_("Home"), reverse("web:dashboard")),
                (_("Collection rules"), reverse("gov:rules")),
                (f"{spec.model._meta.verbose_name} · {field_label(spec, field)}", ""),
            ],
        },
        status=status,
    )


def _initial(rule: CollectionRule | None) -> dict[str, Any]:
    if rule is None:
        return {}
    return {
        "required": rule.required,
        "validator": rule.validator or "text",
        "review_level": rule.review_level,
        "crosschecks": list(rule.crosschecks),
        "on_duplicate": rule.on_duplicate,
    }
