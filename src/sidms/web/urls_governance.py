"""Batches (R9.3), the rules editor (R5, R9.1) and the audit browser (R20)."""

from django.urls import path

from sidms.web import governance

app_name = "gov"
urlpatterns = [
    path("batches/", governance.batch_list, name="batch_list"),
    path("batches/new/", governance.batch_new, name="batch_new"),
    path("batches/<int:batch_id>/", governance.batch_detail, name="batch_detail"),
    path("batches/<int:batch_id>/decide/", governance.batch_decide, name="batch_decide"),
    path("batches/<int:batch_id>/execute/", governance.batch_execute, name="batch_execute"),
    path("rules/", governance.rules, name="rules"),
    path("rules/<str:entity>/<str:field>/", governance.rule_edit, name="rule_edit"),
    path("audit/", governance.audit, name="audit"),
    path("audit/verify/", governance.audit_verify, name="audit_verify"),
    path("audit/<int:seq>/", governance.audit_event, name="audit_event"),
]
