"""Group commit among the threads of one process.

Each caller of :meth:`GroupCommit.submit` needs its items flushed (written and committed) before it goes on.
One caller at a time flushes; the callers that arrive meanwhile wait, and the first of them to wake flushes
everything queued by then in one call, for all of them. So N concurrent callers cost about two flushes
instead of N one after another: worth it when a flush holds a lock for the length of a commit (the audit
chain's head, held on PostgreSQL until the write-ahead log reaches the disk).

Every caller returns only once its own items are flushed, or raises the flush's error: a caller is never
told its items were written when they were not. Items of one call stay together and in order.

A flush is all or nothing (one transaction). When a flush of several callers' items fails, each caller
flushes its own items again, alone and in its own thread, so that a caller whose items cannot be written
(an event a column refuses) or whose connection is broken fails alone, not every request that happened to
end beside it (attack round 5).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Ticket(Generic[T]):
    __slots__ = ("alone", "done", "error", "items")

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self.done = False
        self.alone = False  # the shared flush failed: flush these items again, alone, in the caller's thread
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    def __init__(self, flush: Callable[[list[T]], Any]) -> None:
        self._flush = flush
        self._cond = threading.Condition()
        self._queue: list[_Ticket[T]] = []
        self._busy = False

    def submit(self, items: Sequence[T]) -> None:
        """Return once ITEMS are flushed, by this thread or by another one's flush that took them along."""
        ticket: _Ticket[T] = _Ticket(items)
        with self._cond:
            self._queue.append(ticket)
            while self._busy and not ticket.done:
                self._cond.wait()
            if not ticket.done:  # this thread flushes: its own items and every one queued meanwhile
                self._busy = True
                batch, self._queue = self._queue, []
        if ticket.done:
            if ticket.alone:
                self._flush(list(ticket.items))
            elif ticket.error is not None:
                raise ticket.error
            return
        error: BaseException | None = None
        try:
            self._flush([item for queued in batch for item in queued.items])
        except BaseException as exc:
            error = exc
        # Nothing of a failed flush was written. Each caller flushes its own items again, in its own thread
        # (its own connection): only a caller whose items cannot be written, or whose connection is broken,
        # fails. An interruption (KeyboardInterrupt, SystemExit) fails them all.
        alone = error is not None and isinstance(error, Exception) and len(batch) > 1
        with self._cond:
            self._busy = False
            for queued in batch:
                queued.done, queued.alone, queued.error = True, alone, None if alone else error
            self._cond.notify_all()
        if alone:
            self._flush(list(ticket.items))
        elif error is not None:
            raise error

    def waiting(self) -> int:
        """How many calls are queued behind the flush under way (for tests and diagnostics)."""
        with self._cond:
            return len(self._queue)
