"""Attack round 9 on the exchange pages (R10.3, B3): an approved export downloaded with another data scope, and
what a hostile file name does on the import pages.

* An export above the threshold is approved by an approver of the requester's district, and built at the
  download through the read door with the requester's scope at that moment. A clerk of 环翠区 asked for
  环翠's persons (three rows), 环翠's approver approved them, the clerk was moved to 乳山市, and the download
  held every person of 乳山 — rows no one with authority over 乳山 had approved. An export whose requester's
  district was changed after the request is refused now, and the refusal recorded.

What held, pinned here: another clerk of the same district does not download an approved export; the file's
name in ``Content-Disposition`` is the system's (no header injection) and the response is never cached; an
uploaded file's name holding markup or a line break is shown as text on the checked page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sidms.audit.models import AuditEvent
from sidms.core.errors import NotPermitted
from sidms.exchange import exports
from sidms.exchange.models import ExportRequest
from sidms.registry.models import Staff
from sidms.security import accounts
from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_districts(make_person: Any) -> None:
    for serial, name in ((1, "环翠甲"), (3, "环翠乙"), (5, "环翠丙")):
        make_person(id_number=id_number(serial), name=name)
    for serial, name in ((7, "乳山甲"), (9, "乳山乙"), (11, "乳山丙"), (13, "乳山丁")):
        make_person(id_number=id_number(serial, district="371083"), name=name, district="371083")


@pytest.mark.req("R10.3")
def test_an_approved_export_is_not_downloaded_with_a_data_scope_changed_since(
    two_districts: None, make_staff: Any, set_parameter: Any, security: Any, signed_in: Any
) -> None:
    clerk = make_staff("clerk_x", posts=("window_clerk",), district="371002")
    approver = make_staff("approver_hc", posts=("approver",), district="371002")
    set_parameter("export.approval_rows", 2)
    asked = exports.request_export(actor=clerk, entity="person", purpose="年度核对").request
    assert asked.row_count == 3
    exports.decide_export(actor=approver, export_id=asked.pk, approve=True)
    accounts.staff_set_district(actor=security, staff=clerk, district="371083", reason="调乳山")
    moved = Staff.objects.get(pk=clerk.pk)
    with pytest.raises(NotPermitted):
        exports.download_export(actor=moved, export_id=asked.pk)
    assert ExportRequest.objects.get(pk=asked.pk).status == "approved"
    assert AuditEvent.objects.filter(
        action="access.denied", actor="clerk_x", object_id=str(asked.pk)
    ).exists()
    page = signed_in(moved).post(f"/exchange/exports/{asked.pk}/download/", follow=True).content.decode()
    assert (
        "申请该导出后您的数据范围已变更" in page and "乳山" not in page.split("<main")[1].split("</main>")[0]
    )
    # A new request, in the new scope, goes its own way (乳山's approver decides it).
    again = exports.request_export(actor=moved, entity="person", purpose="年度核对").request
    assert again.row_count == 4 and again.status == "pending"


@pytest.mark.req("R10.3")
def test_an_approved_export_is_its_requesters_only_and_its_file_is_named_by_the_system(
    two_districts: None, make_staff: Any, set_parameter: Any, signed_in: Any
) -> None:
    clerk = make_staff("clerk_x", posts=("window_clerk",), district="371002")
    colleague = make_staff("clerk_y", posts=("window_clerk",), district="371002")
    approver = make_staff("approver_hc", posts=("approver",), district="371002")
    set_parameter("export.approval_rows", 2)
    asked = exports.request_export(actor=clerk, entity="person", purpose='核对"\r\nSet-Cookie: x=1').request
    exports.decide_export(actor=approver, export_id=asked.pk, approve=True)
    with pytest.raises(NotPermitted):
        exports.download_export(actor=colleague, export_id=asked.pk)
    assert signed_in(colleague).post(f"/exchange/exports/{asked.pk}/download/").status_code == 302
    got = signed_in(clerk).post(f"/exchange/exports/{asked.pk}/download/")
    assert got.status_code == 200 and got["Cache-Control"] == "no-store"
    assert got["Content-Disposition"] == f'attachment; filename="EX{asked.pk}-person.xlsx"'
    assert "Set-Cookie" not in got.headers and not got.cookies.get("x")


@pytest.mark.req("B3")
def test_a_hostile_file_name_is_text_on_the_checked_page(make_staff: Any, signed_in: Any) -> None:
    client = signed_in(make_staff("upload_clerk", posts=("window_clerk",), district="371002"))
    token = re.search(rb'name="token" value="([0-9a-f]{32})"', client.get("/exchange/imports/").content)[1]  # type: ignore[index]
    data = csv_bytes([HEADER, ["张三", id_number(21), "", "", "在职职工", "371002", ""]])
    name = '<img src=x onerror=alert(1)>名单".csv'
    checked = client.post(
        "/exchange/imports/",
        {"token": token.decode(), "kind": "persons", "file": SimpleUploadedFile(name, data, "text/csv")},
    )
    page = checked.content.decode()
    assert checked.status_code == 200 and "<img src=x" not in page and "&lt;img src=x" in page
    report = client.get(f"/exchange/imports/{token.decode()}/report/")
    assert (
        report["Content-Disposition"].startswith("attachment;")
        and "<img" not in report["Content-Disposition"]
    )
