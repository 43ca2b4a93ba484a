"""Attack round 17: an enrolment or a base declaration stands on the person's employment at its unit, and an
employment change is refused when it takes that employment away (business.enrolment). Each side read the
other's rows as committed and locked nothing the other locked: on PostgreSQL an enrolment made while a change
of the employment it stands on was being written (or the change made while the enrolment was) saw the other's
rows as they were before, and both were committed — an enrolment assessed for months without employment.

The pipeline now runs the entry rules again inside the write transaction, after the record's row is locked,
and an entity's entry locks (``changes.services.register_entry_lock``) are taken first: the person's row, in
the same order (record, then person) on every path, so that of two such changes the second waits for the first
and judges what it committed. SQLite queues its writers (IMMEDIATE transactions) and its shared in-memory test
database cannot hold a second writer waiting: PostgreSQL only (tests/e2e/test_decision_races_move.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections, transaction

from sidms.business.bases import declare_base
from sidms.business.models import BaseDeclaration, PersonEnrolment
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Employment
from tests.changes.conftest import id_number

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: SQLite queues its writers"),
    pytest.mark.req("R6.1"),
]


def _while_uncommitted(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """FIRST written in its own transaction and held uncommitted while SECOND runs in another thread (with
    its own connection); what each returned, or the ChangeRefused it raised."""
    written, release = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    failures: list[BaseException] = []

    def run(name: str, step: Callable[[], Any], hold: bool) -> None:
        try:
            with transaction.atomic():
                try:
                    outcomes[name] = step()
                except ChangeRefused as refused:
                    outcomes[name] = refused
                if hold:
                    written.set()
                    release.wait(20)
        except BaseException as exc:
            failures.append(exc)
        finally:
            written.set()
            connections.close_all()

    holder = threading.Thread(target=run, args=("first", first, True))
    holder.start()
    assert written.wait(20)
    other = threading.Thread(target=run, args=("second", second, False))
    other.start()
    time.sleep(1)  # the second reaches the rules while the first is uncommitted
    release.set()
    holder.join(30)
    other.join(30)
    assert failures == []
    return outcomes["first"], outcomes["second"]


@pytest.fixture
def job(make_unit: Any, make_person: Any, huancui_clerk: Any) -> dict[str, Any]:
    """周新 works at 威海港务 from 2022-09-15; the unit is enrolled in pension since 2000."""
    unit = make_unit(unit_no="U3710020001", name="威海港务有限公司", district="371002")
    person = make_person(id_number=id_number("37100219920303001"), name="周新", birth_date="1992-03-03")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="unit_enrolment",
                  values={"unit_id": unit.pk, "insurance": "110", "status": "paying",
                          "start_date": "2000-01-01"})  # fmt: skip
    employment = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                               values={"person_id": person.pk, "unit_id": unit.pk,
                                       "start_date": "2022-09-15"}).record  # fmt: skip
    return {"unit": unit, "person": person, "employment": employment}


def _enrol(clerk: Any, job: dict[str, Any]) -> Callable[[], Any]:
    return lambda: submit_change(
        actor=clerk, channel=Channel.WINDOW, entity="person_enrolment",
        values={"person_id": job["person"].pk, "insurance": "110", "kind": "employee", "unit_id": job["unit"].pk,
                "status": "paying", "start_date": "2022-09-01"},
    )  # fmt: skip


def _move_start(clerk: Any, job: dict[str, Any], start: str) -> Callable[[], Any]:
    return lambda: submit_change(
        actor=clerk, channel=Channel.WINDOW, entity="employment",
        record=Employment.objects.get(pk=job["employment"].pk), values={"start_date": start},
    )  # fmt: skip


def test_an_enrolment_made_while_its_employment_is_moved_away_waits_and_is_refused(
    job: dict[str, Any], huancui_clerk: Any, make_staff: Any
) -> None:
    other_clerk = make_staff("clerk_hc2", posts=("window_clerk",), district="371002")
    moved, enrolled = _while_uncommitted(
        _move_start(other_clerk, job, "2023-03-01"), _enrol(huancui_clerk, job)
    )
    assert not isinstance(moved, ChangeRefused), moved
    assert isinstance(enrolled, ChangeRefused) and enrolled.code == "not_employed", enrolled
    assert not PersonEnrolment.objects.filter(person_id=job["person"].pk).exists()


def test_an_employment_moved_away_while_an_enrolment_on_it_is_made_waits_and_is_refused(
    job: dict[str, Any], huancui_clerk: Any, make_staff: Any
) -> None:
    other_clerk = make_staff("clerk_hc2", posts=("window_clerk",), district="371002")
    enrolled, moved = _while_uncommitted(
        _enrol(huancui_clerk, job), _move_start(other_clerk, job, "2023-03-01")
    )
    assert not isinstance(enrolled, ChangeRefused), enrolled
    assert isinstance(moved, ChangeRefused) and moved.code == "employment_enrolled", moved
    assert str(Employment.objects.get(pk=job["employment"].pk).start_date) == "2022-09-15"


def test_an_employment_moved_away_while_a_base_declared_on_it_is_made_waits_and_is_refused(
    job: dict[str, Any], huancui_clerk: Any, make_staff: Any
) -> None:
    other_clerk = make_staff("clerk_hc2", posts=("window_clerk",), district="371002")
    declared, moved = _while_uncommitted(
        lambda: declare_base(
            actor=huancui_clerk, person=job["person"], year=2022, wage=Decimal("6000"), unit=job["unit"]
        ),
        _move_start(other_clerk, job, "2023-01-01"),
    )
    assert not isinstance(declared, ChangeRefused), declared
    assert isinstance(moved, ChangeRefused) and moved.code == "employment_declared", moved
    assert BaseDeclaration.objects.filter(person_id=job["person"].pk, year="2022").exists()
    assert str(Employment.objects.get(pk=job["employment"].pk).start_date) == "2022-09-15"
