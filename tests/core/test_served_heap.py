"""The served application freezes its warm heap (sidms.wsgi), so a full collection does not stop a worker's
requests for ~100 ms; forked helpers (core.workers) leave a frozen heap frozen. In a fresh interpreter each:
freezing in the test process would change every other test's collections."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.req("B5")


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_the_application_is_frozen_when_loaded_and_again_when_warm() -> None:
    out = _run("""
        import gc
        from sidms import wsgi
        from sidms.web.business import views  # imported by loading: the resolver's views are in the frozen heap
        loaded = gc.get_freeze_count()
        assert loaded > 10_000, loaded
        calls = []
        app = wsgi.FreezeWhenWarm(lambda environ, start: calls.append(environ) or [b"ok"], warm=3)
        held = [[] for _ in range(50)]  # kept for good, like a template cache the first requests build
        before = gc.get_freeze_count()
        assert app({"n": 1}, None) == [b"ok"] and app({"n": 2}, None) == [b"ok"]
        assert gc.get_freeze_count() == before
        app({"n": 3}, None)
        assert gc.get_freeze_count() >= before + 50, (before, gc.get_freeze_count())
        after = gc.get_freeze_count()
        for n in range(4, 10):
            app({"n": n}, None)
        assert gc.get_freeze_count() == after  # once, not at every request
        assert [e["n"] for e in calls] == list(range(1, 10))
        print("ok")
    """)
    assert out == "ok"


def test_forked_workers_leave_a_frozen_heap_frozen_and_unfreeze_their_own() -> None:
    out = _run("""
        import gc
        from sidms.core.workers import ordered_map
        assert gc.get_freeze_count() == 0
        assert list(ordered_map(abs, [-1, -2, -3, -4], 2)) == [1, 2, 3, 4]
        assert gc.get_freeze_count() == 0  # a process that was not frozen is not left frozen
        gc.freeze()
        frozen = gc.get_freeze_count()
        assert list(ordered_map(abs, [-5, -6, -7, -8], 2)) == [5, 6, 7, 8]
        assert gc.get_freeze_count() == frozen  # neither unfrozen nor grown by the call's objects
        print("ok")
    """)
    assert out == "ok"
