"""Violation rules over the audit stream: one test per rule, each alert in the supervising department's inbox
and taken through to closure, every step audited (R20, R4.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.http import Http404
from django.test import Client
from freezegun import freeze_time

from sidms.access.policies import record_get, record_list
from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.changes.verify import verify_store
from sidms.continuity.agreements import staff_identity_record
from sidms.continuity.alerts import (
    alert_acknowledge,
    alert_close,
    alert_inbox,
    alert_investigate,
    alerts_run,
    alerts_waiting,
    rule_change,
)
from sidms.continuity.models import Alert, AlertRule, AlertStatus, RuleCode
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted, SeparationOfDuties
from sidms.core.kernel import ENTITIES
from sidms.security.accounts import staff_set_active
from tests.changes.conftest import person_row
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R4.1")]

PERSON = ENTITIES["person"] if ENTITIES else None
WORKING_HOURS = "2026-11-30 10:00:00+08:00"  # a Monday morning
SUNDAY_NIGHT = "2026-11-29 23:30:00+08:00"


@pytest.fixture(autouse=True)
def _monday_morning() -> Iterator[None]:
    # Reads happen in working hours unless a test says otherwise, so only the rule under test fires.
    with freeze_time(WORKING_HOURS, tick=True, ignore=["_pytest"]):
        yield


@pytest.fixture
def people(load):  # type: ignore[no-untyped-def]
    return load("person", [person_row(i) for i in range(1, 7)])


def _raised(rule: str) -> list[Alert]:
    alerts_run()
    return list(Alert.objects.filter(rule=rule).order_by("pk"))


def _through_to_closure(alert: Alert, supervisor: Any, auditor: Any) -> Alert:
    """What the supervising department does with an alert: in the inbox, acknowledged, investigated, closed
    with a conclusion; the audit administrator sees it but does not handle it."""
    assert alert in alert_inbox(supervisor) and alert in alert_inbox(auditor)
    assert alerts_waiting(supervisor) >= 1
    with pytest.raises(NotPermitted):
        alert_acknowledge(actor=auditor, alert_id=alert.pk)
    with pytest.raises(ChangeRefused):
        alert_close(actor=supervisor, alert_id=alert.pk, conclusion="未经确认不能办结")
    alert_acknowledge(actor=supervisor, alert_id=alert.pk)
    alert_investigate(actor=supervisor, alert_id=alert.pk, notes="调取操作记录，约谈当事人")
    with pytest.raises(ChangeRefused):
        alert_close(actor=supervisor, alert_id=alert.pk, conclusion="  ")
    closed = alert_close(actor=supervisor, alert_id=alert.pk, conclusion="属实，已责令所在机构改正并批评教育")
    assert closed.status == AlertStatus.CLOSED and closed.closed_by_id == supervisor.pk
    assert alert not in alert_inbox(supervisor) and alert in alert_inbox(
        supervisor, status=AlertStatus.CLOSED
    )
    steps = [
        (e.action, json.loads(e.payload)["detail"]["step"])
        for e in AuditEvent.objects.filter(object_type="alert", object_id=str(alert.pk)).order_by("seq")
    ]
    assert steps == [
        ("alert.raise", 1),
        ("alert.acknowledge", 2),
        ("alert.investigate", 3),
        ("alert.close", 4),
    ]
    report = verify_store()
    assert report.ok, report.problem
    return closed


def test_bulk_reads_above_the_threshold_raise_one_alert(
    people, huancui_clerk, supervisor, audit_admin
) -> None:  # type: ignore[no-untyped-def]
    rule_change(actor=audit_admin, code=RuleCode.BULK_READS, enabled=True, threshold=10, window_minutes=60,
                params={"entities": ["person"]})  # fmt: skip
    record_list(actor=huancui_clerk, spec=PERSON)  # 6 persons shown
    assert _raised(RuleCode.BULK_READS) == []
    record_list(actor=huancui_clerk, spec=PERSON)  # 12 within the hour
    record_list(actor=huancui_clerk, spec=PERSON)  # 18: the same incident, no second alert
    (alert,) = _raised(RuleCode.BULK_READS)
    assert alert.subject == "clerk_hc" and alert.evidence["records"] >= 12 and alert.rule_version == 2
    _through_to_closure(alert, supervisor, audit_admin)


def test_reads_outside_working_hours_raise_an_alert(people, huancui_clerk, supervisor, audit_admin) -> None:  # type: ignore[no-untyped-def]
    record_get(actor=huancui_clerk, spec=PERSON, key=people[0].person_no)
    assert _raised(RuleCode.OFF_HOURS) == []
    with freeze_time(SUNDAY_NIGHT, tick=True, ignore=["_pytest"]):
        record_get(actor=huancui_clerk, spec=PERSON, key=people[1].person_no)
        (alert,) = _raised(RuleCode.OFF_HOURS)
    assert alert.subject == "clerk_hc" and alert.evidence["day"] == "2026-11-29"
    _through_to_closure(alert, supervisor, audit_admin)


def test_repeated_denied_access_raises_an_alert(load, huancui_clerk, supervisor, audit_admin) -> None:  # type: ignore[no-untyped-def]
    (rushan,) = load("person", [person_row(50, district="371083")])
    for _ in range(4):
        with pytest.raises(Http404):
            record_get(actor=huancui_clerk, spec=PERSON, key=rushan.person_no)
    assert _raised(RuleCode.DENIED) == []
    with pytest.raises(Http404):
        record_get(actor=huancui_clerk, spec=PERSON, key=rushan.person_no)
    (alert,) = _raised(RuleCode.DENIED)
    assert alert.evidence["refusals"] == 5 and alert.subject == "clerk_hc"
    _through_to_closure(alert, supervisor, audit_admin)


def test_a_staff_member_reading_their_own_record_raises_an_alert(
    people, huancui_clerk, security_admin, supervisor, audit_admin
) -> None:  # type: ignore[no-untyped-def]
    own = people[2]
    staff_identity_record(actor=security_admin, staff=huancui_clerk, id_number=str(own.id_number))
    record_get(actor=huancui_clerk, spec=PERSON, key=people[3].person_no)
    assert _raised(RuleCode.OWN_RECORD) == []
    record_list(actor=huancui_clerk, spec=PERSON)  # the own record among a list counts too
    (alert,) = _raised(RuleCode.OWN_RECORD)
    assert alert.evidence["person"] == own.person_no
    # The ID number itself is nowhere in the alert or its events.
    assert str(own.id_number) not in json.dumps(alert.evidence, ensure_ascii=False) + alert.summary
    _through_to_closure(alert, supervisor, audit_admin)


def test_an_export_above_the_threshold_raises_an_alert(huancui_clerk, supervisor, audit_admin) -> None:  # type: ignore[no-untyped-def]
    # What the export feature records (access exports, "export.<entity>" with the number of rows).
    audit_record("export.person", actor=huancui_clerk, object_type="person", detail={"rows": 900})
    assert _raised(RuleCode.BULK_EXPORT) == []
    audit_record("export.person", actor=huancui_clerk, object_type="person", detail={"rows": 1500})
    (alert,) = _raised(RuleCode.BULK_EXPORT)
    assert alert.evidence["rows"] == 1500
    _through_to_closure(alert, supervisor, audit_admin)


def test_a_disabled_account_trying_to_sign_in_raises_an_alert(
    huancui_clerk, security_admin, supervisor, audit_admin
) -> None:  # type: ignore[no-untyped-def]
    staff_set_active(actor=security_admin, staff=huancui_clerk, active=False, reason="离职")
    response = Client().post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    assert response.status_code == 200  # refused
    (alert,) = _raised(RuleCode.DISABLED_ACCOUNT)
    assert alert.subject == "clerk_hc" and alert.evidence["reason"] == "disabled"
    assert "auth.password_failed" in alert.evidence["actions"]
    _through_to_closure(alert, supervisor, audit_admin)


def test_an_account_without_a_valid_agreement_at_work_raises_an_alert(
    people, make_staff, supervisor, audit_admin
) -> None:  # type: ignore[no-untyped-def]
    # An account whose agreement ran out, still acting (a session opened before, another channel).
    lapsed = make_staff("clerk_lapsed", posts=("window_clerk",), agreement=False)
    record_get(actor=lapsed, spec=PERSON, key=people[0].person_no)
    (alert,) = _raised(RuleCode.DISABLED_ACCOUNT)
    assert alert.evidence["reason"] == "no_agreement"
    _through_to_closure(alert, supervisor, audit_admin)


def test_an_integrity_failure_reaches_the_inbox_at_commit(
    people, huancui_clerk, supervisor, audit_admin, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    person = people[0]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_person SET name = %s WHERE id = %s", ["篡改", person.pk])
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(IntegrityAlert):
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=type(person).objects.get(pk=person.pk),
            values={"phone": "13963199999"},
        )  # fmt: skip
    # No timer run: the alert is there as soon as the refusal's event was committed.
    (alert,) = Alert.objects.filter(rule=RuleCode.INTEGRITY)
    assert alert.evidence["action"] == "integrity.alert" and person.person_no in alert.summary
    # The timer does not raise it a second time.
    assert _raised(RuleCode.INTEGRITY) == [alert]
    with connection.cursor() as cursor:  # put the row right so that verification passes at the end
        cursor.execute("UPDATE registry_person SET name = %s WHERE id = %s", [person.name, person.pk])
    _through_to_closure(alert, supervisor, audit_admin)


def test_an_alert_about_a_supervisor_is_handled_by_another(
    load, supervisor, supervisor2, audit_admin
) -> None:  # type: ignore[no-untyped-def]
    audit_record("export.person", actor=supervisor, object_type="person", detail={"rows": 5000})
    (alert,) = _raised(RuleCode.BULK_EXPORT)
    with pytest.raises(SeparationOfDuties):
        alert_acknowledge(actor=supervisor, alert_id=alert.pk)
    _through_to_closure(alert, supervisor2, audit_admin)


def test_only_the_audit_administrator_sets_the_rules(city_admin, security_admin, audit_admin) -> None:  # type: ignore[no-untyped-def]
    for who in (city_admin, security_admin):
        with pytest.raises(NotPermitted):
            rule_change(actor=who, code=RuleCode.DENIED, enabled=False, threshold=99, window_minutes=10)
    rule = rule_change(actor=audit_admin, code=RuleCode.DENIED, enabled=True, threshold=3, window_minutes=30)
    assert (rule.version, rule.threshold) == (2, 3)
    with pytest.raises(ChangeRefused):
        rule_change(actor=audit_admin, code=RuleCode.OFF_HOURS, enabled=True, threshold=1, window_minutes=60,
                    params={"start": "25:00", "end": "18:00", "weekdays": [1]})  # fmt: skip
    assert AlertRule.objects.get(code=RuleCode.OFF_HOURS).version == 1


def test_a_run_with_nothing_new_writes_nothing(huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    alerts_run()
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    result = alerts_run()
    assert (
        result.raised == []
        and AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() == last
    )
