"""Attack round 14: a decision about a person's employment, taken while the person's move to another district
is being written, was decided by the district the person was leaving (PostgreSQL).

This session made a decision lock its record's row before reading the district (``follows_scope(lock=True)``)
so that a move being written is waited for. An employment (an enrolment, an entitlement…) has no district of
its own: it is read from its person, and the lock was taken on the employment's row, which the move does not
write. 环翠区's reviewer, rejecting a correction of the employment at the moment 乳山市 took the person over,
read the person as committed before the move and decided a request no longer 环翠区's. Fixed: the lock is taken
on the row the district is read from too (access.workflow.record_district). SQLite queues its writers, so the
race does not arise there (tests/e2e/test_decision_races_move.py says why the test is PostgreSQL only)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from sidms.changes.maintenance import maintenance_apply, maintenance_approve
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import NotPermitted
from tests.changes.conftest import id_number
from tests.e2e.test_decision_races_move import _during_a_move

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: SQLite queues its writers"),
    pytest.mark.req("R7.3"),
    pytest.mark.req("R10.3"),
]


@pytest.fixture
def employed(make_unit: Any, make_person: Any, huancui_clerk: Any) -> dict[str, Any]:
    unit = make_unit(unit_no="U3710020001", name="环翠区一号公司", district="371002")
    person = make_person(id_number=id_number("37100219600101001"), name="王建国")
    employment = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                               values={"person_id": person.pk, "unit_id": unit.pk,
                                       "start_date": "2021-01-01"}).record  # fmt: skip
    return {"person": person, "employment": employment}


def test_a_rejection_of_an_employments_correction_taken_while_the_person_moves_away_is_refused(
    employed: dict[str, Any], huancui_clerk: Any, make_staff: Any
) -> None:
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                         record=employed["employment"], values={"start_date": "2021-02-01"},
                         review_reason="入职日期登记错误").held  # fmt: skip
    assert held is not None
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    outcome = _during_a_move(
        make_staff, employed["person"],
        lambda: review_decide(actor=reviewer, change_request_id=held.pk, approve=False, reason="无依据"),
    )  # fmt: skip
    assert isinstance(outcome[0], NotPermitted), outcome
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING


@pytest.mark.req("R9.3")
def test_a_correction_of_an_employment_approved_while_the_person_moves_away_is_refused(
    employed: dict[str, Any], huancui_clerk: Any, make_staff: Any
) -> None:
    order = maintenance_apply(actor=huancui_clerk, entity="employment", record=employed["employment"],
                              values={"start_date": "2021-02-01"}, reason="入职日期登记错误")  # fmt: skip
    approver = make_staff("approver_hc", posts=("approver",), district="371002")
    outcome = _during_a_move(
        make_staff, employed["person"],
        lambda: maintenance_approve(actor=approver, order_id=order.pk, approve=True, reason=""),
    )  # fmt: skip
    assert isinstance(outcome[0], NotPermitted), outcome
    assert MaintenanceOrder.objects.get(pk=order.pk).status == "applied"
