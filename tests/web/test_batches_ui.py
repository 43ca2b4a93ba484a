"""Batch applications through the staff pages (R9.3): apply at a district or the city, approve at city
level, execute once within the window on exactly the authorised rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sidms.audit.models import AuditEvent
from sidms.changes.batches import batch_apply_import, batch_apply_update, batch_decide
from sidms.changes.models import BatchApplication, BatchStatus
from sidms.lib.idcard import check_digit
from sidms.registry.models import Person
from tests.conftest import luhn_complete

pytestmark = [pytest.mark.django_db]


def _rows(specs: list[tuple[str, str, str]]) -> list[dict[str, object]]:
    """Person rows for an import: (district, category, serial) each; the name carries the serial, the record
    number is the system's."""
    rows = []
    for district, category, serial in specs:
        body = f"{district}19700101{serial}"
        rows.append(
            {
                "id_number": body + check_digit(body),
                "name": f"测试人员{'零一二三四五六七八九'[int(serial[-1])]}",
                "category": category,
                "district_id": district,
                "phone": "13963100000",
                "bank_account": luhn_complete("621700000000000000"),
                "status": "active",
            }
        )
    return rows


@pytest.fixture
def people(load):  # type: ignore[no-untyped-def]
    """Two employees and a retiree in Huancui, and an employee in Rushan."""
    return load(
        "person",
        _rows([("371002", "employee", "001"), ("371002", "employee", "002"), ("371002", "retiree", "003"),
               ("371083", "employee", "004")]),
    )  # fmt: skip


@pytest.fixture
def city_approver(make_staff):  # type: ignore[no-untyped-def]
    return make_staff("approver_city", posts=("approver",), district="371000")


@pytest.fixture
def city_operator(make_staff):  # type: ignore[no-untyped-def]
    return make_staff("operator_city", posts=("info_centre",), district="371000")


def _huancui_employees_new_postcode(actor, **kwargs):  # type: ignore[no-untyped-def]
    return batch_apply_update(
        actor=actor, entity="person", selection={"category": "employee"}, change={"postcode": "264200"},
        reason="邮政编码调整", **kwargs,
    )  # fmt: skip


@pytest.mark.req("R9.3")
def test_a_batch_applied_approved_at_city_level_and_executed_through_the_pages_changes_exactly_the_selected_rows(  # type: ignore[no-untyped-def]
    people, huancui_clerk, city_approver, city_operator, signed_in
) -> None:
    clerk = signed_in(huancui_clerk)
    form = {"district": "371002", "where_category": "employee", "where_status": "", "new_postcode": "264200",
            "new_address": "威海市环翠区新威路 1 号", "new_category": "", "new_status": "", "reason": "街道邮编调整"}  # fmt: skip
    preview = clerk.post("/batches/new/?entity=person", {**form, "action": "preview"})
    assert preview.status_code == 200
    assert '<span class="matching-count" id="matching">2</span>' in preview.content.decode()
    assert not BatchApplication.objects.filter(kind="update").exists()  # counting is not applying

    applied = clerk.post("/batches/new/?entity=person", {**form, "action": "submit"})
    batch = BatchApplication.objects.get(kind="update")
    assert applied.status_code == 302 and applied["Location"] == f"/batches/{batch.pk}/"
    assert batch.row_count == 2 and batch.selection == {"district_id": "371002", "category": "employee"}
    assert "环翠区" in clerk.get(applied["Location"]).content.decode()

    approver = signed_in(city_approver)
    page = approver.get(f"/batches/{batch.pk}/").content.decode()
    assert f'action="/batches/{batch.pk}/decide/"' in page
    decided = approver.post(
        f"/batches/{batch.pk}/decide/", {"decision": "approve", "window_hours": "4", "reason": ""}
    )
    assert decided.status_code == 302
    batch.refresh_from_db()
    assert batch.status == BatchStatus.APPROVED and batch.authorised_rows == 2
    assert batch.window_end - batch.window_start == timedelta(hours=4)

    operator = signed_in(city_operator)
    page = operator.get(f"/batches/{batch.pk}/").content.decode()
    assert f'action="/batches/{batch.pk}/execute/"' in page
    executed = operator.post(f"/batches/{batch.pk}/execute/")
    assert executed.status_code == 302
    assert "2" in operator.get(executed["Location"]).content.decode()

    changed = {p.name: (p.postcode, p.address, p.version) for p in Person.objects.all()}
    assert changed == {
        "测试人员一": ("264200", "威海市环翠区新威路 1 号", 2),
        "测试人员二": ("264200", "威海市环翠区新威路 1 号", 2),
        "测试人员三": ("", "", 1),
        "测试人员四": ("", "", 1),
    }
    assert BatchApplication.objects.get(kind="update").status == BatchStatus.EXECUTED


