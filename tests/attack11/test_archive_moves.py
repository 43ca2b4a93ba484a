"""Attack round 11 on the electronic archive after a person moves to another district.

Found and fixed: an archive item was scoped by the district it was uploaded in, for ever. Once the person
moved (乳山市 now holds the record, its history and its archive catalogue), a window clerk and the archive
reviewer of 环翠区 still opened, downloaded and previewed the person's ID copy, and the reviewer decided it
— a person they can no longer look up (R10.3: data access by district scope; R7.4: the archive is the
record's) — while 乳山市's staff, who hold the record, could not open the scans their catalogue listed. An
item of a person or a unit now follows its owner's current district (access.policies.scoped_by_owner); an
item of a request or an order follows the request, which follows its record (tests/web/
test_queues_follow_record.py); an item of a batch or an agreement keeps the district it was filed in.
"""

from __future__ import annotations

from typing import Any

import pytest

from sidms.archives.models import ItemStatus
from sidms.archives.services import archive_open, archive_review, archive_thumbnail, catalogue
from sidms.audit.models import AuditEvent
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import NotPermitted
from sidms.registry.models import Person

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.3"), pytest.mark.req("R7.4")]


@pytest.fixture
def moved(id_copy: tuple[Any, bytes], person: Any, make_staff: Any) -> tuple[Any, Any, bytes]:
    """A 环翠区 person's ID copy uploaded in 环翠区, then the person moved to 乳山市 (by a city-level clerk,
    through the pipeline)."""
    item, secret = id_copy
    city_clerk = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    submit_change(actor=city_clerk, channel=Channel.WINDOW, entity="person", record=person,
                  values={"district_id": "371083"})  # fmt: skip
    assert Person.objects.get(pk=person.pk).district_id == "371083"
    return Person.objects.get(pk=person.pk), item, secret


def test_the_district_a_person_left_no_longer_opens_their_scans(
    moved: tuple[Any, Any, bytes], huancui_clerk: Any, archivist: Any
) -> None:
    _person, item, _secret = moved
    for action in ("view", "download"):
        with pytest.raises(NotPermitted):
            archive_open(actor=huancui_clerk, item_id=item.pk, action=action)
    with pytest.raises(NotPermitted):
        archive_thumbnail(actor=huancui_clerk, item_id=item.pk)
    with pytest.raises(NotPermitted):
        archive_review(actor=archivist, item_id=item.pk, accept=True, reason="")
    assert not AuditEvent.objects.filter(action__in=("archive.view", "archive.download", "archive.thumbnail"),
                                         outcome="ok").exists()  # fmt: skip
    assert AuditEvent.objects.filter(action="archive.view", outcome="denied", object_id=str(item.pk)).exists()


def test_the_district_a_person_moved_to_opens_and_reviews_them(
    moved: tuple[Any, Any, bytes], rushan_clerk: Any, make_staff: Any
) -> None:
    person, item, secret = moved
    assert [i.pk for i in catalogue(actor=rushan_clerk, target_kind="person", target=person)] == [item.pk]
    opened, data = archive_open(actor=rushan_clerk, item_id=item.pk, action="view")
    assert opened.pk == item.pk and data == secret
    rushan_archivist = make_staff("archivist_rs", posts=("archive_reviewer",), district="371083")
    assert archive_review(actor=rushan_archivist, item_id=item.pk, accept=True, reason="").status == (
        ItemStatus.ACCEPTED
    )


def test_an_item_of_a_person_who_stayed_still_opens_to_their_district(
    id_copy: tuple[Any, bytes], huancui_clerk: Any, rushan_clerk: Any
) -> None:
    item, secret = id_copy
    assert archive_open(actor=huancui_clerk, item_id=item.pk, action="view")[1] == secret
    with pytest.raises(NotPermitted):
        archive_open(actor=rushan_clerk, item_id=item.pk, action="view")


def test_a_person_moved_in_sql_does_not_open_their_scans_to_the_new_district(
    id_copy: tuple[Any, bytes], person: Any, rushan_clerk: Any
) -> None:
    """The owner's district now decides who opens a scan: a person's district written in SQL must not hand
    the scans to another district. The move is checked against the person's history first."""
    from sidms.core.errors import IntegrityAlert
    from tests.audit.test_tampering import _raw

    item, _scan = id_copy
    _raw("UPDATE registry_person SET district_id = %s WHERE id = %s", ["371083", person.pk])
    with pytest.raises(IntegrityAlert):
        archive_open(actor=rushan_clerk, item_id=item.pk, action="view")
    with pytest.raises(IntegrityAlert):
        archive_thumbnail(actor=rushan_clerk, item_id=item.pk)
    assert not AuditEvent.objects.filter(
        action__in=("archive.view", "archive.thumbnail"), outcome="ok"
    ).exists()
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="person").exists()
