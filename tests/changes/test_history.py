"""History (R9.2): every change is kept with old and new value, time, channel and person; any record can
be shown as it was at any past moment; and the database itself refuses to rewrite history (R20)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from sidms.changes.history import as_of, timeline
from sidms.changes.models import Channel, Method, Revision
from sidms.changes.services import submit_change
from sidms.parameters.models import CollectionRule
from sidms.registry.models import Person
from tests.changes.conftest import ORIGINAL_PHONE, WANG_ID

pytestmark = pytest.mark.django_db

CREATED = datetime.fromisoformat("2026-01-05T09:00:00+08:00")
PHONE_CHANGED = datetime.fromisoformat("2026-02-10T14:30:00+08:00")
MOVED = datetime.fromisoformat("2026-03-20T10:15:00+08:00")
SECOND = timedelta(seconds=1)


@pytest.fixture
def lived_record(huancui_clerk, make_person) -> Any:  # type: ignore[no-untyped-def]
    """王建国: stored on CREATED, new phone on PHONE_CHANGED, new address and e-mail on MOVED."""
    with freeze_time(CREATED):
        person = make_person(id_number=WANG_ID, name="王建国")
    for moment, values in (
        (PHONE_CHANGED, {"phone": "13806311111"}),
        (MOVED, {"address": "威海市文登区龙山路5号", "email": "wang@example.cn"}),
    ):
        with freeze_time(moment):
            current = Person.objects.get(pk=person.pk)
            submit_change(
                actor=huancui_clerk, channel=Channel.KIOSK, entity="person", record=current, values=values
            )
    return Person.objects.get(pk=person.pk)


@pytest.mark.req("R9.2")
def test_a_record_is_shown_as_it_was_at_each_past_moment(lived_record) -> None:  # type: ignore[no-untyped-def]
    assert as_of("person", lived_record, CREATED - SECOND) is None

    at_creation = as_of("person", lived_record, CREATED)
    assert at_creation is not None
    assert (at_creation["version"], at_creation["id_number"], at_creation["phone"], at_creation["address"]) == (
        1, WANG_ID, ORIGINAL_PHONE, "",
    )  # fmt: skip

    before_move = as_of("person", lived_record, MOVED - SECOND)
    assert before_move is not None
    assert (before_move["version"], before_move["phone"], before_move["address"], before_move["email"]) == (
        2, "13806311111", "", "",
    )  # fmt: skip

    now = as_of("person", lived_record, MOVED + timedelta(days=30))
    assert now is not None
    assert (now["version"], now["phone"], now["address"], now["email"]) == (
        3, "13806311111", "威海市文登区龙山路5号", "wang@example.cn",
    )  # fmt: skip
    assert now["name"] == lived_record.name and now["birth_date"] == lived_record.birth_date


@pytest.mark.req("R9.2")
def test_the_timeline_lists_old_and_new_values_per_field_newest_first(lived_record) -> None:  # type: ignore[no-untyped-def]
    entries = timeline("person", lived_record)

    assert [e.revision.version for e in entries] == [3, 2, 1]
    assert [e.revision.at for e in entries] == [MOVED, PHONE_CHANGED, CREATED]
    moved, phone, created = entries
    assert {(c.field, c.old, c.new) for c in moved.changes} == {
        ("address", "", "威海市文登区龙山路5号"), ("email", "", "wang@example.cn"),
    }  # fmt: skip
    assert [(c.field, c.old, c.new) for c in phone.changes] == [("phone", ORIGINAL_PHONE, "13806311111")]
    assert (phone.revision.channel, phone.revision.method, phone.revision.actor) == (
        Channel.KIOSK, Method.DIRECT, "clerk_hc",
    )  # fmt: skip
    assert ("id_number", None, WANG_ID) in {(c.field, c.old, c.new) for c in created.changes}
    assert created.revision.method == Method.IMPORT


def refused_by_the_database(sql: str, params: list[Any]) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        return "append-only" in str(error)
    return False


@pytest.mark.req("R9.2")
@pytest.mark.req("R20")
def test_revisions_cannot_be_rewritten_or_deleted_even_by_raw_sql(lived_record) -> None:  # type: ignore[no-untyped-def]
    revision = Revision.objects.get(entity="person", record_id=lived_record.pk, version=2)

    assert refused_by_the_database(
        "UPDATE changes_revision SET actor = %s WHERE id = %s", ["mallory", revision.pk]
    )
    assert refused_by_the_database("DELETE FROM changes_revision WHERE id = %s", [revision.pk])

    kept = Revision.objects.get(pk=revision.pk)
    assert (kept.actor, kept.changes) == (revision.actor, revision.changes)
    assert Revision.objects.filter(entity="person", record_id=lived_record.pk).count() == 3


@pytest.mark.req("R20")
def test_audit_events_cannot_be_rewritten_or_deleted_even_by_raw_sql(lived_record) -> None:  # type: ignore[no-untyped-def]
    event = AuditEvent.objects.filter(action="write.person").order_by("seq").first()
    assert event is not None

    assert refused_by_the_database(
        "UPDATE audit_auditevent SET actor = %s WHERE seq = %s", ["mallory", event.pk]
    )
    assert refused_by_the_database("DELETE FROM audit_auditevent WHERE seq = %s", [event.pk])

    assert AuditEvent.objects.get(pk=event.pk).actor == "clerk_hc"


@pytest.mark.req("R5")
@pytest.mark.req("R20")
def test_collection_rules_cannot_be_rewritten_or_deleted_even_by_raw_sql() -> None:
    rule = CollectionRule.objects.get(entity="person", field="id_number", version=1)

    assert refused_by_the_database(
        "UPDATE parameters_collectionrule SET review_level = %s WHERE id = %s", ["none", rule.pk]
    )
    assert refused_by_the_database("DELETE FROM parameters_collectionrule WHERE id = %s", [rule.pk])

    assert CollectionRule.objects.get(pk=rule.pk).review_level == "manual"


@pytest.mark.req("R20")
def test_every_append_only_table_has_its_guard_after_all_migrations(make_person: Any) -> None:
    """SQLite rebuilds a table for many schema changes and the rebuilt table has no triggers; the guards
    are reinstalled after every migrate, so a later migration cannot silently remove them."""
    from sidms.core.guards import append_only_tables

    make_person(id_number="371002196001010011")  # rows in every table: a trigger fires per row
    tables = append_only_tables()
    assert {"audit_auditevent", "changes_revision", "parameters_collectionrule"} <= set(tables)
    for table in tables:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            empty = cursor.fetchone()[0] == 0
        if empty:
            # A row trigger cannot be seen firing on an empty table (the business ledger before its first
            # run): the trigger itself must be there.
            with connection.cursor() as cursor:
                if connection.vendor == "sqlite":
                    cursor.execute(
                        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = %s",
                        [f"{table}_no_delete"],
                    )
                else:
                    cursor.execute(  # the table's own (a partitioned ledger's partitions have clones of it)
                        "SELECT COUNT(*) FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass",
                        [f"{table}_append_only", table],
                    )
                assert cursor.fetchone()[0] == 1, table
            continue
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608
