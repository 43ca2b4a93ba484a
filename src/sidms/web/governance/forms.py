"""Input schemas of the governance pages. Forms only parse and shape input; what is allowed (scope,
separation of duties, batchable fields, rule consistency) is decided by the services of sidms.changes,
whose refusals the views show on these forms."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.audit.models import Outcome
from sidms.changes.rules import validators_for
from sidms.core.kernel import EntitySpec
from sidms.crosscheck import REGISTRY_NAMES
from sidms.parameters.codes import code_choices
from sidms.parameters.models import OnDuplicate, ReviewLevel
from sidms.web.display import label
from sidms.web.governance.labels import registry_label, review_level_label, validator_label


def coded_choices(spec: EntitySpec, name: str) -> list[tuple[str, str]] | None:
    """The choices of a coded field; None for free text."""
    table = spec.declaration.codes.get(name)
    if table:
        return code_choices(table)
    choices = spec.field(name).flatchoices
    if choices:
        return [(str(value), str(text)) for value, text in choices]
    return None


# --------------------------------------------------------------------------------------------------------
# Batch applications (R9.3)


class BatchUpdateForm(forms.Form):
    """A selection (district within the applicant's scope plus the entity's declared selectors) and the new
    values of its declared batchable fields. A blank new value means "leave unchanged"."""

    def __init__(
        self, *args: Any, spec: EntitySpec, staff: Any, districts: list[tuple[str, str]], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.spec = spec
        declaration = spec.declaration
        if staff.is_city_level:
            self.fields["district"] = forms.ChoiceField(
                label=_("District"), choices=[("", _("Whole city")), *districts], required=False
            )
        else:
            own = [(code, name) for code, name in districts if code == staff.district_id]
            self.fields["district"] = forms.ChoiceField(
                label=_("District"), choices=own, initial=staff.district_id
            )
        for name in declaration.batch_select:
            self.fields[f"where_{name}"] = forms.ChoiceField(
                label=label(spec, name),
                choices=[("", _("Any")), *(coded_choices(spec, name) or [])],
                required=False,
            )
        for name in declaration.batch_change:
            choices = coded_choices(spec, name)
            if choices is not None:
                self.fields[f"new_{name}"] = forms.ChoiceField(
                    label=label(spec, name), choices=[("", _("Unchanged")), *choices], required=False
                )
            else:
                attrs: dict[str, Any] = {"placeholder": _("Unchanged")}
                if spec.encrypted(name):
                    attrs["autocomplete"] = "off"
                self.fields[f"new_{name}"] = forms.CharField(
                    label=label(spec, name), required=False, max_length=getattr(spec.field(name), "max_length", None) or 64,
                    widget=forms.TextInput(attrs=attrs),
                )  # fmt: skip
        self.fields["reason"] = forms.CharField(
            label=_("Reason for the batch change"), required=False, max_length=500,
            widget=forms.Textarea(attrs={"rows": 3}),
        )  # fmt: skip

    @property
    def selection_fields(self) -> list[forms.BoundField]:
        return [self["district"], *(self[f"where_{n}"] for n in self.spec.declaration.batch_select)]

    @property
    def change_fields(self) -> list[forms.BoundField]:
        return [self[f"new_{n}"] for n in self.spec.declaration.batch_change]

    def selection(self) -> dict[str, str]:
        data = self.cleaned_data
        chosen = {"district_id": data["district"]} if data.get("district") else {}
        chosen.update(
            {n: data[f"where_{n}"] for n in self.spec.declaration.batch_select if data.get(f"where_{n}")}
        )
        return chosen

    def change(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            n: data[f"new_{n}"]
            for n in self.spec.declaration.batch_change
            if str(data.get(f"new_{n}") or "").strip()
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
        label=_("Execution window"), choices=WINDOW_CHOICES, coerce=int, initial=24, required=False
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


BAD_MOMENT = _("Enter a moment that exists, as YYYY-MM-DD HH:MM (for example 2024-03-01 09:30).")


class RulesAtForm(forms.Form):
    at = forms.DateTimeField(
        label=_("Rules in force at"), required=False, input_formats=_DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": BAD_MOMENT},
    )  # fmt: skip

    def clean_at(self) -> Any:
        at = self.cleaned_data.get("at")
        # Year 1 in Beijing time is year 0 in UTC, which no datetime holds; no rule predates the system.
        if at is not None and not 1900 <= at.year <= 9998:
            raise forms.ValidationError(BAD_MOMENT)
        return at


class RuleForm(forms.Form):
    """A proposed rule version. The format checks offered are those that fit the field; the effective
    time is empty by default: the rule takes effect when a second administrator confirms it."""

    required = forms.BooleanField(label=_("Required"), required=False)
    validator = forms.ChoiceField(label=_("Format check"), choices=[])
    review_level = forms.ChoiceField(
        label=_("Review level"), choices=[(level, review_level_label(level)) for level in ReviewLevel.values]
    )
    crosschecks = forms.MultipleChoiceField(
        label=_("External cross-checks"), choices=[(n, registry_label(n)) for n in REGISTRY_NAMES], required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    effective_from = forms.DateTimeField(
        label=_("Effective from"), required=False, input_formats=_DATETIME_FORMATS,
        error_messages={"invalid": BAD_MOMENT},
        help_text=_("Leave empty: the rule takes effect as soon as a second city-level administrator confirms it."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, spec: EntitySpec, field: str, unique: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = validators_for(spec, field)
        if "text" not in names:
            names = [*names, "text"]  # a "no review" field takes the text check
        self.fields["validator"].choices = [(n, validator_label(n)) for n in names]  # type: ignore[attr-defined]
        if unique:
            self.fields["on_duplicate"] = forms.ChoiceField(
                label=_("On a duplicate"), choices=OnDuplicate.choices, initial=OnDuplicate.REFUSE
            )


# --------------------------------------------------------------------------------------------------------
# Audit browser (R20)


BAD_DATE = _("Enter a date that exists, as YYYY-MM-DD (for example 2024-02-29).")
FAR_DATE = _("Enter a date from 1900-01-01 to 9998-12-31.")


class DayField(forms.DateField):
    """A date to filter a list by, as YYYY-MM-DD, within the years a search can take: the day after 9999-12-31
    is past the last date Python holds, and midnight of 0001-01-01 in Beijing is in year 0 in UTC (a date
    filter read them as a server error, attack round 13). Nothing in the system predates 1900."""

    def __init__(self, label: Any) -> None:
        super().__init__(
            label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}),
            input_formats=["%Y-%m-%d"], error_messages={"invalid": BAD_DATE},
        )  # fmt: skip

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not 1900 <= value.year <= 9998:
            raise forms.ValidationError(FAR_DATE, code="far")


def within_days(rows: QuerySet[Any], at: str, date_from: date | None, date_to: date | None) -> QuerySet[Any]:
    """ROWS whose time AT falls on DATE_FROM or after, and on DATE_TO or before (both days whole, in the
    server's time zone): the filter of every list a DayField pair narrows."""
    if date_from is not None:
        rows = rows.filter(**{f"{at}__gte": _day_start(date_from)})
    if date_to is not None:
        rows = rows.filter(**{f"{at}__lt": _day_start(date_to + timedelta(days=1))})
    return rows


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Staff"), required=False, max_length=150)
    action = forms.CharField(label=_("Action"), required=False, max_length=64)
    object_id = forms.CharField(label=_("Object"), required=False, max_length=64)
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("", _("Any")), *Outcome.choices], required=False
    )
    date_from = DayField(_("From"))
    date_to = DayField(_("To"))
    # Keyset paging: the log grows while it is read (reading it adds an event), so pages are anchored on
    # sequence numbers rather than offsets.
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    FILTERS = ("actor", "action", "object_id", "outcome", "date_from", "date_to")

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {name: data[name] for name in self.FILTERS if data.get(name) not in (None, "")}

    def anchor(self) -> tuple[int | None, int | None]:
        if not self.is_valid():
            return None, None
        return self.cleaned_data.get("before"), self.cleaned_data.get("after")
