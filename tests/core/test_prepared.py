"""Querysets compiled once (sidms.core.prepared) and the per-request reads built on them: the same rows as the
ORM's queryset, the same conditions (scope, session expiry, the device's account), on either engine."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sidms.core.prepared import Prepared
from sidms.registry.models import Person, Staff, StaffPost


def _values(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.req("R10.3")
def test_a_prepared_queryset_gives_the_orms_instances(make_person: Any, huancui_clerk: Any) -> None:
    """Every field as the ORM gives it (the decrypted ID number, aware datetimes, dates), a select_related
    object attached without a query of its own, and the scope filter applied (another district's record is
    not found)."""
    person = make_person(id_number="37100219700101018X", name="李红", sex="2", birth_date="1970-01-01")
    other = make_person(id_number="371002600101001", name="赵旧号", legacy=True, district="371083")
    by_key: Prepared[Person] = Prepared(
        Person,
        lambda district, key: Person.objects.filter(district_id=district).filter(person_no=key)[:1],
        str,
        str,
    )
    found = by_key.first("371002", person.person_no)
    assert found is not None
    assert _values(found) == _values(Person.objects.get(pk=person.pk))
    assert str(found.id_number) == "37100219700101018X"
    assert by_key.first("371002", other.person_no) is None  # outside the district
    assert by_key.first("371002", "no such key") is None

    staff: Prepared[Staff] = Prepared(
        Staff, lambda pk: Staff.objects.select_related("district").filter(pk=pk), int
    )
    account = staff.first(huancui_clerk.pk)
    assert account is not None and _values(account) == _values(Staff.objects.get(pk=huancui_clerk.pk))
    assert account.last_login is None or timezone.is_aware(account.last_login)
    with CaptureQueriesContext(connection) as queries:
        assert account.district is not None and account.district.name
    assert len(queries) == 0
    assert huancui_clerk.posts == frozenset(
        StaffPost.objects.filter(staff=huancui_clerk).values_list("post", flat=True)
    )


@pytest.mark.req("R10.3")
def test_a_prepared_queryset_sets_its_annotations_as_the_orm_does(make_person: Any) -> None:
    """An annotated queryset (a correlated subquery, as changes.integrity.with_latest_revision reads a record's
    latest revision) gives each instance the annotation's value, None where the subquery finds nothing."""
    from django.db.models import OuterRef, Subquery

    from sidms.changes.models import Revision

    person = make_person(id_number="37100219700101018X", name="李红", sex="2", birth_date="1970-01-01")

    def build(pk: int, entity: str = "person") -> Any:
        latest = Revision.objects.filter(entity=entity, record_id=OuterRef("pk")).order_by("-version")
        return Person.objects.filter(pk=pk).annotate(
            newest=Subquery(latest.values("version")[:1]), digest_of=Subquery(latest.values("digest")[:1])
        )

    orm = build(person.pk).get()
    found = Prepared(Person, build, int).first(person.pk)
    assert found is not None and _values(found) == _values(orm)
    assert (found.newest, found.digest_of) == (orm.newest, orm.digest_of) and found.newest is not None  # type: ignore[attr-defined]
    none = Prepared(Person, lambda pk: build(pk, "no_such_entity"), int).first(person.pk)
    assert none is not None and (none.newest, none.digest_of) == (None, None)  # type: ignore[attr-defined]


@pytest.mark.req("R10.3")
def test_a_prepared_queryset_refuses_parameters_it_cannot_place(db: None) -> None:
    """A parameter the ORM converts (a text for a number column) cannot be found in the compiled SQL and is
    refused when first compiled; a value of another type than declared is refused at every call."""
    converted: Prepared[Staff] = Prepared(Staff, lambda name: Staff.objects.filter(pk=len(name)), str)
    with pytest.raises(ValueError, match="must appear once"):
        converted.first("x")
    by_pk: Prepared[Staff] = Prepared(Staff, lambda pk: Staff.objects.filter(pk=pk), int)
    with pytest.raises(TypeError):
        by_pk.first("1")
    with pytest.raises(TypeError):
        Prepared(Staff, lambda when: Staff.objects.filter(last_login=when), object)


@pytest.mark.req("R17")
def test_the_session_store_reads_only_an_unexpired_session(
    signed_in: Any, huancui_clerk: Any, rushan_clerk: Any
) -> None:
    """sidms.security.sessions reads the session row by a plain SELECT under Django's condition: the key and
    an expiry after now. An expired or deleted session signs the browser out."""
    client = signed_in(huancui_clerk)
    assert client.get("/").status_code == 200
    key = client.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")

    client = signed_in(rushan_clerk)
    assert client.get("/").status_code == 200
    Session.objects.filter(session_key=client.cookies["sessionid"].value).delete()
    assert client.get("/").status_code == 302


@pytest.mark.req("R17")
def test_the_second_factor_holds_only_while_its_device_does(
    signed_in: Any, huancui_clerk: Any, rushan_clerk: Any
) -> None:
    """The session's device is read on every request: once unconfirmed, or deleted, the session is no
    longer past the second factor."""
    from sidms.security.models import SealedTOTPDevice

    client = signed_in(huancui_clerk)
    assert client.get("/").status_code == 200
    SealedTOTPDevice.objects.filter(user=huancui_clerk).update(confirmed=False)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/login/otp/"

    client = signed_in(rushan_clerk)
    assert client.get("/").status_code == 200
    SealedTOTPDevice.objects.filter(user=rushan_clerk).delete()
    assert client.get("/").status_code == 302


@pytest.mark.req("R10.3")
@pytest.mark.req("B5")
def test_on_postgresql_the_fixed_lookups_and_the_ledger_are_planned_once(
    make_person: Any, huancui_clerk: Any
) -> None:
    """A prepared queryset and the rights record's ledger and enrolment reads bind their parameters on the
    server, so PostgreSQL prepares each after a few runs on the connection and then runs it by a generic plan,
    planned no more (the ledger spans fifty partitions: planning it was most of the database's share of the
    rights page). The answers stay the ORM's."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's; SQLite has nothing to plan again")
    from sidms.business.rights import _ledger_rows, rights_records
    from sidms.changes.integrity import latest_revisions
    from sidms.core.kernel import spec_for

    person = make_person(id_number="37100219700101018X", name="李红", sex="2", birth_date="1970-01-01")
    by_key: Prepared[Person] = Prepared(Person, lambda key: Person.objects.filter(person_no=key)[:1], str)
    for _ in range(14):  # prepared at the fifth run; a generic plan from the fifth prepared run on
        found = by_key.first(person.person_no)
        assert found is not None and found.pk == person.pk
        assert _ledger_rows([person.pk], actor=None) == ([], {})
        rights_records([person], timezone.localdate())
        assert latest_revisions(spec_for("person"), [person.pk])  # the read door's check of a record
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans FROM pg_prepared_statements")
        prepared = cursor.fetchall()
    table = Person._meta.db_table
    assert any(table in sql and generic >= 1 for sql, generic in prepared), prepared
    assert any("business_ledgerentry" in sql and generic >= 1 for sql, generic in prepared), prepared
    assert any("business_personenrolment" in sql and generic >= 1 for sql, generic in prepared), prepared
    assert any("changes_revision" in sql and generic >= 1 for sql, generic in prepared), prepared
