"""Group commit (sidms.lib.groupcommit): callers that arrive while a flush runs are flushed together by the
next one, each returns only once its own items are written, and a failed flush fails only the callers
whose own items cannot be written (each caller's items are flushed again alone)."""

from __future__ import annotations

import threading
import time

import pytest

from sidms.lib.groupcommit import GroupCommit


def _until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class Store:
    """A flush that can be held open, recording what each call wrote."""

    def __init__(self) -> None:
        self.flushes: list[list[str]] = []
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.fail_on = ""

    def flush(self, items: list[str]) -> None:
        self.entered.set()
        self.hold.wait(10)
        if self.fail_on in items:
            raise OSError("disk full")
        self.flushes.append(list(items))


@pytest.mark.req("R20")
def test_callers_arriving_during_a_flush_are_flushed_together_and_each_waits_for_its_own() -> None:
    store = Store()
    together = GroupCommit(store.flush)
    returned: dict[str, list[list[str]]] = {}

    def call(name: str) -> None:
        together.submit([f"{name}.1", f"{name}.2"])
        returned[name] = [list(f) for f in store.flushes]  # what was written when this caller went on

    first = threading.Thread(target=call, args=("a",))
    first.start()
    assert store.entered.wait(10)  # a's flush is under way and held
    others = [threading.Thread(target=call, args=(name,)) for name in "bcde"]
    for thread in others:
        thread.start()
    _until(lambda: together.waiting() == 4)
    assert returned == {}  # nobody returns before their items are written
    store.hold.set()
    for thread in [first, *others]:
        thread.join(10)

    assert store.flushes[0] == ["a.1", "a.2"]
    assert len(store.flushes) == 2  # b … e in one flush, not four
    second = store.flushes[1]
    assert sorted(second) == sorted(f"{n}.{i}" for n in "bcde" for i in (1, 2))
    for name in "bcde":  # one caller's items stay together and in order
        assert second[second.index(f"{name}.1") + 1] == f"{name}.2"
        assert second in returned[name]
    assert returned["a"][0] == ["a.1", "a.2"]


@pytest.mark.req("R20")
def test_a_failed_flush_fails_only_the_caller_whose_items_fail_and_the_next_flush_works() -> None:
    store = Store()
    store.fail_on = "b"  # the flush that takes b's items fails
    together = GroupCommit(store.flush)
    errors: dict[str, BaseException | None] = {}

    def call(name: str) -> None:
        try:
            together.submit([name])
            errors[name] = None
        except OSError as exc:
            errors[name] = exc

    first = threading.Thread(target=call, args=("a",))
    first.start()
    assert store.entered.wait(10)
    others = [threading.Thread(target=call, args=(name,)) for name in "bc"]
    for thread in others:
        thread.start()
    _until(lambda: together.waiting() == 2)
    store.hold.set()
    first.join(10)
    for thread in others:  # b and c's flush fails; each is flushed again alone: b fails, c is written
        thread.join(10)
    assert errors["a"] is None and errors["c"] is None
    assert isinstance(errors["b"], OSError)
    assert store.flushes == [["a"], ["c"]]
    together.submit(["d"])  # the committer is not left busy by the failure
    assert store.flushes == [["a"], ["c"], ["d"]]
