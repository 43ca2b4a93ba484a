"""Attack round 17: an employee enrolment without employment, by a change of which one part is held for review.

The entry rule of employee enrolments (business.enrolment, ``not_employed``: the enrolment starts in a month
the person's employment at its unit runs) judges a change as a whole: every changed field together
(``changes.services.submit_change`` → ``_entry_checks``). The change is then split: fields whose collection
rule asks for manual review are held, the others applied at once. A rule is data (R5): city administrators may
set the enrolment's unit to manual review. A change of the start to January 2020 together with the unit of the
person's earlier job passes as a whole — that job ran then — while only the start is applied: the enrolment at
威海港务, where the person started in September 2022, now starts in January 2020. When the reviewer rejects the
held unit, nothing takes the start back: the enrolment is assessed at 威海港务 for 32 months the person did not
work there, the state the rule was made against. Approving the held part re-runs the rules, but rejecting it does
not, and the applied part was never judged alone."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from sidms.business.models import PersonEnrolment
from sidms.changes.models import Channel
from sidms.changes.rules import rule_propose
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R6.1"), pytest.mark.req("R5")]


def submit(clerk: Any, entity: str, values: dict[str, Any], record: Any = None) -> Any:
    return submit_change(actor=clerk, channel=Channel.WINDOW, entity=entity, values=values, record=record)


@pytest.fixture
def unit_reviewed(city_admin: Any, second_admin: Any) -> None:
    """The city administrators make the unit of a person's enrolment a field for manual review (four eyes)."""
    proposal = rule_propose(
        actor=city_admin, entity="person_enrolment", field="unit_id", required=False, validator="record",
        review_level="manual", crosschecks=[], reason="参保单位变更须人工审核",
    )  # fmt: skip
    review_decide(actor=second_admin, change_request_id=proposal.pk, approve=True)


@pytest.fixture
def two_jobs(huancui_clerk: Any, make_unit: Any, make_person: Any) -> dict[str, Any]:
    """周新 worked at 威海渔业 from 2019 to August 2022, and works at 威海港务 from 2022-09-15, where she is
    enrolled in pension from 2022-09-01. Both units are enrolled in pension since 2000."""
    port = make_unit(unit_no="U3710020001", name="威海港务有限公司", district="371002")
    fishery = make_unit(unit_no="U3710020002", name="威海渔业有限公司", district="371002")
    person = make_person(id_number=id_number("37100219920303001"), name="周新", birth_date="1992-03-03")
    for unit in (port, fishery):
        submit(huancui_clerk, "unit_enrolment",
               {"unit_id": unit.pk, "insurance": "110", "status": "paying", "start_date": "2000-01-01"})  # fmt: skip
    submit(huancui_clerk, "employment", {"person_id": person.pk, "unit_id": fishery.pk,
                                         "start_date": "2019-03-01", "end_date": "2022-08-31"})  # fmt: skip
    submit(
        huancui_clerk, "employment", {"person_id": person.pk, "unit_id": port.pk, "start_date": "2022-09-15"}
    )
    enrolment = submit(huancui_clerk, "person_enrolment",
                       {"person_id": person.pk, "insurance": "110", "kind": "employee", "unit_id": port.pk,
                        "status": "paying", "start_date": "2022-09-01"}).record  # fmt: skip
    return {"port": port, "fishery": fishery, "person": person, "enrolment": enrolment}


def test_the_start_alone_is_refused(two_jobs: dict[str, Any], huancui_clerk: Any) -> None:
    """The premise: moving the start to 2020 at 威海港务 on its own is refused by the rule."""
    with pytest.raises(ChangeRefused) as caught:
        submit(huancui_clerk, "person_enrolment", {"start_date": "2020-01-01"}, record=two_jobs["enrolment"])
    assert caught.value.code == "not_employed"


@pytest.mark.xfail(
    strict=True,
    reason="submit_change judges the whole change by the entry rules, then applies the fields not held for "
    "review at once: the applied part is never judged alone, and rejecting the held part leaves it standing",
)
def test_a_change_half_held_for_review_does_not_leave_an_enrolment_without_employment(
    two_jobs: dict[str, Any], unit_reviewed: None, huancui_clerk: Any, make_staff: Any
) -> None:
    enrolment = two_jobs["enrolment"]
    outcome = None
    with contextlib.suppress(ChangeRefused):  # refused whole: the applied part alone would break the rule
        outcome = submit(huancui_clerk, "person_enrolment",
                         {"start_date": "2020-01-01", "unit_id": two_jobs["fishery"].pk}, record=enrolment)  # fmt: skip
    if outcome is not None and outcome.held is not None:
        reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
        review_decide(actor=reviewer, change_request_id=outcome.held.pk, approve=False, reason="单位有误")
    after = PersonEnrolment.objects.get(pk=enrolment.pk)
    # Either the enrolment is as it was, or it stands on a job that ran in its first month.
    assert (after.unit_id, after.start_date.isoformat()) in {
        (two_jobs["port"].pk, "2022-09-01"),
        (two_jobs["fishery"].pk, "2020-01-01"),
    }
