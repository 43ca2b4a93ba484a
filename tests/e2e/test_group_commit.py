"""Page views that end at the same time in one process append their read events together (group commit,
audit.services.buffered_reads): every event once, each view's events together and in order, one unbroken
chain, and the chain head where the last event left it. Here rather than in tests/audit: the views' threads
need committed data and their own connections, which this package's transactional set-up provides (no
browser is used)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connections

from sidms.audit.models import AuditEvent, ChainHead
from sidms.audit.services import audit_record, buffered_reads
from sidms.lib import chain

VIEWS = 12


@pytest.mark.req("R20")
def test_concurrent_page_views_append_each_read_event_once_in_one_unbroken_chain(huancui_clerk: Any) -> None:
    start = threading.Barrier(VIEWS)
    failures: list[BaseException] = []

    def view(i: int) -> None:
        try:
            start.wait(10)
            with buffered_reads():  # as BufferedReadsMiddleware wraps a request
                audit_record("read.person", actor=huancui_clerk, object_type="person", object_id=f"{i:010d}")
                audit_record("read.employment_list", actor=huancui_clerk, object_type="employment",
                             detail={"by": "related", "shown": [f"view {i}"]})  # fmt: skip
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=view, args=(i,)) for i in range(VIEWS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []

    head = ChainHead.objects.get(pk=1)
    events = list(AuditEvent.objects.order_by("seq"))
    reads = [e for e in events if e.actor == "clerk_hc" and e.action.startswith("read.")]
    assert sorted(e.object_id for e in reads if e.action == "read.person") == [
        f"{i:010d}" for i in range(VIEWS)
    ]
    for first, second in zip(reads[::2], reads[1::2], strict=True):  # a view's two events, adjacent, in order
        assert first.action == "read.person" and second.action == "read.employment_list"
        assert second.seq == first.seq + 1
        assert json.loads(second.payload)["detail"]["shown"] == [f"view {int(first.object_id)}"]
    digest = chain.GENESIS
    for seq, event in enumerate(events, start=1):
        assert event.seq == seq and event.prev_hash == digest
        digest = chain.link(digest, event.payload.encode("utf-8"), algorithm=head.algorithm)
        assert event.hash == digest
    assert (head.seq, head.hash) == (events[-1].seq, digest)
