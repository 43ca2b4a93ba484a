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
def events() -> None:
    audit_record(
        "read.person", actor="clerk_x", object_type="person", object_id="P000000001", detail={"n": 1}
    )
    audit_record("read.unit", actor="clerk_x", object_type="unit", object_id="3710020001")
    audit_record(
        "access.denied", actor="clerk_y", outcome=Outcome.DENIED, detail={"permission": "audit.view"}
    )
    audit_record("rules.edit", actor="admin_city", object_type="collection_rule", object_id="person.address")


@pytest.mark.req("R20")
def test_the_audit_browser_lists_events_newest_first_with_their_details(auditor, signed_in, events) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(auditor).get("/audit/").content.decode()
    seqs = _seqs(page)
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 4
    assert "read.person" in page and "person:P000000001" in page and "clerk_x" in page
    assert "{&quot;n&quot;: 1}" in page  # the detail, as JSON
    newest = AuditEvent.objects.filter(action="rules.edit").get()
    assert f"{newest.hash[:12]}…" in page and newest.hash not in page.replace(f'title="{newest.hash}"', "")
    assert "拒绝" in page  # the outcome, in Chinese
    assert 'id="chain-status"' in page


@pytest.mark.req("R20")
def test_audit_filters_narrow_the_events(auditor, signed_in, events) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(auditor)

    def actions(**filters: str) -> set[str]:
        page = client.get("/audit/", filters).content.decode()
        return set(re.findall(r'<td class="mono">([a-z_.]+)</td>', page)) - {"—"}

    assert actions(actor="clerk_x") == {"read.person", "read.unit"}
    assert actions(action="read.") == {"read.person", "read.unit"}
    assert actions(object_type="collection_rule", object_id="person.address") == {"rules.edit"}
    assert actions(outcome="denied", actor="clerk_y") == {"access.denied"}
    today = timezone.localdate()
    assert "rules.edit" in actions(date_from=today.isoformat(), date_to=today.isoformat())
    assert actions(date_to=(today - timedelta(days=1)).isoformat()) == set()


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
def test_one_event_shows_its_payload_and_both_hashes(auditor, signed_in, events) -> None:  # type: ignore[no-untyped-def]
    event = AuditEvent.objects.get(action="read.unit")
    client = signed_in(auditor)
    page = client.get(f"/audit/{event.seq}/").content.decode()
    assert event.hash in page and event.prev_hash in page
    assert "&quot;object_id&quot;: &quot;3710020001&quot;" in page
    assert client.get("/audit/999999/").status_code == 404


@pytest.mark.req("R20")
def test_browsing_the_audit_log_is_itself_audited(auditor, signed_in, events) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(auditor)
    client.get("/audit/", {"actor": "clerk_x"})
    browse = AuditEvent.objects.filter(action="audit.browse", actor="auditor_city").get()
    assert '"filters":{"actor":"clerk_x"}' in browse.payload
    event = AuditEvent.objects.get(action="read.unit")
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
