"""The WSGI entry point served by granian (`sidms serve`).

Each worker process freezes what it holds once it is warm (``gc.freeze``): Django's modules, the URL
resolver, the compiled templates, the translations, the key ring. CPython's full (oldest-generation)
collection otherwise walks all of that, ~135,000 objects, every so often: measured on the rights-record
page in one process, one such collection took 99 ms, during which every request of that worker waits
(bench/README.md, "The page's tail": its p99 in that process fell from 53 to 37 ms; under wrk at c=16 the
queue, not these pauses, sets the p99 on two cores). Frozen objects are never
collected; only what the process keeps for good is frozen: a full collection runs first, so what is
garbage then is freed, and requests' own objects come and go in the young generations as before.

Freezing happens twice: when the application is loaded (all of sidms's views and their imports) and again
after the first ``WARM_REQUESTS`` requests (what Django builds lazily: template caches, translation
catalogues, prepared querysets). ``gc.freeze`` is CPython's own means for a heap of long-lived objects;
core.workers leaves a frozen heap frozen when it forks.

On SQLite each worker also checkpoints the write-ahead log in a thread of its own rather than in the commit
of whichever request crossed SQLite's threshold (core.sqlite.checkpoints).
"""

from __future__ import annotations

import gc
import itertools
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidms.settings")

WARM_REQUESTS = 200


class FreezeWhenWarm:
    """The application, with the process's collected heap frozen once now and once after WARM requests."""

    def __init__(self, application: Callable[..., Iterable[bytes]], warm: int = WARM_REQUESTS) -> None:
        self.application = application
        self.warm = warm
        self._seen = itertools.count(1)  # next() on a count is atomic under the interpreter lock
        _freeze()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if next(self._seen) == self.warm:
            _freeze()
        return self.application(environ, start_response)


def _checkpoint_in_background() -> None:
    from django.conf import settings

    from sidms.core.sqlite import checkpoints

    database = settings.DATABASES["default"]
    name = str(database.get("NAME") or "")
    interval = float(settings.SIDMS_SQLITE_CHECKPOINT_INTERVAL)  # 0: SQLite's own, in the commits
    on_file = name and name != ":memory:" and "mode=memory" not in name
    if database["ENGINE"] == "sidms.core.sqlite" and on_file and interval > 0:
        checkpoints.start(name, interval)


def _freeze() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view module, and what they import)
    gc.collect()
    gc.freeze()


application = FreezeWhenWarm(get_wsgi_application())
_checkpoint_in_background()
