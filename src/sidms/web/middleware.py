"""The staff UI speaks Chinese unless the person chose English with the language switch.

Django's LocaleMiddleware would follow the browser's Accept-Language; on an agency PC that is whatever
the machine was installed with, often English. So the header is dropped before LocaleMiddleware reads
it, and only the language cookie set by the switch (or the default, zh-hans) decides.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import translation


class ChineseUnlessChosenMiddleware:
    """Also leaves the thread's language as it found it. LocaleMiddleware activates the request's language
    in the thread and never deactivates it, so the language of one request (an English cookie) stayed active
    in the thread after it: in a test session every later test ran in English (tests/attack6 rendered its
    Chinese refusals under an override for that), and in a worker whatever the thread did outside a request
    spoke the last visitor's language. No response streams (each is built when the view returns), so the
    language can be put back as soon as the inner middleware has answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        before = translation.get_language()
        try:
            return self.get_response(request)
        finally:
            if before is None:
                translation.deactivate_all()
            else:
                translation.activate(before)


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


class RefuseNulMiddleware:
    """A NUL character in the path, the query string or a posted form is refused (400) before any view runs.

    No legitimate request carries one, and PostgreSQL refuses it in every text value: a key typed into a URL
    (``/persons/%00x/``) made the record's lookup raise before the read door recorded the attempt, so the
    probe answered 500 and left no trace; where the lookup needed no query, its denied read event could not
    be stored and failed the request (and, appended by group commit, the other requests of its batch).
    Django's forms refuse NUL in a text field, but views read keys from the URL and the query string. A
    multipart body is not read here: the upload pages set their own handlers before it is parsed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            "\x00" in request.path
            or _has_nul(request.GET)
            or (request.content_type == "application/x-www-form-urlencoded" and _has_nul(request.POST))
        ):
            raise SuspiciousOperation("NUL character in the request")  # Django answers 400 and logs it
        return self.get_response(request)


def _has_nul(data: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())
