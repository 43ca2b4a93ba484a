"""A list's total and an export's threshold against what is shown and exported (R10.3, R20).

A record that does not match its history is withheld from a list page and from an export's file (each with an
integrity alert). The total (共 N 条) and the export threshold were counted in SQL, with the withheld records
among them: a page said 共 3 条 over two rows, and an export of two rows above a threshold of two waited for
a second person's approval. A list on one page now counts what it shows; a page of a longer list says how
many of its total it withheld (counting the whole list's intact records would check every record on every
page view); an export is held against the threshold by the rows its file would hold, and the row count of a
downloaded export is the file's."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.db import connection

from sidms.access.policies import record_list
from sidms.core.kernel import spec_for
from sidms.exchange import exports
from sidms.exchange.models import ExportRequest
from sidms.registry.models import Person
from tests.changes.conftest import person_row

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.3"), pytest.mark.req("R20")]


@pytest.fixture
def persons(load: Any) -> list[Any]:
    return load("person", [person_row(n) for n in range(1, 4)])


def tamper(person: Any) -> None:
    """A name rewritten in SQL: the row no longer matches its keyed digest."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_person SET name = %s WHERE id = %s", ["钱改名", person.pk])


def total_line(page: str) -> str:
    found = re.search(r'<p class="total" role="status">([^<]*)</p>', page)
    assert found, page[:3000]
    return found.group(1)


def test_a_list_on_one_page_counts_what_it_shows(
    persons: list[Any], huancui_clerk: Any, signed_in: Any
) -> None:
    clerk = signed_in(huancui_clerk)
    assert total_line(clerk.get("/persons/").content.decode()) == "共 3 条"
    tamper(persons[0])
    page = clerk.get("/persons/").content.decode()
    assert total_line(page) == "共 2 条"
    assert f"未予显示：{persons[0].person_no}" in page and "钱改名" not in page


def test_a_page_of_a_longer_list_says_how_many_of_its_total_it_withheld(
    load: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    people = load("person", [person_row(n) for n in range(1, 23)])  # 22: two pages of 20
    tamper(people[0])
    clerk = signed_in(huancui_clerk)
    first = clerk.get("/persons/", {"per_page": 20}).content.decode()
    assert total_line(first) == "共 22 条，其中本页 1 条未予显示"
    assert f"未予显示：{people[0].person_no}" in first
    # The other page checks its own records only: its total is SQL's, the page naming none withheld.
    second = clerk.get("/persons/", {"per_page": 20, "page": 2}).content.decode()
    assert total_line(second) == "共 22 条"
    listing = record_list(actor=huancui_clerk, spec=spec_for("person"), per_page=20)
    assert (listing.total, listing.withheld, listing.withheld_counted) == (22, (people[0].person_no,), 1)


def test_the_export_threshold_holds_the_rows_the_file_would_hold(
    persons: list[Any], huancui_clerk: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 2)
    waiting = exports.request_export(actor=huancui_clerk, entity="person", purpose="核对", fmt="csv")
    assert waiting.data is None and waiting.request.row_count == 3  # three rows: above the threshold
    tamper(persons[0])
    done = exports.request_export(actor=huancui_clerk, entity="person", purpose="核对", fmt="csv")
    assert done.data is not None  # two rows would be handed out: not above the threshold
    rows = list(csv.reader(io.StringIO(done.data.decode("utf-8-sig"))))[2:]
    assert len(rows) == 2 and "钱改名" not in done.data.decode("utf-8-sig")
    assert ExportRequest.objects.get(pk=done.request.pk).row_count == 2


def test_a_downloaded_export_records_the_rows_its_file_held(
    persons: list[Any], huancui_clerk: Any, make_staff: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 2)
    asked = exports.request_export(actor=huancui_clerk, entity="person", purpose="核对", fmt="csv").request
    approver = make_staff("export_approver", posts=("approver",), district="371000")
    exports.decide_export(actor=approver, export_id=asked.pk, approve=True)
    tamper(Person.objects.get(pk=persons[1].pk))  # after the approval, before the download
    done = exports.download_export(actor=huancui_clerk, export_id=asked.pk)
    assert done.data is not None
    assert len(list(csv.reader(io.StringIO(done.data.decode("utf-8-sig"))))[2:]) == 2
    assert ExportRequest.objects.get(pk=asked.pk).row_count == 2
