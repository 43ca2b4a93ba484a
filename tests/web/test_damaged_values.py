"""A record whose encrypted value was swapped in from another row (attack finding 4): pages still answer,
show the value as damaged, name the record, and raise an integrity alert; the pipeline refuses to build on
it with an integrity alert, not a decryption error (R20)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.utils import translation

from sidms.audit.models import AuditEvent
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import IntegrityAlert
from sidms.registry.models import Person
from tests.conftest import last_integrity_alert

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20")]


@pytest.fixture
def damaged(make_person) -> Any:  # type: ignore[no-untyped-def]
    make_person(id_number="371002196001010011", name="王建国")
    victim = make_person(id_number="371002197001010024", name="李红", sex="2", birth_date="1970-01-01")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registry_person SET id_number = (SELECT id_number FROM registry_person WHERE id <> %s "
            "ORDER BY id LIMIT 1) WHERE id = %s",
            [victim.pk, victim.pk],
        )
    return victim


def alerts() -> int:
    return AuditEvent.objects.filter(action="integrity.alert").count()


def test_pages_say_the_value_is_damaged_and_raise_an_alert(damaged, huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    clerk = signed_in(huancui_clerk)
    before = alerts()

    listing = clerk.get("/persons/")
    detail = clerk.get(f"/persons/{damaged.person_no}/")
    edit = clerk.get(f"/persons/{damaged.person_no}/edit/")

    assert listing.status_code == 200 and "王建国" in listing.content.decode()  # the rest of the list
    # The record itself is withheld, named by its number only (access.policies.record_list's guard): its
    # ciphertext is not the one written for it.
    assert (
        f"未予显示：{damaged.person_no}" in listing.content.decode()
        and "李红" not in listing.content.decode()
    )
    # The record's own pages are not shown: its row no longer matches its history (the read door's guard,
    # changes.integrity.require_read_intact), where its page once showed the rest of the record.
    for page in (detail, edit):
        assert page.status_code == 409
        text = page.content.decode()
        assert (
            "完整性告警" in text and "信息中心" in text and damaged.person_no in text and "李红" not in text
        )
    assert alerts() > before
    event = AuditEvent.objects.filter(action="integrity.alert").last()
    assert event.object_id == damaged.person_no and event.outcome == "failed"


def test_a_list_meeting_the_damaged_record_withholds_it_with_one_alert_naming_record_and_reader(
    damaged, huancui_clerk, signed_in
) -> None:  # type: ignore[no-untyped-def]
    clerk = signed_in(huancui_clerk)
    before = alerts()
    assert clerk.get("/persons/").status_code == 200
    assert alerts() == before + 1
    event, payload = last_integrity_alert()
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        "clerk_hc", "person", damaged.person_no, "failed",
    )  # fmt: skip
    assert payload["detail"] == {"reason": "ciphertext", "record_id": damaged.pk}


def test_the_pipeline_refuses_with_an_integrity_alert(damaged, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"), pytest.raises(IntegrityAlert):
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=Person.objects.get(pk=damaged.pk),
            values={"address": "威海市环翠区新威路9号"},
        )  # fmt: skip


def test_a_value_that_does_not_decrypt_is_marked_damaged_and_alerted_once(damaged, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    """The mark a cell shows for a value that does not decrypt as this record's (a key file mixed up: the
    digests still match, so the record is not withheld), with its alert, once per page however often met."""
    from sidms.core.fields import Ciphertext
    from sidms.core.kernel import spec_for
    from sidms.web.display import cell

    record = Person.objects.get(pk=damaged.pk)  # its stored ciphertext is another person's
    assert isinstance(record.__dict__["id_number"], Ciphertext)
    before = alerts()
    with translation.override("zh-hans"):
        assert "数据已损坏" in str(cell(spec_for("person"), record, "id_number", huancui_clerk))
    assert alerts() == before + 1
    event, payload = last_integrity_alert()
    assert event.actor == "clerk_hc"
    assert payload["detail"] == {"reason": "ciphertext", "field": "id_number", "record_id": damaged.pk}
