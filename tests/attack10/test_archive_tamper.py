"""Attack round 10 on the electronic archive as an insider with raw database access.

* An archive item's status flipped from pending (or rejected) to accepted in SQL, behind the reviewer's
  back: the review request its approval waited for must not be approved on the strength of that row; the
  approval is refused with an integrity alert, as every other row the pipeline builds on is checked against
  its history first.
* A Rushan clerk's own item re-pointed in SQL at a Huancui person's ID copy (its keyed content hash and file
  identity copied over), or the Huancui item itself moved to 乳山市 by its district column: the file was
  decrypted and handed to the Rushan clerk, the database alone opening every scan to any clerk. The read
  now checks the item against its history first (integrity alert, audited, no bytes); verify names both."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.archives.models import ItemStatus
from sidms.archives.services import archive_open, archive_review, archive_thumbnail, archive_upload
from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, ReviewStatus
from sidms.changes.services import review_decide
from sidms.core.errors import IntegrityAlert, NotPermitted
from sidms.registry.models import Person
from tests.archives.conftest import new_person_request, noise
from tests.audit.test_tampering import _raw
from tests.exchange.conftest import id_number

pytestmark = pytest.mark.django_db


@pytest.mark.req("R7.4")
@pytest.mark.req("R20")
@pytest.mark.parametrize("before", ["pending", "rejected"])
def test_an_id_copy_accepted_in_sql_does_not_let_the_request_be_approved(
    before: str, data_dir: Any, huancui_clerk: Any, city_reviewer: Any, archivist: Any
) -> None:
    held = new_person_request(huancui_clerk)
    scan = archive_upload(actor=huancui_clerk, target_kind="change_request", target=held, doc_type="id_copy",
                          data=noise("JPEG"))  # fmt: skip
    if before == "rejected":
        archive_review(actor=archivist, item_id=scan.pk, accept=False, reason="照片页缺失")
    _raw("UPDATE archives_archiveitem SET status = %s WHERE id = %s", [ItemStatus.ACCEPTED.value, scan.pk])
    with pytest.raises(IntegrityAlert):
        review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
    assert not Person.objects.filter(name="孙新来").exists()
    alert = AuditEvent.objects.filter(action="integrity.alert", object_type="archive_item")
    assert alert.filter(object_id=str(scan.pk)).exists()


@pytest.fixture
def two_districts(id_copy: tuple[Any, bytes], rushan_clerk: Any, make_person: Any) -> tuple[Any, Any, bytes]:
    """A 环翠区 person's ID copy (theirs), and a 乳山市 clerk's own item of a 乳山市 person (mine)."""
    theirs, secret = id_copy
    rushan = make_person(id_number=id_number(3, district="371083"), name="李红", district="371083")  # fmt: skip
    mine = archive_upload(actor=rushan_clerk, target_kind="person", target=rushan, doc_type="other",
                          data=noise("PNG"))  # fmt: skip
    return theirs, mine, secret


@pytest.mark.req("R2.4")
@pytest.mark.req("R20")
@pytest.mark.parametrize("how", ["repointed", "moved"])
def test_an_item_altered_in_sql_does_not_open_another_districts_scan(
    how: str, two_districts: tuple[Any, Any, bytes], rushan_clerk: Any, huancui_clerk: Any
) -> None:
    from sidms.changes.verify import verify_store

    theirs, mine, secret = two_districts
    if how == "repointed":
        _raw("UPDATE archives_archiveitem SET content_mac = %s, blob_uid = %s, size = %s WHERE id = %s",
             [theirs.content_mac, theirs.blob_uid, theirs.size, mine.pk])  # fmt: skip
        target = mine.pk
        reader = rushan_clerk
    else:
        _raw("UPDATE archives_archiveitem SET district_id = %s WHERE id = %s", ["371083", theirs.pk])
        target = theirs.pk
        # A person's item is scoped by the person's district (attack round 11): the column moved in SQL no
        # longer reaches 乳山市 at all, and the clerk of the person's district meets the alert.
        with pytest.raises(NotPermitted):
            archive_open(actor=rushan_clerk, item_id=target)
        reader = huancui_clerk
    for action in ("view", "download"):
        with pytest.raises(IntegrityAlert):
            archive_open(actor=reader, item_id=target, action=action)
    with pytest.raises(IntegrityAlert):
        archive_thumbnail(actor=reader, item_id=target)
    assert not AuditEvent.objects.filter(action__in=("archive.view", "archive.download", "archive.thumbnail"),
                                         outcome="ok").exists()  # fmt: skip
    assert AuditEvent.objects.filter(action="integrity.alert", object_id=str(target)).count() >= 3
    assert not verify_store().ok
    if how == "repointed":  # the untouched item still opens to its own district
        assert archive_open(actor=huancui_clerk, item_id=theirs.pk)[1] == secret
