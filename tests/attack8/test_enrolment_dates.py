"""Attack round 8 on enrolments (参保登记, issue 8 §2): a working life that began before the parameters.

The entry rules read ``enrolment.exclusive_groups`` (seeded from 2011-07-01, 社会保险法) and
``enrolment.min_employee_age`` (from 1995-01-01, 劳动法) on the enrolment's start date. An enrolment that
began in 2005 or in 1993 — most of a city's retirees' — found no version in force, and its submission was a
server error (MissingParameter) instead of being checked by the rules of the earliest version."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.business.models import PersonEnrolment
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.2"), pytest.mark.req("R6.1")]


def _enrol(clerk: Any, entity: str, **values: Any) -> Any:
    return submit_change(actor=clerk, channel=Channel.WINDOW, entity=entity, values=values).record


def test_an_enrolment_that_began_before_the_parameters_is_checked_by_the_earliest_rules(
    huancui_clerk: Any, make_unit: Any, make_person: Any
) -> None:
    unit = make_unit(unit_no="U3710020009", name="威海老厂有限公司", district="371002")
    older = make_person(id_number=id_number("37100219700303003"), name="孙老", birth_date="1970-03-03")
    _enrol(huancui_clerk, "employment", person_id=older.pk, unit_id=unit.pk, start_date="1993-07-01")
    _enrol(huancui_clerk, "unit_enrolment", unit_id=unit.pk, insurance="110", status="paying",
           start_date="1990-01-01")  # fmt: skip
    enrolment = _enrol(huancui_clerk, "person_enrolment", person_id=older.pk, insurance="110", kind="employee",
                       unit_id=unit.pk, status="paying", start_date="1993-07-01")  # fmt: skip
    assert PersonEnrolment.objects.get(pk=enrolment.pk).start_date.isoformat() == "1993-07-01"
    # The rules still hold then: one pension scheme at a time, and no employee under sixteen.
    with pytest.raises(ChangeRefused) as refused:
        _enrol(huancui_clerk, "person_enrolment", person_id=older.pk, insurance="120", kind="flexible",
               status="paying", start_date="2005-01-01")  # fmt: skip
    assert refused.value.code == "exclusive_scheme"
    young = make_person(id_number=id_number("37100219800101001"), name="李少", birth_date="1980-01-01")
    with pytest.raises(ChangeRefused) as refused:
        _enrol(huancui_clerk, "person_enrolment", person_id=young.pk, insurance="110", kind="employee",
               unit_id=unit.pk, status="paying", start_date="1994-06-01")  # fmt: skip
    assert refused.value.code == "under_age"