@pytest.mark.req("R9.3")
def test_a_second_execution_is_refused_with_the_message_that_the_authorisation_allows_one(  # type: ignore[no-untyped-def]
    people, huancui_clerk, city_approver, city_operator, signed_in
) -> None:
    batch = _huancui_employees_new_postcode(huancui_clerk)
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    operator = signed_in(city_operator)
    assert operator.post(f"/batches/{batch.pk}/execute/").status_code == 302
    again = operator.post(f"/batches/{batch.pk}/execute/")
    assert again.status_code == 403
    assert "授权只允许执行一次" in again.content.decode()
    assert Person.objects.get(name="测试人员一").version == 2


@pytest.mark.req("R9.3")
def test_a_district_approver_cannot_approve_a_batch(people, huancui_clerk, make_staff, signed_in) -> None:  # type: ignore[no-untyped-def]
    district_approver = make_staff("approver_hc", posts=("approver",), district="371002")
    batch = _huancui_employees_new_postcode(huancui_clerk)
    client = signed_in(district_approver)
    assert "/decide/" not in client.get(f"/batches/{batch.pk}/").content.decode()  # no form offered
    refused = client.post(f"/batches/{batch.pk}/decide/", {"decision": "approve", "window_hours": "24"})
    assert refused.status_code == 403
    assert "批量变更须由市级审批" in refused.content.decode()
    assert BatchApplication.objects.get(kind="update").status == BatchStatus.SUBMITTED


@pytest.mark.req("R9.3")
def test_the_applicant_cannot_approve_their_own_batch(people, make_staff, signed_in) -> None:  # type: ignore[no-untyped-def]
    both = make_staff("clerk_and_approver", posts=("window_clerk", "approver"), district="371000")
    batch = _huancui_employees_new_postcode(both)
    client = signed_in(both)
    assert "/decide/" not in client.get(f"/batches/{batch.pk}/").content.decode()
    refused = client.post(f"/batches/{batch.pk}/decide/", {"decision": "approve", "window_hours": "24"})
    assert refused.status_code == 403
    assert "不同人员" in refused.content.decode()
    assert BatchApplication.objects.get(kind="update").status == BatchStatus.SUBMITTED


@pytest.mark.req("R9.3")
def test_a_refusal_needs_a_reason_and_then_ends_the_application(  # type: ignore[no-untyped-def]
    people, huancui_clerk, city_approver, signed_in
) -> None:
    batch = _huancui_employees_new_postcode(huancui_clerk)
    client = signed_in(city_approver)
    without = client.post(f"/batches/{batch.pk}/decide/", {"decision": "refuse", "reason": ""})
    assert without.status_code == 400 and "不批准时必须填写理由" in without.content.decode()
    refused = client.post(
        f"/batches/{batch.pk}/decide/", {"decision": "refuse", "reason": "范围过大"}, follow=True
    )
    assert "范围过大" in refused.content.decode()
    assert BatchApplication.objects.get(kind="update").status == BatchStatus.REFUSED


