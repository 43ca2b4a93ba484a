"""Archive review (R7.4): the archive department's rules say which documents a business needs; an archive
reviewer, never the uploader, accepts or rejects each item with a reason; a review request whose required
documents are missing or rejected cannot be approved."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import translation

from sidms.archives.models import ArchiveItem, ArchiveRequirement, ItemStatus
from sidms.archives.services import (
    archive_review,
    archive_upload,
    missing_documents,
    required_documents,
    review_queue,
)
from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Method, ReviewStatus, Revision
from sidms.changes.services import review_decide
from sidms.changes.verify import verify_store
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from sidms.registry.models import Person
from tests.archives.conftest import new_person_request, noise

pytestmark = [pytest.mark.django_db, pytest.mark.req("R7.4")]


def test_the_rules_are_data_seeded_with_the_departments_lists() -> None:
    assert required_documents("employment.create") == ["id_copy", "labour_contract"]
    assert required_documents("person.create") == ["id_copy"]
    assert required_documents("delegated_query.create") == ["authorisation"]
    assert verify_store().ok
    # Rules held as data are sealed rows: one removed in SQL is named by verification.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM archives_archiverequirement WHERE business = 'delegated_query.create'")
    report = verify_store()
    assert not report.ok and "archive_requirement" in report.problem.where


def test_the_reviewer_accepts_or_rejects_with_a_reason_never_their_own(
    data_dir, huancui_clerk, archivist, make_staff, person
) -> None:  # type: ignore[no-untyped-def]
    item = archive_upload(
        actor=huancui_clerk, target_kind="person", target=person, doc_type="id_copy", data=noise("PNG")
    )
    assert [i.pk for i in review_queue(actor=archivist)] == [item.pk]
    with pytest.raises(NotPermitted):
        archive_review(
            actor=huancui_clerk, item_id=item.pk, accept=True, reason=""
        )  # not an archive reviewer
    with translation.override("zh-hans"), pytest.raises(ChangeRefused, match="理由"):
        archive_review(actor=archivist, item_id=item.pk, accept=False, reason="  ")
    rejected = archive_review(actor=archivist, item_id=item.pk, accept=False, reason="复印件不清晰")
    assert (rejected.status, rejected.reviewed_by, rejected.review_reason) == (
        ItemStatus.REJECTED, archivist, "复印件不清晰",
    )  # fmt: skip
    revision = Revision.objects.get(entity="archive_item", record_id=item.pk, version=2)
    assert revision.method == Method.REVIEW and revision.changes["status"] == ["pending", "rejected"]
    with pytest.raises(ChangeRefused):
        archive_review(actor=archivist, item_id=item.pk, accept=True, reason="")  # already decided
    # Someone who holds both posts may not review what they uploaded.
    both = make_staff("clerk_archivist", posts=("window_clerk", "archive_reviewer"), district="371002")
    own = archive_upload(actor=both, target_kind="person", target=person, doc_type="other", data=noise("PNG"))
    assert own.pk not in [i.pk for i in review_queue(actor=both)]
    with pytest.raises(SeparationOfDuties):
        archive_review(actor=both, item_id=own.pk, accept=True, reason="")
    assert AuditEvent.objects.filter(action="archive.review_denied", outcome="denied").count() == 2
    assert verify_store().ok


def test_a_new_persons_registration_waits_for_an_accepted_id_copy(
    data_dir, huancui_clerk, city_reviewer, archivist
) -> None:  # type: ignore[no-untyped-def]
    held = new_person_request(huancui_clerk)
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)
    assert refused.value.code == "archive_missing" and "居民身份证复印件" in str(refused.value)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
    assert not Person.objects.filter(name="孙新来").exists()

    scan = archive_upload(actor=huancui_clerk, target_kind="change_request", target=held, doc_type="id_copy",
                          data=noise("JPEG"))  # fmt: skip
    with pytest.raises(ChangeRefused):  # attached but not yet accepted
        review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)
    archive_review(actor=archivist, item_id=scan.pk, accept=False, reason="照片页缺失")
    with pytest.raises(ChangeRefused):  # rejected
        review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)

    again = archive_upload(actor=huancui_clerk, target_kind="change_request", target=held, doc_type="id_copy",
                           data=noise("JPEG"))  # fmt: skip
    archive_review(actor=archivist, item_id=again.pk, accept=True, reason="")
    review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)
    assert Person.objects.filter(name="孙新来").exists()
    # Each refused approval left its trace, written after the refused decision rolled back.
    refusals = AuditEvent.objects.filter(action="archive.approval_refused", object_id=str(held.pk))
    assert refusals.count() == 3 and '"rejected":["id_copy"]' in refusals.order_by("seq").last().payload
    assert verify_store().ok


def test_an_enrolment_needs_the_id_copy_and_the_labour_contract(data_dir, huancui_clerk, archivist) -> None:  # type: ignore[no-untyped-def]
    items = [
        ArchiveItem(doc_type="id_copy", status=ItemStatus.ACCEPTED),
        ArchiveItem(doc_type="labour_contract", status=ItemStatus.REJECTED),
    ]
    assert missing_documents("employment.create", items) == ([], ["labour_contract"])
    assert missing_documents("employment.create", items[:1]) == (["labour_contract"], [])
    assert missing_documents("delegated_query.create", []) == (["authorisation"], [])
    items.append(ArchiveItem(doc_type="labour_contract", status=ItemStatus.ACCEPTED))
    assert missing_documents("employment.create", items) == ([], [])
    assert ArchiveRequirement.objects.count() == 4


@pytest.mark.req("R16")
def test_an_agreements_signed_scan_is_an_archive_item(
    data_dir, security_admin, huancui_clerk, signed_in
) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from sidms.archives.services import archive_open, catalogue
    from sidms.continuity.agreements import agreement_register

    agreement = agreement_register(actor=security_admin, party_kind="staff", staff=huancui_clerk,
                                   scope="业务数据保密", signed_on=date(2026, 1, 1), expires_on=None)  # fmt: skip
    scan = noise("PDF")
    with pytest.raises(NotPermitted):  # the window does not file agreements
        archive_upload(
            actor=huancui_clerk,
            target_kind="agreement",
            target=agreement,
            doc_type="signed_agreement",
            data=scan,
        )
    item = archive_upload(
        actor=security_admin,
        target_kind="agreement",
        target=agreement,
        doc_type="signed_agreement",
        data=scan,
    )
    assert item.district_id == "371000" and item.kind == "pdf"
    assert [i.pk for i in catalogue(actor=security_admin, target_kind="agreement", target=agreement)] == [
        item.pk
    ]
    assert archive_open(actor=security_admin, item_id=item.pk)[1] == scan
    with pytest.raises(NotPermitted):  # the clerk does not see the agreement register's scans
        archive_open(actor=huancui_clerk, item_id=item.pk)
    page = signed_in(security_admin).get("/continuity/agreements/").content.decode()
    assert f"/archives/agreement/{agreement.pk}/" in page
    assert verify_store().ok


def test_a_maintenance_orders_evidence_is_attached_and_listed(
    data_dir, huancui_clerk, person, signed_in
) -> None:  # type: ignore[no-untyped-def]
    from sidms.archives.services import catalogue
    from sidms.changes.maintenance import maintenance_apply

    order = maintenance_apply(actor=huancui_clerk, entity="person", record=person,
                              values={"name": "赵测"}, reason="户籍证明显示姓名有误")  # fmt: skip
    item = archive_upload(actor=huancui_clerk, target_kind="maintenance_order", target=order, doc_type="other",
                          data=noise("PDF"))  # fmt: skip
    assert item.maintenance_order_id == order.pk and item.district_id == "371002"
    assert [i.pk for i in catalogue(actor=huancui_clerk, target_kind="maintenance_order", target=order)] == [
        item.pk
    ]
    page = signed_in(huancui_clerk).get(f"/maintenance/{order.pk}/").content.decode()
    assert f"/archives/maintenance_order/{order.pk}/" in page
