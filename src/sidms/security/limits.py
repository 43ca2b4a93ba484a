"""The session idle time and the sign-in lockout, read from the system parameters the city-level system
administrator keeps (issue 8 §1: "system parameters … where today's environment variables belong to the city
administrator"): ``session.idle_seconds``, ``lockout.failures`` and ``lockout.minutes`` of
:mod:`sidms.business.parameters`, changed four-eyes and vouched for by the audit chain like every parameter.

A page view must not pay a query for them, so each value is kept for :data:`TTL` seconds per process, and a
confirmed change clears the cache of the process that confirmed it (``parameter_changed``); the other
server processes follow within ``TTL``. Before the parameters are seeded (an empty database during its first
migrate), the seeded values stand in.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.dispatch import receiver

from sidms.business.parameters import MissingParameter, parameter_changed, seeded, value_at

TTL = 30.0
_cache: dict[str, tuple[float, int]] = {}


def _parameter(key: str) -> int:
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < TTL:
        return hit[1]
    try:
        value = int(value_at(key))
    except MissingParameter:
        value = int(seeded(key))
    _cache[key] = (now, value)
    return value


@receiver(parameter_changed)
def clear(**_: Any) -> None:
    _cache.clear()


def idle_seconds() -> int:
    """Seconds without activity after which a session ends."""
    return _parameter("session.idle_seconds")


def lockout_failures(request: Any = None, credentials: Any = None) -> int:
    """Wrong passwords in a row that lock an account (django-axes ``AXES_FAILURE_LIMIT``)."""
    return _parameter("lockout.failures")


def lockout_cooloff(request: Any = None) -> timedelta:
    """How long the lock lasts (django-axes ``AXES_COOLOFF_TIME``)."""
    return timedelta(minutes=_parameter("lockout.minutes"))
