"""Input schemas of the staff-account pages. They parse and shape input and say in Chinese what to type; what
is allowed (who manages accounts, who confirms a post, the three administrator posts held by three people,
the agreement's dates) is decided by sidms.security.accounts, whose refusals the views put next to the field
they concern. Passwords are never shown again on a refused form."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.posts import ADMINISTRATOR_POSTS, Post
from sidms.parameters.codes import district_choices
from sidms.registry.models import Agency, Staff

LOGIN_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{2,29}$"
REASON_MAX = 200
PER_PAGE_CHOICES = (20, 50, 100)
SORTS = ("username", "name", "district", "last_login")


def _districts() -> list[tuple[str, Any]]:
    return [("", _("Choose a district")), *district_choices()]


def _agencies() -> list[tuple[str, Any]]:
    return [("", _("None")), *((a.code, f"{a.code} {a.name}") for a in Agency.objects.order_by("code"))]


def _offer(field: forms.Field, choices: list[tuple[str, Any]]) -> None:
    cast(forms.ChoiceField, field).choices = choices


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _reason(label: Any = None, help_text: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label or _("Reason for the change"),
        max_length=REASON_MAX,
        help_text=help_text,
        error_messages={"required": _("Give the reason for the change.")},
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": REASON_MAX}),
    )


def _password(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=128,
        error_messages={"required": _("Enter the password.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "maxlength": 128}),
    )


# What the configured password validators refuse, said as what to type instead. Django's own messages are
# kept only for a validator added later; its Chinese catalogue lacks the current wording of some.
PASSWORD_RULES: dict[str, Any] = {
    "password_too_short": _("A password has at least %(min_length)s characters."),
    "password_too_similar": _("The password is too like the login name or the name; choose another."),
    "password_too_common": _("This password is too common and easily guessed; choose another."),
    "password_entirely_numeric": _("A password cannot be only digits; mix in letters and signs."),
}


def password_problems(refused: ValidationError) -> list[str]:
    """The password validators' refusals, in the words of PASSWORD_RULES."""
    out = []
    for error in refused.error_list:
        rule = PASSWORD_RULES.get(error.code or "")
        out.append(str(rule) % (error.params or {}) if rule is not None else " ".join(error.messages))
    return out


class _PasswordPair(forms.Form):
    """A new password typed twice, checked by the configured password validators (length, common words, not
    all digits, not like the login name)."""

    password = _password(_("Initial password"))
    password_again = _password(_("Repeat the password"))

    def account_for_validation(self) -> Staff:
        return Staff()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password"), data.get("password_again")
        if first:
            try:
                validate_password(first, self.account_for_validation())
            except ValidationError as refused:
                for problem in password_problems(refused):
                    self.add_error("password", problem)
        if first and second and first != second:
            self.add_error("password_again", _("The two passwords differ. Type the same password twice."))
        return data


