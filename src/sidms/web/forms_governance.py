"""Input schemas of the governance pages, and the human labels of rule data.

Forms only parse and shape input; what is allowed (scope, separation of duties, rule consistency) is
decided by the services in sidms.changes, whose refusals the views show on these forms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.audit.models import Outcome
from sidms.changes.entities import EntitySpec, spec_for
from sidms.changes.validators import VALIDATORS
from sidms.crosscheck import REGISTRY_NAMES
from sidms.parameters.codes import code_choices
from sidms.parameters.models import CodeTable, ReviewLevel
from sidms.registry.models import RecordStatus, Staff

# --------------------------------------------------------------------------------------------------------
# Labels for rule data (names in the rules are codes; people read these)

VALIDATOR_LABELS: dict[str, Any] = {
    "text": _("Text (no format check)"),
    "idcard": _("Citizen ID number (GB 11643)"),
    "uscc": _("Unified social credit code (GB 32100)"),
    "phone": _("Phone number"),
    "email": _("E-mail address"),
    "person_name": _("Person's name"),
    "postcode": _("Postcode (6 digits)"),
    "bank_account": _("Bank card number (with check digit)"),
    "date": _("Date (YYYY-MM-DD)"),
    "district": _("District of the city"),
    "region": _("Administrative division code (GB/T 2260)"),
    "sex": _("Sex code (GB/T 2261.1)"),
    "risk_class": _("Industry risk class (1–8)"),
    "status": _("Record status"),
    "agency_level": _("Agency level"),
}

REVIEW_LEVEL_LABELS: dict[str, Any] = {
    ReviewLevel.NONE: _("No review"),
    ReviewLevel.SYSTEM: _("System validation"),
    ReviewLevel.MANUAL: _("Manual review"),
}

REGISTRY_LABELS: dict[str, Any] = {
    "market_regulation": _("Market regulation"),
    "public_security": _("Public security"),
    "civil_affairs": _("Civil affairs"),
    "tax": _("Tax"),
}


def validator_label(name: str) -> str:
    if name.startswith("code:"):
        table = name.removeprefix("code:")
        label = CodeTable(table).label if table in CodeTable.values else table
        return str(_("Code table: %(table)s") % {"table": label})
    return str(VALIDATOR_LABELS.get(name or "text", name))


def review_level_label(level: str) -> str:
    return str(REVIEW_LEVEL_LABELS.get(level, level))


def registry_label(name: str) -> str:
    return str(REGISTRY_LABELS.get(name, name))


def field_label(spec: EntitySpec, name: str) -> str:
    """The people's name of a governed field: its verbose_name."""
    if name not in spec.fields:
        return name
    field = spec.field(name)
    # A foreign key declared without a verbose_name (Employment.person, .unit) gets its bare attribute name,
    # a plain str rather than a translatable one; the model it points to has the better name.
    if field.is_relation and field.related_model is not None and isinstance(field.verbose_name, str):
        return str(field.related_model._meta.verbose_name)
    return str(field.verbose_name)


def _validator_choices() -> list[tuple[str, str]]:
    names = [name for name in VALIDATORS if name]
    names += [f"code:{table}" for table in CodeTable.values]
    return [(name, validator_label(name)) for name in names]


def _registry_choices() -> list[tuple[str, str]]:
    return [(name, registry_label(name)) for name in REGISTRY_NAMES]


# --------------------------------------------------------------------------------------------------------
# Batch applications (R9.3)

BATCH_ENTITIES = ("person", "unit")
# What a batch may select by and change: a few coded or free-text fields, never identity fields (ID
# number, credit code, names) and never encrypted ones.
BATCH_FILTERS = {"person": ("category", "status"), "unit": ("unit_type", "status")}
BATCH_CHANGES = {
    "person": ("category", "status", "address", "postcode"),
    "unit": ("unit_type", "status", "address", "postcode", "contact_person"),
}


def coded_choices(name: str) -> list[tuple[str, str]] | None:
    """The choices of a coded field that batches select by or change; None for free text."""
    if name == "category":
        return code_choices(CodeTable.PERSON_CATEGORY)
    if name == "unit_type":
        return code_choices(CodeTable.UNIT_TYPE)
    if name == "status":
        return [(value, str(label)) for value, label in RecordStatus.choices]
    return None


