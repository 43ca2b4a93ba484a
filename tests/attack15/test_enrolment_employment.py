"""Attack round 15: the entry rule of employee enrolments (business.enrolment, ``not_employed``: an employee's
enrolment at a unit starts in a month the person's employment there runs, 社会保险法 Art. 58) judged the
enrolment only. The employment it leans on could be changed afterwards at the window or by a maintenance
order — its start moved past the enrolment's, its end put before it, its unit changed — and the enrolment was
left assessing months the person did not work there, the very state the rule was made against (1,596 of the
demo's 3,980 enrolments). Fixed: a change of an employment is refused while it takes away the only employment
an employee enrolment at that unit started under (a change that leaves that enrolment covered, or one of an
enrolment that was never covered, passes)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Employment
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R6.1")]


def submit(clerk: Any, entity: str, values: dict[str, Any], record: Any = None) -> Any:
    return submit_change(actor=clerk, channel=Channel.WINDOW, entity=entity, values=values, record=record)


@pytest.fixture
def enrolled(huancui_clerk: Any, make_unit: Any, make_person: Any) -> dict[str, Any]:
    """周新, employed by 威海港务 from 2022-09-15, enrolled there in 110 from 2022-09-01."""
    unit = make_unit(unit_no="U3710020001", name="威海港务有限公司", district="371002")
    other = make_unit(unit_no="U3710020002", name="威海渔业有限公司", district="371002")
    person = make_person(id_number=id_number("37100219920303001"), name="周新", birth_date="1992-03-03")
    submit(huancui_clerk, "unit_enrolment",
           {"unit_id": unit.pk, "insurance": "110", "status": "paying", "start_date": "2000-01-01"})  # fmt: skip
    employment = submit(huancui_clerk, "employment",
                        {"person_id": person.pk, "unit_id": unit.pk, "start_date": "2022-09-15"}).record  # fmt: skip
    submit(huancui_clerk, "person_enrolment",
           {"person_id": person.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
            "status": "paying", "start_date": "2022-09-01"})  # fmt: skip
    return {"unit": unit, "other": other, "person": person, "employment": employment}


def refused(call: Any) -> str:
    with pytest.raises(ChangeRefused) as caught:
        call()
    assert caught.value.code == "employment_enrolled"
    with translation.override("zh-hans"):
        return str(caught.value)


def fresh(employment: Any) -> Any:
    return Employment.objects.get(pk=employment.pk)


@pytest.mark.parametrize(
    "change",
    [
        {"start_date": "2023-03-01"},  # the job now starts half a year after the enrolment
        {"end_date": "2022-08-31"},  # the job ended before the enrolment started
        "other unit",  # the job is now at another unit
    ],
)
def test_the_employment_an_enrolment_stands_on_is_not_changed_from_under_it(
    enrolled: dict[str, Any], huancui_clerk: Any, change: Any
) -> None:
    employment = enrolled["employment"]
    values = {"unit_id": enrolled["other"].pk} if change == "other unit" else change
    message = refused(lambda: submit(huancui_clerk, "employment", values, record=fresh(employment)))
    assert "参保" in message and "就业" in message
    after = fresh(employment)
    assert (after.unit_id, after.start_date.isoformat(), after.end_date) == (
        enrolled["unit"].pk,
        "2022-09-15",
        None,
    )


def test_nor_by_a_maintenance_order(enrolled: dict[str, Any], make_staff: Any) -> None:
    applicant = make_staff("clerk_hc_m", posts=("window_clerk",))
    refused(lambda: maintenance_apply(actor=applicant, entity="employment", record=fresh(enrolled["employment"]),
                                      values={"start_date": "2023-03-01"}, reason="入职日期更正"))  # fmt: skip


def test_a_change_that_leaves_the_enrolment_covered_passes(
    enrolled: dict[str, Any], huancui_clerk: Any
) -> None:
    """Ending the job after the enrolment's first month, or moving its start within that month, is what the
    window does every day; the enrolment is ended on its own."""
    employment = enrolled["employment"]
    submit(huancui_clerk, "employment", {"start_date": "2022-09-01"}, record=fresh(employment))
    submit(huancui_clerk, "employment", {"end_date": "2024-06-30"}, record=fresh(employment))
    assert fresh(employment).end_date.isoformat() == "2024-06-30"


def test_a_second_employment_at_the_unit_keeps_the_enrolment_covered(
    enrolled: dict[str, Any], huancui_clerk: Any
) -> None:
    second = submit(huancui_clerk, "employment", {"person_id": enrolled["person"].pk,
                                                  "unit_id": enrolled["unit"].pk, "start_date": "2022-09-20"}).record  # fmt: skip
    submit(huancui_clerk, "employment", {"start_date": "2023-03-01"}, record=fresh(enrolled["employment"]))
    refused(
        lambda: submit(huancui_clerk, "employment", {"unit_id": enrolled["other"].pk}, record=fresh(second))
    )
