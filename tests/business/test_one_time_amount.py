"""A one-time grant (一次性伤残补助金, 生育津贴) is paid once: its amount is not listed as a monthly one (issue 8
§7, B3). The entitlements list, a person's page and the list's export showed a one-time grant's amount under
月待遇金额; they now show it under 一次性待遇金额 (Declaration.apart), the monthly column left empty for it, and
the record's own page names its amount so."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from sidms.business.models import Entitlement
from sidms.exchange import exports
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.1")]


@pytest.fixture
def grants(make_person: Any, load: Any) -> dict[str, Any]:
    """A person with a pension of ¥2,300.00 a month and a maternity allowance of ¥60,000.00, paid once."""
    person = make_person(id_number=id_number("37100219600101001"), name="王建国", category="retiree")
    load("entitlement", [
        {"person_id": str(person.pk), "kind": "pension", "start_date": "2023-01-01", "monthly_amount": "2300.00",
         "basis": "测试", "status": "active", "certified_on": "2023-01-01"},
        {"person_id": str(person.pk), "kind": "maternity", "start_date": "2022-06-01",
         "monthly_amount": "60000.00", "basis": "测试", "status": "ended"},
    ])  # fmt: skip
    return {
        "person": person,
        "pension": Entitlement.objects.get(kind="pension"),
        "grant": Entitlement.objects.get(kind="maternity"),
    }


def table(page: str) -> tuple[list[str], list[list[str]]]:
    """The headers and rows (cell text) of the first table of PAGE."""
    body = page.split("<table", 1)[1].split("</table>", 1)[0]
    headers = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", body, re.S)]
    rows = [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    ]
    return headers, rows


def amounts(headers: list[str], rows: list[list[str]]) -> set[tuple[str, str]]:
    monthly, once = headers.index("月待遇金额"), headers.index("一次性待遇金额")
    return {(row[monthly], row[once]) for row in rows}


def test_the_list_shows_a_one_time_grant_under_its_own_column(
    grants: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    headers, rows = table(signed_in(huancui_clerk).get("/entitlements/").content.decode())
    assert amounts(headers, rows) == {("¥2,300.00", "—"), ("—", "¥60,000.00")}


def test_the_persons_page_lists_it_so(grants: dict[str, Any], huancui_clerk: Any, signed_in: Any) -> None:
    page = signed_in(huancui_clerk).get(f"/persons/{grants['person'].person_no}/").content.decode()
    section = page.split("<h2>待遇核定</h2>", 1)[1]
    headers, rows = table(section)
    assert amounts(headers, rows) == {("¥2,300.00", "—"), ("—", "¥60,000.00")}


def test_the_grants_own_page_names_its_amount_one_time(
    grants: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    clerk = signed_in(huancui_clerk)
    grant = clerk.get(f"/entitlements/{grants['grant'].pk}/").content.decode()
    assert re.search(r"一次性待遇金额</dt>\s*<dd>¥60,000.00", grant) and "月待遇金额" not in grant
    pension = clerk.get(f"/entitlements/{grants['pension'].pk}/").content.decode()
    assert re.search(r"月待遇金额</dt>\s*<dd>¥2,300.00", pension)


def test_the_export_of_the_list_has_the_column_too(grants: dict[str, Any], huancui_clerk: Any) -> None:
    done = exports.request_export(actor=huancui_clerk, entity="entitlement", purpose="核对待遇", fmt="csv")
    assert done.data is not None
    lines = list(csv.reader(io.StringIO(done.data.decode("utf-8-sig"))))
    headers, rows = lines[1], lines[2:]
    monthly, once = headers.index("月待遇金额"), headers.index("一次性待遇金额")
    assert {(row[monthly], row[once]) for row in rows} == {
        ("2300.00", ""),
        ("", "60000.00"),
    }  # numbers a sheet sums


def labels_of_changes(page: str) -> list[str]:
    return re.findall(r'<li><span class="muted">([^<]+)</span>：', page)


def test_the_history_names_a_one_time_grants_amount_one_time(
    grants: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """The record's 变更历史, both the timeline and the record as it was at a moment, named a one-time grant's
    amount 月待遇金额."""
    clerk = signed_in(huancui_clerk)
    grant = clerk.get(f"/entitlements/{grants['grant'].pk}/history/").content.decode()
    assert "一次性待遇金额" in labels_of_changes(grant) and "月待遇金额" not in grant
    moment = "2100-01-01 00:00"
    grant = clerk.get(f"/entitlements/{grants['grant'].pk}/history/", {"as_of": moment}).content.decode()
    assert re.search(r"<dt>一次性待遇金额</dt><dd>¥60,000.00</dd>", grant) and "月待遇金额" not in grant
    pension = clerk.get(f"/entitlements/{grants['pension'].pk}/history/").content.decode()
    assert "月待遇金额" in labels_of_changes(pension) and "一次性待遇金额" not in pension


def form_label(page: str, name: str) -> str:
    found = re.search(rf'<label for="id_{name}">([^<]+)', page)
    assert found, page
    return found.group(1)


def test_the_edit_form_names_it_so(grants: dict[str, Any], huancui_clerk: Any, signed_in: Any) -> None:
    clerk = signed_in(huancui_clerk)
    grant = clerk.get(f"/entitlements/{grants['grant'].pk}/edit/").content.decode()
    assert form_label(grant, "monthly_amount") == "一次性待遇金额" and "月待遇金额" not in grant
    pension = clerk.get(f"/entitlements/{grants['pension'].pk}/edit/").content.decode()
    assert form_label(pension, "monthly_amount") == "月待遇金额"


def test_the_entry_form_names_it_for_the_kind_chosen(
    grants: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """A new record's form does not know the kind before it is chosen: the field is the monthly amount, with a
    note naming the one-time grants; typed back with a one-time kind chosen (the form refused for another
    field), the field is the one-time amount."""
    clerk = signed_in(huancui_clerk)
    blank = clerk.get("/entitlements/new/").content.decode()
    assert form_label(blank, "monthly_amount") == "月待遇金额"
    assert "一次性伤残补助金、生育津贴：填写一次性待遇金额" in blank
    typed = clerk.post(
        "/entitlements/new/", {"kind": "maternity", "monthly_amount": "abc", "start_date": "x"}
    )
    assert form_label(typed.content.decode(), "monthly_amount") == "一次性待遇金额"


# --------------------------------------------------------------------------------------------------------
# Refusals name the field as the page does


def refusal_of(entitlement: Any, **values: Any) -> Any:
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change
    from sidms.core.errors import ChangeRefused

    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=entitlement["actor"], channel=Channel.WINDOW, entity="entitlement",
                      record=entitlement.get("record"), values=values)  # fmt: skip
    return refused.value


def in_chinese(text: Any) -> str:
    from django.utils import translation

    with translation.override("zh-hans"):
        return str(text.localized() if hasattr(text, "localized") else text)


@pytest.mark.req("R6.1")
def test_a_refusal_names_a_one_time_grants_amount_as_its_page_does(
    grants: dict[str, Any], huancui_clerk: Any
) -> None:
    """The collection rules' refusals named a one-time grant's amount 月待遇金额, which its form, page and list
    call 一次性待遇金额: as entered (the kind typed with it) and as stored (the record's kind)."""
    person = str(grants["person"].pk)
    new = {"person_id": person, "start_date": "2024-03-01", "monthly_amount": "", "status": "active"}
    once = refusal_of({"actor": huancui_clerk}, kind="maternity", **new)
    assert in_chinese(once.errors["monthly_amount"]) == "一次性待遇金额为必填项"
    monthly = refusal_of({"actor": huancui_clerk}, kind="unemployment", **new)
    assert in_chinese(monthly.errors["monthly_amount"]) == "月待遇金额为必填项"
    stored = refusal_of({"actor": huancui_clerk, "record": grants["grant"]}, monthly_amount="")
    assert in_chinese(stored.errors["monthly_amount"]) == "一次性待遇金额为必填项"


@pytest.mark.req("R7.3")
def test_a_pending_request_of_a_one_time_grants_amount_is_named_so(
    grants: dict[str, Any], huancui_clerk: Any
) -> None:
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change

    grant = grants["grant"]
    first = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=grant,
                          values={"monthly_amount": "61000.00"}).held  # fmt: skip
    assert first is not None
    refused = refusal_of({"actor": huancui_clerk, "record": Entitlement.objects.get(pk=grant.pk)},
                         monthly_amount="62000.00")  # fmt: skip
    assert refused.code == "pending"
    assert in_chinese(refused).startswith(f"该记录的一次性待遇金额已在变更申请 CR{first.pk} 中等待审核")


@pytest.mark.req("R6.1")
def test_the_entry_forms_refusal_names_it_for_the_kind_chosen(
    grants: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    typed = signed_in(huancui_clerk).post(
        "/entitlements/new/",
        {"person_id": grants["person"].person_no, "kind": "maternity", "start_date": "2024-03-01",
         "monthly_amount": "", "status": "active"},
    )  # fmt: skip
    page = typed.content.decode()
    assert "一次性待遇金额为必填项" in page and "月待遇金额" not in page


@pytest.mark.req("R7.3")
def test_the_review_page_of_a_one_time_grants_amount_names_it_so(
    grants: dict[str, Any], huancui_clerk: Any, make_staff: Any, signed_in: Any
) -> None:
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change

    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement",
                         record=grants["grant"], values={"monthly_amount": "61000.00"}).held  # fmt: skip
    assert held is not None
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    page = signed_in(reviewer).get(f"/queues/review/{held.pk}/").content.decode()
    values = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "<td>一次性待遇金额</td>" in values and "月待遇金额" not in values
