"""Input schemas of the change-pipeline pages: they shape what a clerk types into the values the pipeline
takes, and offer the choices of the code tables. No collection rule lives here: whether a field is
required, its format and its review level come from the rules in force (R5), which the pipeline applies
when the form is submitted. The form only reads the rules to show them (a required mark, a review hint).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import mask_account, mask_email, mask_phone
from sidms.changes.errors import ChangeRefused
from sidms.parameters.codes import code_choices
from sidms.parameters.models import CodeTable, CollectionRule, Region, ReviewLevel
from sidms.registry.models import RecordStatus, Sex, Staff

# Fields held encrypted in the database. They are edited as plain text, so the views that take them are
# marked with sensitive_post_parameters: an error report never carries them.
SECRET_FIELDS = ("id_number", "phone", "bank_account", "email")

# A person's contact and bank details are not shown again on the edit page (the detail page masks them
# too); the field starts empty with the masked value as a hint, and an empty field keeps what is stored.
KEPT_WHEN_EMPTY = {"phone": mask_phone, "bank_account": mask_account, "email": mask_email}

_BLANK = [("", _("— choose —"))]


def _text(label: Any, **attrs: Any) -> forms.CharField:
    return forms.CharField(label=label, required=False, widget=forms.TextInput(attrs=attrs))


def _select(label: Any) -> forms.ChoiceField:
    # Choices are filled per request in __init__: code tables are data, read when the form is built.
    return forms.ChoiceField(label=label, required=False, choices=[])


def district_choices(staff: Staff) -> list[tuple[str, str]]:
    """The districts a staff member may put a record in: their own, or every district at city level."""
    districts = Region.objects.filter(is_district=True).order_by("code")
    if not staff.is_city_level:
        districts = districts.filter(code=staff.district_id)
    return [(code, f"{code} {name}") for code, name in districts.values_list("code", "name")]


class RecordForm(forms.Form):
    """The governed fields of one entity, as a clerk fills them in at the window."""

    entity: ClassVar[str]
    number_field: ClassVar[str]  # the record's natural key: typed when creating, fixed afterwards

    # Optimistic concurrency: the version the clerk saw. If the record changed since, the submission is
    # stopped before it could silently undo the other change (every field of the form is resubmitted).
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        staff: Staff,
        rules: Mapping[str, CollectionRule],
        record: models.Model | None = None,
        **kwargs: Any,
    ) -> None:
        initial = kwargs.pop("initial", None) or {}
        if record is not None:
            initial = {
                name: _initial(getattr(record, name)) for name in self.base_fields if hasattr(record, name)
            }
            initial["version"] = record.version  # type: ignore[attr-defined]
            self.kept = {n: str(getattr(record, n) or "") for n in KEPT_WHEN_EMPTY if n in initial}
            for name in self.kept:
                initial[name] = ""
        else:
            self.kept = {}
        super().__init__(data, initial=initial, **kwargs)
        for name, stored in self.kept.items():
            if stored and name in self.fields:
                self.fields[name].widget.attrs["placeholder"] = KEPT_WHEN_EMPTY[name](stored)
                self.fields[name].help_text = _("Leave empty to keep the stored value.")
        self.record = record
        self.rules = rules
        if record is not None:
            del self.fields[self.number_field]
        else:
            del self.fields["version"]
        self.fields["district_id"].choices = _BLANK + district_choices(staff)  # type: ignore[attr-defined]
        self.set_choices()
        for name, field in self.fields.items():
            rule = rules.get(name)
            if rule is None:
                continue
            if rule.required:
                field.widget.attrs["aria-required"] = "true"
            if name in SECRET_FIELDS:
                field.widget.attrs["autocomplete"] = "off"

    def set_choices(self) -> None:
        """Fill the code-table selects (per entity)."""

    def governed(self) -> list[str]:
        return [name for name in self.fields if name not in ("version", "reason")]

    def values(self) -> dict[str, Any]:
        """The submitted values of the governed fields, as the pipeline takes them."""
        values = {name: self.cleaned_data.get(name, "") for name in self.governed()}
        for name, stored in self.kept.items():
            if values.get(name, "") in ("", None):
                values[name] = stored
        return values

    def seen_version(self) -> int | None:
        version = self.cleaned_data.get("version")
        return int(version) if version is not None else None

    def refuse(self, refusal: ChangeRefused) -> None:
        """Put the pipeline's reasons next to the fields they concern, and its summary at the top."""
        self.add_error(None, refusal.localized())
        for name, invalid in refusal.errors.items():
            self.add_error(name if name in self.fields else None, invalid.localized())

    def compare_with(self, record: models.Model) -> None:
        """Show, beside each field, the value stored now where it differs from what was typed."""
        self.current = {name: _initial(getattr(record, name)) for name in self.governed()}

    def rows(self) -> list[dict[str, Any]]:
        """What the template lays out per field: the bound field, whether the rule requires it, how a change
        to it is reviewed (so that the clerk knows before submitting what will wait), and the value stored
        now when the record changed under the clerk's feet."""
        rows = []
        current: Mapping[str, str] = getattr(self, "current", {})
        for name in self.governed():
            rule = self.rules.get(name)
            typed = self[name].value()
            stored = current.get(name)
            rows.append(
                {
                    "field": self[name],
                    "required": bool(rule and rule.required),
                    "manual": bool(rule and rule.review_level == ReviewLevel.MANUAL),
                    "current": stored if stored is not None and str(typed or "") != stored else None,
                }
            )
        return rows


