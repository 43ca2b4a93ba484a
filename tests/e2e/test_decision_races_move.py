"""A decision taken while the record's move to another district is being written waits for the move, and is
then the district's it moved to (R7.3, R9.3, R10.3).

A request or order follows its record (access.workflow.ScopeDistrict). On PostgreSQL the queue's read and the
decision's scope check did not wait for a move's uncommitted transaction: 环翠区's reviewer, deciding at the
moment 乳山市 took the person over, rejected a change that was no longer 环翠区's to decide. The decision now
locks the record's row and reads its district as committed (``follows_scope(lock=True)``). On SQLite the
writers are queued one after another (IMMEDIATE transactions), so the race does not arise, and the test
database (in memory, shared) cannot hold a second writer waiting: PostgreSQL only. Here rather than in tests/changes: two threads need
committed data and their own connections, which this package's transactional set-up provides (no browser
is used)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from sidms.changes.maintenance import maintenance_apply, maintenance_approve
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import NotPermitted
from sidms.lib.idcard import check_digit
from sidms.registry.models import Person

RUSHAN = "371083"

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: SQLite queues its writers, there is no race"
)


@pytest.fixture
def person(make_person: Any) -> Any:
    """A person of 环翠区, about to move to 乳山市."""
    return make_person(id_number="37100219600101001" + check_digit("37100219600101001"), name="王建国")


def _during_a_move(make_staff: Any, person: Any, decide: Callable[[], Any]) -> list[Any]:
    """DECIDE, run in its own thread while a city-level clerk's move of PERSON to 乳山市 is written and not yet
    committed; what it returned or raised."""
    city_clerk = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    written, release = threading.Event(), threading.Event()
    outcome: list[Any] = []
    failures: list[BaseException] = []

    def move() -> None:
        try:
            with transaction.atomic():
                submit_change(actor=city_clerk, channel=Channel.WINDOW, entity="person",
                              record=Person.objects.get(pk=person.pk), values={"district_id": RUSHAN})  # fmt: skip
                written.set()
                release.wait(20)
        except BaseException as exc:
            failures.append(exc)
            written.set()
        finally:
            connections.close_all()

    def step() -> None:
        try:
            outcome.append(decide())
        except NotPermitted as refused:
            outcome.append(refused)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    mover = threading.Thread(target=move)
    mover.start()
    assert written.wait(20)
    decider = threading.Thread(target=step)
    decider.start()
    time.sleep(1)  # the decision reaches the record while the move is uncommitted
    release.set()
    mover.join(30)
    decider.join(30)
    assert failures == []
    assert Person.objects.get(pk=person.pk).district_id == RUSHAN
    return outcome


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_a_rejection_taken_while_the_person_moves_away_is_refused(
    huancui_clerk: Any, make_staff: Any, person: Any
) -> None:
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": "王建华"}).held  # fmt: skip
    assert held is not None
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    outcome = _during_a_move(
        make_staff, person,
        lambda: review_decide(actor=reviewer, change_request_id=held.pk, approve=False, reason="户口簿不符"),
    )  # fmt: skip
    assert isinstance(outcome[0], NotPermitted), outcome
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING


@pytest.mark.req("R9.3")
@pytest.mark.req("R10.3")
def test_a_correction_approved_while_the_person_moves_away_is_refused(
    huancui_clerk: Any, make_staff: Any, person: Any
) -> None:
    order = maintenance_apply(actor=huancui_clerk, entity="person", record=person,
                              values={"address": "环翠区新威路 1 号"}, reason="补充地址")  # fmt: skip
    approver = make_staff("approver_hc", posts=("approver",), district="371002")
    outcome = _during_a_move(
        make_staff,
        person,
        lambda: maintenance_approve(actor=approver, order_id=order.pk, approve=True, reason=""),
    )
    assert isinstance(outcome[0], NotPermitted), outcome
    assert MaintenanceOrder.objects.get(pk=order.pk).status == "applied"
