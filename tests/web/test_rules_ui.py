"""The collection rules on the staff pages (R5, R9.1): everyone with a post reads them; only the city-level
system administrator adds a version."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest
from sidms.parameters.models import CollectionRule

pytestmark = [pytest.mark.django_db]

EDIT = {
    "required": "on",
    "validator": "text",
    "review_level": "manual",
    "crosschecks": ["public_security", "civil_affairs"],
    "effective_from": "",
    "reason": "地址须人工核实",
}


def _address_row(page: str) -> str:
    """The row of the person's address on the rules page."""
    match = re.search(r'<a href="/rules/person/address/">.*?</tr>', page, re.S)
    assert match, page
    return match.group(0)


@pytest.fixture
def city_admin(make_staff):  # type: ignore[no-untyped-def]
    return make_staff("admin_city", posts=("city_admin",), district="371000")


@pytest.mark.req("R5")
def test_every_post_reads_the_rules_by_entity_with_chinese_labels(huancui_clerk, auditor, signed_in) -> None:  # type: ignore[no-untyped-def]
    for staff in (huancui_clerk, auditor):
        page = signed_in(staff).get("/rules/").content.decode()
        assert "参保人员" in page and "参保单位" in page
        assert "公民身份号码" in page and "公民身份号码（GB 11643）" in page
        assert "人工审核" in page and "系统校验" in page and "无需审核" in page
        assert "公安、民政" in page and "市场监管、税务" in page
        assert "代码表：" in page


@pytest.mark.req("R9.1")
def test_the_rule_editor_is_read_only_for_those_who_are_not_the_city_administrator(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in
) -> None:
    district_admin = make_staff("admin_hc", posts=("city_admin",), district="371002")
    for staff in (huancui_clerk, district_admin):
        client = signed_in(staff)
        page = client.get("/rules/person/address/").content.decode()
        assert "版本历史" in page and "只读" in page and 'name="reason"' not in page
        assert client.post("/rules/person/address/", EDIT).status_code == 403
    assert CollectionRule.objects.filter(entity="person", field="address").count() == 1
    for username in ("clerk_hc", "admin_hc"):
        assert AuditEvent.objects.filter(action="access.denied", actor=username).exists()


@pytest.fixture
def second_admin(make_staff):  # type: ignore[no-untyped-def]
    # Named at creation: a name saved on the row afterwards is a change behind the system's back, and the
    # account no longer signs in (attack round 9).
    admin = make_staff("admin_city2", posts=("city_admin",), district="371000", full_name="市局 赵管理")
    return admin


def _confirm(client, page: str) -> int:  # type: ignore[no-untyped-def]
    """The second administrator confirms the proposal named on the rule's page; its request number."""
    match = re.search(r'href="/queues/review/(\d+)/"', page)
    assert match, page
    confirmed = client.post(f"/queues/review/{match.group(1)}/decide/", {"decision": "approve"})
    assert confirmed.status_code == 302, confirmed.content.decode()[:3000]
    return int(match.group(1))


