"""The 已办 list's filters and paging, read from the address (a list can be bookmarked; nothing in it is
personal data): the decision time from and to, as the audit browser takes dates, and the records lists'
page and page size."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sidms.web.governance.forms import DayField
from sidms.web.records.views import PER_PAGE_CHOICES


class DoneFilterForm(forms.Form):
    date_from = DayField(_("Done from"))
    date_to = DayField(_("Done until"))
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, widget=forms.HiddenInput,
        choices=[(str(n), str(n)) for n in PER_PAGE_CHOICES],
    )  # fmt: skip

    DATES = ("date_from", "date_to")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error(
                "date_to", _("The end date is before the start date: swap them or widen the dates.")
            )
        return data

    @property
    def paging_invalid(self) -> bool:
        """A page number or page size that is not one the list offers (refused as bad input, not shown)."""
        return any(name in self.errors for name in ("page", "per_page"))

    @property
    def dates_invalid(self) -> bool:
        return any(name in self.errors for name in self.DATES)
