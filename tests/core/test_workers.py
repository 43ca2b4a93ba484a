"""Pure computation in forked workers (sidms.core.workers): results in the items' order, a child that fails
or touches the database has its item computed in the parent, and no fork beside a thread not marked safe."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from sidms.core.workers import fork_safe, ordered_map, worker_count
from sidms.registry.models import Person

pytestmark = [pytest.mark.req("B3"), pytest.mark.usefixtures("idle_threads_fork_safe")]


def _square_with_pid(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


def _no_zombies() -> bool:
    try:
        return os.waitpid(-1, os.WNOHANG) == (0, 0)
    except ChildProcessError:  # no child at all
        return True


def test_results_come_back_in_order_from_the_children() -> None:
    results = list(ordered_map(_square_with_pid, iter(range(40)), workers=2))
    assert [square for square, _pid in results] == [i * i for i in range(40)]
    pids = {pid for _square, pid in results}
    assert results[0][1] == os.getpid()  # the first item is computed here, before the fork
    assert len(pids - {os.getpid()}) == 2  # the rest by two children
    assert _no_zombies()


def test_without_workers_everything_is_computed_here() -> None:
    results = list(ordered_map(_square_with_pid, range(5), workers=0))
    assert results == [(i * i, os.getpid()) for i in range(5)]


def _fails_in_children(item: int) -> tuple[int, int]:
    if os.getpid() != PARENT[0] and item % 3 == 0:
        raise ValueError("a child's failure")
    return item + 1, os.getpid()


PARENT = [0]


def test_an_item_a_child_fails_on_is_computed_here() -> None:
    PARENT[0] = os.getpid()
    results = list(ordered_map(_fails_in_children, range(1, 13), workers=2))
    assert [value for value, _pid in results] == list(range(2, 14))
    assert all(pid == os.getpid() for value, pid in results if (value - 1) % 3 == 0)
    assert _no_zombies()


def _raises(item: int) -> int:
    if item == 7:
        raise KeyError("item seven")
    return item


def test_an_error_of_the_function_itself_surfaces_as_without_workers() -> None:
    with pytest.raises(KeyError, match="item seven"):
        list(ordered_map(_raises, range(12), workers=2))
    assert _no_zombies()


def _counts_persons(item: int) -> tuple[int, int]:
    return Person.objects.count() + item, os.getpid()


@pytest.mark.django_db
def test_a_child_never_uses_the_database_the_parent_does_it() -> None:
    """Inside the test's transaction: a child that opened a connection of its own would see no persons, or
    on PostgreSQL end the parent's session. It is refused, and the parent computes the item."""
    count = Person.objects.count()
    results = list(ordered_map(_counts_persons, range(6), workers=2))
    assert [value for value, _pid in results] == [count + i for i in range(6)]
    assert all(pid == os.getpid() for _value, pid in results)
    assert _no_zombies()


def test_no_workers_beside_a_thread_not_marked_fork_safe() -> None:
    assert worker_count(10, unit=10) == 0  # a single unit of work: not worth a fork
    assert worker_count(11, unit=10) == len(os.sched_getaffinity(0))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert worker_count(11, unit=10) == 0
        fork_safe(other)
        assert worker_count(11, unit=10) == len(os.sched_getaffinity(0))
    finally:
        stop.set()
        other.join()


def _hangs_in_a_child(item: int) -> tuple[int, int]:
    if os.getpid() != PARENT[0] and item == 3:
        time.sleep(120)  # a child stuck, say on a lock it inherited half-taken
    return item * 10, os.getpid()


def test_a_child_that_hangs_is_killed_at_the_deadline_and_its_item_computed_here() -> None:
    PARENT[0] = os.getpid()
    started = time.monotonic()
    results = list(ordered_map(_hangs_in_a_child, range(8), workers=2, deadline=1.0))
    assert [value for value, _pid in results] == [i * 10 for i in range(8)]
    assert results[3][1] == os.getpid()
    assert time.monotonic() - started < 30
    assert _no_zombies()


def test_the_setting_caps_or_switches_off_the_workers(settings: Any) -> None:
    settings.SIDMS_WORKERS = 1
    assert worker_count(11, unit=10) == 1
    settings.SIDMS_WORKERS = -1
    assert worker_count(11, unit=10) == 0


def test_abandoning_the_results_midway_reaps_every_child() -> None:
    results: Any = ordered_map(_square_with_pid, range(100), workers=2)
    assert next(results)[0] == 0
    assert next(results)[0] == 1
    results.close()
    assert _no_zombies()


def _answers_then_is_killed(item: int) -> int:
    """Item 2: slow, so its child is the one the parent waits on. Item 3: answered at once, then its child is
    killed while it waits for its next item (the OOM killer, an operator's kill), its answer unread."""
    if os.getpid() != PARENT[0]:
        if item == 2:
            time.sleep(1.0)
        elif item == 3:
            me = os.getpid()
            threading.Thread(
                target=lambda: (time.sleep(0.2), os.kill(me, signal.SIGKILL)), daemon=True
            ).start()
    return item


def test_a_child_killed_while_it_waits_for_work_has_its_next_item_computed_here() -> None:
    PARENT[0] = os.getpid()
    assert list(ordered_map(_answers_then_is_killed, range(1, 9), workers=2)) == list(range(1, 9))
    assert _no_zombies()
