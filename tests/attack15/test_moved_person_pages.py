"""Attack round 15, tried and held: a person whose district was written in SQL to 乳山市 is not opened there by
the pages added since round 14 — the person's access record (个人信息访问记录, B1) and the statement printed at the
window — and a search there by the person's ID number withholds the person (named by number only)."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from tests.audit.test_tampering import _raw
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R10.3")]

RUSHAN = "371083"


@pytest.mark.req("B1")
def test_the_district_named_in_sql_opens_neither_access_record_nor_statement(
    make_person: Any, rushan_clerk: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    number = id_number("37100219600101001")
    person = make_person(id_number=number, name="王建国")
    huancui = signed_in(huancui_clerk)
    assert huancui.get(f"/persons/{person.person_no}/access/").status_code == 200  # its own district reads it
    _raw("UPDATE registry_person SET district_id = %s WHERE id = %s", [RUSHAN, person.pk])
    clerk = signed_in(rushan_clerk)
    for response in (
        clerk.get(f"/persons/{person.person_no}/access/"),
        clerk.post(f"/persons/{person.person_no}/rights/statement/"),
    ):
        assert response.status_code == 409
        assert "王建国" not in response.content.decode(errors="replace")
    found = clerk.post("/persons/", {"q": number}).content.decode()  # the search box posts
    assert "王建国" not in found and "未予显示" in found  # named by its number only, with an alert
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="person").count() == 3
    assert not AuditEvent.objects.filter(action="read.person_access", actor=rushan_clerk.username,
                                         outcome="ok").exists()  # fmt: skip
