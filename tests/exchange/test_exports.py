"""Exports through the read door (B3, R10.3): masked per the export channel, watermarked (staff, time,
purpose) in the XLSX header and footer and the CSV's first line, the file's digest in the audit event, and
above the threshold a second person's approval before one download within a window."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from openpyxl import load_workbook

from sidms.audit.models import AuditEvent
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted, SeparationOfDuties
from sidms.exchange import exports
from sidms.exchange.models import ExportRequest
from tests.exchange.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R10.3")]


@pytest.fixture
def people(make_person: Any) -> list[str]:
    numbers = [id_number(i) for i in (1, 3, 5)]
    for n, name in zip(numbers, ("张三", "李四", "王五"), strict=True):
        make_person(id_number=n, name=name)
    make_person(id_number=id_number(7, district="371083"), name="乳山人", district="371083")
    return numbers


@pytest.fixture
def clerk(make_staff: Any) -> Any:
    return make_staff("export_clerk", posts=("window_clerk",), district="371002", full_name="刘导出")


@pytest.fixture
def approver(make_staff: Any) -> Any:
    return make_staff("export_approver", posts=("approver",), district="371000")


def event_digest(export_id: int) -> str:
    event = AuditEvent.objects.filter(action="export.download", object_id=str(export_id)).get()
    return str(json.loads(event.payload)["detail"]["file_digest"])


def test_a_small_xlsx_export_is_masked_watermarked_scoped_and_its_digest_audited(
    people: list[str], clerk: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 10)
    done = exports.request_export(actor=clerk, entity="person", purpose="核对参保名单", fmt="xlsx")
    assert done.data is not None and done.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(done.data)).active
    assert sheet is not None
    for part in (sheet.oddHeader.center.text, sheet.oddFooter.center.text):
        assert "刘导出" in part and "核对参保名单" in part and f"EX{done.request.pk}" in part
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert "核对参保名单" in rows[0][0]
    assert "姓名" in rows[1]
    names = {r[rows[1].index("姓名")] for r in rows[2:]}
    assert names == {"张三", "李四", "王五"}  # the Rushan person is outside the clerk's district
    text = done.data.decode("latin-1") + "".join(str(c) for r in rows for c in r)
    for number in people:
        assert number not in text  # masked per the export channel
    assert event_digest(done.request.pk) == hashlib.sha256(done.data).hexdigest()
    assert AuditEvent.objects.filter(action="read.person_export").exists()  # read through the door


@pytest.mark.parametrize(("encoding", "codec"), [("utf-8-sig", "utf-8-sig"), ("gbk", "gbk")])
def test_csv_exports_carry_the_watermark_as_their_first_line(
    people: list[str], clerk: Any, encoding: str, codec: str
) -> None:
    done = exports.request_export(actor=clerk, entity="person", purpose="统计", fmt="csv", encoding=encoding)
    assert done.data is not None
    if encoding == "utf-8-sig":
        assert done.data.startswith(b"\xef\xbb\xbf")
    lines = done.data.decode(codec).splitlines()
    assert lines[0].startswith("# ") and "刘导出" in lines[0] and "统计" in lines[0]
    assert "姓名" in lines[1] and len(lines) == 2 + 3
    assert event_digest(done.request.pk) == hashlib.sha256(done.data).hexdigest()


def test_above_the_threshold_a_second_person_approves_and_the_file_is_downloaded_once(
    people: list[str], clerk: Any, approver: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 2)
    asked = exports.request_export(actor=clerk, entity="person", purpose="年度核查", fmt="xlsx")
    assert asked.data is None and asked.request.status == "pending" and asked.request.row_count == 3
    with pytest.raises(ChangeRefused) as early:
        exports.download_export(actor=clerk, export_id=asked.request.pk)
    assert early.value.code == "not_approved"
    with pytest.raises(NotPermitted):
        exports.decide_export(actor=clerk, export_id=asked.request.pk, approve=True)
    exports.decide_export(actor=approver, export_id=asked.request.pk, approve=True)
    with pytest.raises(NotPermitted):  # the approver does not get the file
        exports.download_export(actor=approver, export_id=asked.request.pk)
    done = exports.download_export(actor=clerk, export_id=asked.request.pk)
    assert done.data is not None
    sheet = load_workbook(io.BytesIO(done.data)).active
    assert sheet is not None and "年度核查" in sheet.oddHeader.center.text
    assert event_digest(asked.request.pk) == hashlib.sha256(done.data).hexdigest()
    with pytest.raises(ChangeRefused) as twice:
        exports.download_export(actor=clerk, export_id=asked.request.pk)
    assert twice.value.code == "downloaded"


def test_an_approval_expires_and_the_requester_cannot_approve_their_own(
    people: list[str], make_staff: Any, approver: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 2)
    both = make_staff("clerk_approver", posts=("approver",), district="371000")
    own = exports.request_export(actor=both, entity="person", purpose="自批", fmt="csv")
    with pytest.raises(SeparationOfDuties):
        exports.decide_export(actor=both, export_id=own.request.pk, approve=True)
    exports.decide_export(
        actor=approver, export_id=own.request.pk, approve=True, window=timedelta(seconds=-1)
    )
    with pytest.raises(ChangeRefused) as closed:
        exports.download_export(actor=both, export_id=own.request.pk)
    assert closed.value.code == "window_closed"


def test_an_approval_forged_in_the_database_is_refused_and_verification_names_it(
    people: list[str], clerk: Any, set_parameter: Any
) -> None:
    from sidms.audit.verify import Broken, Report
    from sidms.continuity.base import verify_sealed

    set_parameter("export.approval_rows", 2)
    asked = exports.request_export(actor=clerk, entity="person", purpose="伪造", fmt="xlsx")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE exchange_exportrequest SET status = 'approved', window_end = %s WHERE id = %s",
            [asked.request.requested_at + timedelta(days=1), asked.request.pk],
        )
    with pytest.raises(IntegrityAlert):
        exports.download_export(actor=clerk, export_id=asked.request.pk)
    assert ExportRequest.objects.get(pk=asked.request.pk).downloaded_at is None
    with pytest.raises(Broken) as found:
        verify_sealed(Report(), {})
    assert f"#{asked.request.pk}" in found.value.problem.where


@pytest.mark.req("R2.3")
def test_the_threshold_is_the_business_parameter_the_administrators_set(set_parameter: Any) -> None:
    from sidms.business.parameters import value_at

    assert exports.export_threshold() == value_at("export.approval_rows")  # the seeded value
    set_parameter("export.approval_rows", 12)
    assert exports.export_threshold() == 12


@pytest.mark.req("R10.3")
def test_an_export_reads_as_its_list_page_codes_by_name_and_records_by_name_never_by_row_id(
    people: list[str], clerk: Any, make_unit: Any, make_employment: Any, set_parameter: Any
) -> None:
    """A clerk's export of persons showed ``employee`` and ``1`` where the page shows 在职职工 and 男, and an
    export of employments showed the person and the unit as database row ids. Now each cell is the page's
    text (sidms.access.texts), and a unit of another district is not named, as on the page."""
    from sidms.access.policies import OUT_OF_SCOPE_NAME
    from sidms.registry.models import Person

    set_parameter("export.approval_rows", 10)
    done = exports.request_export(actor=clerk, entity="person", purpose="核对参保名单", fmt="xlsx")
    assert done.data is not None
    rows = [list(r) for r in load_workbook(io.BytesIO(done.data)).active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    header, first = rows[1], rows[2]
    assert first[header.index("人员类别")] == "在职职工" and first[header.index("性别")] == "男"
    assert first[header.index("所属区域")] == "环翠区（371002）"
    zhang = Person.objects.get(name="张三")
    here = make_unit(unit_no="U3710020001", name="威海港务有限公司", district="371002")
    there = make_unit(unit_no="U3710830001", name="乳山银滩有限公司", district="371083")
    make_employment(zhang, here, "2020-01-01", end="2022-12-31")
    make_employment(zhang, there, "2023-01-01")
    done = exports.request_export(actor=clerk, entity="employment", purpose="核对就业记录", fmt="csv")
    assert done.data is not None
    text = done.data.decode("utf-8-sig")
    assert f"张三（{zhang.person_no}）" in text and "威海港务有限公司（U3710020001）" in text
    assert str(OUT_OF_SCOPE_NAME) in text and "乳山银滩" not in text and "U3710830001" not in text
    lines = [line.split(",") for line in text.splitlines()[2:]]
    assert all(not cell.isdigit() for line in lines for cell in line[:2])  # no row id where a record is named


@pytest.mark.req("R10.3")
def test_the_list_pages_export_link_carries_what_the_page_searched_not_the_address_as_typed(
    people: list[str], clerk: Any, signed_in: Any
) -> None:
    """The export link of a list repeated the address as typed: an ID number typed into it (which the page
    refuses to search) was carried into the link, and so into the next address and the server's log."""
    client = signed_in(clerk)
    page = client.get(f"/persons/?q={people[0]}&category=employee").content.decode()
    link = next(line for line in page.splitlines() if "/exchange/exports/new/" in line)
    assert people[0] not in link and people[0][:6] not in link.split("?")[-1]
    assert "category=employee" in link  # what the page did filter by is carried on
