"""The import and export pages, signed in through the real login (B3, R6.2, R10.3)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from sidms.changes.batches import batch_decide
from sidms.changes.models import BatchApplication
from sidms.registry.models import Person
from tests.exchange.conftest import HEADER, csv_bytes, id_number, report_rows

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3")]


@pytest.mark.req("R6.2")
def test_upload_check_report_apply_approve_execute_on_the_pages(
    make_staff: Any, signed_in: Any, importers: tuple[Any, Any]
) -> None:
    clerk = make_staff("upload_clerk", posts=("window_clerk",), district="371002")
    client = signed_in(clerk)
    page = client.get("/exchange/imports/")
    assert page.status_code == 200
    token = re.search(rb'name="token" value="([0-9a-f]{32})"', page.content)[1].decode()  # type: ignore[index]
    data = csv_bytes(
        [
            HEADER,
            ["张三", id_number(11), "", "", "在职职工", "371002", ""],
            ["李四", "3.71002E+17", "", "", "employee", "371002", ""],
        ],
        "gbk",
    )
    checked = client.post(
        "/exchange/imports/",
        {"token": token, "kind": "persons", "file": SimpleUploadedFile("名单.csv", data, "text/csv")},
    )
    assert checked.status_code == 200
    text = checked.content.decode()
    assert "错误原因" in text and "文本" in text
    progress = client.get(f"/exchange/progress/{token}/").json()
    assert progress == {"stage": "check", "done": 2, "total": 2}

    report = client.get(f"/exchange/imports/{token}/report/")
    assert report.status_code == 200 and "attachment" in report["Content-Disposition"]
    rows = report_rows(report.content)
    assert rows[0][-1] == "错误原因" and [r[0] for r in rows[1:]] == [3]

    other = signed_in(make_staff("other_clerk", posts=("window_clerk",), district="371002"))
    assert other.get(f"/exchange/imports/{token}/report/").status_code == 404  # not theirs

    applied = client.post(f"/exchange/imports/{token}/apply/", {"reason": "单位申报", "exclude": ""})
    assert applied.status_code == 302
    batch = BatchApplication.objects.get()
    assert batch.row_count == 1
    _operator, approver = importers
    batch_decide(actor=approver, batch_id=batch.pk, approve=True)
    executed = client.post(f"/batches/{batch.pk}/execute/")
    assert executed.status_code == 302, executed.content.decode()[-2000:]
    assert [str(p.id_number) for p in Person.objects.all()] == [id_number(11)]


@pytest.mark.req("R10.3")
def test_export_pages_small_at_once_large_after_approval_and_once(
    make_person: Any, make_staff: Any, signed_in: Any, set_parameter: Any
) -> None:
    for i, name in ((1, "张三"), (3, "李四"), (5, "王五")):
        make_person(id_number=id_number(i), name=name)
    clerk = make_staff("export_page_clerk", posts=("window_clerk",), district="371002", full_name="刘导出")
    client = signed_in(clerk)
    assert "/exchange/exports/new/persons/" in client.get("/persons/").content.decode()
    small = client.post("/exchange/exports/new/persons/", {"purpose": "核对", "format": "xlsx"})
    assert small.status_code == 200 and "attachment" in small["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(small.content)).active
    assert sheet is not None and "刘导出" in sheet.oddHeader.center.text

    set_parameter("export.approval_rows", 2)
    large = client.post(
        "/exchange/exports/new/persons/", {"purpose": "年度核查", "format": "csv", "encoding": "gbk"}
    )
    assert large.status_code == 302
    from sidms.exchange.models import ExportRequest

    pending = ExportRequest.objects.get(status="pending")
    early = client.post(f"/exchange/exports/{pending.pk}/download/")
    assert early.status_code == 302 and ExportRequest.objects.get(pk=pending.pk).status == "pending"

    approver = signed_in(make_staff("export_page_approver", posts=("approver",), district="371000"))
    assert f"EX{pending.pk}" in approver.get("/exchange/exports/").content.decode()
    assert (
        approver.post(f"/exchange/exports/{pending.pk}/decide/", {"decision": "approve"}).status_code == 302
    )
    got = client.post(f"/exchange/exports/{pending.pk}/download/")
    assert got.status_code == 200 and got.content.decode("gbk").startswith("# 导出人：刘导出")
    again = client.post(f"/exchange/exports/{pending.pk}/download/")
    assert again.status_code == 302
