"""The queue page (待办与已办): review requests with their registry cross-checks (R7.3), and maintenance orders going
apply → approve → modify → re-check, each step by another person holding that post (R9.3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sidms.changes import crosschecks
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, Revision
from sidms.changes.services import submit_change
from sidms.lib.idcard import check_digit

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"
HUANCUI_1960_B = "371002196001010038"  # the same sex and birth date


@pytest.fixture
def people(make_staff):  # type: ignore[no-untyped-def]
    """Four people of Huancui, one per step of maintenance, and a reviewer; the first four by name."""
    # Named at creation (a name saved on the row afterwards is a change behind the system's back).
    people = {
        "applicant": make_staff(
            "clerk_apply", posts=("window_clerk",), district="371002", full_name="环翠窗口 申报"
        ),
        "approver": make_staff(
            "approver_hc", posts=("approver",), district="371002", full_name="环翠审批 王"
        ),
        "modifier": make_staff(
            "clerk_modify", posts=("window_clerk",), district="371002", full_name="环翠窗口 修改"
        ),
        "rechecker": make_staff(
            "rechecker_hc", posts=("rechecker",), district="371002", full_name="环翠复核 李"
        ),
        "reviewer": make_staff("reviewer_hc", posts=("reviewer",), district="371002"),
    }
    return people


def section(page: str, key: str) -> str:
    """One queue of the queue page: "change_request.review", "maintenance.approve", …"""
    return page.split(f'id="{key}"')[1].split("</section>")[0]


def maintain_form(person, **changes: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    data: dict[str, object] = {
        "version": person.version,
        "name": person.name,
        "sex": person.sex,
        "birth_date": person.birth_date.isoformat(),
        "category": person.category,
        "district_id": person.district_id,
        "status": person.status,
    }
    data.update(changes)
    return data


@pytest.mark.req("R7.3")
def test_a_reviewer_sees_the_pending_requests_of_their_district_only(  # type: ignore[no-untyped-def]
    huancui_clerk, rushan_clerk, make_staff, signed_in, make_person
) -> None:
    huancui = make_person(id_number=HUANCUI_1960, name="王建国")
    rushan = make_person(id_number="371083198502020020", name="乳山人", district="371083")
    submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="person",
        record=huancui,
        values={"name": "王建华"},
    )
    submit_change(
        actor=rushan_clerk, channel=Channel.WINDOW, entity="person", record=rushan, values={"name": "乳山新"}
    )
    ours, theirs = ChangeRequest.objects.order_by("district_id")
    reviewer = signed_in(make_staff("reviewer_hc", posts=("reviewer",), district="371002"))
    queue = section(reviewer.get("/queues/").content.decode(), "change_request.review")
    assert f"CR{ours.pk}" in queue and f"CR{theirs.pk}" not in queue and "姓名" in queue
    assert reviewer.get(f"/queues/review/{theirs.pk}/").status_code == 404
    response = reviewer.post(f"/queues/review/{theirs.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "pending"
    city = signed_in(make_staff("reviewer_city", posts=("reviewer",), district="371000"))
    everything = section(city.get("/queues/").content.decode(), "change_request.review")
    assert f"CR{ours.pk}" in everything and f"CR{theirs.pk}" in everything


@pytest.mark.req("R10.3")
def test_the_queue_pages_are_refused_to_posts_without_a_workflow_step(  # type: ignore[no-untyped-def]
    auditor, huancui_clerk, make_staff, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960)
    outcome = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person, values={"name": "王建华"}
    )
    client = signed_in(auditor)
    assert client.get("/queues/").status_code == 403
    assert client.get(f"/queues/review/{outcome.held.pk}/").status_code == 403
    other_clerk = signed_in(make_staff("clerk_hc2", posts=("window_clerk",), district="371002"))
    assert other_clerk.get(f"/queues/review/{outcome.held.pk}/").status_code == 404  # not theirs to see
    assert signed_in(huancui_clerk).get(f"/queues/review/{outcome.held.pk}/").status_code == 200  # their own
    assert client.get(f"/queues/review/{outcome.held.pk}/decide/").status_code == 405  # GETs change nothing


@pytest.fixture
def public_security_extract(settings, tmp_path: Path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """The public-security registry answers from a CSV extract; civil affairs stays unconfigured."""
    path = tmp_path / "public_security.csv"
    path.write_text(f"id_number,name,deceased\n{HUANCUI_1960_B},王建国,0\n", encoding="utf-8")
    crosschecks.reset()
    yield path
    crosschecks.reset()


@pytest.mark.req("R7.3")
def test_registry_results_show_as_badges_and_not_verified_is_never_shown_as_verified(  # type: ignore[no-untyped-def]
    huancui_clerk, people, signed_in, make_person, settings, public_security_extract
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    outcome = submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="person",
        record=person,
        values={"id_number": HUANCUI_1960_B},
    )
    reviewer = signed_in(people["reviewer"])
    page = reviewer.get(f"/queues/review/{outcome.held.pk}/").content.decode()
    assert page.count('class="badge unavailable"') == 2 and "未核查" in page
    assert 'class="badge verified"' not in page and "核查一致" not in page
    assert "公安部门" in page and "民政部门" in page
    settings.SIDMS_CROSSCHECK = {"public_security": {"mode": "file", "path": str(public_security_extract)}}
    crosschecks.reset()
    page = reviewer.post(f"/queues/review/{outcome.held.pk}/recheck/", follow=True).content.decode()
    assert "已重新核查" in page
    assert page.count('class="badge verified"') == 1 and page.count('class="badge unavailable"') == 1
    assert HUANCUI_1960_B in page  # the reviewer compares the held number in full
    assert "371002********0011" in page and HUANCUI_1960 not in page  # the stored one keeps its mask
    # The clerk who submitted it follows the request with the numbers masked, as everywhere else.
    own = signed_in(huancui_clerk).get(f"/queues/review/{outcome.held.pk}/").content.decode()
    assert HUANCUI_1960_B not in own and HUANCUI_1960 not in own and "王建国" in own


@pytest.mark.req("R9.3")
def test_maintenance_runs_through_four_people_in_the_ui(people, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    applicant, approver = signed_in(people["applicant"]), signed_in(people["approver"])
    modifier, rechecker = signed_in(people["modifier"]), signed_in(people["rechecker"])

    form = applicant.get(f"/persons/{person.person_no}/maintain/").content.decode()
    assert "维护理由" in form
    refused = applicant.post(f"/persons/{person.person_no}/maintain/", maintain_form(person, name="王建华"))
    assert "请填写维护理由" in refused.content.decode() and not MaintenanceOrder.objects.exists()
    response = applicant.post(
        f"/persons/{person.person_no}/maintain/",
        maintain_form(person, name="王建华", reason="姓名录入错误，依据户口簿更正"),
        follow=True,
    )
    order = MaintenanceOrder.objects.get()
    assert response.redirect_chain[-1][0] == f"/maintenance/{order.pk}/"
    assert "王建国" in response.content.decode() and "王建华" in response.content.decode()

    assert f"MO{order.pk}" in section(approver.get("/queues/").content.decode(), "maintenance.approve")
    assert f"MO{order.pk}" not in section(modifier.get("/queues/").content.decode(), "maintenance.modify")
    approver.post(f"/maintenance/{order.pk}/approve/", {"decision": "approve"})
    person.refresh_from_db()
    assert person.name == "王建国"  # approval alone changes nothing

    assert f"MO{order.pk}" not in section(applicant.get("/queues/").content.decode(), "maintenance.modify")
    assert f"MO{order.pk}" in section(modifier.get("/queues/").content.decode(), "maintenance.modify")
    modifier.post(f"/maintenance/{order.pk}/modify/")
    person.refresh_from_db()
    assert person.name == "王建华"

    assert f"MO{order.pk}" in section(rechecker.get("/queues/").content.decode(), "maintenance.recheck")
    rechecker.post(f"/maintenance/{order.pk}/recheck/", {"decision": "accept"})
    order.refresh_from_db()
    assert order.status == "accepted"
    page = rechecker.get(f"/maintenance/{order.pk}/").content.decode()
    for who in ("环翠窗口 申报", "环翠审批 王", "环翠窗口 修改", "环翠复核 李"):
        assert who in page  # each step by name
    assert "本维护单已办结" in page
    timeline = (
        applicant.get(f"/persons/{person.person_no}/history/").content.decode().split('id="history"')[1]
    )
    assert f'href="/maintenance/{order.pk}/"' in timeline and "维护修改" in timeline


@pytest.mark.req("R9.3")
def test_a_send_back_restores_the_previous_value(people, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    person = make_person(id_number=HUANCUI_1960, phone="13963100000")
    order = maintenance_apply(
        actor=people["applicant"],
        entity="person",
        record=person,
        values={"phone": "13863105678"},
        reason="更正",
    )
    signed_in(people["approver"]).post(f"/maintenance/{order.pk}/approve/", {"decision": "approve"})
    signed_in(people["modifier"]).post(f"/maintenance/{order.pk}/modify/")
    person.refresh_from_db()
    assert person.phone == "13863105678"
    rechecker = signed_in(people["rechecker"])
    page = rechecker.get(f"/maintenance/{order.pk}/").content.decode()
    assert "139****0000" in page and "138****5678" in page and "13863105678" not in page  # masked
    no_reason = rechecker.post(f"/maintenance/{order.pk}/recheck/", {"decision": "send_back"})
    assert "退回时必须填写理由" in no_reason.content.decode()
    rechecker.post(
        f"/maintenance/{order.pk}/recheck/", {"decision": "send_back", "reason": "号码属他人，无依据"}
    )
    person.refresh_from_db()
    order.refresh_from_db()
    assert person.phone == "13963100000" and order.status == "sent_back"
    assert Revision.objects.filter(entity="person", record_id=person.pk, method="send_back").exists()
    assert "号码属他人，无依据" in rechecker.get(f"/maintenance/{order.pk}/").content.decode()


@pytest.mark.req("R9.3")
def test_one_person_cannot_take_two_steps_of_an_order(make_staff, people, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    person = make_person(id_number=HUANCUI_1960, phone="13963100000")
    order = maintenance_apply(
        actor=people["applicant"],
        entity="person",
        record=person,
        values={"phone": "13863105678"},
        reason="更正",
    )
    approver = signed_in(people["approver"])
    refused = approver.post(f"/maintenance/{order.pk}/approve/", {"decision": "reject"})
    assert "不批准时必须填写理由" in refused.content.decode()
    approver.post(f"/maintenance/{order.pk}/approve/", {"decision": "approve"})
    applicant = signed_in(people["applicant"])
    page = applicant.get(f"/maintenance/{order.pk}/").content.decode()
    assert "您已办理本维护单的前序步骤" in page and "/modify/" not in page
    response = applicant.post(f"/maintenance/{order.pk}/modify/")
    assert response.status_code == 403 and "须由不同人员完成" in response.content.decode()
    person.refresh_from_db()
    assert person.phone == "13963100000"
    reviewer = signed_in(people["reviewer"])  # a post with no maintenance step
    assert reviewer.get(f"/maintenance/{order.pk}/").status_code == 403
    rushan_approver = signed_in(make_staff("approver_rs", posts=("approver",), district="371083"))
    assert rushan_approver.get(f"/maintenance/{order.pk}/").status_code == 404
    assert signed_in(people["modifier"]).get("/units/nope/maintain/").status_code == 404


@pytest.mark.req("R8")
def test_a_page_of_the_queue_runs_a_bounded_number_of_queries(make_staff, signed_in, load) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_bulk", posts=("window_clerk",), district="371002")
    both = make_staff("reviewer_approver", posts=("reviewer", "approver"), district="371002")
    rows = []
    for i in range(20):
        body = f"37100219700102{i:03d}"
        rows.append(
            {
                "id_number": body + check_digit(body), "name": "测试" + chr(0x4E00 + i), "category": "employee",
                "district_id": "371002", "status": "active",
            }
        )  # fmt: skip
    persons = load("person", rows)

    def add_work(batch: list[object]) -> None:
        for person in batch:
            submit_change(
                actor=clerk,
                channel=Channel.WINDOW,
                entity="person",
                record=person,
                values={"name": "改名" + person.name},
            )
            maintenance_apply(
                actor=clerk, entity="person", record=person, values={"address": "新地址"}, reason="补充"
            )

    client = signed_in(both)
    add_work(persons[:5])
    client.get("/queues/")  # warms the code-table caches, read once per process
    with CaptureQueriesContext(connection) as few:
        page = client.get("/queues/").content.decode()
    assert page.count("/queues/review/") == 5 and page.count('href="/maintenance/') == 5
    add_work(persons[5:])
    with CaptureQueriesContext(connection) as more:
        page = client.get("/queues/").content.decode()
    assert page.count("/queues/review/") == 20 and page.count('href="/maintenance/') == 20
    assert len(more) == len(few)


@pytest.mark.req("R7.3")
def test_approving_a_request_overtaken_by_another_change_is_refused_with_a_message(  # type: ignore[no-untyped-def]
    huancui_clerk, people, signed_in, make_person
) -> None:
    """The name corrected by a maintenance order while the request waited (a second request of the name is
    refused at submission: tests/changes/test_pending_requests.py)."""
    from sidms.changes.maintenance import maintenance_apply, maintenance_approve, maintenance_modify

    person = make_person(id_number=HUANCUI_1960, name="王建国")
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person, values={"name": "王建华"}
    ).held
    order = maintenance_apply(actor=people["applicant"], entity="person", record=person,
                              values={"name": "王建军"}, reason="户籍更正")  # fmt: skip
    maintenance_approve(actor=people["approver"], order_id=order.pk, approve=True)
    maintenance_modify(actor=people["modifier"], order_id=order.pk)
    reviewer = signed_in(people["reviewer"])
    response = reviewer.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 409
    assert "此申请已过时" in response.content.decode()
    person.refresh_from_db()
    assert person.name == "王建军"


@pytest.mark.req("R7.3")
@pytest.mark.req("R10")
def test_a_reviewer_sees_the_held_values_in_full_and_the_stored_ones_masked(  # type: ignore[no-untyped-def]
    huancui_clerk, people, make_staff, signed_in, make_person
) -> None:
    """The values held for manual review are shown in full to the one who decides (to compare with the
    documents); the values they replace are stored values like any other, masked as the read door masks
    them on the window channel: a phone, bank account or ID number is never shown in full once entered."""
    from sidms.changes.rules import rule_propose
    from sidms.changes.services import review_decide
    from tests.conftest import luhn_complete

    admin, second = (
        make_staff(name, posts=("city_admin",), district="371000") for name in ("admin_city", "admin2_city")
    )
    for field in ("phone", "bank_account"):
        held = rule_propose(actor=admin, entity="person", field=field, required=False, validator=field,
                            review_level="manual", crosschecks=[], reason="冒用较多，改为人工审核")  # fmt: skip
        review_decide(actor=second, change_request_id=held.pk, approve=True)
    old_account, new_account = luhn_complete("621700000000000000"), luhn_complete("622202000000000000")
    person = make_person(id_number=HUANCUI_1960, name="王建国", phone="13963100000", bank_account=old_account)
    outcome = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
        values={"id_number": HUANCUI_1960_B, "phone": "13863105678", "bank_account": new_account},
    )  # fmt: skip
    assert outcome.held is not None and set(outcome.held.proposed) == {"id_number", "phone", "bank_account"}
    page = signed_in(people["reviewer"]).get(f"/queues/review/{outcome.held.pk}/").content.decode()
    for old in (HUANCUI_1960, "13963100000", old_account):
        assert old not in page, old
    for masked in ("371002********0011", "139****0000", f"6217 **** **** {old_account[-4:]}"):
        assert masked in page, masked
    for new in (HUANCUI_1960_B, "13863105678", new_account):
        assert new in page, new
