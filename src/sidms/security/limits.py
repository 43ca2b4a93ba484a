"""The session idle time and lifetime and the sign-in lockout, read from the system parameters the city-level
system administrator keeps (issue 8 §1: "system parameters … where today's environment variables belong to the
city administrator"): ``session.idle_seconds``, ``session.max_hours``, ``lockout.failures`` and
``lockout.minutes`` of
:mod:`sidms.business.parameters`, changed four-eyes and vouched for by the audit chain like every parameter.

A page view must not pay a query for them, so each value is kept for :data:`TTL` seconds per process, and a
confirmed change clears the cache of the process that confirmed it (``parameter_changed``); the other
server processes follow within ``TTL``. Before the parameters are seeded (an empty database during its first
migrate), the seeded values stand in.

The version read must be one the system wrote: its keyed digest matches its content and its value lies in
the control's range. The version table takes inserts (it refuses updates and deletes): a version inserted in
SQL with a lifetime of a year kept every stolen session cookie good for a year until the night's
verification named it (attack round 11). Such a version is passed over for the seeded value, with an
integrity alert (once per version and process, until a parameter changes).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.dispatch import receiver

from sidms.business.parameters import (
    DEFINITIONS,
    parameter_changed,
    seeded,
    version_at,
    version_digest,
)

TTL = 30.0
_cache: dict[str, tuple[float, int]] = {}
_alerted: set[tuple[int, str]] = set()  # the forged versions this process raised an alert for


def _parameter(key: str) -> int:
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < TTL:
        return hit[1]
    row = version_at(key)
    value = int(seeded(key)) if row is None else _genuine(key, row)
    _cache[key] = (now, value)
    return value


def _genuine(key: str, row: Any) -> int:
    """ROW's value if the system wrote it (its digest holds, its value is in the control's range), else the
    seeded value, with an integrity alert."""
    bounds = DEFINITIONS[key].bounds
    value = row.value
    in_range = (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (bounds is None or bounds[0] <= value <= bounds[1])
    )
    reason = "digest" if row.digest != version_digest(row) else "" if in_range else "bounds"
    if not reason:
        return int(value)
    if (row.pk, row.digest) not in _alerted:
        _alerted.add((row.pk, row.digest))
        from sidms.changes.integrity import integrity_alert, record_alert
        from sidms.core.caller import Caller

        where = f"参数 {key}（全市）第 {row.version} 版 / parameter {key} v{row.version}"
        record_alert(integrity_alert(
            where, "parameter", where[:64], {"reason": reason, "id": row.pk, "key": key, "version": row.version},
            actor=Caller("system:limits", request_id=""),
        ))  # fmt: skip
    return int(seeded(key))


@receiver(parameter_changed)
def clear(**_: Any) -> None:
    _cache.clear()
    _alerted.clear()


def idle_seconds() -> int:
    """Seconds without activity after which a session ends."""
    return _parameter("session.idle_seconds")


def session_max_seconds() -> int:
    """Seconds after the second factor at which a session ends, used or not."""
    return _parameter("session.max_hours") * 3600


def lockout_failures(request: Any = None, credentials: Any = None) -> int:
    """Wrong passwords in a row that lock an account (django-axes ``AXES_FAILURE_LIMIT``)."""
    return _parameter("lockout.failures")


def lockout_cooloff(request: Any = None) -> timedelta:
    """How long the lock lasts (django-axes ``AXES_COOLOFF_TIME``)."""
    return timedelta(minutes=_parameter("lockout.minutes"))


# --------------------------------------------------------------------------------------------------------
# Request rate limits of public pages
#
# Not django-ratelimit: it counts in a Django cache and refuses (its check E003) every backend this stack
# has — the local-memory cache is not shared between server processes and the database cache does not
# increment atomically. A fixed-window counter in our own table, incremented by one INSERT … ON CONFLICT DO
# UPDATE … RETURNING (PostgreSQL and SQLite ≥ 3.35 alike), is shared and atomic without a Redis to run.


@contextmanager
def counting() -> Iterator[None]:
    """One transaction for a request's counters. On PostgreSQL it commits without waiting for the WAL to
    reach the disk (``SET LOCAL synchronous_commit TO OFF``): a crash may forget the last few counts, which
    costs nothing, while waiting for the disk doubled the price of a verification. Nothing else belongs in
    it (an audit event must be durable: write it after the block)."""
    from django.db import connection, transaction

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def hit(bucket: str, window_seconds: int, *, now: float | None = None) -> int:
    """Count one request in BUCKET's current window of WINDOW_SECONDS; return the window's count so far."""
    from django.db import connection

    from sidms.security.models import RateCount

    slot = int((time.time() if now is None else now) // window_seconds)
    table = connection.ops.quote_name(RateCount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (bucket, slot, hits) VALUES (%s, %s, 1) "  # noqa: S608 - names are ours
            f"ON CONFLICT (bucket, slot) DO UPDATE SET hits = {table}.hits + 1 RETURNING hits",
            [bucket, slot],
        )
        count = int(cursor.fetchone()[0])
    if count == 1 and bucket.endswith(":all"):
        # The first request of a new window anywhere: drop the windows that have passed.
        RateCount.objects.filter(slot__lt=slot - 1).delete()
    return count


def client_of(address: str) -> str:
    """The client an address stands for: an IPv4 address itself (also written IPv4-mapped, ::ffff:a.b.c.d),
    an IPv6 address's /64 — the smallest prefix a subscriber is given, all of whose 2^64 addresses one
    client may use — and anything unparsable as written."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def address_bucket(prefix: str, address: str) -> str:
    """A bucket per client (:func:`client_of`), keyed so that the table holds no address in the clear."""
    from sidms.core.keys import keyring

    return f"{prefix}:{keyring().mac(f'rate-limit/{client_of(address)}'.encode())[:32]}"
