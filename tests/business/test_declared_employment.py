"""A unit declares the bases of its own employees (business.bases, ``not_employed``): a declaration for a year
is refused without an employment at the unit in that year. The employment it leaned on could then be changed
from under it — its start moved past the year, its end put before it, its unit changed — and the unit was left
declaring, and assessed on, a base for a year it employed nobody. Fixed as for employee enrolments
(business.enrolment.check_employment): an employment change that leaves a stored declaration's year at that
unit without any employment there is refused, naming the year; a change that keeps the year covered passes,
and a declaration that was never covered (a migration's, entered before the rule) does not hold it back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from sidms.business.bases import declare_base
from sidms.business.enrolment import check_employment
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Employment
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R6.1"), pytest.mark.req("R2.2")]


def submit(clerk: Any, values: dict[str, Any], record: Any) -> Any:
    return submit_change(
        actor=clerk, channel=Channel.WINDOW, entity="employment", values=values, record=record
    )


def fresh(employment: Any) -> Any:
    return Employment.objects.get(pk=employment.pk)


@pytest.fixture
def declared(huancui_clerk: Any, make_unit: Any, make_person: Any, make_employment: Any) -> dict[str, Any]:
    """刘港, employed by 威海港务 from 2022-09-15 (no enrolment), the unit's bases declared for 2022 and 2023."""
    unit = make_unit(unit_no="U3710020001", name="威海港务有限公司", district="371002")
    other = make_unit(unit_no="U3710020002", name="威海渔业有限公司", district="371002")
    person = make_person(id_number=id_number("37100219920303001"), name="刘港", birth_date="1992-03-03")
    employment = make_employment(person, unit, "2022-09-15")
    for year in (2022, 2023):
        declare_base(actor=huancui_clerk, person=person, unit=unit, year=year, wage=Decimal("6000"))
    return {"unit": unit, "other": other, "person": person, "employment": employment}


def refused(call: Any) -> str:
    with pytest.raises(ChangeRefused) as caught:
        call()
    assert caught.value.code == "employment_declared"
    with translation.override("zh-hans"):
        return str(caught.value)


@pytest.mark.parametrize(
    ("change", "year"),
    [
        ({"start_date": "2023-01-01"}, "2022"),  # the job now starts after the year declared for
        ({"start_date": "2024-02-01"}, "2022"),  # …after both: the first year is named
        ({"end_date": "2022-12-31"}, "2023"),  # the job ended before the second year
        ("other unit", "2022"),  # the job is now at another unit
    ],
)
def test_the_employment_a_declaration_stands_on_is_not_changed_from_under_it(
    declared: dict[str, Any], huancui_clerk: Any, change: Any, year: str
) -> None:
    employment = declared["employment"]
    values = {"unit_id": declared["other"].pk} if change == "other unit" else change
    message = refused(lambda: submit(huancui_clerk, values, fresh(employment)))
    assert f"{year} 年" in message and "缴费基数" in message and "就业" in message, message
    after = fresh(employment)
    assert (after.unit_id, after.start_date.isoformat(), after.end_date) == (
        declared["unit"].pk,
        "2022-09-15",
        None,
    )


def test_nor_by_a_maintenance_order(declared: dict[str, Any], make_staff: Any) -> None:
    applicant = make_staff("clerk_hc_m", posts=("window_clerk",))
    refused(lambda: maintenance_apply(actor=applicant, entity="employment", record=fresh(declared["employment"]),
                                      values={"end_date": "2022-12-31"}, reason="离职日期更正"))  # fmt: skip


def test_a_change_that_keeps_the_years_covered_passes(declared: dict[str, Any], huancui_clerk: Any) -> None:
    """The start moved within the first year, the end put in the last year: each year still has a day of
    employment at the unit."""
    employment = declared["employment"]
    submit(huancui_clerk, {"start_date": "2022-12-31"}, fresh(employment))
    submit(huancui_clerk, {"end_date": "2023-01-01"}, fresh(employment))
    after = fresh(employment)
    assert (after.start_date.isoformat(), after.end_date.isoformat()) == ("2022-12-31", "2023-01-01")


def test_another_employment_at_the_unit_keeps_the_year_covered(
    declared: dict[str, Any], huancui_clerk: Any, make_employment: Any
) -> None:
    second = make_employment(declared["person"], declared["unit"], "2023-06-01", end="2023-08-31")
    submit(huancui_clerk, {"end_date": "2022-12-31"}, fresh(declared["employment"]))
    assert "2023 年" in refused(lambda: submit(huancui_clerk, {"start_date": "2024-01-01"}, fresh(second)))


def test_a_declaration_never_covered_does_not_hold_the_employment(
    declared: dict[str, Any], huancui_clerk: Any, load: Any
) -> None:
    """A migration keeps a declaration for 2019, when the person did not work at the unit (noted as
    nonconforming): the employment may still be changed as long as 2022 and 2023 stay covered."""
    person, unit = declared["person"], declared["unit"]
    load("base_declaration", [{"person_id": str(person.pk), "unit_id": str(unit.pk), "year": "2019",
                               "declared_wage": "6000.00", "base": "6000.00"}], legacy=True)  # fmt: skip
    submit(huancui_clerk, {"start_date": "2022-10-01"}, fresh(declared["employment"]))
    assert fresh(declared["employment"]).start_date.isoformat() == "2022-10-01"


def test_one_query_per_employment_change(declared: dict[str, Any], huancui_clerk: Any) -> None:
    """The rule reads the enrolments, the declarations and the other employments at the unit together (it
    read the enrolments, then the employments)."""
    unit, person = declared["unit"], declared["person"]
    submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="unit_enrolment",
        values={"unit_id": unit.pk, "insurance": "110", "status": "paying", "start_date": "2000-01-01"},
    )
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment",
                  values={"person_id": person.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
                          "status": "paying", "start_date": "2022-09-01"})  # fmt: skip
    employment = fresh(declared["employment"])
    values = {"person_id": employment.person_id, "unit_id": employment.unit_id, "start_date": "2022-09-01",
              "end_date": None}  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        check_employment(values, employment)
    assert len(queries) == 1
