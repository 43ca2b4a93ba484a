"""`sidms audit verify` proves the store intact, or names the first broken record (R20)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from sidms.audit.checkpoints import read_checkpoints, write_checkpoint
from sidms.audit.models import AuditEvent
from sidms.changes.services import submit_change
from sidms.changes.verify import verify_store
from sidms.core.guards import append_only_sql

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(settings, tmp_path: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings.SIDMS_CHECKPOINT_DIR = tmp_path / "checkpoints"
    yield


@pytest.fixture
def store(make_person, make_unit, huancui_clerk) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """A small store written through the pipeline: an import, a unit, and a phone change at the window."""
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    unit = make_unit(unit_no="3710820001", name="荣成市海洋水产有限公司", district="371082")
    submit_change(
        actor=huancui_clerk, channel="window", entity="person", record=person, values={"phone": "13806311234"}
    )
    return {"person": person, "unit": unit}


def _raw(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        # No parameters, no interpolation: the PostgreSQL trigger function's text contains a literal '%'.
        cursor.execute(sql, params) if params else cursor.execute(sql)


def _unguarded(table: str) -> Callable[[], None]:
    """Drop the append-only triggers of TABLE, as an attacker with the schema owner's rights could."""
    for statement in append_only_sql(connection.vendor, table, create=False):
        _raw(statement)

    def restore() -> None:
        for statement in append_only_sql(connection.vendor, table, create=True):
            _raw(statement)

    return restore


@pytest.mark.req("R20")
def test_a_store_written_through_the_pipeline_verifies_intact(store, capsys) -> None:  # type: ignore[no-untyped-def]
    report = verify_store()
    assert report.ok, report.problem
    assert report.rows["person"] == 1 and report.rows["unit"] == 1
    from sidms.changes.models import Revision

    assert report.revisions == Revision.objects.count() and report.events > 5
    call_command("audit_verify")
    assert "intact" in capsys.readouterr().out


@pytest.mark.req("R20")
def test_a_raw_sql_update_of_a_person_row_is_named(store) -> None:  # type: ignore[no-untyped-def]
    person = store["person"]
    _raw("UPDATE registry_person SET name = %s WHERE id = %s", ["李鬼", person.pk])
    report = verify_store()
    assert not report.ok and report.problem.kind == "live_row"
    assert f"person #{person.pk}" in report.problem.where and person.person_no in report.problem.where
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_verify")
    assert exit_.value.code == 1


@pytest.mark.req("R20")
def test_copying_a_ciphertext_from_another_row_is_caught(store, make_person) -> None:  # type: ignore[no-untyped-def]
    other = make_person(id_number="371002197001010024", name="李红", sex="2", birth_date="1970-01-01")
    _raw(
        "UPDATE registry_person SET id_number = (SELECT id_number FROM registry_person WHERE id = %s) WHERE id = %s",
        [store["person"].pk, other.pk],
    )
    report = verify_store()
    assert report.problem is not None and f"person #{other.pk}" in report.problem.where


@pytest.mark.req("R20")
def test_an_updated_audit_event_is_named_even_with_the_trigger_dropped(store) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        _raw("UPDATE audit_auditevent SET actor = %s WHERE seq = 3", ["nobody"])
        restore()
    report = verify_store()
    assert report.problem is not None and report.problem.kind == "audit_chain"
    assert "#3" in report.problem.where


@pytest.mark.req("R20")
def test_a_rewritten_audit_payload_breaks_the_chain_at_that_event(store) -> None:  # type: ignore[no-untyped-def]
    event = AuditEvent.objects.get(seq=4)
    forged = event.payload.replace(event.actor, "nobody")
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        _raw("UPDATE audit_auditevent SET payload = %s, actor = %s WHERE seq = 4", [forged, "nobody"])
        restore()
    report = verify_store()
    assert report.problem is not None and "#4" in report.problem.where


@pytest.mark.req("R20")
def test_a_deleted_audit_event_is_named_as_missing(store) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        _raw("DELETE FROM audit_auditevent WHERE seq = 5")
        restore()
    report = verify_store()
    assert report.problem is not None and report.problem.kind == "audit_chain"
    assert "#5" in report.problem.message_en


@pytest.mark.req("R20")
def test_deleting_the_last_audit_events_is_caught_by_the_chain_head(store) -> None:  # type: ignore[no-untyped-def]
    last = AuditEvent.objects.order_by("-seq").first()
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        _raw("DELETE FROM audit_auditevent WHERE seq = %s", [last.seq])
        restore()
    report = verify_store()
    assert report.problem is not None and report.problem.kind == "audit_tail"


