"""Attack round 14: a person's district written in SQL still hands the district it names every record of
theirs but their own row.

Round 13 made the read door check a record against its history before a page or list shows it
(changes.integrity.require_read_intact, withhold_unintact). But an employment, an enrolment, a base
declaration, an entitlement, a delegated query and a ledger entry have no district of their own: it is read
from their person (``person__district``), and the guard checked only the record's own row, which was intact.
With the person moved to 乳山市 by an UPDATE, 乳山市's clerk opened the person's employment, enrolment and
entitlement pages and their histories (each named 王建国 in its title), found them in the lists and the
exports, saw them listed as a current employee on a 乳山市 unit's page (``record_related`` had no guard at
all), saw them on 待遇发放核查 (/business/benefits/, read from the person scope with no guard), and could
end the employment, enter new ones and apply for maintenance through the pipeline, which checked the
employment's row only. A request about the employment moved to 乳山市's queue the same way passed the move
check (it checked the employment).

Fixed: the guard also checks the record the district is read from (changes.integrity: the owner, the first
hop of the declared district path) — on a page (409, naming the record and not the person since
test_owned_alert_page), in a list and a record's related lists (withheld, one alert per person), on 待遇发放核查
(``policies.withhold``), in the move check of requests and orders, and at the pipeline's scope check of a
submission or a maintenance order (``require_owner_intact``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.business.models import Entitlement, PersonEnrolment
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import IntegrityAlert
from sidms.registry.models import Employment
from tests.audit.test_tampering import _raw
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R7.3"), pytest.mark.req("R20")]

RUSHAN = "371083"


def alerts() -> int:
    return AuditEvent.objects.filter(action="integrity.alert", object_type="person").count()


@pytest.fixture
def moved(
    make_unit: Any, make_person: Any, load: Any, huancui_clerk: Any, rushan_clerk: Any
) -> dict[str, Any]:
    """A 环翠区 person employed by a 乳山市 unit, enrolled there, with a pension whose certification has lapsed;
    then the person's district is rewritten to 乳山市 in SQL."""
    unit = make_unit(unit_no="U3710830001", name="乳山市银滩旅游有限公司", district=RUSHAN)
    person = make_person(id_number=id_number("37100219600101001"), name="王建国", category="retiree")
    submit_change(actor=rushan_clerk, channel=Channel.WINDOW, entity="unit_enrolment",
                  values={"unit_id": unit.pk, "insurance": "110", "status": "paying", "start_date": "2020-01-01"})  # fmt: skip
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                  values={"person_id": person.pk, "unit_id": unit.pk, "start_date": "2021-01-01"})  # fmt: skip
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment",
                  values={"person_id": person.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
                          "status": "paying", "start_date": "2021-01-01"})  # fmt: skip
    load("entitlement", [{"person_id": str(person.pk), "kind": "pension", "start_date": "2023-01-01",
                          "monthly_amount": "2300.00", "basis": "测试", "status": "active",
                          "certified_on": "2023-01-01"}])  # fmt: skip
    _raw("UPDATE registry_person SET district_id = %s WHERE id = %s", [RUSHAN, person.pk])
    return {
        "unit": unit,
        "person": person,
        "employment": Employment.objects.get(),
        "enrolment": PersonEnrolment.objects.get(),
        "entitlement": Entitlement.objects.get(),
    }


def test_the_district_named_in_sql_opens_none_of_the_persons_records(
    moved: dict[str, Any], rushan_clerk: Any, signed_in: Any
) -> None:
    clerk = signed_in(rushan_clerk)
    paths = [
        f"/employments/{moved['employment'].pk}/",
        f"/employments/{moved['employment'].pk}/history/",
        f"/person-enrolments/{moved['enrolment'].pk}/",
        f"/entitlements/{moved['entitlement'].pk}/",
        f"/business/benefits/{moved['entitlement'].pk}/certification/",
    ]
    for path in paths:
        page = clerk.get(path)
        assert page.status_code == 409, path
        assert "王建国" not in page.content.decode(), path
    assert alerts() == len(paths)
    assert not AuditEvent.objects.filter(
        action__in=("read.employment", "read.person_enrolment", "read.entitlement"), outcome="ok"
    ).exists()


def test_the_district_named_in_sql_lists_none_of_the_persons_records(
    moved: dict[str, Any], rushan_clerk: Any, signed_in: Any
) -> None:
    """Nor on the lists, the unit's page (its current employees) or 待遇发放核查: each leaves the record out
    with one alert naming the person."""
    clerk = signed_in(rushan_clerk)
    person_no = moved["person"].person_no
    for path in ("/employments/", "/person-enrolments/", "/entitlements/", f"/units/{moved['unit'].unit_no}/",
                 "/business/benefits/"):  # fmt: skip
        page = clerk.get(path)
        assert page.status_code == 200, path
        body = page.content.decode()
        assert "王建国" not in body and f">{person_no}<" not in body, path
    assert alerts() == 5
    related = AuditEvent.objects.get(action="read.employment_list", actor=rushan_clerk.username,
                                     payload__contains='"related"')  # fmt: skip
    assert json.loads(related.payload)["detail"]["shown"] == []
    checks = json.loads(AuditEvent.objects.get(action="read.benefit_checks").payload)["detail"]
    assert checks["suspended"] == []


