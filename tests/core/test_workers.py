"""Pure computation in forked workers (sidms.core.workers): results in the items' order, a child that fails
or touches the database has its item computed in the parent, and no fork beside a thread not marked safe."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from sidms.core.workers import Background, fork_safe, ordered_map, worker_count
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


# --- Background: items handed in one at a time, results collected at the end --------------------------------


def _slow_square(item: int) -> tuple[int, int]:
    if os.getpid() != PARENT[0]:
        time.sleep(0.2)
    return item * item, os.getpid()


def test_background_computes_in_a_child_while_the_caller_goes_on() -> None:
    PARENT[0] = os.getpid()
    with Background(_slow_square, workers=1) as background:
        started = time.monotonic()
        for item in range(6):
            background.submit(item)
        handed_in = time.monotonic() - started
        results = background.collect()
    assert handed_in < 0.5  # six items of 0.2 s each: the caller did not wait for them
    assert [square for square, _pid in results] == [i * i for i in range(6)]
    assert all(pid != os.getpid() for _square, pid in results)
    assert _no_zombies()


def test_background_without_a_worker_computes_each_item_at_its_submit() -> None:
    background = Background(_square_with_pid, workers=0)
    background.submit(3)
    assert background.results == [(9, os.getpid())]
    assert background.collect() == [(9, os.getpid())]
    assert not background.started


def _length_and_pid(item: bytes) -> tuple[int, int]:
    return len(item), os.getpid()


def test_background_items_larger_than_the_pipe_arrive_whole() -> None:
    items = [bytes(3 << 20), b"x" * 100, bytes(1 << 20)]
    with Background(_length_and_pid, workers=1) as background:
        for item in items:
            background.submit(item)
        results = background.collect()
    assert [length for length, _pid in results] == [len(item) for item in items]
    assert all(pid != os.getpid() for _length, pid in results)
    assert _no_zombies()


def test_background_an_item_the_child_fails_on_is_computed_here() -> None:
    PARENT[0] = os.getpid()
    with Background(_fails_in_children, workers=1) as background:
        for item in range(1, 8):
            background.submit(item)
        results = background.collect()
    assert [value for value, _pid in results] == list(range(2, 9))
    assert all(pid == os.getpid() for value, pid in results if (value - 1) % 3 == 0)
    assert _no_zombies()


def _dies_at_three(item: int) -> tuple[int, int]:
    if os.getpid() != PARENT[0] and item == 3:
        os._exit(9)  # the OOM killer, say
    return item, os.getpid()


def test_background_items_left_when_the_child_dies_are_computed_here() -> None:
    PARENT[0] = os.getpid()
    with Background(_dies_at_three, workers=1) as background:
        for item in range(6):
            background.submit(item)
        results = background.collect()
    assert [value for value, _pid in results] == list(range(6))
    assert all(pid == os.getpid() for value, pid in results if value >= 3)
    assert _no_zombies()


def test_background_a_child_that_hangs_is_killed_at_the_deadline() -> None:
    PARENT[0] = os.getpid()
    started = time.monotonic()
    with Background(_hangs_in_a_child, workers=1, deadline=1.0) as background:
        for item in range(5):
            background.submit(item)
        results = background.collect()
    assert [value for value, _pid in results] == [i * 10 for i in range(5)]
    assert results[3][1] == os.getpid()
    assert time.monotonic() - started < 30
    assert _no_zombies()


def test_background_left_early_ends_its_child() -> None:
    PARENT[0] = os.getpid()
    with pytest.raises(RuntimeError), Background(_slow_square, workers=1) as background:
        for item in range(20):
            background.submit(item)
        raise RuntimeError("the caller failed")
    assert _no_zombies()
