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
not, and the applied part was never judged alone.

Fixed in the pipeline, for every entity: when a change is split, the part applied at once is judged alone, on the
record as it will stand; if it would break an entry rule without the held part, the two are linked by the rule
and the whole change waits for the reviewer (a rejection leaves the record as it was, an approval runs the rules
again on the record as it then stands). The same for a maintenance order's send-back, which restores the values
before the modification: it is refused when they no longer pass (what was entered meanwhile stands on the
modification)."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest

from sidms.business.bases import declare_base
from sidms.business.models import BaseDeclaration, PersonEnrolment
from sidms.changes.maintenance import (
    maintenance_apply,
    maintenance_approve,
    maintenance_modify,
    maintenance_recheck,
)
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.rules import rule_propose
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Employment
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


def test_the_change_is_held_whole_and_applied_whole_on_approval(
    two_jobs: dict[str, Any], unit_reviewed: None, huancui_clerk: Any, make_staff: Any
) -> None:
    """The start alone would break the rule: nothing is applied at once, both fields wait for the reviewer,
    and an approval moves the enrolment to the earlier job from its first month there."""
    enrolment = two_jobs["enrolment"]
    outcome = submit(huancui_clerk, "person_enrolment",
                     {"start_date": "2020-01-01", "unit_id": two_jobs["fishery"].pk}, record=enrolment)  # fmt: skip
    assert outcome.applied == () and outcome.revision is None and outcome.held is not None
    assert sorted(outcome.held.proposed) == ["start_date", "unit_id"]
    stored = PersonEnrolment.objects.get(pk=enrolment.pk)
    assert (stored.unit_id, stored.start_date.isoformat()) == (two_jobs["port"].pk, "2022-09-01")
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    review_decide(actor=reviewer, change_request_id=outcome.held.pk, approve=True)
    after = PersonEnrolment.objects.get(pk=enrolment.pk)
    assert (after.unit_id, after.start_date.isoformat()) == (two_jobs["fishery"].pk, "2020-01-01")


def test_the_approval_judges_the_record_as_it_then_stands(
    two_jobs: dict[str, Any], unit_reviewed: None, huancui_clerk: Any, make_staff: Any
) -> None:
    """While the change waits, the earlier job is corrected to have begun in 2021: the approval runs the rules
    again and is refused; the enrolment stays as it was and the request stays pending."""
    enrolment = two_jobs["enrolment"]
    held = submit(huancui_clerk, "person_enrolment",
                  {"start_date": "2020-01-01", "unit_id": two_jobs["fishery"].pk}, record=enrolment).held  # fmt: skip
    assert held is not None
    fishery_job = Employment.objects.get(person_id=two_jobs["person"].pk, unit_id=two_jobs["fishery"].pk)
    submit(huancui_clerk, "employment", {"start_date": "2021-01-01"}, record=fishery_job)
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    with pytest.raises(ChangeRefused) as caught:
        review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    assert caught.value.code == "not_employed"
    after = PersonEnrolment.objects.get(pk=enrolment.pk)
    assert (after.unit_id, after.start_date.isoformat()) == (two_jobs["port"].pk, "2022-09-01")
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING


@pytest.mark.req("R7.3")
def test_a_base_declarations_year_moved_with_its_unit_held_for_review_is_held_whole(
    two_jobs: dict[str, Any], city_admin: Any, second_admin: Any, huancui_clerk: Any, make_staff: Any
) -> None:
    """The base declaration's rule (a unit declares for its own employees in that year) split the same way: the
    unit's declaration for 2022 moved to 2021 with the earlier employer, the unit held for review. 2021 at
    威海港务 alone would break the rule, so the whole waits and a rejection leaves 2022 at 威海港务. A change whose
    parts do not lean on each other is still split: the wage corrected at once, the unit held."""
    person, port, fishery = two_jobs["person"], two_jobs["port"], two_jobs["fishery"]
    declaration = declare_base(
        actor=huancui_clerk, person=person, year=2022, wage=Decimal("6000"), unit=port
    ).record
    assert declaration is not None
    proposal = rule_propose(
        actor=city_admin, entity="base_declaration", field="unit_id", required=False, validator="record",
        review_level="manual", crosschecks=[], reason="申报单位变更须人工审核",
    )  # fmt: skip
    review_decide(actor=second_admin, change_request_id=proposal.pk, approve=True)
    with pytest.raises(ChangeRefused) as caught:  # the premise: 2021 at 威海港务 alone is refused
        submit(huancui_clerk, "base_declaration", {"year": "2021"}, record=declaration)
    assert caught.value.code == "not_employed"

    outcome = submit(
        huancui_clerk, "base_declaration", {"year": "2021", "unit_id": fishery.pk}, record=declaration
    )
    assert outcome.applied == () and outcome.held is not None
    assert sorted(outcome.held.proposed) == ["unit_id", "year"]
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    review_decide(actor=reviewer, change_request_id=outcome.held.pk, approve=False, reason="单位有误")
    after = BaseDeclaration.objects.get(pk=declaration.pk)
    assert (after.unit_id, after.year) == (port.pk, "2022")

    split = submit(huancui_clerk, "base_declaration",
                   {"declared_wage": "6100.00", "base": "6100.00", "unit_id": fishery.pk}, record=after)  # fmt: skip
    assert split.applied == ("base", "declared_wage") and split.held is not None
    assert sorted(split.held.proposed) == ["unit_id"]


@pytest.mark.req("R9.3")
def test_a_send_back_that_would_leave_an_enrolment_without_employment_is_refused(
    two_jobs: dict[str, Any], huancui_clerk: Any, make_staff: Any
) -> None:
    """A maintenance order corrects the start of the job at 威海港务 to 2020; meanwhile the enrolment there is moved
    to 2020 on it. The re-check's send-back would restore the job's start to September 2022 under the enrolment:
    refused by the employment's rule, naming the enrolment to correct first."""
    port_job = Employment.objects.get(person_id=two_jobs["person"].pk, unit_id=two_jobs["port"].pk)
    crew = {post: make_staff(f"mt_{post}", posts=(post,)) for post in ("approver", "rechecker")}
    order = maintenance_apply(actor=huancui_clerk, entity="employment", record=port_job,
                              values={"start_date": "2020-01-01"}, reason="入职日期登记错误")  # fmt: skip
    maintenance_approve(actor=crew["approver"], order_id=order.pk, approve=True)
    maintenance_modify(actor=make_staff("mt_modifier", posts=("window_clerk",)), order_id=order.pk)
    submit(huancui_clerk, "person_enrolment", {"start_date": "2020-01-01"}, record=two_jobs["enrolment"])
    with pytest.raises(ChangeRefused) as caught:
        maintenance_recheck(actor=crew["rechecker"], order_id=order.pk, accept=False, reason="依据不足")
    assert caught.value.code == "employment_enrolled"
    assert Employment.objects.get(pk=port_job.pk).start_date.isoformat() == "2020-01-01"
