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
from sidms.changes.verify import (
    _binary_cursor,
    _execute,
    _row_reader,
    _same,
    _view_reader,
    _viewer,
    verify_store,
)
from sidms.core.kernel import (
    ENTITIES,
    LEDGER,
    cipher_mac,
    cipher_macer,
    raw_state,
    state_digest,
    state_digester,
    uid_text,
    view,
)
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
def test_a_live_row_as_verification_selects_it_gives_its_state_s_view_and_cipher_mac(small_store) -> None:  # type: ignore[no-untyped-def]
    """_verify_range selects a row's view as text where the database can write it (PostgreSQL: keys, dates,
    the uid) and in binary: the view it reads is the view of raw_state, its cipher_mac that of cipher_mac."""
    checked = encrypted = 0
    for spec in ENTITIES.values():
        if spec.kind == LEDGER:
            continue
        columns, ciphertexts, read = _row_reader(spec)
        mac_of = cipher_macer(spec)
        table = spec.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(spec.raw_columns)} FROM {table} ORDER BY id")  # noqa: S608
            raws = cursor.fetchall()
        with _binary_cursor() as cursor:
            _execute(cursor, f"SELECT {', '.join(columns)} FROM {table} ORDER BY id", [])  # noqa: S608
            rows = cursor.fetchall()
        assert len(rows) == len(raws)
        for raw, row in zip(raws, rows, strict=True):
            shown, state = read(row), raw_state(spec, raw)
            assert chain.canonical(shown) == chain.canonical(view(state))
            n = len(spec.fields) + len(spec.encrypted_fields)
            tokens = [raw[spec.fields.index(name)] for name in spec.encrypted_fields]
            assert mac_of(shown["uid"], row[ciphertexts:]) == cipher_mac(spec, uid_text(raw[-1]), tokens)
            assert len(raw) == n + len(spec.flags) + 1
            checked += 1
            encrypted += bool(spec.encrypted_fields and any(tokens))
    assert checked >= 3 and encrypted >= 2


@pytest.mark.req("R20")
def test_the_viewer_gives_view_s_view() -> None:
    """_viewer looks at the encrypted fields by name; any other object in a state sends it to view()."""
    sealed = {"enc": "AQEA", "idx": "ab12"}
    states = [
        {"name": "王", "phone": sealed, "email": "", "bank_account": None, "uid": "u"},
        {"name": "王", "phone": sealed, "note": {"enc": "x", "idx": "planted"}, "uid": "u"},
        {"name": "王", "phone": {"idx": "no ciphertext"}, "uid": "u"},
        {"name": "王", "phone": sealed, "other": {"a": 1}, "uid": "u"},
        {"name": "王", "phone": sealed},  # format 1: no uid, its own view
        {"name": "王", "other": {"enc": "x", "idx": "y"}, "uid": "u"},
    ]
    for encrypted in (("phone", "email", "bank_account"), ()):
        view_of = _viewer(encrypted)
        for state in states:
            assert chain.canonical(view_of(state)) == chain.canonical(view(state))


@pytest.mark.req("R20")
def test_same_views_are_those_with_the_same_canonical_bytes() -> None:
    """_same never says True for different bytes (it may say False for equal ones, the caller then compares
    them; not for these): 1, 1.0 and True are equal in Python, not in JSON."""
    values: list[Any] = ["1", 1, 1.0, True, 0, 0.0, -0.0, False, None, "", [1], [1.0], {"a": 1}, {"a": True}]
    for mine in values:
        for theirs in values:
            a, b = {"k": mine, "s": "文本"}, {"s": "文本", "k": theirs}
            assert _same(a, b) == (chain.canonical(a) == chain.canonical(b)), (mine, theirs)
    assert not _same({"k": "a"}, {"k": "a", "extra": None})


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
