from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class PasswordLoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _(
            "Wrong username or password. After %(limit)s failures in a row the account is locked for "
            "%(minutes)s minutes."
        ),
        "inactive": _("This account is disabled."),
        "no_agreement": _(
            "You have no valid confidentiality agreement on record, so you cannot sign in. "
            "Ask your agency's administrator to register it."
        ),
        "damaged": _(
            "Your account does not match its records (it was changed outside the system), so you cannot sign "
            "in. Ask the security administrator."
        ),
    }

    def get_invalid_login_error(self) -> forms.ValidationError:
        from sidms.security.limits import lockout_cooloff, lockout_failures

        minutes = int(lockout_cooloff().total_seconds() // 60)
        return forms.ValidationError(
            self.error_messages["invalid_login"],
            code="invalid_login",
            params={"limit": lockout_failures(), "minutes": minutes},
        )

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.has_valid_agreement():
            raise forms.ValidationError(self.error_messages["no_agreement"], code="no_agreement")
        from sidms.security.accounts import account_intact

        if not account_intact(user):
            # A password hash, a post, a district or an authenticator written in SQL: the account does not
            # sign in, and the supervisors learn of it now rather than at the night's verification (R20;
            # attack round 9). The account's history is read once per sign-in.
            from sidms.changes.integrity import record_alert
            from sidms.core.caller import caller_from_request
            from sidms.security.accounts import account_alert

            record_alert(account_alert(user, caller_from_request(self.request, user), "sign_in"))
            raise forms.ValidationError(self.error_messages["damaged"], code="damaged")


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=_("6-digit code from your authenticator app"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits shown in your authenticator app.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        return str(self.cleaned_data["token"]).strip()


class EnrolmentCodeForm(forms.Form):
    code = forms.RegexField(
        label=_("8-digit enrolment code from your administrator"),
        regex=r"^\s*\d{8}\s*$",
        error_messages={"invalid": _("Enter the 8 digits of the enrolment code.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 12}
        ),
    )
