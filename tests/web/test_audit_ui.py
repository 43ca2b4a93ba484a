"""The audit browser (R20): auditors read the tamper-evident log, and reading it is itself recorded; an
auditor reaches no write function."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sidms.audit.models import AuditEvent, Outcome
from sidms.audit.services import audit_record
from sidms.changes.batches import batch_apply_update
from sidms.changes.models import BatchApplication, BatchStatus
from sidms.parameters.models import CollectionRule

pytestmark = [pytest.mark.django_db]


def _seqs(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/audit/(\d+)/">', page)]


@pytest.fixture
def events(make_staff) -> None:  # type: ignore[no-untyped-def]
    make_staff("clerk_x", posts=("window_clerk",), full_name="环翠窗口 张敏")
    audit_record(
        "read.person",
        actor="clerk_x",
        object_type="person",
        object_id="3700000019",
    )
    audit_record(
        "read.unit_list", actor="clerk_x", object_type="unit", detail={"by": "name", "shown": ["37100000010"]}
    )
    audit_record(
        "access.denied",
        actor="clerk_y",
        outcome=Outcome.DENIED,
        detail={"permission": "audit.view", "path": "/audit/"},
    )
    audit_record(
        "rules.edit",
        actor="admin_city",
        object_type="collection_rule",
        object_id="person.email",
        detail={"version": 2, "fields": ["required", "review_level"]},
    )
    audit_record(
        "read.person",
        actor="system",
        object_type="person",
        object_id="3700000027",
        detail={"reason": "not_configured"},
    )


def _rows(page: str) -> list[dict[str, str]]:
    """The audit table's rows, as the reader sees them."""
    rows = []
    for tr in re.findall(r'<tr>\s*<td><a href="/audit/\d+/">.*?</tr>', page, re.S):
        cells = dict(re.findall(r'<td class="(actor|action|object)">(.*?)</td>', tr, re.S))
        rows.append(
            {k: re.sub(r"<br>.*", "", v, flags=re.S).strip() for k, v in cells.items()} | {"html": tr}
        )
    return rows


@pytest.mark.req("R20")
def test_the_audit_browser_lists_events_newest_first_in_words(auditor, signed_in, events) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(auditor).get("/audit/").content.decode()
    seqs = _seqs(page)
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 5
    rows = _rows(page)
    viewed = next(r for r in rows if r["object"] == "参保人员 3700000019")
    assert viewed["action"] == "查看参保人员" and viewed["actor"] == "环翠窗口 张敏"
    searched = next(r for r in rows if r["action"] == "查询参保单位")
    assert "<dt>查询方式</dt><dd>单位名称</dd>" in searched["html"] and "37100000010" in searched["html"]
    rule = next(r for r in rows if r["action"] == "写入采集规则新版本")
    assert rule["object"] == "采集规则 参保人员 · 电子邮箱" and "必填、审核级别" in rule["html"]
    denied = next(r for r in rows if r["action"] == "拒绝访问")
    assert "浏览审计日志" in denied["html"] and "拒绝" in denied["html"]
    system = next(r for r in rows if r["object"] == "参保人员 3700000027")
    assert system["actor"] == "系统" and "未配置与该部门的接口" in system["html"]
    for raw in ("read.person", "person.email", "audit.view", "not_configured", "{&quot;", ">system<"):
        assert raw not in page, raw
    assert 'id="chain-status"' in page


@pytest.mark.req("R20")
def test_audit_filters_narrow_the_events_and_take_chinese_action_names(auditor, signed_in, events) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(auditor)

    def actions(**filters: str) -> list[str]:
        return [row["action"] for row in _rows(client.get("/audit/", filters).content.decode())]

    assert set(actions(actor="环翠窗口 张敏")) == {"查看参保人员", "查询参保单位"}
    assert set(actions(actor="clerk_x")) == {"查看参保人员", "查询参保单位"}
    assert set(actions(action="查看参保人员")) == {"查看参保人员"}
    assert set(actions(action="参保单位")) == {"查询参保单位"}
    assert set(actions(action="采集规则")) >= {"写入采集规则新版本"}
    assert set(actions(object_id="person.email")) == {"写入采集规则新版本"}  # the seeded version and ours
    assert set(actions(outcome="denied", actor="clerk_y")) == {"拒绝访问"}
    today = timezone.localdate()
    assert "写入采集规则新版本" in actions(date_from=today.isoformat(), date_to=today.isoformat())
    assert actions(date_to=(today - timedelta(days=1)).isoformat()) == []


