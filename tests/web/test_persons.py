"""Persons are found by exact ID number (blind index) or by name, within the staff member's district."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sidms.audit.models import AuditEvent
from sidms.lib.idcard import check_digit
from tests.conftest import luhn_complete

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"  # python-stdnum's cn.ric wrongly rejects this genuine number


@pytest.mark.req("R10.3")
def test_a_clerk_finds_a_person_by_exact_id_number(huancui_clerk, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    make_person(id_number=HUANCUI_1960, name="王建国")
    make_person(id_number="37100219700101018X", name="李红")
    client = signed_in(huancui_clerk)
    page = client.post("/persons/", {"q": HUANCUI_1960}).content.decode()
    assert "王建国" in page and "李红" not in page
    assert "371002********0011" in page  # masked in the list


@pytest.mark.req("R10.3")
def test_an_id_search_with_lower_case_x_or_the_legacy_15_digit_form_finds_the_person(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    make_person(id_number="37100219700101018X", name="李红")
    make_person(id_number="371002600101001", name="赵旧号", legacy=True)  # legacy 15-digit number, as found
    client = signed_in(huancui_clerk)
    assert "李红" in client.post("/persons/", {"q": "37100219700101018x"}).content.decode()
    assert "赵旧号" in client.post("/persons/", {"q": "371002196001010011"}).content.decode()


@pytest.mark.req("R10.3")
def test_a_clerk_finds_persons_by_the_beginning_of_a_name(huancui_clerk, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    make_person(id_number=HUANCUI_1960, name="王建国")
    make_person(id_number="37100219700101018X", name="李红")
    page = signed_in(huancui_clerk).post("/persons/", {"q": "王"}).content.decode()
    assert "王建国" in page and "李红" not in page


@pytest.mark.req("R10.3")
def test_a_district_clerk_does_not_see_another_districts_persons(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    rushan = make_person(id_number="371083198502020020", name="乳山人", district="371083")
    make_person(id_number=HUANCUI_1960, name="环翠人", district="371002")
    client = signed_in(huancui_clerk)
    listing = client.get("/persons/").content.decode()
    assert "环翠人" in listing and "乳山人" not in listing
    assert "乳山人" not in client.post("/persons/", {"q": "371083198502020020"}).content.decode()
    assert client.get(f"/persons/{rushan.person_no}/").status_code == 404
    denied = AuditEvent.objects.get(action="read.person", outcome="denied")
    assert denied.object_id == rushan.person_no


@pytest.mark.req("R10.3")
def test_city_level_staff_see_every_district(make_staff, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    city = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    make_person(id_number="371083198502020020", name="乳山人", district="371083")
    make_person(id_number=HUANCUI_1960, name="环翠人", district="371002")
    listing = signed_in(city).get("/persons/").content.decode()
    assert "环翠人" in listing and "乳山人" in listing


@pytest.mark.req("R10.3")
def test_a_post_without_person_query_is_refused_and_recorded(auditor, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    person = make_person(id_number=HUANCUI_1960)
    client = signed_in(auditor)
    assert client.get("/persons/").status_code == 403
    assert client.get(f"/persons/{person.person_no}/").status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", actor="auditor_city").count() == 2


@pytest.mark.req("R20")
def test_reading_a_person_is_an_audit_event_without_the_id_number(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    client = signed_in(huancui_clerk)
    page = client.get(f"/persons/{person.person_no}/").content.decode()
    assert "371002********0011" in page and HUANCUI_1960 not in page  # masked once entered, even here
    client.post("/persons/", {"q": HUANCUI_1960})
    event = AuditEvent.objects.get(action="read.person", outcome="ok")
    assert event.actor == "clerk_hc" and event.object_id == person.person_no
    for payload in AuditEvent.objects.values_list("payload", flat=True):
        assert HUANCUI_1960 not in payload


@pytest.mark.req("R8")
def test_the_person_list_runs_a_bounded_number_of_queries(huancui_clerk, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(huancui_clerk)
    for i in range(30):
        body = f"37100219700102{i:03d}"
        make_person(id_number=body + check_digit(body), name="测试" + chr(0x4E00 + i))
    client.get("/persons/")  # warms the code-table cache, which is read once per process
    with CaptureQueriesContext(connection) as few:
        client.get("/persons/")
    for i in range(30, 60):
        body = f"37100219700102{i:03d}"
        make_person(id_number=body + check_digit(body), name="测试" + chr(0x4E00 + i))
    with CaptureQueriesContext(connection) as more:
        client.get("/persons/")
    assert len(more) == len(few)


@pytest.mark.req("R17")
def test_the_database_holds_no_id_number_phone_or_account_in_plain_text(make_person) -> None:  # type: ignore[no-untyped-def]
    account = luhn_complete("621785600001234567")
    make_person(id_number=HUANCUI_1960, phone="13963112345", bank_account=account)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registry_person")
        row = cursor.fetchone()
    text = " ".join(str(bytes(v)) if isinstance(v, memoryview | bytes) else str(v) for v in row)
    for secret in (HUANCUI_1960, "13963112345", account):
        assert secret not in text


@pytest.mark.req("R10")
def test_an_id_number_in_the_address_bar_is_not_searched(huancui_clerk, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    make_person(id_number=HUANCUI_1960, name="王建国")
    page = signed_in(huancui_clerk).get("/persons/", {"q": HUANCUI_1960}).content.decode()
    assert "搜索框" in page or "查询框" in page
    assert "按身份证号码精确查询" not in page
