from django.urls import path

from sidms.security import views

app_name = "security"
urlpatterns = [
    path("login/", views.PasswordLogin.as_view(), name="login"),
    path("login/otp/", views.otp_verify, name="otp_verify"),
    path("login/enrol/", views.otp_enrol, name="otp_enrol"),
    path("logout/", views.logout_view, name="logout"),
]
