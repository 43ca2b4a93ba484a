"""The reads of one request are appended together when it ends (sidms.audit.services.buffered_reads): one
lock of the chain head, one insert, one move of the head — and still one event per read, each its own link of
the chain, so verification and an auditor see exactly what they saw when each read was appended alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from sidms.audit.models import AuditEvent, ChainHead
from sidms.audit.services import audit_record, buffered_reads
from sidms.changes.verify import verify_store
from sidms.lib import chain

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(settings, tmp_path: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings.SIDMS_CHECKPOINT_DIR = tmp_path / "checkpoints"
    yield


@pytest.mark.req("R20")
def test_the_reads_of_a_request_are_appended_together_each_its_own_link(huancui_clerk: Any) -> None:
    audit_record("login", actor=huancui_clerk)  # the chain has a head before the request
    before = ChainHead.objects.get().seq
    signalled: list[int] = []

    def received(sender: Any, instance: AuditEvent, created: bool = False, **kwargs: Any) -> None:
        signalled.append(instance.seq)

    post_save.connect(received, sender=AuditEvent, dispatch_uid="test_read_events")
    try:
        with CaptureQueriesContext(connection) as queries, buffered_reads():
            audit_record("read.person", actor=huancui_clerk, object_type="person", object_id="3700000001")
            for entity, shown in (("employment", ["11", "12"]), ("ledger_entry", ["7", "8", "9"])):
                audit_record(
                    f"read.{entity}_list", actor=huancui_clerk, object_type=entity,
                    detail={"by": "related", "shown": shown},
                )  # fmt: skip
            # Not yet written: a read waits for the end of the request; any other event is written at once.
            assert AuditEvent.objects.filter(action__startswith="read.").count() == 0
            audit_record("record.export", actor=huancui_clerk)
            assert ChainHead.objects.get().seq == before + 1
    finally:
        post_save.disconnect(sender=AuditEvent, dispatch_uid="test_read_events")

    reads = list(AuditEvent.objects.filter(action__startswith="read.").order_by("seq"))
    assert [e.action for e in reads] == ["read.person", "read.employment_list", "read.ledger_entry_list"]
    assert [e.seq for e in reads] == [before + 2, before + 3, before + 4]
    previous = AuditEvent.objects.get(seq=before + 1)
    for event in reads:
        assert event.prev_hash == previous.hash
        assert event.hash == chain.link(
            previous.hash, event.payload.encode(), algorithm=ChainHead.objects.get().algorithm
        )
        previous = event
    assert '"shown":["7","8","9"]' in reads[-1].payload
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (reads[-1].seq, reads[-1].hash) and head.mac == head.expected_mac()
    # One insert and one move of the head for the three reads (plus one each for the export, written at once);
    # on PostgreSQL each append's insert and move are one statement (WITH … INSERT … UPDATE), one round trip.
    inserts = [q["sql"] for q in queries.captured_queries if 'INSERT INTO "audit_auditevent"' in q["sql"]]
    moves = [q["sql"] for q in queries.captured_queries if 'UPDATE "audit_chainhead"' in q["sql"]]
    assert len(inserts) == 2 and len(moves) == 2
    assert (inserts == moves) is (connection.vendor == "postgresql")
    assert signalled == [before + 1, *[e.seq for e in reads]]  # integrity alerts hear of every event
    report = verify_store()
    assert report.ok, report.problem
