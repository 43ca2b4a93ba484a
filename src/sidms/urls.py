from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from sidms.web.urls import governance


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz),
    path("", include("sidms.security.urls")),
    path("", include(governance)),
    path("", include("sidms.web.urls")),
]