@pytest.mark.req("R20")
def test_a_chain_rewritten_from_scratch_disagrees_with_an_off_host_checkpoint(store) -> None:  # type: ignore[no-untyped-def]
    write_checkpoint()
    assert read_checkpoints()
    from sidms.lib import chain

    # The attacker rewrites event 2 and recomputes every later hash and the head: the chain is consistent.
    events = list(AuditEvent.objects.order_by("seq"))
    prev = chain.GENESIS
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        for event in events:
            payload, actor = event.payload, event.actor
            if event.seq == 2:
                body = json.loads(payload)
                body["actor"] = actor = "forger"
                payload = chain.canonical(body).decode()
            digest = chain.link(prev, payload.encode(), algorithm="sm3")
            _raw(
                "UPDATE audit_auditevent SET payload = %s, actor = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                [payload, actor, prev, digest, event.seq],
            )
            prev = digest
        # An insider who also holds the key ring can even re-MAC the head: only the checkpoints copied off
        # the host still disagree.
        from sidms.audit.models import ChainHead

        head = ChainHead.objects.get(pk=1)
        head.hash = prev
        _raw("UPDATE audit_chainhead SET hash = %s, mac = %s", [prev, head.expected_mac()])
        restore()
    report = verify_store()
    assert report.problem is not None and report.problem.kind == "checkpoint"


@pytest.mark.req("R9.2")
def test_a_revision_altered_with_its_trigger_dropped_is_named(store) -> None:  # type: ignore[no-untyped-def]
    from sidms.changes.models import Revision

    revision = Revision.objects.filter(entity="person").order_by("-pk").first()
    with transaction.atomic():
        restore = _unguarded("changes_revision")
        _raw(
            "UPDATE changes_revision SET actor = %s, state = %s WHERE id = %s",
            ["x", '{"name": "x"}', revision.pk],
        )
        restore()
    report = verify_store()
    assert report.problem is not None and report.problem.kind in ("revision", "live_row")
    assert f"#{revision.pk}" in report.problem.where


@pytest.mark.req("R20")
def test_a_row_deleted_behind_the_systems_back_is_named(store, make_person) -> None:  # type: ignore[no-untyped-def]
    other = make_person(id_number="371002197001010024", name="李红", sex="2", birth_date="1970-01-01")
    _raw("DELETE FROM registry_person WHERE id = %s", [other.pk])
    report = verify_store()
    assert report.problem is not None and f"person #{other.pk}" in report.problem.where


@pytest.mark.req("R20")
def test_a_freshly_imported_record_with_empty_encrypted_fields_verifies(make_person) -> None:  # type: ignore[no-untyped-def]
    make_person(id_number=HUANCUI_1960, phone="", bank_account="")
    report = verify_store()
    assert report.ok, report.problem


@pytest.mark.req("R20")
def test_an_event_appended_behind_the_systems_back_is_caught_by_the_keyed_chain_head(store) -> None:  # type: ignore[no-untyped-def]
    from sidms.audit.models import ChainHead
    from sidms.lib import chain

    head = ChainHead.objects.get(pk=1)
    body = {"seq": head.seq + 1, "at": "2026-11-26T00:00:00+00:00", "actor": "innocent_clerk", "action": "read.person",
            "object_type": "person", "object_id": "P000000001", "outcome": "ok", "ip": "", "channel": "", "detail": {}}  # fmt: skip
    payload = chain.canonical(body).decode()
    digest = chain.link(head.hash, payload.encode(), algorithm=head.algorithm)
    _raw(
        "INSERT INTO audit_auditevent (seq, at, actor, action, object_type, object_id, outcome, payload, prev_hash, hash) "
        "VALUES (%s, %s, 'innocent_clerk', 'read.person', 'person', 'P000000001', 'ok', %s, %s, %s)",
        [head.seq + 1, "2026-11-26 00:00:00", payload, head.hash, digest],
    )
    _raw("UPDATE audit_chainhead SET seq = %s, hash = %s", [head.seq + 1, digest])
    report = verify_store()
    assert report.problem is not None and report.problem.kind == "audit_tail"


