"""Querysets of a fixed shape, built and compiled once per thread instead of on every call.

Django builds a queryset, resolves its lookups and compiles its SQL anew on every call: for a one-row lookup
by key that is 0.2–0.3 ms of processor time, several times what the database needs to answer it. The
pages read a handful of such rows on every request (the staff member, the second-factor device, the record
shown), so each is declared once as a :class:`Prepared` queryset and only its parameters change.

A prepared queryset is the queryset itself: the same SQL, the same model instances (``from_db``, values
converted by the database's converters, ``select_related`` objects attached, annotations set as attributes),
so the ORM's semantics hold.
Its parameters are plain integers or strings that need no conversion for the database (keys and codes);
each is found in the compiled SQL's parameters by a sentinel value, and a shape whose SQL does not carry a
sentinel as given (converted, or dropped) is refused when first compiled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import psycopg
from django.db import connections, router
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=Model)

# Sentinels marking where each parameter lands in the compiled SQL's parameters (a value met more than once
# there is refused, so a constant of the queryset equal to one cannot be mistaken for it).
_INT_SENTINEL = (
    31_973  # inside every integer column's range (a positive small integer's too); found exactly once
)
_STR_SENTINEL = "\x01sidms-prepared-{}\x01"


class _Compiled:
    __slots__ = (
        "_compiler",
        "annotations",
        "converters",
        "db",
        "init_list",
        "model",
        "populators",
        "positions",
        "sql",
        "template",
        "window",
        "wrappers",
    )

    def __init__(self, queryset: QuerySet[Any], sentinels: list[Any]) -> None:
        db = queryset.db
        compiler = queryset.query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        positions: list[int] = []
        for sentinel in sentinels:
            # The compiled value may be of a subclass the backend binds by (psycopg's Int2 for a small integer
            # column): the run's value is then wrapped the same way.
            found = [
                i
                for i, value in enumerate(params)
                if isinstance(value, type(sentinel)) and not isinstance(value, bool) and value == sentinel
            ]
            if len(found) != 1:
                raise ValueError(
                    f"a prepared queryset's parameter must appear once, unconverted: {queryset.query}"
                )
            positions.append(found[0])
        self.sql, self.template, self.positions, self.db = sql, list(params), positions, db
        self.wrappers = [type(params[i]) for i in positions]
        select, klass_info = compiler.select, compiler.klass_info
        if klass_info is None:
            raise ValueError("a prepared queryset reads model instances")
        # Annotations are set on each instance by name, as the ORM's ModelIterable sets them.
        self.annotations = list(compiler.annotation_col_map.items())
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.window = (fields[0], fields[-1] + 1)
        self.init_list = [f[0].target.attname for f in select[self.window[0] : self.window[1]]]
        # (django-stubs describe a later Django, whose populators take a fetch mode too.)
        self.populators = get_related_populators(klass_info, select, db)  # type: ignore[call-arg]
        self.converters = compiler.get_converters([s[0] for s in select[: compiler.col_count]])
        self._compiler = compiler

    def run(self, values: tuple[Any, ...]) -> list[Any]:
        params = list(self.template)
        for position, wrapper, value in zip(self.positions, self.wrappers, values, strict=True):
            params[position] = value if type(value) is wrapper else wrapper(value)
        with planned_once(connections[self.db]) as cursor:
            cursor.execute(self.sql, params)
            rows: Any = cursor.fetchall()
        if self.converters:
            rows = self._compiler.apply_converters(rows, self.converters)
        start, end = self.window
        out = []
        for row in rows:
            obj = self.model.from_db(self.db, self.init_list, row[start:end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            out.append(obj)
        return out


# psycopg prepares a statement once a connection has run it this many times (psycopg's own default). Django
# turns that off (``prepare_threshold`` None, for connection poolers); planned_once turns it back on, which
# touches only server-binding cursors: Django's ClientCursor never prepares.
PREPARE_THRESHOLD = 5


def planned_once(connection: Any) -> Any:
    """A cursor of CONNECTION (Django's wrapper: its checks, its query log) for statements of a fixed shape
    that the connection runs again and again. On PostgreSQL the parameters are bound on the server (psycopg's
    ``Cursor`` rather than the ``ClientCursor`` Django uses), and a statement is prepared once it has run
    PREPARE_THRESHOLD times: PostgreSQL parses it once per connection and, after five more runs, keeps a
    generic plan when it costs no more than its custom ones. A lookup by key is then neither parsed nor
    planned again, and one person's ledger (fifty yearly partitions: ~2 ms to plan, 0.3 ms to run) is
    planned once per connection. Elsewhere Django's own cursor.

    Only for statements of a few parameters and few shapes: a prepared statement takes at most 65,535
    parameters, and psycopg keeps the last 100 prepared per connection. Behind a transaction-pooling
    connection pooler (PgBouncer before 1.21) prepared statements need the pooler's support."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    # As connection.cursor() does (BaseDatabaseWrapper._cursor and _prepare_cursor), with psycopg's Cursor.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = PREPARE_THRESHOLD
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return _ComposedDebugWrapper(psycopg.Cursor(raw), connection)
    return connection.make_cursor(psycopg.Cursor(raw))


class _ComposedDebugWrapper(CursorDebugWrapper):
    """Django's debug cursor (the query log, CaptureQueriesContext) logging a server-bound statement as
    Django logs its own: the text with the parameters in it, not ``$1`` placeholders (or nothing, once
    prepared)."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
            return CursorWrapper.execute(self, sql, params)


class Prepared(Generic[M]):
    """BUILD(*parameters) → a queryset of MODEL, compiled once per thread (each thread has its own
    connection) for parameters of the given TYPES (int or str); :meth:`all` runs it with values of those
    types. FOR_WRITE: BUILD locks its rows (``select_for_update``) and is read from the write database."""

    def __init__(
        self, model: type[M], build: Callable[..., QuerySet[M]], *types: type, for_write: bool = False
    ) -> None:
        if any(t not in (int, str) for t in types):
            raise TypeError("prepared parameters are int or str")
        self._model, self._build, self._types, self._for_write = model, build, types, for_write
        self._local = threading.local()

    def _compiled(self) -> _Compiled:
        # One compiled form per thread and database alias, bound to that thread's connection. A queryset that
        # locks its rows (select_for_update, FOR_WRITE) reads from the write database, as the ORM's does.
        alias = router.db_for_write(self._model) if self._for_write else router.db_for_read(self._model)
        key = (alias, id(connections[alias]))
        cache: dict[Any, _Compiled] = self._local.__dict__.setdefault("compiled", {})
        compiled = cache.get(key)
        if compiled is None:
            sentinels = [
                _INT_SENTINEL - i if t is int else _STR_SENTINEL.format(i) for i, t in enumerate(self._types)
            ]
            queryset = self._build(*sentinels)
            if queryset.db != alias or queryset.model is not self._model:
                raise ValueError("a prepared queryset reads its own model from its read database")
            compiled = cache[key] = _Compiled(queryset, sentinels)
        return compiled

    def all(self, *values: Any) -> list[M]:
        for value, kind in zip(values, self._types, strict=True):
            if type(value) is not kind:
                raise TypeError(f"a prepared parameter of type {kind.__name__}, not {type(value).__name__}")
        return self._compiled().run(values)

    def first(self, *values: Any) -> M | None:
        rows = self.all(*values)
        return rows[0] if rows else None
