"""Withdrawal (撤回) of what waits for approval in the exchange: an export above the threshold, withdrawn by its
requester, leaves the approvers' list and can be neither approved nor downloaded; an import application,
withdrawn by its applicant, ends as a refused one does: its sealed rows are removed once the withdrawal
commits, and the same file may be applied for again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from sidms.audit.models import AuditEvent
from sidms.changes.batches import batch_decide, batch_withdraw
from sidms.changes.models import BatchApplication, BatchStatus
from sidms.continuity.base import verify_sealed
from sidms.core.errors import ChangeRefused, NotPermitted
from sidms.exchange import exports, imports
from sidms.exchange.models import ExportRequest, ExportStatus
from tests.exchange.conftest import id_number
from tests.exchange.test_sealed_rows import applied_for, people

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_data_dir(settings: Any, tmp_path: Path) -> None:
    """The import store of this test alone."""
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def persons(make_person: Any) -> None:
    for i, name in ((1, "张三"), (3, "李四"), (5, "王五")):
        make_person(id_number=id_number(i), name=name)


@pytest.fixture
def clerk(make_staff: Any) -> Any:
    return make_staff("export_clerk", posts=("window_clerk",), district="371002")


@pytest.fixture
def approver(make_staff: Any) -> Any:
    return make_staff("export_approver", posts=("approver",), district="371000")


def zh(refusal: Exception) -> str:
    with translation.override("zh-hans"):
        return str(refusal.localized())  # type: ignore[attr-defined]


@pytest.mark.req("R10.3")
@pytest.mark.req("R20")
def test_the_requester_withdraws_an_export_waiting_for_approval(
    persons: None, clerk: Any, approver: Any, make_staff: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 2)
    asked = exports.request_export(actor=clerk, entity="person", purpose="年度核查", fmt="xlsx").request
    assert asked.status == ExportStatus.PENDING
    assert asked in exports.visible_exports(approver)
    other = make_staff("export_clerk2", posts=("window_clerk",), district="371002")
    with pytest.raises(NotPermitted):
        exports.withdraw_export(actor=other, export_id=asked.pk)
    # The approver sees it and decides it, but does not withdraw it.
    with pytest.raises(NotPermitted) as not_own:
        exports.withdraw_export(actor=approver, export_id=asked.pk)
    assert zh(not_own.value) == "只有提交该申请的本人可以撤回"

    exports.withdraw_export(actor=clerk, export_id=asked.pk)

    stored = ExportRequest.objects.get(pk=asked.pk)
    assert (stored.status, stored.step, stored.approver) == (ExportStatus.WITHDRAWN, asked.step + 1, None)
    event = AuditEvent.objects.filter(object_type="export", object_id=str(asked.pk)).order_by("-seq").first()
    assert event is not None and event.action == "export.withdraw"
    detail = json.loads(event.payload)["detail"]
    assert (detail["step"], detail["seal"]) == (stored.step, stored.seal)
    assert stored not in exports.visible_exports(approver)  # out of the approver's list
    assert stored in exports.visible_exports(clerk)  # still in the requester's, as withdrawn
    with pytest.raises(ChangeRefused) as late:
        exports.decide_export(actor=approver, export_id=asked.pk, approve=True)
    assert late.value.code == "not_pending"
    with pytest.raises(ChangeRefused):
        exports.download_export(actor=clerk, export_id=asked.pk)
    from sidms.audit.verify import Report

    verify_sealed(Report(), {})  # raises Broken on a row that does not match its seal or latest event


@pytest.mark.req("R10.3")
def test_a_decided_export_cannot_be_withdrawn(
    persons: None, clerk: Any, approver: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 2)
    asked = exports.request_export(actor=clerk, entity="person", purpose="年度核查", fmt="csv").request
    exports.decide_export(actor=approver, export_id=asked.pk, approve=False, reason="用途不明")
    with pytest.raises(ChangeRefused) as refused:
        exports.withdraw_export(actor=clerk, export_id=asked.pk)
    assert refused.value.code == "decided" and zh(refused.value) == "该申请已审核，不能撤回"
    assert ExportRequest.objects.get(pk=asked.pk).status == ExportStatus.REFUSED


@pytest.mark.req("R9.3")
@pytest.mark.req("B3")
def test_a_withdrawn_import_removes_its_sealed_rows_and_frees_its_file(
    importers: tuple[Any, Any], django_capture_on_commit_callbacks: Any
) -> None:
    data = people(31)
    imported = applied_for(importers, data)
    rows = imports._rows_path(imported.uid)
    assert imports.same_file(imported.file_digest, "persons") == imported  # the file is held back
    with pytest.raises(NotPermitted):  # the city-level approver decides it, but does not withdraw it
        batch_withdraw(actor=importers[1], batch_id=imported.batch_id)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch_withdraw(actor=importers[0], batch_id=imported.batch_id)
    assert rows.exists()  # not before the withdrawal has committed
    for callback in callbacks:
        callback()
    assert not rows.exists()
    assert BatchApplication.objects.get(pk=imported.batch_id).status == BatchStatus.WITHDRAWN
    assert imports.stored_file(imported) == data  # the file applied for stays as the record
    assert imports.same_file(imported.file_digest, "persons") is None
    with pytest.raises(ChangeRefused):
        batch_decide(actor=importers[1], batch_id=imported.batch_id, approve=True)
    again = applied_for(importers, data)  # the same file, applied for anew
    assert again.batch_id != imported.batch_id
