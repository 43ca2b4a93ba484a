"""The staff-account pages, under /staff/ (included by sidms.web.urls before the record pages' slugs)."""

from django.urls import path

from sidms.web.staff import views

app_name = "staff"
urlpatterns = [
    path("", views.staff_list, name="list"),
    path("new/", views.staff_new, name="new"),
    path("<int:pk>/", views.staff_detail, name="detail"),
    path("<int:pk>/posts/propose/", views.staff_post_propose_view, name="post_propose"),
    path("<int:pk>/posts/remove/", views.staff_post_revoke_view, name="post_revoke"),
    path("<int:pk>/district/", views.staff_district_view, name="district"),
    path("<int:pk>/agency/", views.staff_agency_view, name="agency"),
    path("<int:pk>/status/", views.staff_active_view, name="active"),
    path("<int:pk>/agreement/", views.staff_agreement_view, name="agreement"),
    path("<int:pk>/unlock/", views.staff_unlock_view, name="unlock"),
    path("<int:pk>/password/", views.staff_password_view, name="password"),
    path("<int:pk>/enrolment-code/", views.staff_enrolment_code_view, name="enrolment_code"),
]
