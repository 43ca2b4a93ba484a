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


# Scripts, styles and images only from this origin: no inline script can run, whatever an attacker manages
# to put into a page. Frames and plugins never; forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every page, and no caching of pages that can show personal data: every
    authenticated page is `Cache-Control: no-store`, so a shared agency PC keeps nothing in its cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if not request.path.startswith("/static/"):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response
