"""The staff pages, by chapter: workflow (dashboard, queues, review, maintenance), staff accounts, governance
(batches, rules, audit) and the records of every declared entity (last: its patterns take any slug)."""

from django.urls import include, path

from sidms.web.business import benefits
from sidms.web.business import views as business
from sidms.web.governance import audit, batches, rules
from sidms.web.records import access
from sidms.web.records import views as records
from sidms.web.workflow import views as workflow

app_name = "web"
urlpatterns = [
    path("", workflow.dashboard, name="dashboard"),
    path("queues/", workflow.queues, name="queues"),
    path("queues/done/<str:key>/", workflow.done_list, name="done_list"),
    path("queues/todo/<str:key>/", workflow.todo_list, name="todo_list"),
    path("queues/review/<int:request_id>/", workflow.review_detail, name="review_detail"),
    path("queues/review/<int:request_id>/decide/", workflow.review_decide_view, name="review_decide"),
    path("queues/review/<int:request_id>/recheck/", workflow.review_recheck_view, name="review_recheck"),
    path("queues/review/<int:request_id>/withdraw/", workflow.review_withdraw_view, name="review_withdraw"),
    path("maintenance/<int:order_id>/", workflow.maintenance_detail, name="maintenance_detail"),
    path(
        "maintenance/<int:order_id>/approve/", workflow.maintenance_approve_view, name="maintenance_approve"
    ),
    path("maintenance/<int:order_id>/modify/", workflow.maintenance_modify_view, name="maintenance_modify"),
    path(
        "maintenance/<int:order_id>/withdraw/",
        workflow.maintenance_withdraw_view,
        name="maintenance_withdraw",
    ),
    path(
        "maintenance/<int:order_id>/recheck/", workflow.maintenance_recheck_view, name="maintenance_recheck"
    ),
    # Staff accounts: before the record pages, whose patterns would take "staff" as an entity's slug.
    path("staff/", include("sidms.web.staff.urls")),
    path("continuity/", include("sidms.web.continuity.urls")),
    path("exchange/", include("sidms.web.exchange.urls")),
    path("archives/", include("sidms.web.archives.urls")),
    # Business data (issue 8): the rights record of a person, its statement, the public verification page.
    path("verify/statement/", business.verify_statement, name="verify_statement"),
    path("persons/<str:key>/rights/", business.rights_page, name="rights"),
    # Who accessed a person's data (B1): shown at the window to the person who asks.
    path("persons/<str:key>/access/", access.person_access, name="person_access"),
    path("persons/<str:key>/benefits/new/", benefits.benefit_grant, name="benefit_grant"),
    path("business/benefits/", benefits.benefit_checks, name="benefit_checks"),
    path("business/benefits/certify/", benefits.benefit_certify, name="benefit_certify"),
    path("business/benefits/<int:pk>/certification/", benefits.benefit_correct, name="benefit_correct"),
    path("business/runs/", business.runs, name="business_runs"),
    path("business/arrears/", business.arrears_page, name="business_arrears"),
    path("business/parameters/", business.parameters_page, name="business_parameters"),
    path("business/parameters/<str:key>/", business.parameter_detail, name="business_parameter"),
    path("persons/<str:key>/rights/statement/", business.statement_pdf, name="statement_pdf"),
    # Records: "new/" before "<key>/" — a number is never "new", but the pattern would take it.
    path("<slug:slug>/", records.record_list, name="record_list"),
    path("<slug:slug>/new/", records.record_new, name="record_new"),
    path("<slug:slug>/<str:key>/", records.record_detail, name="record_detail"),
    path("<slug:slug>/<str:key>/edit/", records.record_edit, name="record_edit"),
    path("<slug:slug>/<str:key>/maintain/", records.record_maintain, name="record_maintain"),
    path("<slug:slug>/<str:key>/history/", records.record_history, name="record_history"),
]

governance = (
    [
        path("batches/", batches.batch_list, name="batch_list"),
        path("batches/new/", batches.batch_new, name="batch_new"),
        path("batches/<int:batch_id>/", batches.batch_detail, name="batch_detail"),
        path("batches/<int:batch_id>/decide/", batches.batch_decide, name="batch_decide"),
        path("batches/<int:batch_id>/execute/", batches.batch_execute, name="batch_execute"),
        path("batches/<int:batch_id>/withdraw/", batches.batch_withdraw, name="batch_withdraw"),
        path("rules/", rules.rules, name="rules"),
        path("rules/<str:entity>/<str:field>/", rules.rule_edit, name="rule_edit"),
        path("audit/", audit.audit, name="audit"),
        path("audit/verify/", audit.audit_verify, name="audit_verify"),
        path("audit/<int:seq>/", audit.audit_event, name="audit_event"),
        path("audit/<int:seq>/payload/", audit.audit_event_payload, name="audit_event_payload"),
    ],
    "gov",
)
