"""The roll-back probe (changes.integrity.written_version_sql): the version the latest ``write.<entity>``
audit event about a record names, read in one step of the events' partial index of write events
(``audit_write``) however many read events name the record since, on SQLite and on PostgreSQL; and the read
door asks it in one statement for all the records a page shows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sidms.audit.services import audit_record
from sidms.changes import inputs
from sidms.changes.integrity import (
    with_latest_revision,
    withhold_unintact,
    written_version,
    written_versions,
    written_versions_query,
)
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.caller import Caller
from sidms.core.kernel import spec_for
from sidms.registry.models import Person
from tests.attack16.test_rolled_back_pages import roll_back
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R8")]

READS = 2000


@pytest.fixture
def viewed(make_person: Any, huancui_clerk: Any) -> Person:
    """Five persons changed through the pipeline in turns (write events: 8 of each, versions 2 to 9), then
    the first viewed READS times (a read event each, as a page view records it), the planners' statistics
    gathered: a store in use, one record read far more than the others."""
    people = [
        make_person(id_number=id_number(f"3710021960010100{n}"), name="王建国") for n in (1, 3, 5, 7, 9)
    ]
    for status in ("suspended", "active") * 4:
        for person in people:
            submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person",
                          record=Person.objects.get(pk=person.pk), values={"status": status})  # fmt: skip
    caller = Caller.of(huancui_clerk)
    for _ in range(READS):
        audit_record("read.person", actor=caller, object_type="person", object_id=people[0].person_no)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Person.objects.get(pk=people[0].pk)


def plan(sql: str, params: list[Any]) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(str(row[0]) for row in cursor.fetchall())


def test_the_probe_is_one_step_of_the_write_events_index_on_both_engines(viewed: Person) -> None:
    """Each form of the probe — a page's records (the read door's lists, and one record: a single change's
    check_row), a run's per-row column, a column of the record's own read (the read door's record_get, the
    rights page's enrolments: with_latest_revision) — walks the partial index of write events, not the object
    index, whose entries for the person are mostly the READS views: the probe's WHERE repeats the index's
    condition as the engine holds it, which is what lets either planner take a partial index."""
    spec = spec_for("person")
    probes = {
        "page": written_versions_query(spec, [viewed.person_no]),
        "run": (f"SELECT {inputs._written_version(spec)} FROM registry_person t", [spec.name]),  # noqa: S608
    }
    plans = {name: plan(sql, params) for name, (sql, params) in probes.items()}
    plans["row"] = with_latest_revision(spec, Person.objects.filter(pk=viewed.pk)).explain()
    if connection.vendor == "postgresql":
        # The plan PostgreSQL keeps for the prepared statement (core.prepared.planned_once): parameters unknown.
        sql, params = probes["page"]
        marks = iter(("$1", "$2"))
        generic = "".join(next(marks) if part == "%s" else part for part in re.split(r"(%s)", sql))
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE probe(text, text[]) AS {generic.replace('%%', '%')}")
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute("EXPLAIN EXECUTE probe(%s, %s)", params)
            plans["page, generic"] = "\n".join(str(row[0]) for row in cursor.fetchall())
            cursor.execute("DEALLOCATE probe")
    for name, shown in plans.items():
        assert "audit_write" in shown, f"{name}: {shown}"
        assert "audit_object" not in shown and "Seq Scan on audit" not in shown, f"{name}: {shown}"
    assert written_version(spec, viewed.person_no) == viewed.version == 9
    assert with_latest_revision(spec, Person.objects.filter(pk=viewed.pk)).get().latest_written_version == 9


def test_a_page_of_records_is_probed_in_one_statement(make_person: Any, huancui_clerk: Any) -> None:
    """The read door's check of a list of records asks the write events of all of them at once, and
    withholds only the one rolled back."""
    people = [make_person(id_number=id_number(f"3710021960010100{n}"), name="王建国") for n in (1, 3, 5, 7)]
    for person in people:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person",
                      record=Person.objects.get(pk=person.pk), values={"status": "suspended"})  # fmt: skip
    back = people[2]
    roll_back(Person.objects.get(pk=back.pk), lambda: submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=Person.objects.get(pk=back.pk),
        values={"status": "closed"}))  # fmt: skip
    spec = spec_for("person")
    assert written_versions(spec, [p.person_no for p in people]) == {
        p.person_no: 3 if p.pk == back.pk else 2 for p in people
    }
    records = list(Person.objects.filter(pk__in=[p.pk for p in people]).order_by("pk"))
    with CaptureQueriesContext(connection) as queries:
        withheld = withhold_unintact(spec, records, Caller.of(huancui_clerk))
    assert [p.pk for p in withheld] == [back.pk]
    probes = [q["sql"] for q in queries.captured_queries if "FROM audit_auditevent" in q["sql"]]
    assert len(probes) == 1, probes
