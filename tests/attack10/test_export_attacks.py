"""Attack round 10 on exports (B3, R10.3) as a window clerk who wants a whole list without a second person.

Found and fixed: the row threshold was counted with the search text as typed, but the request kept it cut to
200 characters, and the file was built from the kept text. "张" followed by 250 blanks and "x" matched no one
when counted (so the export was below the threshold and handed out at once) and every 张 when built: the
whole list, unapproved. A search text longer than the request holds is now refused, and a file is never
handed out with more rows than were counted and approved once that number is above the threshold.

Found and fixed: the stated purpose went into the watermark as typed. A purpose "核对\r\n=HYPERLINK(…)"
put a formula on a CSV line of its own under the watermark (CSV injection, and a forged line); a purpose
"&K01FFFF&1…" was read by Excel as header codes and printed the rest of the watermark (the export number)
in another colour at size 1. The purpose (and the whole watermark) is now one line without control or format
characters, and "&" is doubled in the XLSX page header and footer.

Held: cell values starting =, +, -, @, tab or CR get an apostrophe in the CSV and are text cells in the XLSX;
another clerk cannot download someone else's export (pinned by tests/exchange and round 9)."""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from sidms.continuity.base import create
from sidms.core.errors import ChangeRefused
from sidms.exchange import exports
from sidms.exchange.models import ExportRequest
from tests.exchange.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R10.3")]


@pytest.fixture
def zhangs(make_person: Any) -> None:
    for i, name in zip((1, 3, 5, 9), ("张三", "张四", "张五", "李六"), strict=True):
        make_person(id_number=id_number(i), name=name)


@pytest.fixture
def clerk(make_staff: Any) -> Any:
    return make_staff("export_clerk", posts=("window_clerk",), district="371002", full_name="刘导出")


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[2:]  # the watermark and the header


def test_a_search_text_cut_to_what_the_request_holds_does_not_widen_the_file(
    zhangs: None, clerk: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 2)
    assert exports.request_export(actor=clerk, entity="person", purpose="核对", query="张").data is None
    before = ExportRequest.objects.count()
    with pytest.raises(ChangeRefused) as refused:
        exports.request_export(
            actor=clerk, entity="person", purpose="核对", query="张" + " " * 250 + "x", fmt="csv"
        )
    assert refused.value.code == "query_too_long"
    assert ExportRequest.objects.count() == before


def test_a_list_grown_past_the_threshold_since_it_was_counted_is_not_handed_out(
    zhangs: None, clerk: Any, set_parameter: Any, make_person: Any
) -> None:
    set_parameter("export.approval_rows", 3)
    done = exports.request_export(actor=clerk, entity="person", purpose="核对", query="张", fmt="csv")
    assert done.data is not None and len(csv_rows(done.data)) == 3
    # The request is counted, and then built in another transaction: rows that arrive in between must not
    # ride along unapproved. Simulated here by an export request (as counted) whose list has grown since.
    asked = ExportRequest.objects.get(pk=done.request.pk)
    make_person(id_number=id_number(11), name="张七")
    grown = create(
        ExportRequest(
            uid=uuid.uuid4(), entity="person", query="张", filters={}, sort="", format="csv",
            encoding="utf-8-sig", purpose="核对", row_count=asked.row_count, status="approved",
            requester=clerk, requested_at=timezone.now(), window_end=timezone.now() + exports.DEFAULT_WINDOW,
        ),
        "export.request", actor=clerk, detail={"entity": "person", "rows": 3, "format": "csv", "needs_approval": False},
    )  # fmt: skip
    with pytest.raises(ChangeRefused) as refused:
        exports.download_export(actor=clerk, export_id=grown.pk)
    assert refused.value.code == "grown"
    assert ExportRequest.objects.get(pk=grown.pk).status == "approved"


def test_a_purpose_with_a_line_break_and_a_formula_stays_on_the_watermark_line(
    zhangs: None, clerk: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 20)
    purpose = '核对\r\n=HYPERLINK("http://evil.example","点此核对")\u202e\x01'
    done = exports.request_export(actor=clerk, entity="person", purpose=purpose, fmt="csv")
    assert done.data is not None
    lines = done.data.decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith("# ") and "用途：核对 =HYPERLINK(" in lines[0] and "导出编号：EX" in lines[0]
    assert not any(line.startswith(("=", "+", "-", "@")) for line in lines)
    assert len(lines) == 2 + 4 + 1  # the watermark, the header, four people, the empty end
    assert done.request.purpose == '核对 =HYPERLINK("http://evil.example","点此核对")'


def test_header_codes_in_the_purpose_are_printed_as_text(
    zhangs: None, clerk: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 20)
    done = exports.request_export(actor=clerk, entity="person", purpose="核对&K01FFFF&1&P", fmt="xlsx")
    assert done.data is not None
    xml = zipfile.ZipFile(io.BytesIO(done.data)).read("xl/worksheets/sheet1.xml").decode()
    headers = [unescape(h) for h in re.findall(r"<(?:odd|even|first)(?:Header|Footer)>(.*?)</", xml)]
    assert len(headers) == 6
    for text in headers:
        assert text.startswith("&C") and "核对&&K01FFFF&&1&&P" in text
        assert "&" not in text[2:].replace("&&", "")  # no code but the centring one
