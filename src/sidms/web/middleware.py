"""The staff UI speaks Chinese unless the person chose English with the language switch.

Django's LocaleMiddleware would follow the browser's Accept-Language; on an agency PC that is whatever
the machine was installed with, often English. So the header is dropped before LocaleMiddleware reads
it, and only the language cookie set by the switch (or the default, zh-hans) decides.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ChineseUnlessChosenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
