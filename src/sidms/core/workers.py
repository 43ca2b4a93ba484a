"""Pure computation spread over the machine's cores, in order, while this process goes on with its own work.

A large import spends most of its time in per-row Python that touches no database: cleaning values,
encrypting, blind indexes, keyed digests, canonical JSON (bench/imports.py --profile). ``ordered_map`` runs
such a function over a stream of items in forked children, one item at a time each, and hands the results
back in the items' order, so the caller stores result N (in its own transaction, on its own connection)
while the children compute N+1 and N+2.

Plain fork and pipes, as verification does (sidms.audit.verify.parallel_map), and for the same reasons: a
child inherits what the parent built (the entity's spec, the collection rules, the key ring, code tables)
without pickling it; only the items and the results cross a pipe. Unlike verification's workers, these
children never use a database: the caller may be inside a transaction, whose uncommitted rows no other
connection could see. A child's inherited connections are detached and any attempt to open one raises
``WorkerUsedDatabase``; the parent then computes that item itself, so a function that needs the database
for a rare item (a code table not cached yet) is slower, never wrong.

Children are forked only from a process whose other threads are all marked ``fork_safe``: a child forked
while another thread holds a lock (OpenSSL's, a shared HMAC's) can hang for ever. A web server's worker
threads therefore compute in order in their own thread, as before; ``sidms import`` and the bench use every
core."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import pickle
import select
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, TypeVar

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_HEADER = 8  # a message's length, big-endian, before its pickled bytes
PIPE_SIZE = 1 << 20  # Linux's default limit for an unprivileged process (/proc/sys/fs/pipe-max-size)


class WorkerUsedDatabase(RuntimeError):
    """A forked worker tried to use the database (it must not: see the module's docstring)."""


def fork_safe(thread: threading.Thread) -> threading.Thread:
    """Mark THREAD as one that may run beside a fork. Its owner guarantees that a child never finds a lock
    of it half-taken: nothing the thread takes is used by a worker's computation, or the owner holds a lock
    around what it does and takes that lock before every fork (``os.register_at_fork``), as the audit
    checkpoint writer does."""
    thread.sidms_fork_safe = True  # type: ignore[attr-defined]
    return thread


def worker_count(items: int, *, unit: int) -> int:
    """How many children to fork for ITEMS items of work split in units of UNIT: none for a single unit,
    beside a thread not marked fork_safe, or where SIDMS_WORKERS is -1; otherwise SIDMS_WORKERS, or one per
    core when it is 0 (the parent stores what they compute)."""
    configured = int(getattr(settings, "SIDMS_WORKERS", 0))
    if items <= unit or configured < 0:
        return 0
    me = threading.current_thread()
    if any(t is not me and not getattr(t, "sidms_fork_safe", False) for t in threading.enumerate()):
        return 0
    return configured or len(os.sched_getaffinity(0)) or 1


# How long the parent waits for one item's result before it takes the child for hung (a lock inherited
# half-taken, say), kills it and computes the item itself. An item is a part of 2,000 rows: about a second.
DEADLINE = 600.0


def ordered_map(
    function: Callable[[T], R], items: Iterable[T], workers: int, *, deadline: float = DEADLINE
) -> Iterator[R]:
    """FUNCTION over ITEMS, results in the items' order. With WORKERS ≥ 1, in that many forked children,
    each given its next item when its last result is taken, in order (so items of about the same cost keep
    every child busy); ITEMS is read lazily (the caller's own work between two results can produce the next
    items). With none, here, one item at a time. The
    first item is always computed here, before any fork.

    FUNCTION must be pure with respect to the database: it may read what this process held before the
    fork, and its items and results must pickle. A child that fails on an item (the database touched, an
    exception) has that item computed here instead, so an error surfaces as it would without workers."""
    source = iter(items)
    first = next(source, _END)
    if first is _END:
        return
    # The first item here, before the fork: what the function loads on first use (a code table, a cache)
    # is then loaded once, in this process, and the children inherit it instead of each failing over it.
    yield function(first)
    if workers <= 0:
        for item in source:
            yield function(item)
        return
    pool = _Pool(function, workers)
    try:
        # (child, item) in the items' order; a child of None: compute the item here (its child died)
        queue: deque[tuple[_Child | None, Any]] = deque()
        for child in pool.children:
            item = next(source, _END)
            if item is _END:
                break
            queue.append((child if child.send(item) else None, item))
        while queue:
            owner, item = queue.popleft()
            if owner is None:
                yield function(item)
                continue
            outcome, value = owner.receive(deadline)
            if outcome == "died":
                owner.alive = False
            following = next(source, _END)
            if following is not _END:  # the child works on while the caller stores this result
                queue.append((owner if owner.alive and owner.send(following) else None, following))
            if outcome == "ok":
                yield value
            else:
                logger.warning("worker %s failed on an item, computed here instead: %s", owner.pid, value)
                yield function(item)
    finally:
        pool.close()


_END: Any = object()


class Background:
    """FUNCTION over items handed in one at a time (:meth:`submit`), computed in one forked child while the
    caller goes on; :meth:`collect` gives the results in the items' order. Unlike ``ordered_map`` the caller
    never waits for a result before handing in the next item: an item the pipe cannot take yet waits here as
    its pickled bytes and goes down as the child drains the pipe (at the next submit, or at collect). For a
    check that runs beside the caller's own work and costs less than it (a ledger run's digests of the rows
    it reads, sidms.changes.inputs).

    The child is forked at the first submit (with WORKERS = 0 there is none, and each item is computed at its
    submit). The rules of ``ordered_map`` hold: FUNCTION is pure with respect to the database, and an item the
    child fails on, or every item left when it dies or hangs, is computed here instead. Use it as a context
    manager: leaving the block ends the child."""

    def __init__(self, function: Callable[[Any], Any], workers: int, *, deadline: float = DEADLINE) -> None:
        self.function, self.workers, self.deadline = function, min(1, workers), deadline
        self.results: list[Any] = []
        self._pool: _Pool | None = None
        self._waiting: deque[bytes] = deque()  # items not answered yet, pickled, oldest first
        self._unsent: deque[tuple[memoryview, bool]] = deque()  # (bytes to write, whether they end an item)
        self._sent = 0  # items wholly written to the pipe
        self._answered = 0

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def started(self) -> bool:
        """Whether a child was forked (items submitted from now on go to it)."""
        return self._pool is not None

    @property
    def _child(self) -> _Child | None:
        return self._pool.children[0] if self._pool is not None and self._pool.children[0].alive else None

    def submit(self, item: Any) -> None:
        if self.workers <= 0 or (self._pool is None and not self._fork()):
            self.results.append(self.function(item))
            return
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        self._waiting.append(data)
        self._unsent.append((memoryview(len(data).to_bytes(_HEADER, "big")), False))
        self._unsent.append((memoryview(data), True))
        self._pump(wait=False)

    def _fork(self) -> bool:
        try:
            self._pool = _Pool(self.function, 1)
        except OSError as exc:  # no fork (a process limit): compute here
            logger.warning("no worker for a background computation, computed here instead: %s", exc)
            self.workers = 0
            return False
        tasks = self._pool.children[0].tasks
        os.set_blocking(tasks, False)
        # A larger pipe (Linux's default is 64 KiB, a quarter of a 2,000-row item): what the caller hands in
        # reaches the child while the caller works, instead of waiting here for the next submit.
        with contextlib.suppress(AttributeError, OSError):
            fcntl.fcntl(tasks, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        return True

    def _pump(self, *, wait: bool) -> None:
        """Write what the task pipe takes and read the answers the child has written; with WAIT, until every
        item is written and answered (or the child is gone)."""
        while (child := self._child) is not None and (self._unsent or (wait and self._answered < self._sent)):
            writing = [child.tasks] if self._unsent else []
            readable, writable, _ = select.select(
                [child.results], writing, [], self.deadline if wait else 0
            )  # fmt: skip
            if not readable and not writable:
                if wait:  # nothing for DEADLINE seconds: hung
                    os.kill(child.pid, signal.SIGKILL)
                    child.alive = False
                return
            if readable and self._answered < self._sent:
                self._take(child)
            if writable:
                self._write(child)
            elif not wait and not readable:
                return

    def _write(self, child: _Child) -> None:
        while self._unsent:
            view, ends = self._unsent[0]
            try:
                written = os.write(child.tasks, view)
            except BlockingIOError:
                return
            except BrokenPipeError:
                child.alive = False
                return
            if written < len(view):
                self._unsent[0] = (view[written:], ends)
                return
            self._unsent.popleft()
            self._sent += ends

    def _take(self, child: _Child) -> None:
        outcome, value = child.receive(self.deadline)
        if outcome == "died":
            child.alive = False
            return
        item = pickle.loads(self._waiting.popleft())  # noqa: S301  (pickled here)
        self._answered += 1
        if outcome == "ok":
            self.results.append(value)
            return
        logger.warning("background worker %s failed on an item, computed here instead: %s", child.pid, value)
        self.results.append(self.function(item))

    def collect(self) -> list[Any]:
        """Every item's result, in order, once all are computed."""
        if self._pool is not None:
            self._pump(wait=True)
            while self._waiting:  # the child died or hung: the rest here
                self.results.append(self.function(pickle.loads(self._waiting.popleft())))  # noqa: S301
            self._unsent.clear()
            self.close()
        return self.results

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            for child in pool.children:
                if self._waiting:  # left early (an exception): nothing the child computes is wanted
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid, signal.SIGKILL)
            pool.close()


class _Child:
    def __init__(self, pid: int, tasks: int, results: int) -> None:
        self.pid, self.tasks, self.results = pid, tasks, results
        self.alive = True

    def send(self, item: Any) -> bool:
        """Hand ITEM to the child; False if the child has died (killed while it waited for work: the OOM
        killer, an operator), whose item the parent then computes itself."""
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            _write_all(self.tasks, len(data).to_bytes(_HEADER, "big") + data)
        except BrokenPipeError:
            self.alive = False
        return self.alive

    def receive(self, deadline: float = DEADLINE) -> tuple[str, Any]:
        """The child's answer: ("ok", result), ("error", why) or ("died", why). A child that gives no answer
        within DEADLINE seconds is killed and counts as died."""
        try:
            header = _read_exact(self.results, _HEADER, deadline)
            if not header:
                return "died", "it exited"
            data = _read_exact(self.results, int.from_bytes(header, "big"), deadline)
        except EOFError:
            return "died", "it exited in the middle of its answer"
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            return "died", f"no answer within {deadline:g} s: killed"
        answer: tuple[str, Any] = pickle.loads(data)  # noqa: S301
        return answer


class _Pool:
    def __init__(self, function: Callable[[Any], Any], workers: int) -> None:
        self.children: list[_Child] = []
        # The children's collections then skip what they inherited (and copy fewer pages). A process whose
        # heap is frozen already (a server's worker, sidms.wsgi) keeps it as it is: unfreezing at the end
        # would also unfreeze what it froze, and freezing now would keep this call's objects for good.
        self._freezes = gc.get_freeze_count() == 0
        if self._freezes:
            gc.freeze()
        try:
            for _ in range(workers):
                task_read, task_write = os.pipe()
                result_read, result_write = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child never returns into the parent's frames (see _child)
                    _child(function, task_read, task_write, result_read, result_write, self.children)
                os.close(task_read)
                os.close(result_write)
                self.children.append(_Child(pid, task_write, result_read))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for child in self.children:
            os.close(child.tasks)  # the child reads end-of-file and exits
        for child in self.children:
            os.close(child.results)
            os.waitpid(child.pid, 0)
        self.children = []
        if self._freezes:
            gc.unfreeze()


# The database connections a child inherited: never closed or used there (closing a PostgreSQL connection
# would end the parent's session on the server), and kept referenced so that nothing finalises them.
_INHERITED: list[Any] = []


def _refuse_database() -> NoReturn:
    raise WorkerUsedDatabase("a forked worker must not use the database")


def _child(
    function: Callable[[Any], Any],
    task_read: int,
    task_write: int,
    result_read: int,
    result_write: int,
    siblings: list[_Child],
) -> NoReturn:
    """A forked child, from its first instruction to os._exit. Nothing may unwind into the parent's frames
    here: they hold the import's transaction (an Atomic's exit would roll back on the parent's connection)
    and its connections (closing one ends the parent's PostgreSQL session). So Ctrl-C is ignored (the
    parent closing the pipes ends the child) and any escape ends in os._exit."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.close(task_write)
        os.close(result_read)
        for other in siblings:
            os.close(other.tasks)
            os.close(other.results)
        _serve(function, task_read, result_write)
    finally:
        os._exit(1)


def _serve(function: Callable[[Any], Any], tasks: int, results: int) -> NoReturn:
    """A child: items in from TASKS, results out to RESULTS, until the parent closes TASKS."""
    for handle in connections.all():
        if handle.connection is not None:
            _INHERITED.append(handle.connection)
            handle.connection = None
        handle.ensure_connection = _refuse_database  # type: ignore[method-assign]
    status = 0
    try:
        while header := _read_exact(tasks, _HEADER):
            item = pickle.loads(_read_exact(tasks, int.from_bytes(header, "big")))  # noqa: S301
            try:
                data = pickle.dumps(("ok", function(item)), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # the parent computes the item itself
                reason = "".join(traceback.format_exception_only(exc)).strip()
                data = pickle.dumps(("error", reason), protocol=pickle.HIGHEST_PROTOCOL)
            _write_all(results, len(data).to_bytes(_HEADER, "big") + data)
    except BaseException:  # the parent sees end-of-file and computes the items itself
        status = 1
    os._exit(status)


def _read_exact(fd: int, size: int, deadline: float | None = None) -> bytes:
    """SIZE bytes from FD, or b"" at end-of-file before the first byte. With DEADLINE, TimeoutError when no
    byte comes for that many seconds."""
    parts: list[bytes] = []
    left = size
    while left:
        if deadline is not None and not select.select([fd], [], [], deadline)[0]:
            raise TimeoutError
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            if left == size:
                return b""
            raise EOFError("a worker's pipe closed in the middle of a message")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


__all__ = ["Background", "WorkerUsedDatabase", "fork_safe", "ordered_map", "worker_count"]
