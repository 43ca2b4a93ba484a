"""Import and export pages, included by sidms.web.urls under exchange/ (namespace web:exchange)."""

from django.urls import path

from sidms.web.exchange import views

app_name = "exchange"
urlpatterns = [
    path("imports/", views.import_page, name="imports"),
    path("imports/template/<slug:kind>/", views.import_template, name="import_template"),
    path("imports/<str:token>/report/", views.import_report, name="import_report"),
    path("imports/<str:token>/apply/", views.import_apply, name="import_apply"),
    path("progress/<str:token>/", views.progress, name="progress"),
    path("exports/", views.export_list, name="exports"),
    path("exports/new/<slug:slug>/", views.export_new, name="export_new"),
    path("exports/<int:export_id>/decide/", views.export_decide, name="export_decide"),
    path("exports/<int:export_id>/download/", views.export_download, name="export_download"),
    path("exports/<int:export_id>/withdraw/", views.export_withdraw, name="export_withdraw"),
]
