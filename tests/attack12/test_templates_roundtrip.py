"""Attack round 12: each kind's blank template, filled in as a clerk fills it in Excel (text typed into the
text cells, amounts typed as numbers into the 0.00 cells, words from the drop-down lists), passes the dry run
as it is — for every kind, not only persons."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from django.utils import translation
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from sidms.business import calc
from sidms.exchange import imports
from sidms.exchange.kinds import KINDS
from tests.exchange.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]


@pytest.fixture
def client(make_staff: Any, signed_in: Any) -> Any:
    return signed_in(make_staff("template_clerk12", posts=("window_clerk",), district="371002"))


def filled(client: Any, kind: str, typed: list[dict[str, Any]]) -> imports.Checked:
    workbook = load_workbook(io.BytesIO(client.get(f"/exchange/imports/template/{kind}/").content))
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    for number, values in enumerate(typed, start=2):
        for header, value in values.items():
            sheet.cell(row=number, column=headers.index(header) + 1, value=value)
    out = io.BytesIO()
    workbook.save(out)
    with translation.override("zh-hans"):
        return imports.check_file(out.getvalue(), kind=kind, filename="模板.xlsx")


def test_units_template_round_trips(client: Any) -> None:
    checked = filled(client, "units", [
        {"单位名称": "烟台模板有限公司", "统一社会信用代码": "91370000163040525U", "单位类型": "enterprise",
         "行政区划代码": "371002", "状态": "正常"},
    ])  # fmt: skip
    assert checked.errors() == {} and len(checked.table.rows) == 1


def test_persons_template_round_trips_with_words(client: Any) -> None:
    checked = filled(client, "persons", [
        {"姓名": "王五", "公民身份号码": id_number(31), "性别": "男", "出生日期": "1960-01-01",
         "人员类别": "在职职工", "行政区划代码": "371002", "状态": "暂停"},
    ])  # fmt: skip
    assert checked.errors() == {}


def test_employments_template_round_trips(client: Any, insured: dict[str, Any]) -> None:
    flexible, unit = insured["flexible"], insured["unit"]
    checked = filled(client, "employments", [
        {"个人编号": flexible.person_no, "单位编号": unit.unit_no, "参保日期": "2024-03-01"},
    ])  # fmt: skip
    assert checked.errors() == {}


def test_base_declarations_template_round_trips_with_amounts_typed_as_numbers(
    client: Any, insured: dict[str, Any]
) -> None:
    flexible = insured["flexible"]
    limits = calc.limits_for(2026)
    # Typed into the 0.00-formatted cells, the amounts are numbers in the file, as Excel stores them.
    checked = filled(client, "base_declarations", [
        {"个人编号": flexible.person_no, "申报年度": "2026", "上年度月平均工资": 1000,
         "缴费基数": float(limits.floor)},
    ])  # fmt: skip
    assert checked.errors() == {}


def test_deaths_template_round_trips(client: Any, insured: dict[str, Any]) -> None:
    flexible = insured["flexible"]
    checked = filled(client, "deaths", [
        {"个人编号": flexible.person_no, "死亡日期": date.today().isoformat()},
    ])  # fmt: skip
    assert checked.errors() == {}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_rows_past_the_preformatted_thousand_are_text_too(client: Any, kind: str) -> None:
    """A unit pastes 3,000 employees into the template: the rows below the 1,000 formatted ones took Excel's
    General format, and an ID number typed or pasted there became 3.71002E+17 — refused (or worse, a code's
    leading zero dropped). The whole column carries the format, so every row Excel adds takes it."""
    workbook = load_workbook(io.BytesIO(client.get(f"/exchange/imports/template/{kind}/").content))
    sheet = workbook.worksheets[0]
    declared = KINDS[kind]
    for index, cell in enumerate(sheet[1], start=1):
        field = declared.headers[cell.value]
        expected = "0.00" if declared.types.get(field) == "money" else "@"
        assert sheet.column_dimensions[get_column_letter(index)].number_format == expected, cell.value
