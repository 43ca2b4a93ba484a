"""Attack round 16, the reads: a record put back in SQL together with deleting its latest revisions (the
revisions' guard dropped) matches what remains of its history, and the pages showed it as it stands. The read
door now also asks the latest write event about each record it shows (``changes.integrity.rolled_back``, one
statement a page, one step of the events' partial index of write events a record): the record page, the
rights page and the statement refuse a rolled-back record with an integrity alert naming it, as the pipeline
does; a list withholds it. Genuine data raise no alert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, models

from sidms.audit.models import AuditEvent
from sidms.business.models import PersonEnrolment
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.kernel import spec_of_model
from tests.audit.test_tampering import _raw, _unguarded

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R10.1")]


def roll_back(record: models.Model, change: Callable[[], Any]) -> None:
    """CHANGE the stored RECORD through the pipeline, then put its row back as it was before in SQL and delete
    the revisions the change wrote (the revisions' guard dropped and restored): the row then matches its
    remaining latest revision, and only the audit chain's write event names the later version."""
    model = type(record)
    spec = spec_of_model(model)
    assert spec is not None
    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s", [record.pk])  # noqa: S608
        before = dict(zip(columns, cursor.fetchone(), strict=True))
    change()
    assert model._default_manager.get(pk=record.pk).version > before["version"]  # type: ignore[attr-defined]
    restore = _unguarded("changes_revision")
    _raw("DELETE FROM changes_revision WHERE entity = %s AND record_id = %s AND version > %s",
         [spec.name, record.pk, before["version"]])  # fmt: skip
    restore()
    assignments = ", ".join(f"{column} = %s" for column in columns)
    _raw(f"UPDATE {table} SET {assignments} WHERE id = %s", [*before.values(), record.pk])  # noqa: S608


def alerts(reason: str = "rolled_back") -> list[str]:
    """The object ids of the integrity alerts recorded for REASON."""
    events = AuditEvent.objects.filter(action="integrity.alert").order_by("seq")
    return [e.object_id for e in events if f'"reason":"{reason}"' in e.payload]


@pytest.fixture
def pages(insured: dict[str, Any], huancui_clerk: Any, signed_in: Any) -> Any:
    """The clerk's client, after the flexible worker's pages were opened once while genuine (no alert)."""
    client = signed_in(huancui_clerk)
    person = insured["flexible"]
    enrolment = PersonEnrolment.objects.get(person=person, insurance="110")
    for url in (f"/persons/{person.person_no}/", f"/persons/{person.person_no}/rights/",
                f"/person-enrolments/{enrolment.pk}/"):  # fmt: skip
        assert client.get(url).status_code == 200
    assert (
        f"/person-enrolments/{enrolment.pk}/" in client.get(f"/persons/{person.person_no}/").content.decode()
    )
    assert client.post(f"/persons/{person.person_no}/rights/statement/").status_code == 200
    assert not AuditEvent.objects.filter(action="integrity.alert").exists()
    return client


def test_a_rolled_back_person_is_refused_by_their_page_rights_page_and_statement(
    insured: dict[str, Any], huancui_clerk: Any, pages: Any
) -> None:
    person = insured["flexible"]
    roll_back(person, lambda: submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person",
                                            record=person, values={"status": "suspended"}))  # fmt: skip
    for response in (
        pages.get(f"/persons/{person.person_no}/"),
        pages.get(f"/persons/{person.person_no}/rights/"),
        pages.post(f"/persons/{person.person_no}/rights/statement/"),
    ):
        assert response.status_code == 409
        text = response.content.decode()
        assert person.person_no in text and "赵自由" not in text
    assert alerts() == [person.person_no] * 3
    # The other person's pages, genuine, still open.
    assert pages.get(f"/persons/{insured['employee'].person_no}/").status_code == 200
    assert alerts() == [person.person_no] * 3


def test_a_rolled_back_enrolment_is_refused_by_its_page_and_the_rights_page_and_withheld_from_the_persons(
    insured: dict[str, Any], huancui_clerk: Any, pages: Any
) -> None:
    person = insured["flexible"]
    enrolment = PersonEnrolment.objects.get(person=person, insurance="110")
    roll_back(enrolment, lambda: submit_change(actor=huancui_clerk, channel=Channel.WINDOW,
                                               entity="person_enrolment", record=enrolment,
                                               values={"status": "suspended"}))  # fmt: skip
    assert PersonEnrolment.objects.get(pk=enrolment.pk).status == "paying"  # as it stands: rolled back
    assert pages.get(f"/person-enrolments/{enrolment.pk}/").status_code == 409
    assert pages.get(f"/persons/{person.person_no}/rights/").status_code == 409
    assert pages.post(f"/persons/{person.person_no}/rights/statement/").status_code == 409
    # The person is genuine: their page opens, and its list of enrolments withholds the one rolled back.
    own = pages.get(f"/persons/{person.person_no}/")
    assert own.status_code == 200 and f"/person-enrolments/{enrolment.pk}/" not in own.content.decode()
    assert alerts() == [str(enrolment.pk)] * 4


def test_genuine_records_changed_and_read_many_times_raise_no_alert(
    insured: dict[str, Any], huancui_clerk: Any, pages: Any
) -> None:
    """Records with several write events and many read events after them (the probe's latest write event is
    the row's own version) open everywhere, with no alert."""
    person = insured["flexible"]
    enrolment = PersonEnrolment.objects.get(person=person, insurance="110")
    for status in ("suspended", "paying", "suspended"):
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment",
                      record=PersonEnrolment.objects.get(pk=enrolment.pk), values={"status": status})  # fmt: skip
    for _ in range(3):
        for url in (f"/persons/{person.person_no}/", f"/persons/{person.person_no}/rights/",
                    f"/person-enrolments/{enrolment.pk}/", "/persons/"):  # fmt: skip
            assert pages.get(url).status_code == 200
    assert not AuditEvent.objects.filter(action="integrity.alert").exists()


@pytest.mark.req("R10")
def test_the_record_page_and_the_rights_page_probe_with_the_rows_they_read(
    insured: dict[str, Any], pages: Any
) -> None:
    """The probe rides on the reads that bring a record with its latest revision (the read door's look-up by
    key, the rights page's enrolments: changes.integrity.with_latest_revision), and is a statement of its own
    only beside a latest-revision read of its own (an enrolment's page checks the person its district is read
    from): no round trip of its own on the rights page, one on an enrolment's page."""
    from django.test.utils import CaptureQueriesContext

    person = insured["employee"]
    enrolment = PersonEnrolment.objects.filter(person=person).first()
    assert enrolment is not None
    pages_ = {f"/persons/{person.person_no}/rights/": (2, 0), f"/person-enrolments/{enrolment.pk}/": (1, 1)}
    for url, (read, alone) in pages_.items():
        with CaptureQueriesContext(connection) as queries:
            assert pages.get(url).status_code == 200
        sqls = [q["sql"] for q in queries.captured_queries]
        probes = [sql for sql in sqls if "FROM audit_auditevent a WHERE" in sql]
        rows = ("registry_person", "business_personenrolment")
        with_rows = [sql for sql in probes if any(table in sql for table in rows)]
        assert len(with_rows) == read and len(probes) == read + alone, probes
        revisions = [sql for sql in sqls if "changes_revision" in sql and "registry_staff" not in sql]
        assert len([sql for sql in revisions if sql not in with_rows]) == alone