@pytest.mark.req("R20")
def test_an_audit_date_that_does_not_exist_is_explained_and_shows_nothing(auditor, signed_in, events) -> None:  # type: ignore[no-untyped-def]
    response = signed_in(auditor).get("/audit/", {"date_from": "2024-02-30"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "请输入存在的日期" in page and _seqs(page) == []


@pytest.mark.req("R20")
def test_the_audit_log_is_paged_by_sequence_number(auditor, signed_in) -> None:  # type: ignore[no-untyped-def]
    for n in range(60):
        audit_record("test.page", actor="paging", object_id=n)
    client = signed_in(auditor)
    first = _seqs(client.get("/audit/", {"actor": "paging"}).content.decode())
    assert len(first) == 50
    older = client.get("/audit/", {"actor": "paging", "before": first[-1]}).content.decode()
    assert len(_seqs(older)) == 10 and max(_seqs(older)) < min(first)
    newer = client.get("/audit/", {"actor": "paging", "after": max(_seqs(older))}).content.decode()
    assert _seqs(newer) == first


@pytest.mark.req("R20")
def test_one_event_shows_its_words_both_hashes_and_offers_the_hashed_original(
    auditor, signed_in, events
) -> None:  # type: ignore[no-untyped-def]
    event = AuditEvent.objects.get(action="read.unit_list")
    client = signed_in(auditor)
    page = client.get(f"/audit/{event.seq}/").content.decode()
    assert event.hash in page and event.prev_hash in page
    assert "查询参保单位" in page and "环翠窗口 张敏" in page and "{&quot;" not in page
    download = client.get(f"/audit/{event.seq}/payload/")
    assert download["Content-Type"].startswith("application/json")
    assert download.content.decode() == event.payload  # the exact bytes the chain hashed
    assert client.get("/audit/999999/").status_code == 404


@pytest.mark.req("R20")
def test_browsing_the_audit_log_is_itself_audited(auditor, signed_in, events) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(auditor)
    client.get("/audit/", {"actor": "clerk_x"})
    browse = AuditEvent.objects.filter(action="audit.browse", actor="auditor_city").get()
    assert '"filters":{"actor":"clerk_x"}' in browse.payload
    event = AuditEvent.objects.get(action="read.unit_list")
    client.get(f"/audit/{event.seq}/")
    assert AuditEvent.objects.filter(action="audit.browse", object_id=str(event.seq)).exists()


@pytest.mark.req("R20")
def test_staff_who_are_not_auditors_are_refused_the_audit_browser(
    huancui_clerk, make_staff, signed_in, events
) -> None:  # type: ignore[no-untyped-def]
    city_admin = make_staff("admin_city", posts=("city_admin",), district="371000")
    for staff in (huancui_clerk, city_admin):
        client = signed_in(staff)
        assert client.get("/audit/").status_code == 403
        assert client.get(f"/audit/{AuditEvent.objects.first().seq}/").status_code == 403  # type: ignore[union-attr]
    assert not AuditEvent.objects.filter(action="audit.browse").exists()
    assert AuditEvent.objects.filter(action="access.denied", actor="admin_city").count() == 2


@pytest.mark.req("R20")
@pytest.mark.req("R9.3")
@pytest.mark.req("R9.1")
def test_an_auditor_reaches_no_write_function(auditor, huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    batch = batch_apply_update(
        actor=huancui_clerk, entity="person", selection={}, change={"postcode": "264200"}, reason="测试"
    )
    client = signed_in(auditor)
    assert client.get("/batches/new/").status_code == 403
    apply = {"new_postcode": "264200", "reason": "x", "action": "submit"}
    assert client.post("/batches/new/?entity=person", apply).status_code == 403
    assert client.post(f"/batches/{batch.pk}/decide/", {"decision": "approve"}).status_code == 403
    assert client.post(f"/batches/{batch.pk}/execute/").status_code == 403
    edit = {"validator": "text", "review_level": "none", "reason": "x"}
    assert client.post("/rules/person/address/", edit).status_code == 403
    assert 'name="reason"' not in client.get("/rules/person/address/").content.decode()
    assert BatchApplication.objects.get().status == BatchStatus.SUBMITTED
    assert CollectionRule.objects.filter(entity="person", field="address").count() == 1


@pytest.mark.req("R20")
def test_the_audit_page_costs_the_same_queries_however_many_events_it_shows(auditor, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(auditor)
    client.get("/audit/")
    with CaptureQueriesContext(connection) as few:
        client.get("/audit/")
    for n in range(40):
        audit_record("test.many", actor="many", object_id=n)
    with CaptureQueriesContext(connection) as more:
        client.get("/audit/")
    assert len(more) == len(few)


@pytest.mark.req("R20")
def test_an_auditor_verifies_the_store_from_the_audit_page_and_the_result_is_recorded(  # type: ignore[no-untyped-def]
    auditor, signed_in, make_person
) -> None:
    from sidms.audit.models import AuditEvent

    make_person(id_number="371002196001010011")
    client = signed_in(auditor)
    response = client.post("/audit/verify/", follow=True)
    page = response.content.decode()
    assert "完整" in page or "intact" in page
    event = AuditEvent.objects.filter(action="audit.verify").get()
    assert event.outcome == "ok" and event.actor == "auditor_city"
    assert client.get("/audit/verify/").status_code == 405  # GET never runs it


@pytest.mark.req("R20")
def test_a_staff_accounts_changes_read_in_words_and_its_reads_are_found_by_name(  # type: ignore[no-untyped-def]
    auditor, signed_in, make_staff
) -> None:
    from sidms.security.accounts import staff_set_district

    security = make_staff("security_city", posts=("security_admin",), district="371000")
    clerk = make_staff("clerk9_hc", posts=("window_clerk",), district="371002")
    staff_set_district(actor=security, staff=clerk, district="371083", reason="调动")
    audit_record("read.staff", actor="security_city", object_type="staff", object_id="clerk9_hc")
    client = signed_in(auditor)
    event = AuditEvent.objects.filter(action="staff.district").latest("seq")
    page = client.get(f"/audit/{event.seq}/").content.decode()
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).split("前一哈希值")[0]
    assert "数据项 区市" in words and "district" not in words
    found = client.get("/audit/", {"action": "查看工作人员"}).content.decode()
    assert "查看工作人员" in found and "clerk9_hc" in found