@pytest.mark.req("R5")
@pytest.mark.req("R9.1")
def test_a_city_administrators_proposal_takes_effect_when_a_second_one_confirms_it(  # type: ignore[no-untyped-def]
    city_admin, second_admin, signed_in
) -> None:
    client = signed_in(city_admin)
    before = timezone.localtime() - timedelta(minutes=5)
    form = client.get("/rules/person/address/").content.decode()
    # The form starts from the rule in force, and its effective time is empty: "when confirmed".
    assert 'name="reason"' in form and 'value="none" selected' in form
    assert re.search(r'name="effective_from"[^>]*>', form) and 'name="effective_from" value=' not in form
    saved = client.post("/rules/person/address/", EDIT, follow=True)
    assert saved.redirect_chain[-1][0] == "/rules/person/address/"
    pending = saved.content.decode()
    assert "须经第二名市级管理员确认后生效" in pending and "待确认的修改提议" in pending
    assert CollectionRule.objects.filter(entity="person", field="address").count() == 1  # not yet
    assert "无需审核" in _address_row(client.get("/rules/").content.decode())

    other = signed_in(second_admin)
    todo = other.get("/").content.decode()
    assert "待确认的规则变更" in todo
    number = re.search(r"/queues/review/(\d+)/", pending).group(1)  # type: ignore[union-attr]
    review = other.get(f"/queues/review/{number}/").content.decode()
    assert "参保人员 · 地址" in review and "person.address" not in review
    assert "人工审核" in review and "无需审核" in review  # the rule before → after, in words
    _confirm(other, pending)

    history = client.get("/rules/person/address/").content.decode()
    assert "v2" in history and "v1" in history and "地址须人工核实" in history and "市局 赵管理" in history
    rule = CollectionRule.objects.get(entity="person", field="address", version=2)
    assert (rule.required, rule.review_level, rule.crosschecks) == (
        True,
        "manual",
        ["public_security", "civil_affairs"],
    )
    assert AuditEvent.objects.filter(action="rules.edit", object_id="person.address").exists()

    now_row = _address_row(client.get("/rules/").content.decode())
    assert "人工审核" in now_row and "公安、民政" in now_row and ">2<" in now_row
    then_row = _address_row(client.get("/rules/", {"at": before.strftime("%Y-%m-%dT%H:%M")}).content.decode())
    assert "无需审核" in then_row and ">1<" in then_row


@pytest.mark.req("R5")
@pytest.mark.req("R9.1")
def test_the_proposer_cannot_confirm_their_own_rule_change(city_admin, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(city_admin)
    pending = client.post("/rules/person/address/", EDIT, follow=True).content.decode()
    number = re.search(r"/queues/review/(\d+)/", pending).group(1)  # type: ignore[union-attr]
    review = client.get(f"/queues/review/{number}/").content.decode()
    assert "该规则修改由您本人提议" in review and 'value="approve"' not in review
    refused = client.post(f"/queues/review/{number}/decide/", {"decision": "approve"})
    assert refused.status_code == 403
    assert CollectionRule.objects.filter(entity="person", field="address").count() == 1


@pytest.mark.req("R5")
def test_a_version_effective_later_waits_and_the_rule_in_force_stays(
    city_admin, second_admin, signed_in
) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(city_admin)
    tomorrow = timezone.localtime() + timedelta(days=1)
    later = {**EDIT, "effective_from": tomorrow.strftime("%Y-%m-%dT%H:%M")}
    pending = client.post("/rules/person/address/", later, follow=True).content.decode()
    _confirm(signed_in(second_admin), pending)
    assert "尚未生效" in client.get("/rules/person/address/").content.decode()
    assert "无需审核" in _address_row(client.get("/rules/").content.decode())
    at = (tomorrow + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    assert "人工审核" in _address_row(client.get("/rules/", {"at": at}).content.decode())


@pytest.mark.req("R5")
def test_a_rule_edit_the_service_refuses_shows_why_and_stores_nothing(city_admin, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(city_admin)
    refused = client.post("/rules/person/phone/", {**EDIT, "review_level": "none", "validator": "phone"})
    assert refused.status_code == 400
    assert "“无需审核”的数据项不做校验" in refused.content.decode()
    unfit = client.post("/rules/person/address/", {**EDIT, "validator": "idcard"})
    assert unfit.status_code == 400  # an address is never offered the ID-number check
    past = client.post("/rules/person/address/", {**EDIT, "effective_from": "2020-01-01T00:00"})
    assert past.status_code == 400 and "规则不能在过去生效" in past.content.decode()
    kept = past.content.decode()
    assert 'value="2020-01-01T00:00"' in kept  # the refused form keeps what was typed
    assert ChangeRequest.objects.count() == 0
    assert CollectionRule.objects.filter(entity="person", field="address").count() == 1


@pytest.mark.req("R5")
def test_a_field_that_is_not_governed_has_no_rule_page(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(huancui_clerk)
    assert client.get("/rules/person/password/").status_code == 404
    assert client.get("/rules/spaceship/name/").status_code == 404
