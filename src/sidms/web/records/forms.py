"""One input schema for every declared entity, built from its declaration and the rules in force.

The form shapes what a clerk types into the values the pipeline takes, and offers the choices of the code
tables; whether a field is required, its format and its review level come from the collection rules (R5),
which the pipeline applies. The form only reads the rules to show them (a required mark, a review hint).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import OUT_OF_SCOPE_NAME, record_scope, visible_related
from sidms.core.errors import ChangeRefused, Invalid
from sidms.core.kernel import EntitySpec, spec_of_model
from sidms.parameters.codes import code_choices
from sidms.parameters.models import CollectionRule, Region, ReviewLevel
from sidms.web.display import EMPTY, joined, label, label_for, record_name, value_text

_BLANK: list[tuple[str, Any]] = [("", _("— choose —"))]

_INPUT_MODES = {
    "postcode": {"inputmode": "numeric", "maxlength": "6"},
    "id_number": {"inputmode": "text", "maxlength": "18", "autocomplete": "off"},
    "phone": {"inputmode": "tel", "maxlength": "20", "autocomplete": "off"},
    "email": {"inputmode": "email", "maxlength": "254", "autocomplete": "off"},
    "bank_account": {"inputmode": "numeric", "maxlength": "23", "autocomplete": "off"},
    "credit_code": {"maxlength": "18"},
}


def district_choices(staff: Any) -> list[tuple[str, str]]:
    """The districts a staff member may put a record in: their own, or every district at city level."""
    districts = Region.objects.filter(is_district=True).order_by("code")
    if not staff.is_city_level:
        districts = districts.filter(code=staff.district_id)
    return [(code, f"{code} {name}") for code, name in districts.values_list("code", "name")]


def _initial(value: Any) -> Any:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class RecordForm(forms.Form):
    """The governed fields of one entity, as a clerk fills them in at the window."""

    # Optimistic concurrency: the version the clerk saw. If the record changed since, the submission is
    # stopped before it could silently undo the other change (every field of the form is resubmitted).
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        spec: EntitySpec,
        staff: Any,
        rules: Mapping[str, CollectionRule],
        record: models.Model | None = None,
        fixed: Mapping[str, models.Model] | None = None,
        maintenance: bool = False,
    ) -> None:
        super().__init__(data)
        self.spec, self.staff, self.rules, self.record = spec, staff, rules, record
        self.fixed = dict(fixed or {})
        self.kept: dict[str, str] = {}
        declaration = spec.declaration
        # What the fields are named after (Declaration.apart: a one-time grant's amount is not a monthly one):
        # the record, or on a new record's form the values typed; before anything is typed, nothing.
        self.named_as: Any = record
        if record is None and data is not None:
            self.named_as = SimpleNamespace(**{name: data.get(name, "") for name in spec.fields})
        for name in spec.fields:
            if name == declaration.key and (declaration.numbering is not None or record is not None):
                continue  # assigned by the system, or fixed once the record exists
            if name in self.fixed:
                continue
            self.fields[name] = self._field(name)
        if maintenance:
            self.fields["reason"] = forms.CharField(
                label=_("Reason for the maintenance"), required=False, max_length=500,
                widget=forms.Textarea(attrs={"rows": 3, "maxlength": 500}),
                help_text=_("For example: correcting an error, completing missing data, or cleaning up garbage data."),
            )  # fmt: skip
        if record is None:
            del self.fields["version"]
            self.initial.setdefault("status", "active")
        else:
            self.initial = {n: _initial(getattr(record, n)) for n in self.governed() if not self._related(n)}
            for name in self.governed():
                related = self._related(name)
                if related is not None:
                    target = getattr(record, name[:-3], None)
                    self.initial[name] = related.label(target) if target is not None else ""
                    if target is not None and not visible_related(staff, target):
                        # Another district's record is not named here either (as on the record's page):
                        # the field starts empty, and empty keeps the stored reference.
                        self.initial[name] = ""
                        self.kept[name] = str(target.pk)
                        self.fields[name].widget.attrs["placeholder"] = str(OUT_OF_SCOPE_NAME)
                        self.fields[name].help_text = _("Leave empty to keep the stored value.")
            self.initial["version"] = record.version  # type: ignore[attr-defined]
            # Personal identifiers are not shown again once entered (R10): the field starts empty with the
            # masked value as a hint, and an empty field keeps what is stored.
            for name in self.governed():
                if spec.encrypted(name):
                    stored = str(getattr(record, name) or "")
                    self.kept[name] = stored
                    self.initial[name] = ""
                    if stored:
                        self.fields[name].widget.attrs["placeholder"] = value_text(spec, name, stored)
                        self.fields[name].help_text = _("Leave empty to keep the stored value.")
        for name in self.governed():
            rule = rules.get(name)
            if rule is not None and rule.required:
                self.fields[name].widget.attrs["aria-required"] = "true"

    def _related(self, name: str) -> EntitySpec | None:
        model_field = self.spec.field(name)
        if not (name.endswith("_id") and model_field.is_relation and model_field.related_model is not None):
            return None
        return spec_of_model(model_field.related_model)

    def _field(self, name: str) -> forms.Field:
        spec = self.spec
        model_field = spec.field(name)
        text = label(spec, name) if self.named_as is None else label_for(spec, self.named_as, name)
        if name == "district_id":
            return forms.ChoiceField(
                label=text, required=False, choices=_BLANK + district_choices(self.staff)
            )
        related = self._related(name)
        if related is not None:
            return forms.CharField(
                label=f"{text}（{label(related, related.label_field)}）", required=False, max_length=30,
                widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            )  # fmt: skip
        table = spec.declaration.codes.get(name)
        if table:
            return forms.ChoiceField(label=text, required=False, choices=_BLANK + code_choices(table))
        if model_field.choices:
            return forms.ChoiceField(
                label=text, required=False, choices=_BLANK + list(model_field.flatchoices)
            )
        if isinstance(model_field, models.DateField):
            return forms.CharField(
                label=text, required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
            )
        attrs = dict(_INPUT_MODES.get(name, {}))
        max_length = getattr(model_field, "max_length", None)
        if max_length and "maxlength" not in attrs:
            attrs["maxlength"] = str(max_length)
        return forms.CharField(
            label=text, required=False, widget=forms.TextInput(attrs=attrs), help_text=self._apart_hint(name)
        )

    def _apart_hint(self, name: str) -> str:
        """On a new record's blank form, beside a field shown apart for some records (a one-time grant's
        amount), for which records it means what: 一次性伤残补助金、生育津贴：填写一次性待遇金额."""
        if self.named_as is not None:
            return ""
        for apart in self.spec.declaration.apart:
            if apart.field == name:
                choices = dict(self.spec.field(apart.when).flatchoices)
                kinds = joined(choices.get(value, value) for value in apart.values)
                return _("%(kinds)s: enter the %(label)s.") % {"kinds": kinds, "label": apart.label}
        return ""

    def governed(self) -> list[str]:
        return [name for name in self.fields if name not in ("version", "reason")]

    def values(self) -> dict[str, Any]:
        """The submitted values of the governed fields, as the pipeline takes them: a reference typed as the
        other record's number becomes that record's id (within the clerk's scope where it fixes the scope)."""
        values: dict[str, Any] = {}
        for name in self.governed():
            value = self.cleaned_data.get(name, "")
            related = self._related(name)
            if related is not None and value:
                value = self._resolve(name, related, str(value).strip())
            values[name] = value
        for name, target in self.fixed.items():
            values[name] = target.pk
        for name, stored in self.kept.items():
            if values.get(name, "") in ("", None):
                values[name] = stored
        return values

    def _resolve(self, name: str, related: EntitySpec, key: str) -> Any:
        first_hop = (self.spec.declaration.district or "").split("__")[0]
        candidates: Any = related.model._default_manager.all()
        scoped = name == f"{first_hop}_id"
        if scoped:
            # The reference that decides the record's district: only records the clerk may see.
            candidates = record_scope(self.staff, related)
        lookup = {"pk": key} if related.label_field == "pk" else {related.label_field: key}
        target = (
            candidates.filter(**lookup).first()
            if key and (related.label_field != "pk" or (key.isascii() and key.isdigit()))
            else None
        )
        if target is None:
            message = (
                _("There is no %(what)s with the number %(key)s in your data scope.")
                if scoped
                else _("There is no %(what)s with the number %(key)s.")
            )
            params = {"what": related.model._meta.verbose_name, "key": key}
            raise ChangeRefused(errors={name: Invalid("not_found", message, params)})
        return target.pk

    def seen_version(self) -> int | None:
        version = self.cleaned_data.get("version")
        return int(version) if version is not None else None

    def refuse(self, refusal: ChangeRefused) -> None:
        """Put the pipeline's reasons next to the fields they concern, and its summary at the top."""
        self.add_error(None, refusal.localized())
        for name, invalid in refusal.errors.items():
            self.add_error(name if name in self.fields else None, invalid.localized())

    def compare_with(self, record: models.Model) -> None:
        """Show, beside each field, the value stored now where it differs from what was typed — masked as
        everywhere else: a conflict never shows a personal identifier in full."""
        self.current = {}
        for name in self.governed():
            related = self._related(name)
            if related is not None:
                # A reference is typed as the other record's number and shown by its name, as the form and
                # the record's page do (not as a database id); another district's record is not named.
                target = getattr(record, name[:-3], None)
                if target is None:
                    self.current[name] = "", EMPTY
                elif visible_related(self.staff, target):
                    self.current[name] = related.label(target), record_name(related, target)
                else:
                    self.current[name] = "", str(OUT_OF_SCOPE_NAME)
                continue
            value = getattr(record, name)
            text = value_text(self.spec, name, value)
            # Compared as stored where the value is shown in full (a base typed 7180.00 is the stored 7180.00,
            # shown ¥7,180.00); a personal identifier only with its mask, so that the form never tells whether
            # a typed value is the one stored.
            plain = self.spec.declaration.mask(name, "window") == "full" and not self.spec.encrypted(name)
            self.current[name] = ("" if value is None else str(value)) if plain else text, text

    def rows(self) -> list[dict[str, Any]]:
        """What the template lays out per field: the bound field, whether the rule requires it, how a change
        to it is reviewed (so that the clerk knows before submitting what will wait), and the value stored
        now when the record changed under the clerk's feet."""
        rows = []
        current: Mapping[str, tuple[str, str]] = getattr(self, "current", {})
        for name in self.governed():
            rule = self.rules.get(name)
            typed = self[name].value()
            stored, text = current.get(name, (None, None))
            rows.append(
                {
                    "field": self[name],
                    "required": bool(rule and rule.required),
                    "manual": bool(rule and rule.review_level == ReviewLevel.MANUAL),
                    "current": text if stored is not None and str(typed or "") != stored else None,
                }
            )
        return rows


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
