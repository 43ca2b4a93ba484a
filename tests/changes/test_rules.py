"""Collection rules are data (R5): versioned, edited only by the city-level system administrator (R9.1),
each edit recorded like any other change, and the rule in force decides how a submission is routed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone, translation
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from sidms.changes.errors import ChangeRefused, NotPermitted
from sidms.changes.models import Channel, Method, Revision
from sidms.changes.rules import rule_edit
from sidms.changes.services import rules_in_force, submit_change
from sidms.parameters.models import CollectionRule
from sidms.registry.models import Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_admin(make_staff) -> Any:  # type: ignore[no-untyped-def]
    return make_staff("admin_city", posts=("city_admin",), district="371000")


def phone_reviewed_by_hand(actor: Any, **extra: Any) -> CollectionRule:
    return rule_edit(
        actor=actor, entity="person", field="phone", required=False, validator="phone", review_level="manual",
        crosschecks=[], reason="电话号码冒用较多，改为人工审核", **extra,
    )  # fmt: skip


def phone_versions() -> int:
    return CollectionRule.objects.filter(entity="person", field="phone").count()


def change_phone(clerk: Any, person: Any, phone: str) -> Any:
    current = Person.objects.get(pk=person.pk)
    return submit_change(
        actor=clerk, channel=Channel.WINDOW, entity="person", record=current, values={"phone": phone}
    )


@pytest.mark.req("R9.1")
@pytest.mark.req("R5")
def test_only_a_city_level_system_administrator_edits_rules(make_staff) -> None:  # type: ignore[no-untyped-def]
    district_admin = make_staff("admin_hc", posts=("city_admin",), district="371002")
    city_clerk = make_staff("clerk_city", posts=("window_clerk", "approver", "reviewer"), district="371000")

    for outsider in (district_admin, city_clerk):
        with translation.override("zh-hans"), pytest.raises(NotPermitted, match="市级系统管理员"):
            phone_reviewed_by_hand(outsider)

    assert phone_versions() == 1
    assert rules_in_force("person")["phone"].review_level == "system"
    assert AuditEvent.objects.filter(action="access.denied", actor="clerk_city").count() == 1


@pytest.mark.req("R5")
@pytest.mark.req("R9.2")
def test_an_edit_adds_a_new_version_with_its_revision_and_audit_event(city_admin) -> None:  # type: ignore[no-untyped-def]
    rule = phone_reviewed_by_hand(city_admin)

    assert (rule.version, rule.review_level, rule.created_by) == (2, "manual", "admin_city")
    assert CollectionRule.objects.get(entity="person", field="phone", version=1).review_level == "system"
    revision = Revision.objects.get(entity="collection_rule", record_id=rule.pk)
    assert (revision.version, revision.method, revision.actor, revision.reference) == (
        2, Method.RULES, "admin_city", "person.phone",
    )  # fmt: skip
    assert revision.changes["review_level"] == ["system", "manual"]
    assert "validator" not in revision.changes  # unchanged fields are not listed
    event = AuditEvent.objects.get(action="rules.edit", actor="admin_city")
    assert event.object_id == "person.phone" and json.loads(event.payload)["detail"]["version"] == 2


@pytest.mark.req("R5")
@pytest.mark.req("R7.3")
def test_the_rule_in_force_routes_submissions(city_admin, huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    assert change_phone(huancui_clerk, wang, "13806310001").applied == ("phone",)

    phone_reviewed_by_hand(city_admin)
    outcome = change_phone(huancui_clerk, wang, "13806310002")

    assert outcome.applied == () and outcome.held is not None
    assert outcome.held.crosschecks == []  # the new rule names no registry
    assert Person.objects.get(pk=wang.pk).phone == "13806310001"


@pytest.mark.req("R5")
def test_a_rule_with_a_future_effective_time_applies_only_from_then(
    city_admin, huancui_clerk, make_person
) -> None:  # type: ignore[no-untyped-def]
    edited = datetime.fromisoformat("2026-04-01T10:00:00+08:00")
    takes_effect = datetime.fromisoformat("2026-05-01T00:00:00+08:00")
    with freeze_time(edited) as clock:
        person = make_person(id_number="371002196001010011", name="王建国")
        phone_reviewed_by_hand(city_admin, effective_from=takes_effect)

        assert change_phone(huancui_clerk, person, "13806310001").applied == ("phone",)
        clock.move_to(takes_effect - timedelta(seconds=1))
        assert change_phone(huancui_clerk, person, "13806310002").applied == ("phone",)
        clock.move_to(takes_effect)
        held = change_phone(huancui_clerk, person, "13806310003")

    assert held.held is not None
    assert Person.objects.get(pk=person.pk).phone == "13806310002"
    assert rules_in_force("person", at=takes_effect - timedelta(seconds=1))["phone"].version == 1


@pytest.mark.req("R5")
def test_a_retroactive_edit_is_refused(city_admin) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"), pytest.raises(ChangeRefused, match="追溯"):
        phone_reviewed_by_hand(city_admin, effective_from=timezone.now() - timedelta(minutes=1))
    assert phone_versions() == 1


@pytest.mark.req("R5")
@pytest.mark.parametrize(
    ("validator", "crosschecks", "review_level"),
    [
        ("shoe_size", [], "system"),  # no such validator
        ("code:blood_type", [], "system"),  # no such code table
        ("phone", ["interpol"], "manual"),  # no such registry
        ("phone", [], "sometimes"),  # no such review level
        ("phone", [], "none"),  # "none" means not validated: a validator there would be a lie
    ],
)
def test_an_edit_naming_something_unknown_or_contradictory_is_refused(  # type: ignore[no-untyped-def]
    city_admin, validator, crosschecks, review_level
) -> None:
    with pytest.raises(ChangeRefused):
        rule_edit(
            actor=city_admin, entity="person", field="phone", required=False, validator=validator,
            review_level=review_level, crosschecks=crosschecks, reason="试验",
        )  # fmt: skip
    assert phone_versions() == 1
    assert not Revision.objects.filter(entity="collection_rule").exists()


@pytest.mark.req("R5")
def test_a_rule_for_a_field_that_is_not_collected_is_refused(city_admin) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChangeRefused):
        rule_edit(
            actor=city_admin, entity="person", field="salary", required=False, validator="text",
            review_level="system", crosschecks=[], reason="试验",
        )  # fmt: skip
    assert not CollectionRule.objects.filter(field="salary").exists()
