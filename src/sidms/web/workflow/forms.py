"""A queue's paged page's filters and paging (a 已办 list, a 待办 list past the queue page's first rows), read
from the address (a list can be bookmarked; nothing in it is personal data): the time the list is ordered by
from and to (a 已办 list's decision, a 待办 list's arrival at its step), as the audit browser takes dates, and
the records lists' page and page size."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sidms.web.governance.forms import DayField
from sidms.web.records.views import PER_PAGE_CHOICES


class QueueFilterForm(forms.Form):
    date_from = DayField(_("Done from"))
    date_to = DayField(_("Done until"))
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, widget=forms.HiddenInput,
        choices=[(str(n), str(n)) for n in PER_PAGE_CHOICES],
    )  # fmt: skip

    DATES = ("date_from", "date_to")
    # The dates of a list that is no 已办: the day a row reached the step it waits in (or was submitted).
    ARRIVED = (_("Arrived from"), _("Arrived until"))

    def __init__(self, *args: Any, done: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not done:
            for name, text in zip(self.DATES, self.ARRIVED, strict=True):
                self.fields[name].label = text

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
