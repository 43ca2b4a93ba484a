"""The window's submit forms: values pass the collection rules in force, routine fields apply at once,
fields that must be exact wait for a reviewer, and bad input is refused whole with the reason beside the
field (R6.1, R7)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import ChangeRequest, Channel, Revision
from sidms.changes.services import submit_change
from sidms.registry.models import Person, Unit
from tests.archives.conftest import provide_documents
from tests.conftest import luhn_complete

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"
HUANCUI_1960_B = "371002196001010038"  # the same sex and birth date: an ID number change they agree with
HUANCUI_1970 = "37100219700101018X"


def person_form(person: Any, **changes: object) -> dict[str, object]:
    """What the edit form posts back: every field as shown (personal identifiers start empty, which keeps
    the stored value), with CHANGES typed over it."""
    data: dict[str, object] = {
        "version": person.version,
        "id_number": "",
        "name": person.name,
        "sex": person.sex,
        "birth_date": person.birth_date.isoformat() if person.birth_date else "",
        "category": person.category,
        "district_id": person.district_id,
        "phone": "",
        "email": "",
        "address": person.address,
        "postcode": person.postcode,
        "bank_account": "",
        "status": person.status,
    }
    data.update(changes)
    return data


def unit_form(unit: Any, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "version": unit.version,
        "name": unit.name,
        "credit_code": unit.credit_code,
        "org_code": unit.org_code,
        "unit_type": unit.unit_type,
        "district_id": unit.district_id,
        "address": unit.address,
        "postcode": unit.postcode,
        "contact_person": unit.contact_person,
        "phone": "",
        "email": unit.email,
        "industry_risk_class": unit.industry_risk_class,
        "status": unit.status,
    }
    data.update(changes)
    return data


@pytest.fixture
def huancui_reviewer(make_staff):  # type: ignore[no-untyped-def]
    return make_staff("reviewer_hc", posts=("reviewer",), district="371002")


@pytest.mark.req("R6.1")
def test_the_edit_form_labels_every_field_in_chinese_and_offers_the_code_tables(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    page = signed_in(huancui_clerk).get(f"/persons/{person.person_no}/edit/").content.decode()
    for label in ("公民身份号码", "姓名", "性别", "出生日期", "人员类别", "所属区域", "电话", "银行账号"):
        assert label in page, label
    assert "在职职工" in page  # the person-category code table
    # Personal identifiers are not shown again once entered: the field starts empty, the mask is its hint.
    assert 'placeholder="371002********0011"' in page and HUANCUI_1960 not in page
    assert "371002 环翠区" in page and "371083" not in page  # only the clerk's own district
    assert 'name="person_no"' not in page  # the record number is the system's, never typed
    assert 'name="csrfmiddlewaretoken"' in page


@pytest.mark.req("R7.2")
@pytest.mark.req("R9.2")
def test_a_phone_change_applies_at_once_and_appears_in_the_timeline(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, phone="13963100000")
    client = signed_in(huancui_clerk)
    response = client.post(
        f"/persons/{person.person_no}/edit/", person_form(person, phone="138 6310 5678"), follow=True
    )
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/persons/{person.person_no}/"
    assert "已立即生效：电话" in page
    person.refresh_from_db()
    assert person.phone == "13863105678"  # normalised by the phone rule
    revision = Revision.objects.filter(entity="person", record_id=person.pk).latest("version")
    assert (
        revision.channel == "window" and revision.actor == "clerk_hc" and set(revision.changes) == {"phone"}
    )
    timeline = client.get(f"/persons/{person.person_no}/history/").content.decode().split('id="history"')[1]
    assert "139****0000" in timeline and "138****5678" in timeline  # old → new, masked
    assert "窗口" in timeline and "13863105678" not in page + timeline


@pytest.mark.req("R7.3")
def test_an_id_number_change_waits_for_review_while_the_old_number_stays_in_force(  # type: ignore[no-untyped-def]
    huancui_clerk, huancui_reviewer, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    clerk = signed_in(huancui_clerk)
    page = clerk.post(
        f"/persons/{person.person_no}/edit/", person_form(person, id_number=HUANCUI_1960_B), follow=True
    ).content.decode()
    held = ChangeRequest.objects.get()
    assert f"CR{held.pk}" in page
    assert "审核通过前仍以原值为准" in page
    assert "该记录有待审核的变更" in page and f'href="/queues/review/{held.pk}/"' in page
    assert "371002********0011" in page and HUANCUI_1960_B not in page  # the old number, masked, stays
    person.refresh_from_db()
    assert person.id_number == HUANCUI_1960
    for payload in AuditEvent.objects.values_list("payload", flat=True):
        assert HUANCUI_1960_B not in payload  # typed in plain text, never logged
    queue = signed_in(huancui_reviewer).get("/queues/").content.decode()
    assert f"CR{held.pk}" in queue.split('id="change_request.review"')[1]


@pytest.mark.req("R7.3")
def test_a_reviewer_approves_in_the_ui_and_the_new_number_is_in_force(  # type: ignore[no-untyped-def]
    huancui_clerk, huancui_reviewer, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    signed_in(huancui_clerk).post(
        f"/persons/{person.person_no}/edit/", person_form(person, id_number=HUANCUI_1960_B)
    )
    held = ChangeRequest.objects.get()
    reviewer = signed_in(huancui_reviewer)
    review = reviewer.get(f"/queues/review/{held.pk}/").content.decode()
    assert HUANCUI_1960_B in review  # in full: the reviewer compares the held number with the documents
    assert "371002********0011" in review and HUANCUI_1960 not in review  # the stored number keeps its mask
    response = reviewer.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}, follow=True)
    assert response.redirect_chain[-1][0] == "/queues/"
    assert f"CR{held.pk}" in response.content.decode()
    person.refresh_from_db()
    assert person.id_number == HUANCUI_1960_B
    assert "371002********0038" in reviewer.get(f"/persons/{person.person_no}/").content.decode()
    history = reviewer.get(f"/persons/{person.person_no}/history/").content.decode()
    assert f'href="/queues/review/{held.pk}/"' in history  # the timeline links the revision to its review


@pytest.mark.req("R7.3")
def test_a_submitter_holding_both_posts_cannot_approve_their_own_change(  # type: ignore[no-untyped-def]
    make_staff, signed_in, make_person
) -> None:
    both = make_staff("clerk_and_reviewer", posts=("window_clerk", "reviewer"), district="371002")
    person = make_person(id_number=HUANCUI_1960)
    client = signed_in(both)
    client.post(f"/persons/{person.person_no}/edit/", person_form(person, id_number=HUANCUI_1960_B))
    held = ChangeRequest.objects.get()
    review = client.get(f"/queues/review/{held.pk}/").content.decode()
    assert "您本人提交" in review and 'value="approve"' not in review
    queue = client.get("/queues/").content.decode()
    assert f"CR{held.pk}" not in queue.split('id="change_request.review"')[1].split("</section>")[0]
    assert f"CR{held.pk}" in queue.split('id="change_request.mine"')[1]
    response = client.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 403
    assert "不能审核本人提交的变更" in response.content.decode()
    held.refresh_from_db()
    person.refresh_from_db()
    assert held.status == "pending" and person.id_number == HUANCUI_1960


@pytest.mark.req("R7.3")
def test_a_rejection_needs_a_reason_and_the_submitter_sees_it(  # type: ignore[no-untyped-def]
    huancui_clerk, huancui_reviewer, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960)
    clerk = signed_in(huancui_clerk)
    clerk.post(f"/persons/{person.person_no}/edit/", person_form(person, id_number=HUANCUI_1960_B))
    held = ChangeRequest.objects.get()
    reviewer = signed_in(huancui_reviewer)
    response = reviewer.post(f"/queues/review/{held.pk}/decide/", {"decision": "reject", "reason": "  "})
    assert response.status_code == 400 and "驳回时必须填写理由" in response.content.decode()
    held.refresh_from_db()
    assert held.status == "pending"
    reviewer.post(
        f"/queues/review/{held.pk}/decide/", {"decision": "reject", "reason": "身份证复印件与号码不符"}
    )
    held.refresh_from_db()
    assert held.status == "rejected"
    mine = clerk.get("/queues/").content.decode().split('id="change_request.mine"')[1]
    assert "身份证复印件与号码不符" in mine and "已驳回" in mine


@pytest.mark.req("R6.1")
def test_form_errors_show_in_chinese_beside_the_field_keep_the_input_and_save_nothing(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, address="环翠区新威路 1 号")
    revisions = Revision.objects.filter(entity="person").count()
    response = signed_in(huancui_clerk).post(
        f"/persons/{person.person_no}/edit/",
        person_form(person, phone="1396310", address="环翠区新威路 9 号", bank_account="6217000000000000001"),
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "提交的数据不符合采集规则" in page  # the summary
    phone_row = page.split('for="id_phone"')[1].split('class="form-row')[0]
    assert '<p class="error">' in phone_row and "号码" in phone_row
    bank_row = page.split('for="id_bank_account"')[1].split('class="form-row')[0]
    assert "银行卡号校验位错误" in bank_row
    assert 'value="1396310"' in page and 'value="环翠区新威路 9 号"' in page  # what the clerk typed is kept
    assert Revision.objects.filter(entity="person").count() == revisions
    person.refresh_from_db()
    assert person.address == "环翠区新威路 1 号"  # refused whole: the valid address was not applied either


@pytest.mark.req("R6.1")
def test_a_new_person_waits_whole_for_review_and_exists_once_approved(  # type: ignore[no-untyped-def]
    huancui_clerk, huancui_reviewer, signed_in
) -> None:
    clerk = signed_in(huancui_clerk)
    form = clerk.get("/persons/new/").content.decode()
    assert 'name="person_no"' not in form and "编号在保存时由系统自动分配" in form and "提交后需审核" in form
    data = {
        "person_no": "abc",  # typed over the form: the window never numbers a record
        "id_number": HUANCUI_1970,
        "name": "李红",
        "sex": "2",
        "birth_date": "1970-01-01",
        "category": "employee",
        "district_id": "371002",
        "phone": "13963112345",
        "bank_account": luhn_complete("621700000000000000"),
        "status": "active",
    }
    response = clerk.post("/persons/new/", data, follow=True)
    held = ChangeRequest.objects.get()
    assert response.redirect_chain[-1][0] == f"/queues/review/{held.pk}/"
    assert not Person.objects.filter(name="李红").exists()
    provide_documents(held)  # the ID copy, accepted by the archive reviewer (R7.4)
    signed_in(huancui_reviewer).post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    created = Person.objects.get(name="李红")
    assert created.id_number == HUANCUI_1970 and created.phone == "13963112345"
    assert re.fullmatch(r"37\d{8}", created.person_no)  # numbered by the system, with its check digit
    assert clerk.get("/persons/abc/").status_code == 404


@pytest.mark.req("R6.1")
def test_a_new_person_without_required_fields_is_refused_with_the_reasons(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    response = signed_in(huancui_clerk).post("/persons/new/", {"name": "李红"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "公民身份号码为必填项" in page and "人员类别为必填项" in page
    assert not ChangeRequest.objects.exists() and not Person.objects.filter(name="李红").exists()


@pytest.mark.req("R7.1")
@pytest.mark.req("R7.3")
def test_a_unit_contact_applies_at_once_while_its_credit_code_waits(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_unit
) -> None:
    unit = make_unit(name="威海海之韵科技有限公司", district="371002")
    client = signed_in(huancui_clerk)
    page = client.get(f"/units/{unit.unit_no}/edit/").content.decode()
    assert "统一社会信用代码" in page and "联系人" in page
    response = client.post(
        f"/units/{unit.unit_no}/edit/",
        unit_form(unit, contact_person="刘经理", credit_code="91371002MA3C0000XX"),
    )
    assert response.status_code == 400  # an invalid credit code refuses the whole submission
    credit_row = response.content.decode().split('for="id_credit_code"')[1].split("form-row")[0]
    assert '<p class="error">' in credit_row
    unit.refresh_from_db()
    assert unit.contact_person == ""
    page = client.post(
        f"/units/{unit.unit_no}/edit/",
        unit_form(
            unit, contact_person="刘经理", credit_code="91371082775260043P", name="威海海之韵信息科技有限公司"
        ),
        follow=True,
    ).content.decode()
    unit.refresh_from_db()
    assert unit.contact_person == "刘经理" and unit.name == "威海海之韵科技有限公司"
    assert "已立即生效：联系人" in page and "单位名称" in page
    assert ChangeRequest.objects.get().proposed.keys() == {"name"}


@pytest.mark.req("R9.2")
def test_a_submission_on_a_form_opened_before_someone_elses_change_saves_nothing(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, phone="13963100000")
    seen = person_form(person, address="新地址 1 号")  # the first clerk opened the form at version 1
    other = make_staff("clerk_hc2", posts=("window_clerk",), district="371002")
    signed_in(other).post(f"/persons/{person.person_no}/edit/", person_form(person, phone="13863105678"))
    response = signed_in(huancui_clerk).post(f"/persons/{person.person_no}/edit/", seen)
    page = response.content.decode()
    assert response.status_code == 409
    assert "有人修改了该记录" in page and "当前存储值" in page
    assert "138****5678" in page and "13863105678" not in page  # the stored value, masked as everywhere
    assert 'value="新地址 1 号"' in page  # what the clerk typed is kept
    person.refresh_from_db()
    assert person.phone == "13863105678" and person.address == ""


@pytest.mark.req("R9.2")
@pytest.mark.req("R9.3")
@pytest.mark.parametrize("form", ["edit", "maintain"])
def test_a_conflict_shows_the_stored_values_masked_never_in_full(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, make_person, form
) -> None:
    person = make_person(id_number=HUANCUI_1960, phone="13963100000")
    seen = person_form(person, address="新地址 1 号", reason="补充地址")  # opened at version 1
    account = luhn_complete("622848001234567890")
    other = signed_in(make_staff("clerk_hc2", posts=("window_clerk",), district="371002"))
    other.post(
        f"/persons/{person.person_no}/edit/",
        person_form(person, phone="13863105678", email="13863105678@139.com", bank_account=account),
    )
    person.refresh_from_db()
    assert person.version == 2 and person.email == "13863105678@139.com"
    response = signed_in(huancui_clerk).post(f"/persons/{person.person_no}/{form}/", seen)
    page = response.content.decode()
    assert response.status_code == 409
    assert "有人修改了该记录" in page and "当前存储值" in page
    assert "138****5678" in page and "13****@139.com" in page and f"6228 **** **** {account[-4:]}" in page
    for secret in ("13863105678", account, HUANCUI_1960, "13863105678@139.com"):
        assert secret not in page
    assert 'name="version" value="2"' in page  # a second submit is deliberate


@pytest.mark.req("R10.3")
def test_every_page_renders_for_its_posts_and_is_refused_to_other_posts_and_districts(  # type: ignore[no-untyped-def]
    huancui_clerk, rushan_clerk, huancui_reviewer, auditor, signed_in, make_person, make_unit
) -> None:
    person = make_person(id_number=HUANCUI_1960)
    unit = make_unit(name="威海海之韵科技有限公司", district="371002")
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person, values={"name": "王建华"}
    ).held
    order = maintenance_apply(
        actor=huancui_clerk, entity="unit", record=unit, values={"contact_person": "刘经理"}, reason="补充"
    )
    pages = {
        "/persons/new/": (200, 200, 403, 403),
        "/units/new/": (200, 200, 403, 403),
        f"/persons/{person.person_no}/edit/": (200, 404, 403, 403),
        f"/units/{unit.unit_no}/edit/": (200, 404, 403, 403),
        f"/persons/{person.person_no}/maintain/": (200, 404, 403, 403),
        f"/units/{unit.unit_no}/maintain/": (200, 404, 403, 403),
        f"/persons/{person.person_no}/": (200, 404, 200, 403),
        f"/units/{unit.unit_no}/": (200, 404, 200, 403),
        f"/persons/{person.person_no}/history/": (200, 404, 200, 403),
        f"/units/{unit.unit_no}/history/": (200, 404, 200, 403),
        "/queues/": (200, 200, 200, 403),
        f"/queues/review/{held.pk}/": (200, 404, 200, 403),
        f"/maintenance/{order.pk}/": (200, 404, 403, 403),
    }
    clients = [signed_in(s) for s in (huancui_clerk, rushan_clerk, huancui_reviewer, auditor)]
    for url, expected in pages.items():
        assert tuple(c.get(url).status_code for c in clients) == expected, url
    edit = clients[1].post(f"/persons/{person.person_no}/edit/", person_form(person, phone="13863105678"))
    assert edit.status_code == 404
    detail = clients[2].get(f"/persons/{person.person_no}/").content.decode()
    assert f"/persons/{person.person_no}/edit/" not in detail  # no edit button without the post
    person.refresh_from_db()
    assert person.phone == "13963100000" and Unit.objects.count() == 1
