"""The subject index of the audit log (B1): which records an event names besides its own object.

A list page, an export's page of rows and a page of queues are one event each, about the list (object type
``person``, no object id, or ``queue``), whose detail names every record shown; a list of records that are each
about a person (employments, enrolments, base declarations, deaths, entitlements: ``Declaration.subject``)
also names those persons, under :data:`SUBJECTS`. A person's access record finds
events by the log's index on (object_type, object_id), which does not reach those names; ``AuditSubject``
holds one row per record named, written with the event in the same transaction, and the access record reads
it by (entity, record key).

:func:`named` is the one rule, applied to what the event's hashed payload holds, when the event is appended
and again by verification (``audit.verify``), so that the index is checked against the chain: every record a
verified event names has its row, and every row names a record its event names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from django.db import router, transaction

from sidms.audit.models import AuditSubject
from sidms.core.kernel import ENTITIES, EntitySpec  # declared as the apps load; read at the first event

# The detail key under which a list names the records its rows are about: {entity: [key, …]}, each key once
# ({"person": ["3700000001", …]} for a page of employments), written by ``access.policies.record_list``.
SUBJECTS = "subjects"
# The detail keys under which an event may name records: other events are not parsed.
KEYS = frozenset({"shown", "queue_records", SUBJECTS})

# The columns of AuditSubject as inserted, in this order.
_COLUMNS = ("entity", "record_key", "seq")
# Rows per executemany call: an export's page of 1,000 is one.
_ROWS_A_CALL = 5000
KEY_SIZE = 64  # AuditSubject.record_key and .entity, as audit_record fits an object id


@cache
def indexed() -> frozenset[str]:
    """The entities whose records someone looks up by the index: those declared with an access record
    (``Declaration.access_record``: the person, B1). A list of employments, enrolments, ledger entries or
    units names them in its hashed detail, where the audit log keeps them (and a list of records about persons
    names those persons too, under :data:`SUBJECTS`, which are indexed); indexing them too, for no reader,
    cost every person page ~40 random index writes (its six related lists: the person page's throughput fell
    by a quarter on SQLite) and the verification as much again. Another entity declared with an access record
    would need a migration to index the events already in the chain."""
    return frozenset(name for name, spec in ENTITIES.items() if spec.declaration.access_record)


def named(object_type: str, detail: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The records of the :func:`indexed` entities an event with OBJECT_TYPE and DETAIL names, each (entity, key) once,
    in order:

    - ``shown``, a list of keys: the records of OBJECT_TYPE a list or an export page showed
      (``access.policies.record_list`` and ``record_related``, the staff list);
    - ``queue_records``, a list of [entity, key] pairs: the records a page of queues concerns
      (``access.workflow.audit_listed``);
    - ``subjects`` (:data:`SUBJECTS`), a mapping of entity to a list of keys: the records the rows of a list or
      an export page are about (a page of employments names its persons, ``Declaration.subject``).

    A count under ``shown`` (some pages record how many rows they showed) names nothing. Keys and entities
    are cut to the column's 64 characters, as the event's own object id is."""
    if not isinstance(detail, Mapping):
        return []
    found: dict[tuple[str, str], None] = {}
    wanted = indexed()
    shown = detail.get("shown")
    if isinstance(shown, list) and object_type in wanted:
        for key in shown:
            if isinstance(key, str | int) and not isinstance(key, bool) and str(key):
                found[(object_type[:KEY_SIZE], str(key)[:KEY_SIZE])] = None
    records = detail.get("queue_records")
    if isinstance(records, list):
        for pair in records:
            if (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], str)
                and pair[0] in wanted
                and isinstance(pair[1], str | int)
                and not isinstance(pair[1], bool)
                and str(pair[1])
            ):
                found[(pair[0][:KEY_SIZE], str(pair[1])[:KEY_SIZE])] = None
    about = detail.get(SUBJECTS)
    if isinstance(about, Mapping):
        for entity, keys in about.items():
            if isinstance(entity, str) and entity in wanted and isinstance(keys, list):
                for key in keys:
                    if isinstance(key, str | int) and not isinstance(key, bool) and str(key):
                        found[(entity[:KEY_SIZE], str(key)[:KEY_SIZE])] = None
    return list(found)


def about(spec: EntitySpec, records: Iterable[Any]) -> dict[str, list[str]]:
    """What a list of RECORDS of SPEC names under :data:`SUBJECTS`: the keys of the records
    they are about (``Declaration.subject``), each once, in order; {} when SPEC declares none."""
    subject = spec.subject
    if subject is None:
        return {}
    keys = {key: None for key in map(spec.subject_key, records) if key}
    return {subject[1].name: list(keys)} if keys else {}


def insert(rows: Iterable[tuple[str, str, int]], connection: Any = None) -> int:
    """INSERT the index ROWS (entity, record key, event seq): on SQLite one prepared statement executed for
    many rows (executemany: a third of a multi-row VALUES statement's cost for a page of 50), on PostgreSQL
    one statement over three arrays (unnest), in the caller's transaction (the events'), on CONNECTION (the default: where audit events
    are written). Returns how many."""
    if connection is None:
        connection = transaction.get_connection(router.db_for_write(AuditSubject))
    quote = connection.ops.quote_name
    table = quote(AuditSubject._meta.db_table)
    columns = ", ".join(quote(name) for name in _COLUMNS)
    rows = list(rows)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _ROWS_A_CALL):
            part = rows[start : start + _ROWS_A_CALL]
            if connection.vendor == "postgresql":
                # One statement of three arrays: psycopg's executemany took ~50 µs a row here.
                entities, keys, seqs = (list(column) for column in zip(*part, strict=True))
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[])",  # noqa: S608
                    [entities, keys, seqs],
                )
            else:
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s)", part)  # noqa: S608
    return len(rows)


__all__ = ["KEYS", "KEY_SIZE", "SUBJECTS", "about", "insert", "named"]
