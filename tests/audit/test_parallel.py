"""Verification spread over processes, and its cheaper per-record paths, prove what the plain paths prove (R20).

The fast paths of `sidms audit verify` (forked workers taking tasks from one queue, a live row's view read
straight from its columns, digests with their constant parts built once) must agree with the definitions
they stand in for. A test's rows are never committed, so no forked worker could see them: the tampering
tests run the workers' functions in one process, and bench/pipeline.py runs the forked workers on a real
store of each engine (it stops if verification finds anything).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import connection

from sidms.audit.models import AuditEvent
from sidms.audit.verify import parallel_map
from sidms.changes.models import Revision
from sidms.changes.verify import _view_reader, verify_store
from sidms.core.kernel import ENTITIES, LEDGER, raw_state, state_digest, state_digester, view
from sidms.lib import chain
from tests.audit.test_tampering import _raw
from tests.conftest import luhn_complete


def _square(number: int) -> tuple[int, int]:
    return number * number, os.getpid()


def _fail_on_three(number: int) -> int:
    if number == 3:
        raise ValueError("three")
    return number


@pytest.mark.req("R20")
def test_parallel_map_runs_every_task_once_and_returns_the_results_in_task_order() -> None:
    results = parallel_map(_square, [(n,) for n in range(40)], 2)
    assert [square for square, _pid in results] == [n * n for n in range(40)]


@pytest.mark.req("R20")
def test_a_worker_that_fails_fails_the_whole_map() -> None:
    with pytest.raises((RuntimeError, ValueError), match="three"):
        parallel_map(_fail_on_three, [(n,) for n in range(8)], 2)


@pytest.mark.req("R20")
def test_the_chain_linker_gives_link_s_hashes() -> None:
    for algorithm in chain.ALGORITHMS:
        step = chain.linker(algorithm)
        prev = chain.GENESIS
        for n in range(5):
            payload = chain.canonical({"n": n, "text": "审计" * n})
            expected = chain.link(prev, payload, algorithm=algorithm)
            assert step(bytes.fromhex(prev), payload).hex() == expected
            prev = expected


@pytest.fixture
def small_store(make_person, make_unit, huancui_clerk) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from sidms.changes.services import submit_change

    a = make_person(
        id_number="371002196001010011", name="王建国", bank_account=luhn_complete("621700000000000001")
    )
    b = make_person(id_number="371002197001010024", name="李红", sex="2", birth_date="1970-01-01", email="")
    unit = make_unit(unit_no="3710820001", name="荣成市海洋水产有限公司", district="371082")
    submit_change(
        actor=huancui_clerk, channel="window", entity="person", record=a, values={"phone": "13806311234"}
    )
    return {"a": a, "b": b, "unit": unit}


@pytest.mark.django_db
@pytest.mark.req("R20")
def test_a_live_row_s_view_read_from_its_columns_is_the_view_of_its_state(small_store) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for spec in ENTITIES.values():
        if spec.kind == LEDGER:
            continue
        read = _view_reader(spec)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(spec.raw_columns)} FROM {spec.model._meta.db_table}")  # noqa: S608
            for raw in cursor.fetchall():
                assert chain.canonical(read(raw)) == chain.canonical(view(raw_state(spec, raw)))
                checked += 1
    assert checked >= 3


@pytest.mark.django_db
@pytest.mark.req("R20")
def test_the_digester_gives_state_digest_s_digests(small_store) -> None:  # type: ignore[no-untyped-def]
    for entity, version, state, stored in Revision.objects.values_list(
        "entity", "version", "state", "digest"
    ):
        body = chain.canonical(view(state))
        assert state_digester(entity)(version, body) == state_digest(entity, version, body) == stored


@pytest.mark.django_db
@pytest.mark.req("R20")
def test_a_blind_index_planted_on_a_row_without_that_value_is_named(small_store) -> None:  # type: ignore[no-untyped-def]
    """Person b has no bank account: giving b a's bank-account index would make a search for a's account
    find b. The row's digest covers the index even where there is no ciphertext."""
    a, b = small_store["a"], small_store["b"]
    assert verify_store().ok
    _raw(
        "UPDATE registry_person SET bank_account_index = "
        "(SELECT bank_account_index FROM registry_person WHERE id = %s) WHERE id = %s",
        [a.pk, b.pk],
    )
    report = verify_store()
    assert not report.ok and report.problem.kind == "live_row" and f"person #{b.pk}" in report.problem.where


def _select(number: int) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s", [number])
        return cursor.fetchone()[0], os.getpid()


@pytest.mark.django_db
@pytest.mark.req("R20")
def test_workers_use_connections_of_their_own_and_leave_the_parent_s_session_alone(small_store) -> None:  # type: ignore[no-untyped-def]
    """A child must neither use nor close the connection it inherited: on PostgreSQL closing it would end the
    parent's session. Here the parent is inside the test's transaction, whose rows no child can see."""
    events = AuditEvent.objects.count()
    results = parallel_map(_select, [(n,) for n in range(12)], 2)
    assert [value for value, _pid in results] == list(range(12))
    assert AuditEvent.objects.count() == events  # the same session, its transaction still open
    assert verify_store(workers=1).ok


@pytest.mark.req("R20")
def test_the_mac_function_gives_mac_s_macs() -> None:
    from sidms.lib.crypto import KeyRing

    for suite in ("sm", "intl"):
        ring = KeyRing.generate(suite)
        mac = ring.mac_function()
        for message in (b"", b"revision", "审计".encode() * 300):
            assert mac(message) == ring.mac(message)
