"""Enrolments (参保登记, issue 8 §2, R2.2, R6.1) are registry records written through the pipeline, and their
entry rules are data: one active enrolment per exclusive group of schemes, no employee under 16 or after
death, the unit enrolled before its persons, a work-injury tier the industry class has."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.business.models import PersonEnrolment, UnitEnrolment
from sidms.changes.models import Channel, Revision
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit(make_unit: Any) -> Any:
    return make_unit(unit_no="U3710020001", name="威海港务有限公司", district="371002")


@pytest.fixture
def person(make_person: Any, make_employment: Any, unit: Any) -> Any:
    """An employee of UNIT since 2010 (an employee's enrolment follows the employment, 社会保险法 Art. 58)."""
    worker = make_person(id_number=id_number("37100219900101001"), name="王建国", birth_date="1990-01-01")
    make_employment(worker, unit, "2010-07-15")
    return worker


def submit(clerk: Any, entity: str, values: dict[str, Any], record: Any = None) -> Any:
    return submit_change(actor=clerk, channel=Channel.WINDOW, entity=entity, values=values, record=record)


def enrol_unit(clerk: Any, unit: Any, insurance: str, **extra: Any) -> Any:
    values = {"unit_id": unit.pk, "insurance": insurance, "status": "paying", "start_date": "2020-01-01"}
    return submit(clerk, "unit_enrolment", {**values, **extra}).record


def enrol_person(clerk: Any, person: Any, insurance: str, **extra: Any) -> Any:
    values = {"person_id": person.pk, "insurance": insurance, "kind": "employee", "status": "paying",
              "start_date": "2021-03-01"}  # fmt: skip
    return submit(clerk, "person_enrolment", {**values, **extra}).record


def refused_in_chinese(call: Any) -> str:
    with pytest.raises(ChangeRefused) as refused, translation.override("zh-hans"):
        call()
    with translation.override("zh-hans"):
        return str(refused.value)


@pytest.mark.req("R2.2")
def test_an_enrolment_is_a_registry_record_with_history(huancui_clerk: Any, unit: Any, person: Any) -> None:
    enrol_unit(huancui_clerk, unit, "110")
    enrolment = enrol_person(huancui_clerk, person, "110", unit_id=unit.pk)
    assert PersonEnrolment.objects.get(pk=enrolment.pk).status == "paying"
    assert Revision.objects.filter(entity="person_enrolment", record_id=enrolment.pk).count() == 1
    stored = PersonEnrolment.objects.get(pk=enrolment.pk)
    submit(huancui_clerk, "person_enrolment",
           {"status": "suspended", "status_date": "2022-05-01", "reason": "停薪留职"}, stored)  # fmt: skip
    assert PersonEnrolment.objects.get(pk=enrolment.pk).status == "suspended"
    assert Revision.objects.filter(entity="person_enrolment", record_id=enrolment.pk).count() == 2


@pytest.mark.req("R6.1")
def test_one_active_enrolment_per_group_of_exclusive_schemes(
    huancui_clerk: Any, unit: Any, person: Any
) -> None:
    enrol_unit(huancui_clerk, unit, "110")
    first = enrol_person(huancui_clerk, person, "110", unit_id=unit.pk)
    message = refused_in_chinese(
        lambda: enrol_person(huancui_clerk, person, "170", kind="resident", start_date="2022-01-01")
    )
    assert "互斥" in message and "110" in message
    # Medical is another group: allowed.
    enrol_person(huancui_clerk, person, "390", kind="resident", start_date="2022-01-01")
    with pytest.raises(ChangeRefused):
        enrol_person(huancui_clerk, person, "310", kind="flexible", start_date="2022-01-01")
    # Once the pension enrolment is terminated, the resident scheme may begin.
    submit(huancui_clerk, "person_enrolment",
           {"status": "terminated", "status_date": "2022-12-31", "reason": "离职"},
           PersonEnrolment.objects.get(pk=first.pk))  # fmt: skip
    enrol_person(huancui_clerk, person, "170", kind="resident", start_date="2023-01-01")
    assert PersonEnrolment.objects.filter(person=person).exclude(status="terminated").count() == 2


@pytest.mark.req("R6.1")
def test_no_employee_enrolment_before_sixteen(
    huancui_clerk: Any, unit: Any, make_person: Any, make_employment: Any
) -> None:
    young = make_person(id_number=id_number("37100220080601003"), name="李小", birth_date="2008-06-01")
    make_employment(young, unit, "2024-05-20")
    enrol_unit(huancui_clerk, unit, "110")
    message = refused_in_chinese(
        lambda: enrol_person(huancui_clerk, young, "110", unit_id=unit.pk, start_date="2024-05-31")
    )
    assert "16" in message and "职工" in message
    enrol_person(huancui_clerk, young, "110", unit_id=unit.pk, start_date="2024-06-01")


@pytest.mark.req("R6.1")
def test_no_enrolment_after_death(huancui_clerk: Any, unit: Any, person: Any) -> None:
    submit(
        huancui_clerk,
        "death",
        {"person_id": person.pk, "date_of_death": "2023-02-10", "source": "公安户籍注销"},
    )
    enrol_unit(huancui_clerk, unit, "110")
    message = refused_in_chinese(
        lambda: enrol_person(huancui_clerk, person, "110", unit_id=unit.pk, start_date="2023-03-01")
    )
    assert "死亡" in message


@pytest.mark.req("R6.1")
def test_the_unit_is_enrolled_before_its_persons(huancui_clerk: Any, unit: Any, person: Any) -> None:
    message = refused_in_chinese(lambda: enrol_person(huancui_clerk, person, "210", unit_id=unit.pk))
    assert "单位" in message and "先" in message
    enrol_unit(huancui_clerk, unit, "210")
    enrol_person(huancui_clerk, person, "210", unit_id=unit.pk)


@pytest.mark.req("R6.1")
def test_a_work_injury_enrolment_has_a_tier_its_class_has(huancui_clerk: Any, unit: Any) -> None:
    message = refused_in_chinese(
        lambda: enrol_unit(huancui_clerk, unit, "410", industry_class="1", tier="80")
    )
    assert "浮动档次" in message
    row = enrol_unit(huancui_clerk, unit, "410", industry_class="3", tier="120")
    assert UnitEnrolment.objects.get(pk=row.pk).tier == "120"


@pytest.mark.req("R6.2")
def test_an_enrolment_arrives_through_the_collaboration_channel(
    huancui_clerk: Any, unit: Any, person: Any
) -> None:
    enrol_unit(huancui_clerk, unit, "110")
    outcome = submit_change(
        actor=huancui_clerk, channel=Channel.COLLABORATION, entity="person_enrolment",
        values={"person_id": person.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
                "status": "paying", "start_date": "2021-03-01"},
    )  # fmt: skip
    revision = Revision.objects.get(entity="person_enrolment", record_id=outcome.record.pk)
    assert revision.channel == Channel.COLLABORATION
    with pytest.raises(ChangeRefused):  # the entry rules hold on that channel too
        submit_change(
            actor=huancui_clerk, channel=Channel.COLLABORATION, entity="person_enrolment",
            values={"person_id": person.pk, "insurance": "120", "kind": "employee", "unit_id": unit.pk,
                    "status": "paying", "start_date": "2021-03-01"},
        )  # fmt: skip


@pytest.mark.req("R6.1")
def test_the_rules_compare_the_stored_dates_to_the_day(
    huancui_clerk: Any, unit: Any, person: Any, make_person: Any, make_employment: Any
) -> None:
    """The entry rules read the stored facts in one plain SELECT (business.enrolment._stored_facts), where
    the dates are compared by the database: the day before and the day itself, on either engine."""
    enrol_unit(huancui_clerk, unit, "210", start_date="2021-06-01")
    # Enrolled the day before the unit: refused; on the unit's day: accepted.
    message = refused_in_chinese(
        lambda: enrol_person(huancui_clerk, person, "210", unit_id=unit.pk, start_date="2021-05-31")
    )
    assert "单位" in message
    enrol_person(huancui_clerk, person, "210", unit_id=unit.pk, start_date="2021-06-01")
    # Death on 2023-02-10: an enrolment beginning that day is accepted, the day after refused.
    other = make_person(id_number=id_number("37100219910202003"), name="陈明", birth_date="1991-02-02")
    make_employment(other, unit, "2015-03-02")
    submit(
        huancui_clerk,
        "death",
        {"person_id": other.pk, "date_of_death": "2023-02-10", "source": "公安户籍注销"},
    )
    enrol_unit(huancui_clerk, unit, "110", start_date="2000-01-01")
    assert "死亡" in refused_in_chinese(
        lambda: enrol_person(huancui_clerk, other, "110", unit_id=unit.pk, start_date="2023-02-11")
    )
    enrol_person(huancui_clerk, other, "110", unit_id=unit.pk, start_date="2023-02-10")


@pytest.mark.req("R6.1")
@pytest.mark.req("R2.2")
def test_an_employee_is_enrolled_only_at_a_unit_that_employs_them(
    huancui_clerk: Any, unit: Any, make_unit: Any, make_person: Any, make_employment: Any
) -> None:
    """社会保险法 Art. 58: the employer registers its employee within thirty days of the start of employment, so
    an employee's enrolment at a unit follows an employment there; contributions are by the month, so the
    enrolment may start on the first of the month the employment starts in, not in an earlier month, and
    not in a month after the employment ended."""
    enrol_unit(huancui_clerk, unit, "110", start_date="2000-01-01")
    newcomer = make_person(id_number=id_number("37100219920303001"), name="周新", birth_date="1992-03-03")
    message = refused_in_chinese(
        lambda: enrol_person(huancui_clerk, newcomer, "110", unit_id=unit.pk, start_date="2022-09-01")
    )
    assert "就业" in message and "单位" in message  # names what to register first
    elsewhere = make_unit(unit_no="U3710020002", name="威海渔业有限公司", district="371002")
    make_employment(newcomer, elsewhere, "2022-09-15")  # employed, but by another unit
    assert (
        refused_in_chinese(
            lambda: enrol_person(huancui_clerk, newcomer, "110", unit_id=unit.pk, start_date="2022-09-01")
        )
        == message
    )
    make_employment(newcomer, unit, "2022-09-15", end="2023-06-30")
    assert (
        refused_in_chinese(  # the month before the employment
            lambda: enrol_person(huancui_clerk, newcomer, "110", unit_id=unit.pk, start_date="2022-08-31")
        )
        == message
    )
    assert (
        refused_in_chinese(  # after it ended
            lambda: enrol_person(huancui_clerk, newcomer, "110", unit_id=unit.pk, start_date="2023-07-01")
        )
        == message
    )
    enrolment = enrol_person(huancui_clerk, newcomer, "110", unit_id=unit.pk, start_date="2022-09-01")
    assert PersonEnrolment.objects.get(pk=enrolment.pk).start_date.isoformat() == "2022-09-01"
    # Its later change of status is not judged again by the employment (it ended since): the rule is about
    # what is entered, the enrolment's start and its unit.
    submit(huancui_clerk, "person_enrolment", {"status": "suspended", "status_date": "2023-07-01",
                                               "reason": "离职"}, record=PersonEnrolment.objects.get(pk=enrolment.pk))  # fmt: skip
    assert PersonEnrolment.objects.get(pk=enrolment.pk).status == "suspended"
    # A flexible worker's enrolment names no unit and needs no employment.
    enrol_person(huancui_clerk, make_person(id_number=id_number("37100219930404001"), name="钱灵",
                                            birth_date="1993-04-04"), "110", kind="flexible")  # fmt: skip