def _initial(value: Any) -> Any:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class PersonForm(RecordForm):
    entity = "person"
    number_field = "person_no"

    person_no = _text(_("Person number"))
    id_number = _text(_("Citizen ID number"), inputmode="text", maxlength="18")
    name = _text(_("Name"))
    sex = _select(_("Sex"))
    birth_date = forms.CharField(
        label=_("Birth date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    category = _select(_("Person category"))
    district_id = _select(_("District"))
    phone = _text(_("Phone"), inputmode="tel")
    email = _text(_("E-mail"), inputmode="email")
    address = _text(_("Address"))
    postcode = _text(_("Postcode"), inputmode="numeric", maxlength="6")
    bank_account = _text(_("Bank account"), inputmode="numeric")
    status = _select(_("Status"))

    def set_choices(self) -> None:
        self.fields["sex"].choices = _BLANK + list(Sex.choices)  # type: ignore[attr-defined]
        self.fields["category"].choices = _BLANK + code_choices(CodeTable.PERSON_CATEGORY)  # type: ignore[attr-defined]
        self.fields["status"].choices = list(RecordStatus.choices)  # type: ignore[attr-defined]
        if self.record is None:
            self.initial.setdefault("status", RecordStatus.ACTIVE)


class UnitForm(RecordForm):
    entity = "unit"
    number_field = "unit_no"

    unit_no = _text(_("Unit number"))
    name = _text(_("Unit name"))
    credit_code = _text(_("Unified social credit code"), maxlength="18")
    org_code = _text(_("Organisation code"))
    unit_type = _select(_("Unit type"))
    district_id = _select(_("District"))
    address = _text(_("Address"))
    postcode = _text(_("Postcode"), inputmode="numeric", maxlength="6")
    contact_person = _text(_("Contact person"))
    phone = _text(_("Phone"), inputmode="tel")
    email = _text(_("E-mail"), inputmode="email")
    industry_risk_class = _select(_("Industry risk class"))
    status = _select(_("Status"))

    def set_choices(self) -> None:
        self.fields["unit_type"].choices = _BLANK + code_choices(CodeTable.UNIT_TYPE)  # type: ignore[attr-defined]
        self.fields["industry_risk_class"].choices = _BLANK + [  # type: ignore[attr-defined]
            (str(i), _("Class %(n)s") % {"n": i}) for i in range(1, 9)
        ]
        self.fields["status"].choices = list(RecordStatus.choices)  # type: ignore[attr-defined]
        if self.record is None:
            self.initial.setdefault("status", RecordStatus.ACTIVE)


class MaintenanceMixin(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the maintenance"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 500}),
        help_text=_(
            "For example: correcting an error, completing missing data, or cleaning up garbage data."
        ),
    )


class PersonMaintenanceForm(PersonForm, MaintenanceMixin):
    pass


class UnitMaintenanceForm(UnitForm, MaintenanceMixin):
    pass


RECORD_FORMS: dict[str, type[RecordForm]] = {"person": PersonForm, "unit": UnitForm}
MAINTENANCE_FORMS: dict[str, type[RecordForm]] = {
    "person": PersonMaintenanceForm,
    "unit": UnitMaintenanceForm,
}


class DecisionForm(forms.Form):
    """A decision on a review request or a maintenance step: which button, and the reason typed."""

    decision = forms.ChoiceField(
        choices=[
            ("approve", "approve"),
            ("reject", "reject"),
            ("accept", "accept"),
            ("send_back", "send_back"),
        ]
    )
    reason = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    @property
    def positive(self) -> bool:
        return self.cleaned_data["decision"] in ("approve", "accept")

    @property
    def reason_text(self) -> str:
        return str(self.cleaned_data.get("reason") or "")