def test_the_district_named_in_sql_writes_none_of_the_persons_records(
    moved: dict[str, Any], rushan_clerk: Any, make_staff: Any
) -> None:
    """The pipeline read the scope of a submission from the person too: 乳山市's clerk ended the employment,
    entered a new one for the person, and applied to correct the enrolment."""
    employment, person, unit = moved["employment"], moved["person"], moved["unit"]
    with pytest.raises(IntegrityAlert):
        submit_change(actor=rushan_clerk, channel=Channel.WINDOW, entity="employment", record=employment,
                      values={"end_date": "2022-01-01"})  # fmt: skip
    with pytest.raises(IntegrityAlert):
        submit_change(actor=rushan_clerk, channel=Channel.WINDOW, entity="employment",
                      values={"person_id": person.pk, "unit_id": unit.pk, "start_date": "2023-01-01"})  # fmt: skip
    with pytest.raises(IntegrityAlert):
        maintenance_apply(actor=make_staff("clerk_rs_m", posts=("window_clerk",), district=RUSHAN),
                          entity="person_enrolment", record=moved["enrolment"], values={"status": "stopped"},
                          reason="停保")  # fmt: skip
    assert Employment.objects.count() == 1 and Employment.objects.get().end_date is None
    assert alerts() == 3


def test_a_request_about_the_persons_employment_is_not_handed_to_the_district_named_in_sql(
    make_unit: Any, make_person: Any, huancui_clerk: Any, make_staff: Any, signed_in: Any
) -> None:
    """The move check of a request (access.workflow.require_move_verified) checked the employment, which had
    not moved; the person it is read from had."""
    unit = make_unit(unit_no="U3710020001", name="环翠区一号公司", district="371002")
    person = make_person(id_number=id_number("37100219600101001"), name="王建国")
    employment = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                               values={"person_id": person.pk, "unit_id": unit.pk,
                                       "start_date": "2021-01-01"}).record  # fmt: skip
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment", record=employment,
                         values={"start_date": "2021-02-01"}, review_reason="入职日期登记错误").held  # fmt: skip
    assert held is not None
    _raw("UPDATE registry_person SET district_id = %s WHERE id = %s", [RUSHAN, person.pk])
    reviewer = signed_in(make_staff("reviewer_rs", posts=("reviewer",), district=RUSHAN))
    assert reviewer.get(f"/queues/review/{held.pk}/").status_code == 409
    assert f"CR{held.pk}<" not in reviewer.get("/queues/").content.decode()
    assert alerts() == 2


def test_the_persons_own_district_still_reads_and_writes_their_records(
    make_unit: Any, make_person: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    """The guard passes an intact person: the district that holds them reads and ends the employment. (Two
    people and three employments, so that no employment shares its number with its person: the lists' check
    once looked a person up by the employment's number, and withheld every employment of an intact person.)"""
    unit = make_unit(unit_no="U3710020001", name="环翠区一号公司", district="371002")
    make_person(id_number=id_number("37100219600101003"), name="李四")
    person = make_person(id_number=id_number("37100219600101001"), name="王建国")
    employments = [
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                      values={"person_id": person.pk, "unit_id": unit.pk, "start_date": day}).record
        for day in ("2019-01-01", "2020-01-01", "2021-01-01")
    ]  # fmt: skip
    employment = employments[-1]
    assert employment.pk != person.pk
    clerk = signed_in(huancui_clerk)
    assert "王建国" in clerk.get(f"/employments/{employment.pk}/").content.decode()
    listed = clerk.get("/employments/").content.decode()
    assert listed.count("王建国") >= 3 and "未予显示" not in listed
    assert "王建国" in clerk.get(f"/units/{unit.unit_no}/").content.decode()
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment", record=employment,
                  values={"end_date": "2022-01-01"})  # fmt: skip
    assert alerts() == 0


def test_the_district_named_in_sql_imports_no_record_of_the_person(
    moved: dict[str, Any], make_staff: Any
) -> None:
    """A district's import (its applicant out of the city level) read each row's district from the person it
    names, as the window does: an employment of the moved person was taken into an application."""
    from sidms.changes.batches import batch_apply_import
    from sidms.changes.models import BatchApplication

    applicant = make_staff("info_rs", posts=("info_centre",), district=RUSHAN)
    rows = [{"person_id": moved["person"].pk, "unit_id": moved["unit"].pk, "start_date": "2024-01-01"}]
    with pytest.raises(IntegrityAlert):
        batch_apply_import(actor=applicant, entity="employment", rows=rows, reason="补录")
    assert not BatchApplication.objects.filter(applicant=applicant).exists()
    assert alerts() == 1
