"""The continuity and supervision pages, included by sidms.web.urls under continuity/ (namespace
web:continuity)."""

from django.urls import path

from sidms.web.continuity import views

app_name = "continuity"
urlpatterns = [
    path("", views.hub, name="hub"),
    path("backups/", views.backups, name="backups"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/rules/", views.rules, name="rules"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert_detail"),
    path("alerts/<int:alert_id>/step/", views.alert_step, name="alert_step"),
    path("orders/", views.order_list, name="orders"),
    path("orders/new/", views.order_new, name="order_new"),
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("orders/<int:order_id>/step/", views.order_step, name="order_step"),
    path("orders/<int:order_id>/pdf/", views.order_print, name="order_pdf"),
    path("media/", views.media_list, name="media"),
    path("media/pdf/", views.media_print, name="media_pdf"),
    path("media/<int:medium_id>/", views.medium_detail, name="medium_detail"),
    path("agreements/", views.agreement_list, name="agreements"),
    path("vendors/", views.vendors, name="vendors"),
    path("administrators/", views.admin_acts, name="admin_acts"),
]
