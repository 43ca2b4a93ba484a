from django.urls import path

from sidms.web import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("persons/", views.person_list, name="person_list"),
    # "new/" before "<person_no>/": a number is never "new", but the pattern would take it.
    path("persons/new/", views.person_new, name="person_new"),
    path("persons/<str:person_no>/", views.person_detail, name="person_detail"),
    path("persons/<str:person_no>/edit/", views.person_edit, name="person_edit"),
    path("persons/<str:person_no>/maintain/", views.person_maintain, name="person_maintain"),
    path("units/", views.unit_list, name="unit_list"),
    path("units/new/", views.unit_new, name="unit_new"),
    path("units/<str:unit_no>/", views.unit_detail, name="unit_detail"),
    path("units/<str:unit_no>/edit/", views.unit_edit, name="unit_edit"),
    path("units/<str:unit_no>/maintain/", views.unit_maintain, name="unit_maintain"),
    path("queues/", views.queues, name="queues"),
    path("queues/review/<int:request_id>/", views.review_detail, name="review_detail"),
    path("queues/review/<int:request_id>/decide/", views.review_decide_view, name="review_decide"),
    path("queues/review/<int:request_id>/recheck/", views.review_recheck_view, name="review_recheck"),
    path("maintenance/<int:order_id>/", views.maintenance_detail, name="maintenance_detail"),
    path("maintenance/<int:order_id>/approve/", views.maintenance_approve_view, name="maintenance_approve"),
    path("maintenance/<int:order_id>/modify/", views.maintenance_modify_view, name="maintenance_modify"),
    path("maintenance/<int:order_id>/recheck/", views.maintenance_recheck_view, name="maintenance_recheck"),
]
