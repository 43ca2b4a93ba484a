from django.urls import include, path

from sidms.web.views import healthz

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz),
    path("", include("sidms.security.urls")),
    path("", include("sidms.web.urls_governance")),
    path("", include("sidms.web.urls")),
]
