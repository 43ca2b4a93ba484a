"""The roll-back probe (changes.integrity.written_version_sql): the version the latest ``write.<entity>``
audit event about a record names, read in one step of the events' partial index of write events
(``audit_write``) however many read events name the record since, on SQLite and on PostgreSQL; and the read
door asks it in one statement for all the records a page shows."""

from __future__ import annotations

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

READS = 300


@pytest.fixture
def viewed(make_person: Any, huancui_clerk: Any) -> Person:
    """A person changed twice through the pipeline (write events for versions 2 and 3), then viewed READS
    times (a read event each, as a page view records it), the planners' statistics gathered."""
    person = make_person(id_number=id_number("37100219600101001"), name="王建国")
    for status in ("suspended", "active"):
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person",
                      record=Person.objects.get(pk=person.pk), values={"status": status})  # fmt: skip
    for _ in range(READS):
        audit_record("read.person", actor=Caller.of(huancui_clerk), object_type="person",
                     object_id=person.person_no)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Person.objects.get(pk=person.pk)


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
    action = "write.person"
    probes = {
        "page": written_versions_query(spec, [viewed.person_no]),
        "run": (f"SELECT {inputs._written_version(spec)} FROM registry_person t", [spec.name, action]),  # noqa: S608
    }
    plans = {name: plan(sql, params) for name, (sql, params) in probes.items()}
    plans["row"] = with_latest_revision(spec, Person.objects.filter(pk=viewed.pk)).explain()
    for name, shown in plans.items():
        assert "audit_write" in shown, f"{name}: {shown}"
        assert "audit_object" not in shown and "Seq Scan on audit" not in shown, f"{name}: {shown}"
    assert written_version(spec, viewed.person_no) == 3
    assert with_latest_revision(spec, Person.objects.filter(pk=viewed.pk)).get().latest_written_version == 3


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
