"""Attack round 10 on exports (B3, R10.3) as a window clerk who wants a whole list without a second person.

Found and fixed: the row threshold was counted with the search text as typed, but the request kept it cut to
200 characters, and the file was built from the kept text. "张" followed by 250 blanks and "x" matched no one
when counted (so the export was below the threshold and handed out at once) and every 张 when built: the
whole list, unapproved. A search text longer than the request holds is now refused, and a file is never
handed out with more rows than were counted and approved once that number is above the threshold."""

from __future__ import annotations

import csv
import io
import uuid
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
