"""Bad input in an address (a page number that is not one, a date that does not exist, an ID number typed into
a path) is answered with a clear message and HTTP 400: never a server error, and never a silent fallback to
something the person did not ask for (page 1, today, the whole list)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


class BadInput(Exception):
    """MESSAGE says what was wrong and what to do; BACK is where to go instead (a URL) and BACK_TEXT its
    link text."""

    def __init__(self, message: str, *, back: str = "", back_text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.back = back
        self.back_text = back_text


def no_such_page(asked: int, pages: int, list_url: str, params: dict[str, str]) -> BadInput:
    """A page number past a paged list's last page: said so, with a link to the last page under the same
    filters (PARAMS)."""
    return BadInput(
        _("There is no page %(page)s: the list has %(pages)s pages.") % {"page": asked, "pages": pages},
        back=f"{list_url}?{urlencode({**params, 'page': str(pages)})}",
        back_text=_("Go to the last page"),
    )


def answers_bad_input(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadInput as bad:
            # The language switch returns to the page it was used on; this address is not worth returning to
            # (and may hold what must not be repeated, such as an ID number typed into it).
            context = {
                "message": bad.message, "back": bad.back, "back_text": bad.back_text, "next_path": bad.back or "/",
            }  # fmt: skip
            return render(request, "bad_input.html", context, status=400)

    return wrapped
