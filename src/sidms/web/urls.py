from django.urls import path

from sidms.web import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("persons/", views.person_list, name="person_list"),
    path("persons/<str:person_no>/", views.person_detail, name="person_detail"),
    path("units/", views.unit_list, name="unit_list"),
    path("units/<str:unit_no>/", views.unit_detail, name="unit_detail"),
]
