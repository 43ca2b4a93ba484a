"""Input schemas of the continuity pages. They parse and shape input only; what is allowed is decided by the
services of sidms.continuity, whose refusals the views show on these forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sidms.access.posts import ADMINISTRATOR_POSTS, Post
from sidms.continuity.models import DisposalReason, MediumKind, MediumStatus, PartyKind, WipeMethod

DATE = forms.DateInput(attrs={"type": "date"})
TEXT = forms.Textarea(attrs={"rows": 3})


class StepForm(forms.Form):
    """A step on an alert or an order: the action, and the text it needs (notes, conclusion, report)."""

    action = forms.CharField(max_length=32)
    text = forms.CharField(label=_("Text"), required=False, widget=TEXT, max_length=4000)
    deadline = forms.DateField(label=_("New deadline"), required=False, widget=DATE)


class OrderForm(forms.Form):
    agency = forms.ChoiceField(label=_("Agency"))
    problems = forms.CharField(label=_("Problems found"), widget=TEXT, max_length=4000)
    requirements = forms.CharField(label=_("Rectification required"), widget=TEXT, max_length=4000)
    deadline = forms.DateField(label=_("Deadline"), widget=DATE)

    def __init__(self, *args: Any, agencies: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["agency"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = agencies


class RuleForm(forms.Form):
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    threshold = forms.IntegerField(label=_("Threshold"), min_value=1)
    window_minutes = forms.IntegerField(label=_("Time window (minutes)"), min_value=0)


class MediumForm(forms.Form):
    asset_no = forms.CharField(label=_("Asset number"), max_length=32)
    kind = forms.ChoiceField(label=_("Kind"), choices=MediumKind.choices)
    description = forms.CharField(label=_("Description"), max_length=200)
    serial_no = forms.CharField(label=_("Serial number"), max_length=64, required=False)
    holds_data = forms.BooleanField(label=_("Holds social-insurance data"), required=False, initial=True)
    location = forms.CharField(label=_("Kept at"), max_length=200)
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[
            (s.value, s.label) for s in (MediumStatus.IN_USE, MediumStatus.IN_STORE, MediumStatus.OFFSITE)
        ],
    )


class DisposalOpenForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=DisposalReason.choices)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class DisposalCloseForm(forms.Form):
    """Every field is optional here: the service refuses an incomplete wipe record and names what is missing."""

    wipe_method = forms.ChoiceField(
        label=_("Wipe method"), choices=[("", "—"), *WipeMethod.choices], required=False
    )
    operator = forms.CharField(label=_("Wiped by (login)"), max_length=150, required=False)
    witness = forms.CharField(label=_("Witness (login)"), max_length=150, required=False)
    wiped_on = forms.DateField(label=_("Wiped on"), widget=DATE, required=False)
    certificate_ref = forms.CharField(
        label=_("Wipe certificate (archive reference)"), max_length=64, required=False
    )


class AgreementForm(forms.Form):
    party_kind = forms.ChoiceField(label=_("Party"), choices=PartyKind.choices)
    party = forms.CharField(
        label=_("Login, institution code or vendor name"), max_length=200,
        help_text=_("A staff member's login, a service institution's code, or a registered vendor's name."),
    )  # fmt: skip
    scope = forms.CharField(label=_("Scope"), max_length=500)
    signed_on = forms.DateField(label=_("Signed on"), widget=DATE)
    expires_on = forms.DateField(label=_("Expires on"), widget=DATE, required=False)
    scan_ref = forms.CharField(label=_("Signed scan (archive reference)"), max_length=64, required=False)


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


ADMIN_FILTER = [("", _("All three")), *[(p.value, p.label) for p in Post if p in ADMINISTRATOR_POSTS]]


class VendorForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    credit_code = forms.CharField(label=_("Unified social credit code"), max_length=18, required=False)
    contact = forms.CharField(label=_("Contact"), max_length=200, required=False)


class VendorAccountForm(forms.Form):
    vendor = forms.ChoiceField(label=_("IT vendor"))
    username = forms.CharField(label=_("Login"), max_length=150)
    full_name = forms.CharField(label=_("Name"), max_length=150, required=False)
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput, min_length=12)

    def __init__(self, *args: Any, vendors: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["vendor"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = vendors


class WindowForm(forms.Form):
    account = forms.ChoiceField(label=_("Vendor account"))
    starts_at = forms.DateTimeField(
        label=_("Starts at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label=_("Ends at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    purpose = forms.CharField(label=_("Purpose"), max_length=500)

    def __init__(self, *args: Any, accounts: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = accounts
