"""Collection rules are data (R5): versioned, changed only by city-level system administrators — one
proposes, a second confirms (R9.1, four eyes) — each version recorded like any other change, and the rule in
force decides how a submission is routed and what it must contain."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone, translation
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from sidms.changes.models import Channel, Method, ReviewStatus, Revision
from sidms.changes.rules import rule_propose, validators_for
from sidms.changes.services import review_decide, rules_in_force, submit_change
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from sidms.core.kernel import spec_for
from sidms.parameters.models import CollectionRule
from sidms.registry.models import Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_admin(make_staff) -> Any:  # type: ignore[no-untyped-def]
    return make_staff("admin_city", posts=("city_admin",), district="371000")


@pytest.fixture
def second_admin(make_staff) -> Any:  # type: ignore[no-untyped-def]
    return make_staff("admin2_city", posts=("city_admin",), district="371000")


def propose_phone_by_hand(actor: Any, **extra: Any) -> Any:
    return rule_propose(
        actor=actor, entity="person", field="phone", required=False, validator="phone", review_level="manual",
        crosschecks=[], reason="电话号码冒用较多，改为人工审核", **extra,
    )  # fmt: skip


def phone_reviewed_by_hand(proposer: Any, confirmer: Any, **extra: Any) -> CollectionRule:
    held = propose_phone_by_hand(proposer, **extra)
    review_decide(actor=confirmer, change_request_id=held.pk, approve=True)
    return CollectionRule.objects.filter(entity="person", field="phone").order_by("-version").first()  # type: ignore[return-value]


def phone_versions() -> int:
    return CollectionRule.objects.filter(entity="person", field="phone").count()


def change_phone(clerk: Any, person: Any, phone: str) -> Any:
    current = Person.objects.get(pk=person.pk)
    return submit_change(
        actor=clerk, channel=Channel.WINDOW, entity="person", record=current, values={"phone": phone}
    )


@pytest.mark.req("R5")
def test_every_declared_field_starts_with_its_rule_vouched_for_by_a_revision() -> None:
    for entity in ("person", "unit", "employment", "agency", "service_institution"):
        spec = spec_for(entity)
        in_force = rules_in_force(entity)
        assert set(in_force) == {rule[0] for rule in spec.declaration.rules}, entity
        for rule in in_force.values():
            assert Revision.objects.filter(entity="collection_rule", record_id=rule.pk, version=1).exists()


@pytest.mark.req("R9.1")
@pytest.mark.req("R5")
def test_only_a_city_level_system_administrator_proposes_rules(make_staff) -> None:  # type: ignore[no-untyped-def]
    district_admin = make_staff("admin_hc", posts=("city_admin",), district="371002")
    city_clerk = make_staff("clerk_city", posts=("window_clerk", "approver", "reviewer"), district="371000")

    for outsider in (district_admin, city_clerk):
        with translation.override("zh-hans"), pytest.raises(NotPermitted, match="市级系统管理员"):
            propose_phone_by_hand(outsider)

    assert phone_versions() == 1
    assert rules_in_force("person")["phone"].review_level == "system"
    assert AuditEvent.objects.filter(action="access.denied", actor="clerk_city").count() == 1


@pytest.mark.req("R9.1")
def test_a_proposal_takes_effect_only_when_a_second_city_administrator_confirms_it(
    city_admin, second_admin, make_staff
) -> None:  # type: ignore[no-untyped-def]
    held = propose_phone_by_hand(city_admin)
    assert phone_versions() == 1 and rules_in_force("person")["phone"].review_level == "system"

    with translation.override("zh-hans"), pytest.raises(SeparationOfDuties):
        review_decide(actor=city_admin, change_request_id=held.pk, approve=True)
    reviewer = make_staff("reviewer_city", posts=("reviewer",), district="371000")
    with pytest.raises(NotPermitted):
        review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    assert phone_versions() == 1

    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
    assert rules_in_force("person")["phone"].review_level == "manual"
    held.refresh_from_db()
    assert held.status == ReviewStatus.APPROVED and held.decided_by == second_admin


@pytest.mark.req("R5")
@pytest.mark.req("R9.2")
def test_a_confirmed_change_adds_a_version_with_its_revision_and_audit_event(
    city_admin, second_admin
) -> None:  # type: ignore[no-untyped-def]
    rule = phone_reviewed_by_hand(city_admin, second_admin)

    assert (rule.version, rule.review_level, rule.created_by) == (2, "manual", "admin2_city")
    assert CollectionRule.objects.get(entity="person", field="phone", version=1).review_level == "system"
    # Every version of one field's rule is one record of history, named by its first version's row.
    history = CollectionRule.objects.get(entity="person", field="phone", version=1).pk
    revision = Revision.objects.get(entity="collection_rule", record_id=history, version=2)
    first = Revision.objects.get(entity="collection_rule", record_id=history, version=1)
    assert (revision.version, revision.method, revision.actor) == (2, Method.RULES, "admin2_city")
    assert revision.reference.startswith("CR") and revision.prev_digest == first.digest
    assert revision.changes["review_level"] == ["system", "manual"]
    assert "validator" not in revision.changes  # unchanged fields are not listed
    event = AuditEvent.objects.get(action="rules.edit", actor="admin2_city")
    assert event.object_id == "person.phone" and json.loads(event.payload)["detail"]["version"] == 2
    assert AuditEvent.objects.filter(action="rules.propose", actor="admin_city").count() == 1


@pytest.mark.req("R5")
@pytest.mark.req("R7.3")
def test_the_rule_in_force_routes_submissions(city_admin, second_admin, huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    assert change_phone(huancui_clerk, wang, "13806310001").applied == ("phone",)

    phone_reviewed_by_hand(city_admin, second_admin)
    outcome = change_phone(huancui_clerk, wang, "13806310002")

    assert outcome.applied == () and outcome.held is not None
    assert outcome.held.crosschecks == []  # the new rule names no registry
    assert Person.objects.get(pk=wang.pk).phone == "13806310001"


@pytest.mark.req("R5")
def test_a_rule_with_a_future_effective_time_applies_only_from_then(
    city_admin, second_admin, huancui_clerk, make_person
) -> None:  # type: ignore[no-untyped-def]
    edited = datetime.fromisoformat("2026-04-01T10:00:00+08:00")
    takes_effect = datetime.fromisoformat("2026-05-01T00:00:00+08:00")
    with freeze_time(edited) as clock:
        person = make_person(id_number="371002196001010011", name="王建国")
        phone_reviewed_by_hand(city_admin, second_admin, effective_from=takes_effect)

        assert change_phone(huancui_clerk, person, "13806310001").applied == ("phone",)
        clock.move_to(takes_effect - timedelta(seconds=1))
        assert change_phone(huancui_clerk, person, "13806310002").applied == ("phone",)
        clock.move_to(takes_effect)
        held = change_phone(huancui_clerk, person, "13806310003")

    assert held.held is not None
    assert Person.objects.get(pk=person.pk).phone == "13806310002"
    assert rules_in_force("person", at=takes_effect - timedelta(seconds=1))["phone"].version == 1


@pytest.mark.req("R5")
def test_without_a_time_the_rule_takes_effect_at_confirmation_however_late(city_admin, second_admin) -> None:  # type: ignore[no-untyped-def]
    proposed = datetime.fromisoformat("2026-04-01T10:00:00+08:00")
    with freeze_time(proposed) as clock:
        held = propose_phone_by_hand(city_admin)
        clock.move_to(proposed + timedelta(hours=5))  # the default no longer goes stale
        review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
        rule = CollectionRule.objects.get(entity="person", field="phone", version=2)
    assert rule.effective_from == proposed + timedelta(hours=5)


@pytest.mark.req("R5")
def test_a_retroactive_edit_is_refused(city_admin) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"), pytest.raises(ChangeRefused, match="过去"):
        propose_phone_by_hand(city_admin, effective_from=timezone.now() - timedelta(minutes=1))
    assert phone_versions() == 1


@pytest.mark.req("R5")
@pytest.mark.parametrize(
    ("field", "validator", "crosschecks", "review_level"),
    [
        ("phone", "shoe_size", [], "system"),  # no such validator
        ("phone", "code:blood_type", [], "system"),  # no such code table
        ("phone", "phone", ["interpol"], "manual"),  # no such registry
        ("phone", "phone", [], "sometimes"),  # no such review level
        ("phone", "phone", [], "none"),  # "none" means not validated: a validator there would be a lie
        ("postcode", "sex", [], "system"),  # a validator that does not fit the field
        ("email", "idcard", [], "system"),  # a text check that is not the field's own
        ("birth_date", "idcard", [], "system"),  # a text check on a date
        ("category", "code:unit_type", [], "system"),  # another field's code table
    ],
)
def test_a_proposal_naming_something_unknown_unfit_or_contradictory_is_refused(  # type: ignore[no-untyped-def]
    city_admin, field, validator, crosschecks, review_level
) -> None:
    before = CollectionRule.objects.count()
    with pytest.raises(ChangeRefused):
        rule_propose(
            actor=city_admin, entity="person", field=field, required=False, validator=validator,
            review_level=review_level, crosschecks=crosschecks, reason="试验",
        )  # fmt: skip
    assert CollectionRule.objects.count() == before
    assert not AuditEvent.objects.filter(action="rules.propose").exists()


@pytest.mark.req("R5")
def test_the_validators_offered_for_a_field_are_those_that_fit_its_type() -> None:
    person = spec_for("person")
    assert validators_for(person, "birth_date") == ["date"]
    assert validators_for(person, "category") == ["code:person_category"]
    assert validators_for(person, "district_id") == ["district", "region"]
    assert validators_for(person, "sex") == ["sex", "choices"]
    assert validators_for(person, "postcode") == ["postcode", "text"]
    assert validators_for(person, "phone") == ["phone", "phone_or_service", "text"]
    assert validators_for(spec_for("agency"), "level") == ["choices"]


@pytest.mark.req("R5")
def test_a_rule_for_a_field_that_is_not_collected_is_refused(city_admin) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChangeRefused):
        rule_propose(
            actor=city_admin, entity="person", field="salary", required=False, validator="text",
            review_level="system", crosschecks=[], reason="试验",
        )  # fmt: skip
    assert not CollectionRule.objects.filter(field="salary").exists()


@pytest.mark.req("R5")
@pytest.mark.req("R6.1")
def test_a_field_made_required_is_enforced_at_the_next_edit_of_every_record(
    city_admin, second_admin, huancui_clerk, wang
) -> None:  # type: ignore[no-untyped-def]
    assert not Person.objects.get(pk=wang.pk).postcode
    held = rule_propose(
        actor=city_admin, entity="person", field="postcode", required=True, validator="postcode",
        review_level="system", crosschecks=[], reason="邮寄权益记录单需要邮编",
    )  # fmt: skip
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)

    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        change_phone(huancui_clerk, wang, "13806310009")
    assert refused.value.errors["postcode"].code == "required_now"
    assert "邮政编码" in refused.value.errors["postcode"].localized()
    assert "必填" in refused.value.errors["postcode"].localized()
    assert Person.objects.get(pk=wang.pk).phone != "13806310009"  # nothing was saved

    outcome = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=Person.objects.get(pk=wang.pk),
        values={"phone": "13806310009", "postcode": "264200"},
    )  # fmt: skip
    assert set(outcome.applied) == {"phone", "postcode"}