@pytest.mark.req("R9.3")
def test_the_approver_cannot_execute_the_batch_they_approved(
    people, huancui_clerk, make_staff, signed_in
) -> None:  # type: ignore[no-untyped-def]
    approver_operator = make_staff("approver_operator", posts=("approver", "info_centre"), district="371000")
    batch = _huancui_employees_new_postcode(huancui_clerk)
    batch_decide(actor=approver_operator, batch_id=batch.pk, approve=True)
    client = signed_in(approver_operator)
    assert "/execute/" not in client.get(f"/batches/{batch.pk}/").content.decode()
    refused = client.post(f"/batches/{batch.pk}/execute/")
    assert refused.status_code == 403 and "不同人员" in refused.content.decode()
    assert Person.objects.get(name="测试人员一").version == 1


@pytest.mark.req("R9.3")
def test_execution_outside_the_approved_window_is_refused(  # type: ignore[no-untyped-def]
    people, huancui_clerk, city_approver, city_operator, signed_in
) -> None:
    batch = _huancui_employees_new_postcode(huancui_clerk)
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True, window=timedelta(0))
    client = signed_in(city_operator)
    page = client.get(f"/batches/{batch.pk}/").content.decode()
    assert "/execute/" not in page and "已超出批准的执行时间窗口" in page
    refused = client.post(f"/batches/{batch.pk}/execute/")
    assert refused.status_code == 403 and "已超出批准的执行时间窗口" in refused.content.decode()
    assert Person.objects.get(name="测试人员一").version == 1


@pytest.mark.req("R9.3")
def test_execution_is_refused_when_another_number_of_records_matches_than_was_authorised(  # type: ignore[no-untyped-def]
    people, load, huancui_clerk, city_approver, city_operator, signed_in
) -> None:
    batch = _huancui_employees_new_postcode(huancui_clerk)
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    load("person", _rows([("371002", "employee", "005")]))  # a third employee arrives meanwhile
    refused = signed_in(city_operator).post(f"/batches/{batch.pk}/execute/")
    assert refused.status_code == 403
    assert "当前符合条件的记录（3 条）与批准的 2 条记录不一致" in refused.content.decode()
    assert set(Person.objects.values_list("version", flat=True)) == {1}