@pytest.mark.req("R5")
def test_a_collection_rule_inserted_behind_the_systems_back_is_named(store) -> None:  # type: ignore[no-untyped-def]
    _raw(
        "INSERT INTO parameters_collectionrule (entity, field, version, required, validator, review_level, "
        "crosschecks, on_duplicate, effective_from, created_at, created_by, reason) VALUES "
        "('person', 'id_number', 99, TRUE, 'idcard', 'none', '[]', 'refuse', '2020-01-01 00:00:00', "
        "'2020-01-01 00:00:00', 'system', 'x')"
    )
    report = verify_store()
    assert report.problem is not None and report.problem.kind == "rule"
    assert "person.id_number v99" in report.problem.where


@pytest.mark.req("R9.2")
def test_rewriting_who_made_a_change_and_when_is_named(store) -> None:  # type: ignore[no-untyped-def]
    from sidms.changes.models import Revision

    revision = Revision.objects.filter(entity="person").order_by("-pk").first()
    with transaction.atomic():
        restore = _unguarded("changes_revision")
        _raw(
            "UPDATE changes_revision SET actor = 'someone_else', channel = 'online' WHERE id = %s",
            [revision.pk],
        )
        restore()
    report = verify_store()
    assert report.problem is not None and f"#{revision.pk}" in report.problem.where


@pytest.mark.req("R9.2")
def test_deleting_the_latest_revision_and_rolling_the_row_back_is_named(store) -> None:  # type: ignore[no-untyped-def]
    from sidms.changes.models import Revision

    person = store["person"]
    first, second = Revision.objects.filter(entity="person", record_id=person.pk).order_by("version")
    with transaction.atomic():
        restore = _unguarded("changes_revision")
        _raw("DELETE FROM changes_revision WHERE id = %s", [second.pk])
        restore()
    _raw(
        "UPDATE registry_person SET version = 1, row_digest = %s, phone = (SELECT phone FROM registry_person WHERE id = %s) WHERE id = %s",
        [first.digest, person.pk, person.pk],
    )
    report = verify_store()
    assert report.problem is not None and report.problem.kind in ("revision", "live_row")


def _append_events(count: int) -> None:
    from sidms.audit.services import audit_record

    for n in range(count):
        # Non-ASCII text in the payload: it is hashed as UTF-8 bytes, which is how each engine hands it over.
        audit_record(
            "read.person", actor="clerk_hc", object_type="person", object_id=f"3710{n:012d}",
            detail={"note": f"第{n}次查阅"} if n % 2 else None,
        )  # fmt: skip


@pytest.mark.req("R20")
def test_a_chain_longer_than_a_streamed_chunk_verifies_whole(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sidms.audit import verify as chain_verify

    monkeypatch.setattr(chain_verify, "STREAM_CHUNK", 4)  # PostgreSQL: the rows come in many chunks
    monkeypatch.setattr(chain_verify, "CHUNK", 4)  # SQLite: as many queries
    _append_events(30)
    report = chain_verify.Report()
    chain_verify.verify_chain(report)
    assert report.events == AuditEvent.objects.count() >= 30
    assert report.last_seq == AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    _planner_as_it_was()


def _planner_as_it_was() -> None:
    """PostgreSQL: the planner settings verification changed for its own query are back (here, inside the
    test's transaction, its block was only a savepoint)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for setting in ("enable_sort", "enable_bitmapscan"):
                cursor.execute(f"SHOW {setting}")
                assert cursor.fetchone() == ("on",), setting


@pytest.mark.req("R20")
def test_a_break_found_in_the_middle_of_a_stream_is_named_and_leaves_the_connection_as_it_was(
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    """The event stream is stopped where the break is found (its query cancelled on PostgreSQL): the break is
    named, and the connection carries on in its own transaction with the planner's settings as they were."""
    from sidms.audit import verify as chain_verify

    monkeypatch.setattr(chain_verify, "STREAM_CHUNK", 4)
    monkeypatch.setattr(chain_verify, "CHUNK", 4)
    _append_events(40)
    middle = AuditEvent.objects.order_by("seq").values_list("seq", flat=True)[15]
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        _raw("UPDATE audit_auditevent SET object_id = %s WHERE seq = %s", ["371000000000999", middle])
        restore()
    with pytest.raises(chain_verify.Broken) as failure:
        chain_verify.verify_chain(chain_verify.Report())
    assert failure.value.problem.where.startswith(f"审计事件 #{middle} /")
    assert "columns differ" in failure.value.problem.message_en
    _planner_as_it_was()
    # The test's own transaction is still usable, and what it wrote is still there.
    assert AuditEvent.objects.filter(seq=middle, object_id="371000000000999").exists()