class StaffCreateForm(_PasswordPair):
    username = forms.RegexField(
        label=_("Login name"),
        regex=LOGIN_PATTERN,
        max_length=30,
        error_messages={
            "invalid": _(
                "A login name has 3 to 30 letters, digits, '_', '.' or '-', and starts with a letter."
            ),
            "required": _("Enter the login name."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": 30, "spellcheck": "false"}),
    )
    full_name = forms.CharField(
        label=_("Name shown to others"),
        max_length=30,
        help_text=_("How colleagues and the audit log name the person, e.g. 环翠窗口 张敏."),
        error_messages={"required": _("Enter the name.")},
        widget=forms.TextInput(attrs={"maxlength": 30}),
    )
    district = forms.ChoiceField(
        label=_("District (data scope)"),
        error_messages={"required": _("Choose the district whose data the person works on.")},
    )
    agency = forms.ChoiceField(label=_("Agency"), required=False)
    password = _password(_("Initial password"))
    password_again = _password(_("Repeat the password"))
    agreement_signed_on = forms.DateField(
        label=_("Confidentiality agreement signed on"),
        required=False,
        widget=_date_widget(),
        error_messages={"invalid": _("Enter a date such as 2026-03-01.")},
    )
    agreement_expires_on = forms.DateField(
        label=_("Confidentiality agreement expires on"),
        required=False,
        help_text=_("Leave empty if the agreement does not expire."),
        widget=_date_widget(),
        error_messages={"invalid": _("Enter a date such as 2026-03-01.")},
    )

    field_order = [
        "username", "full_name", "district", "agency", "password", "password_again", "agreement_signed_on",
        "agreement_expires_on",
    ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer(self.fields["district"], _districts())
        _offer(self.fields["agency"], _agencies())

    def account_for_validation(self) -> Staff:
        # The similarity check compares the password with the login name and the name being created.
        return Staff(username=self.data.get("username", ""), first_name=self.data.get("full_name", ""))

    def clean_agency(self) -> Agency | None:
        code = self.cleaned_data.get("agency") or ""
        return Agency.objects.filter(code=code).first() if code else None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        signed, expires = data.get("agreement_signed_on"), data.get("agreement_expires_on")
        if expires and not signed:
            self.add_error("agreement_signed_on", _("Enter the date the agreement was signed."))
        elif signed and expires and expires < signed:
            self.add_error("agreement_expires_on", _("An agreement cannot expire before it is signed."))
        return data


class PostProposeForm(forms.Form):
    post = forms.ChoiceField(label=_("Post to grant"), error_messages={"required": _("Choose a post.")})
    reason = _reason(help_text=_("For example the appointment notice or the work the person takes over."))

    def __init__(self, *args: Any, held: frozenset[str], pending: frozenset[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        admin = held & ADMINISTRATOR_POSTS

        def offered(post: str) -> bool:
            # Posts the person holds or that wait for confirmation are not offered again, nor a second of the
            # system, security and audit administrator posts (the service refuses those too).
            return post not in held and post not in pending and not (admin and post in ADMINISTRATOR_POSTS)

        _offer(
            self.fields["post"], [("", _("Choose a post")), *((v, t) for v, t in Post.choices if offered(v))]
        )


class PostRevokeForm(forms.Form):
    post = forms.ChoiceField(label=_("Post to remove"), error_messages={"required": _("Choose a post.")})
    reason = _reason(help_text=_("For example a transfer, a change of duties, or leaving the agency."))

    def __init__(self, *args: Any, held: frozenset[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer(
            self.fields["post"], [("", _("Choose a post")), *((v, t) for v, t in Post.choices if v in held)]
        )


class DistrictForm(forms.Form):
    district = forms.ChoiceField(
        label=_("New district (data scope)"),
        error_messages={"required": _("Choose the district whose data the person works on.")},
    )
    reason = _reason()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer(self.fields["district"], _districts())


class AgencyForm(forms.Form):
    agency = forms.ChoiceField(label=_("Agency"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer(self.fields["agency"], _agencies())

    def clean_agency(self) -> Agency | None:
        code = self.cleaned_data.get("agency") or ""
        return Agency.objects.filter(code=code).first() if code else None


class ActiveForm(forms.Form):
    reason = _reason()


class AgreementForm(forms.Form):
    signed_on = forms.DateField(
        label=_("Signed on"),
        widget=_date_widget(),
        error_messages={
            "required": _("Enter the date the agreement was signed."),
            "invalid": _("Enter a date such as 2026-03-01."),
        },
    )
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        help_text=_("Leave empty if the agreement does not expire."),
        widget=_date_widget(),
        error_messages={"invalid": _("Enter a date such as 2026-03-01.")},
    )

    def clean_signed_on(self) -> date:
        signed: date = self.cleaned_data["signed_on"]
        if signed > timezone.localdate():
            raise ValidationError(_("An agreement cannot be signed in the future."))
        return signed


class PasswordForm(_PasswordPair):
    password = _password(_("New password"))
    password_again = _password(_("Repeat the new password"))

    def __init__(self, *args: Any, member: Staff, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.member = member

    def account_for_validation(self) -> Staff:
        return self.member


class StaffFilterForm(forms.Form):
    """The list's search and filters, read from the address (bookmarkable); none is personal data."""

    q = forms.CharField(required=False, max_length=30)
    district = forms.ChoiceField(required=False)
    post = forms.ChoiceField(required=False)
    active = forms.ChoiceField(
        required=False, choices=[("", _("Any")), ("yes", _("Enabled")), ("no", _("Disabled"))]
    )
    sort = forms.ChoiceField(
        required=False, choices=[("", "")] + [(s, s) for s in SORTS] + [(f"-{s}", s) for s in SORTS]
    )
    page = forms.IntegerField(required=False, min_value=1)
    per_page = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[(str(n), str(n)) for n in PER_PAGE_CHOICES]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer(self.fields["district"], [("", _("Any")), *district_choices()])
        _offer(self.fields["post"], [("", _("Any")), *Post.choices, ("none", _("No post yet"))])
