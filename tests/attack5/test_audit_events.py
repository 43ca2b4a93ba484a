"""Attack on the audit of page views (audit.services.buffered_reads and its group commit, lib.groupcommit)
by a signed-in reader who wants to look without leaving a trace, or to break other people's pages.

A NUL typed into a URL (``/persons/%00x/``, ``/employments/%00x/``, ``?q=%00``): PostgreSQL refuses NUL in
any text, so the record's lookup raised before the read door recorded the attempt (500, no event), and where
no query was needed (an id that is not a number) the denied read event itself could not be stored. An
object id longer than its column (64) failed the same way. Appended by group commit, one such event failed
every request of its batch: the other readers' pages answered 500.

Fix: a NUL in the path, the query string or a posted form is refused with 400 before any view runs
(web.middleware.RefuseNulMiddleware); ``audit_record`` cuts an object's type and id to their columns and
drops NUL; after a failed group flush each caller flushes its own items again in its own thread, so only
the caller whose items cannot be written (or whose connection is broken) fails."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.lib.groupcommit import GroupCommit

PATHS = ["/persons/%00x/", "/employments/%00x/", "/persons/%00x/rights/", "/persons/?q=%00",
         "/business/benefits/?period=2025-01%00"]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.req("R20")
@pytest.mark.parametrize("path", PATHS)
def test_a_nul_in_the_url_is_refused_before_any_view_reads(
    path: str, huancui_clerk: Any, signed_in: Any
) -> None:
    client = signed_in(huancui_clerk)
    client.raise_request_exception = False
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    answer = client.get(path)
    assert answer.status_code == 400, answer.status_code
    assert not AuditEvent.objects.filter(seq__gt=before, action__startswith="read.").exists()
    assert client.get("/persons/?q=%E5%BC%A0").status_code == 200  # the session goes on


@pytest.mark.django_db
@pytest.mark.req("R20")
def test_an_object_id_that_does_not_fit_its_column_is_recorded_cut(huancui_clerk: Any) -> None:
    event = audit_record("read.staff", actor=huancui_clerk, object_type="staff", object_id="x\x00" + "y" * 99)
    assert event is not None
    stored = AuditEvent.objects.get(seq=event.seq)
    assert stored.object_id == "x" + "y" * 63


def _until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.mark.req("R20")
def test_a_caller_whose_items_cannot_be_written_fails_alone() -> None:
    """Three callers: a's flush is held open, b and c queue behind it and are flushed together; b's items
    cannot be written. b is told so; c's items are written, by c's own thread (its own connection: the
    flusher's may be the broken part), and c returns normally."""
    written: list[list[str]] = []
    threads: dict[str, int] = {}
    hold, entered = threading.Event(), threading.Event()

    def flush(items: list[str]) -> None:  # all or nothing, as one transaction is
        entered.set()
        hold.wait(10)
        if "b" in items:
            raise ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        written.append(list(items))
        threads["".join(items)] = threading.get_ident()

    together: GroupCommit[str] = GroupCommit(flush)
    errors: dict[str, BaseException | None] = {}

    callers: dict[str, int] = {}

    def call(name: str) -> None:
        callers[name] = threading.get_ident()
        try:
            together.submit([name])
            errors[name] = None
        except ValueError as exc:
            errors[name] = exc

    first = threading.Thread(target=call, args=("a",))
    first.start()
    assert entered.wait(10)
    others = [threading.Thread(target=call, args=(name,)) for name in "bc"]
    for thread in others:
        thread.start()
    _until(lambda: together.waiting() == 2)
    hold.set()
    for thread in [first, *others]:
        thread.join(10)
    assert errors["a"] is None and errors["c"] is None
    assert isinstance(errors["b"], ValueError)
    assert written == [["a"], ["c"]]
    assert threads["c"] == callers["c"]
