"""Blank import templates (ux-conventions: imports offer a template to download; B3): each kind's template
carries its Chinese headers, formats the ID number and code columns as text so that Excel cannot turn an ID
number into 3.71002E+17, offers the words a column takes as a drop-down list, explains each column on a
second sheet — and a template filled in as a clerk fills it imports as it is."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from sidms.exchange import imports
from sidms.exchange.kinds import KINDS
from tests.exchange.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3")]


@pytest.fixture
def client(make_staff: Any, signed_in: Any) -> Any:
    return signed_in(make_staff("template_clerk", posts=("window_clerk",), district="371002"))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_has_a_template_with_its_headers_and_text_columns(client: Any, kind: str) -> None:
    response = client.get(f"/exchange/imports/template/{kind}/")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    sheet, notes = workbook.worksheets
    headers = [cell.value for cell in sheet[1]]
    declared = KINDS[kind]
    # One column per field, under the first header that names it; every header is one the import reads.
    assert len(headers) == len(set(declared.headers.values()))
    assert all(declared.headers[header] for header in headers)
    for index, header in enumerate(headers, start=1):
        field = declared.headers[header]
        assert sheet.cell(row=1, column=index).font.bold == (field in declared.required), header
        if declared.types.get(field, "text") in ("text", "code", "idcard_text", "date"):
            assert sheet.cell(row=2, column=index).number_format == "@", header
            assert sheet.cell(row=500, column=index).number_format == "@", header
    explained = [row[0].value for row in notes.iter_rows(min_row=2)]
    assert explained == headers


def test_the_persons_template_explains_its_columns_in_chinese(client: Any) -> None:
    workbook = load_workbook(io.BytesIO(client.get("/exchange/imports/template/persons/").content))
    sheet, notes = workbook.worksheets
    assert notes.title == "填写说明"
    rows = {row[0].value: [cell.value for cell in row] for row in notes.iter_rows(min_row=2)}
    assert rows["公民身份号码"][1] == "是" and "3.71002E+17" in rows["公民身份号码"][2]
    assert rows["公民身份号码"][3] == "身份证号码、身份证号"
    assert rows["性别"][1] is None and "男、女、未说明" in rows["性别"][2]
    assert "2024/1/5" in rows["出生日期"][2]
    assert "默认为“正常”" in rows["状态"][2]
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    sex = [cell.value for cell in sheet[1]].index("性别")
    assert any(ref.startswith(chr(65 + sex) + "2:") and f == '"男,女,未说明"' for ref, f in lists.items())


@pytest.mark.req("R6.2")
def test_a_filled_in_template_imports_as_it_is(client: Any) -> None:
    """The clerk types the rows into the downloaded template (an ID number as typed into a text cell, a date
    as text, words from the lists) and uploads it: the dry run finds no error."""
    workbook = load_workbook(io.BytesIO(client.get("/exchange/imports/template/persons/").content))
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    typed = [
        {"姓名": "张三", "公民身份号码": id_number(11), "性别": "男", "出生日期": "1960-01-01",
         "人员类别": "在职职工", "行政区划代码": "371002", "联系电话": "13963100001"},
        {"姓名": "李四", "公民身份号码": id_number(21, "19750315"), "性别": "男", "出生日期": "1975-03-15",
         "人员类别": "在职职工", "行政区划代码": "371002", "邮政编码": "264200"},
    ]  # fmt: skip
    for number, values in enumerate(typed, start=2):
        for header, value in values.items():
            sheet.cell(row=number, column=headers.index(header) + 1, value=value)
    out = io.BytesIO()
    workbook.save(out)
    checked = imports.check_file(out.getvalue(), kind="persons", filename="模板.xlsx")
    assert checked.errors() == {}
    assert len(checked.table.rows) == 2


def test_the_template_needs_the_import_post_and_a_known_kind(
    client: Any, make_staff: Any, signed_in: Any
) -> None:
    assert client.get("/exchange/imports/template/nothing/").status_code == 404
    page = client.get("/exchange/imports/").content.decode()
    assert 'href="/exchange/imports/template/persons/"' in page and "下载空白导入模板" in page
    auditor = signed_in(make_staff("template_auditor", posts=("auditor",), district="371000"))
    assert auditor.get("/exchange/imports/template/persons/").status_code == 403