class BatchUpdateForm(forms.Form):
    """A selection (district within the applicant's scope plus a few coded filters) and the new values.

    A blank new value means "leave unchanged". The reason is checked by the service, so that a preview of
    the matching rows can be asked for before it is written.
    """

    def __init__(
        self, *args: Any, entity: str, staff: Staff, districts: list[tuple[str, str]], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.entity = entity
        spec = spec_for(entity)
        if staff.is_city_level:
            self.fields["district"] = forms.ChoiceField(
                label=_("District"), choices=[("", _("Whole city")), *districts], required=False
            )
        else:
            own = [(code, name) for code, name in districts if code == staff.district_id]
            self.fields["district"] = forms.ChoiceField(
                label=_("District"), choices=own, initial=staff.district_id
            )
        for name in BATCH_FILTERS[entity]:
            self.fields[f"where_{name}"] = forms.ChoiceField(
                label=field_label(spec, name), choices=[("", _("Any")), *(coded_choices(name) or [])],
                required=False,
            )  # fmt: skip
        for name in BATCH_CHANGES[entity]:
            model_field = spec.field(name)
            choices = coded_choices(name)
            if choices is not None:
                self.fields[f"new_{name}"] = forms.ChoiceField(
                    label=field_label(spec, name), choices=[("", _("Unchanged")), *choices], required=False
                )
            else:
                self.fields[f"new_{name}"] = forms.CharField(
                    label=field_label(spec, name), required=False, max_length=model_field.max_length,
                    widget=forms.TextInput(attrs={"placeholder": _("Unchanged")}),
                )  # fmt: skip
        self.fields["reason"] = forms.CharField(
            label=_("Reason for the batch change"), required=False, max_length=500,
            widget=forms.Textarea(attrs={"rows": 3}),
        )  # fmt: skip

    @property
    def selection_fields(self) -> list[forms.BoundField]:
        return [self["district"], *(self[f"where_{name}"] for name in BATCH_FILTERS[self.entity])]

    @property
    def change_fields(self) -> list[forms.BoundField]:
        return [self[f"new_{name}"] for name in BATCH_CHANGES[self.entity]]

    def selection(self) -> dict[str, str]:
        data = self.cleaned_data
        chosen = {"district_id": data["district"]} if data.get("district") else {}
        chosen.update(
            {name: data[f"where_{name}"] for name in BATCH_FILTERS[self.entity] if data[f"where_{name}"]}
        )
        return chosen

    def change(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            name: data[f"new_{name}"] for name in BATCH_CHANGES[self.entity] if data[f"new_{name}"].strip()
        }


WINDOW_CHOICES = [
    (1, _("1 hour")),
    (4, _("4 hours")),
    (8, _("8 hours")),
    (24, _("24 hours")),
    (72, _("3 days")),
    (168, _("7 days")),
]


class BatchDecisionForm(forms.Form):
    """The city-level approver's decision; the pressed button names it."""

    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("refuse", _("Refuse"))])
    window_hours = forms.TypedChoiceField(
        label=_("Execution window"),
        choices=WINDOW_CHOICES,
        coerce=int,
        initial=24,
        required=False,
    )
    reason = forms.CharField(
        label=_("Reason (required when refusing)"), required=False, max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip

    @property
    def approve(self) -> bool:
        return bool(self.cleaned_data["decision"] == "approve")

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.cleaned_data["window_hours"] or 24)


# --------------------------------------------------------------------------------------------------------
# Collection rules (R5, R9.1)

_DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class RulesAtForm(forms.Form):
    at = forms.DateTimeField(
        label=_("Rules in force at"), required=False, input_formats=_DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip


class RuleForm(forms.Form):
    required = forms.BooleanField(label=_("Required"), required=False)
    validator = forms.ChoiceField(label=_("Format check"), choices=_validator_choices)
    review_level = forms.ChoiceField(
        label=_("Review level"), choices=[(level, review_level_label(level)) for level in ReviewLevel.values]
    )
    crosschecks = forms.MultipleChoiceField(
        label=_("External cross-checks"), choices=_registry_choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    effective_from = forms.DateTimeField(
        label=_("Effective from"), required=False, input_formats=_DATETIME_FORMATS,
        help_text=_("Leave blank, or keep the current minute, for the rule to take effect at once."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_effective_from(self) -> Any:
        value = self.cleaned_data.get("effective_from")
        # The widget has minute precision: the minute shown as "now" is already past by some seconds.
        if value is not None and timedelta(0) <= timezone.now() - value < timedelta(minutes=1):
            return None
        return value


# --------------------------------------------------------------------------------------------------------
# Audit browser (R20)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    action = forms.CharField(label=_("Action begins with"), required=False, max_length=64)
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=64)
    object_id = forms.CharField(label=_("Object"), required=False, max_length=64)
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("", _("Any")), *Outcome.choices], required=False
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    # Keyset paging: the log grows while it is read (reading it adds an event), so pages are anchored on
    # sequence numbers rather than offsets.
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    FILTERS = ("actor", "action", "object_type", "object_id", "outcome", "date_from", "date_to")

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {name: data[name] for name in self.FILTERS if data.get(name) not in (None, "")}

    def anchor(self) -> tuple[int | None, int | None]:
        if not self.is_valid():
            return None, None
        return self.cleaned_data.get("before"), self.cleaned_data.get("after")
