"""Attack round 10 on the electronic archive as an insider with raw database access.

* An archive item's status flipped from pending (or rejected) to accepted in SQL, behind the reviewer's
  back: the review request its approval waited for must not be approved on the strength of that row; the
  approval is refused with an integrity alert, as every other row the pipeline builds on is checked against
  its history first."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.archives.models import ItemStatus
from sidms.archives.services import archive_review, archive_upload
from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import IntegrityAlert
from sidms.registry.models import Person
from tests.archives.conftest import noise
from tests.audit.test_tampering import _raw
from tests.changes.conftest import person_row

pytestmark = pytest.mark.django_db


def _new_person_request(clerk: Any) -> ChangeRequest:
    row = person_row(11, name="孙新来")
    del row["person_no"]
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", values=row).held
    assert held is not None
    return held


@pytest.mark.req("R7.4")
@pytest.mark.req("R20")
@pytest.mark.parametrize("before", ["pending", "rejected"])
def test_an_id_copy_accepted_in_sql_does_not_let_the_request_be_approved(
    before: str, data_dir: Any, huancui_clerk: Any, city_reviewer: Any, archivist: Any
) -> None:
    held = _new_person_request(huancui_clerk)
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