@pytest.mark.req("R9.3")
def test_a_change_that_fails_the_collection_rules_is_refused_on_the_form(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    form = {"district": "371002", "new_postcode": "2642", "reason": "邮编", "action": "submit"}
    client = signed_in(huancui_clerk)
    refused = client.post("/batches/new/?entity=person", form)
    assert refused.status_code == 400 and "邮政编码应为 6 位数字" in refused.content.decode()
    without_reason = client.post(
        "/batches/new/?entity=person", {**form, "new_postcode": "264200", "reason": ""}
    )
    assert "请填写批量变更理由" in without_reason.content.decode()
    assert not BatchApplication.objects.filter(kind="update").exists()


@pytest.mark.req("R9.3")
@pytest.mark.req("R10.3")
def test_district_staff_select_only_within_their_district_and_see_only_their_districts_applications(  # type: ignore[no-untyped-def]
    people, huancui_clerk, rushan_clerk, signed_in
) -> None:
    batch = _huancui_employees_new_postcode(huancui_clerk)
    rushan = signed_in(rushan_clerk)
    page = rushan.get("/batches/new/").content.decode()
    assert 'value="371083"' in page and 'value="371002"' not in page
    foreign = rushan.post("/batches/new/?entity=person", {"district": "371002", "new_postcode": "264200",
                                                           "reason": "越权", "action": "preview"})  # fmt: skip
    assert foreign.status_code == 400
    assert f"BA{batch.pk}" not in rushan.get("/batches/").content.decode()
    assert rushan.get(f"/batches/{batch.pk}/").status_code == 404
    assert f"BA{batch.pk}" in signed_in(huancui_clerk).get("/batches/").content.decode()


@pytest.mark.req("R9.3")
def test_a_unit_batch_selects_by_unit_type(make_unit, make_staff, signed_in) -> None:  # type: ignore[no-untyped-def]
    make_unit(name="威海甲公司", district="371002")
    make_unit(name="威海乙学校", district="371002", unit_type="school")
    city_clerk = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    client = signed_in(city_clerk)
    assert "单位类型" in client.get("/batches/new/?entity=unit").content.decode()
    preview = client.post("/batches/new/?entity=unit", {"district": "", "where_unit_type": "school",
                                                         "new_contact_person": "王老师", "action": "preview"})  # fmt: skip
    assert '<span class="matching-count" id="matching">1</span>' in preview.content.decode()


@pytest.mark.req("R9.3")
def test_an_import_batch_is_listed_approved_here_and_left_to_the_import_feature_to_execute(  # type: ignore[no-untyped-def]
    city_approver, city_operator, signed_in
) -> None:
    batch = batch_apply_import(actor=city_operator, entity="person", rows=_rows([("371002", "employee", "009")]),
                               reason="存量迁移")  # fmt: skip
    approver = signed_in(city_approver)
    assert f"BA{batch.pk}" in approver.get("/batches/").content.decode()
    approved = approver.post(f"/batches/{batch.pk}/decide/", {"decision": "approve", "window_hours": "24"})
    assert approved.status_code == 302
    page = signed_in(city_operator).get(f"/batches/{batch.pk}/").content.decode()
    assert "由导入功能执行" in page and "/execute/" not in page


@pytest.mark.req("R9.3")
@pytest.mark.req("R10.3")
def test_posts_without_a_batch_function_are_refused_every_batch_route(  # type: ignore[no-untyped-def]
    people, huancui_clerk, city_reviewer, auditor, signed_in
) -> None:
    batch = _huancui_employees_new_postcode(huancui_clerk)
    for staff in (city_reviewer, auditor):
        client = signed_in(staff)
        assert client.get("/batches/").status_code == 403
        assert client.get("/batches/new/").status_code == 403
        assert client.post("/batches/new/?entity=person", {"district": "", "new_postcode": "264200",
                                                            "reason": "x", "action": "submit"}).status_code == 403  # fmt: skip
        assert client.get(f"/batches/{batch.pk}/").status_code == 403
        assert client.post(f"/batches/{batch.pk}/decide/", {"decision": "approve"}).status_code == 403
        assert client.post(f"/batches/{batch.pk}/execute/").status_code == 403
    assert BatchApplication.objects.get(kind="update").status == BatchStatus.SUBMITTED
    assert AuditEvent.objects.filter(action="access.denied", actor="auditor_city").count() == 6


@pytest.mark.req("R9.3")
def test_batch_steps_are_never_taken_by_a_get(people, huancui_clerk, city_approver, signed_in) -> None:  # type: ignore[no-untyped-def]
    batch = _huancui_employees_new_postcode(huancui_clerk)
    client = signed_in(city_approver)
    assert client.get(f"/batches/{batch.pk}/decide/", {"decision": "approve"}).status_code == 405
    assert client.get(f"/batches/{batch.pk}/execute/").status_code == 405
    assert BatchApplication.objects.get(kind="update").status == BatchStatus.SUBMITTED


@pytest.mark.req("R9.3")
def test_the_batch_list_costs_the_same_queries_however_many_applications_it_shows(  # type: ignore[no-untyped-def]
    people, huancui_clerk, signed_in
) -> None:
    client = signed_in(huancui_clerk)
    _huancui_employees_new_postcode(huancui_clerk)
    client.get("/batches/")
    with CaptureQueriesContext(connection) as few:
        client.get("/batches/")
    for _ in range(4):
        _huancui_employees_new_postcode(huancui_clerk)
    with CaptureQueriesContext(connection) as more:
        client.get("/batches/")
    assert len(more) == len(few)
