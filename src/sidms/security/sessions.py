"""Django's database sessions, the session row read by one plain SELECT.

Every request of a signed-in staff member reads its session. Django's store builds and compiles a queryset
for it (``Session.objects.get(session_key=…, expire_date__gt=now)``), ~0.2 ms of processor time for a
lookup the database answers in a few microseconds. This store reads the same row under the same condition
(the key, not yet expired) by a fixed SELECT; everything else (creating, saving, cycling and deleting
sessions, the signed and checked session data) is Django's database store unchanged."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.utils import timezone

from sidms.core.prepared import planned_once

# The session key column's length (Django's keys are 32 characters).
_KEY_LENGTH = 40


class SessionStore(DatabaseStore):
    def _get_session_from_db(self) -> Any:
        key = self.session_key
        # Django's keys are 32 lower-case letters and digits: a cookie holding anything else (a NUL byte, which
        # PostgreSQL refuses in any text and would answer with a server error) names no session.
        if (
            not key
            or not self._validate_session_key(key)  # type: ignore[attr-defined]
            or not (key.isascii() and key.isalnum() and len(key) <= _KEY_LENGTH)
        ):
            self._session_key = None
            return None
        alias = router.db_for_read(Session)
        connection = connections[alias]
        quote = connection.ops.quote_name
        meta = Session._meta
        columns = {f.name: str(f.column) for f in meta.concrete_fields}
        data, expires, pk = columns["session_data"], columns["expire_date"], columns["session_key"]
        sql = (
            f"SELECT {quote(data)} FROM {quote(meta.db_table)} "  # noqa: S608  (names from the model)
            f"WHERE {quote(pk)} = %s AND {quote(expires)} > %s"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        # A statement of one shape on every request: prepared by the connection on PostgreSQL (planned_once).
        with planned_once(connection) as cursor:
            cursor.execute(sql, [key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        # Only the data is used by load(); the row as Django's store would have returned it otherwise.
        return Session(session_key=key, session_data=row[0])
