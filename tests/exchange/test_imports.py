"""Spreadsheet imports through approved batches (B3, R6.2): every file is generated here; each ends in the
right rows applied or refused, and an error report that names each failing row and why, in Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.changes.batches import batch_decide
from sidms.core.errors import IntegrityAlert, SeparationOfDuties
from sidms.exchange import imports
from sidms.registry.models import Employment, Person, Unit
from tests.conftest import last_integrity_alert
from tests.exchange.conftest import HEADER, csv_bytes, id_number, report_rows, xlsx_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]


def run(importers: tuple[Any, Any], data: bytes, kind: str = "persons", **kw: Any) -> imports.Checked:
    return imports.check_file(data, kind=kind, filename=kw.get("filename", "名单.csv"))


def apply_approve_execute(importers: tuple[Any, Any], data: bytes, checked: imports.Checked) -> int:
    operator, approver = importers
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="单位申报")
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    return imports.execute_import(actor=operator, batch_id=imported.batch_id).rows


def ids_in_registry() -> set[str]:
    return {str(p.id_number) for p in Person.objects.all()}


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_gbk_and_utf8_bom_csv_import_the_valid_rows_and_report_scientific_notation(
    importers: tuple[Any, Any], encoding: str
) -> None:
    good = [id_number(11), id_number(21, "19750315")]
    data = csv_bytes(
        [
            HEADER,
            ["张三", good[0], "男", "1960-01-01", "在职职工", "371002", "13963100001"],
            ["李四", "3.71002E+17", "男", "1960-01-01", "employee", "371002", ""],
            ["王五", good[1], "男", "1975/3/15", "employee", "371002", ""],
        ],
        encoding,
    )
    checked = imports.check_file(data, kind="persons", filename="名单.csv")
    assert checked.table.encoding == ("gb18030" if encoding == "gbk" else "utf-8-sig")
    errors = checked.errors()
    assert list(errors) == [3]
    assert "第 B 列“公民身份号码”" in errors[3] and "文本" in errors[3]
    report = report_rows(checked.report())
    assert report[0][0] == "原行号" and report[0][-1] == "错误原因"
    assert report[1][0] == 3 and report[1][1] == "李四" and "文本" in report[1][-1]

    assert apply_approve_execute(importers, data, checked) == 2
    assert ids_in_registry() == set(good)
    zhang = next(p for p in Person.objects.all() if p.name == "张三")
    assert zhang.category == "employee" and zhang.sex == "1" and str(zhang.phone) == "13963100001"
    wang = next(p for p in Person.objects.all() if p.name == "王五")
    assert str(wang.birth_date) == "1975-03-15"


def test_full_width_digits_and_spaces_are_repaired(importers: tuple[Any, Any]) -> None:
    number = id_number(31)
    wide = " " + number.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}) + "\u00a0"
    data = csv_bytes(
        [
            HEADER,
            [
                " 赵六\u00a0",
                wide,
                "男",
                "１９６０年１月１日",
                "employee",
                "３７１００２",
                "１３９ ６３１０ ００２２",
            ],
        ],
        "utf-8-sig",
    )
    checked = imports.check_file(data, kind="persons")
    assert checked.errors() == {}
    assert checked.rows[0].values["id_number"] == number
    assert apply_approve_execute(importers, data, checked) == 1
    person = Person.objects.get()
    assert str(person.id_number) == number and person.name == "赵六"
    assert str(person.phone) == "13963100022" and person.district_id == "371002"


def test_xlsx_with_merged_title_rows_serial_dates_and_numeric_id_cells(importers: tuple[Any, Any]) -> None:
    good = id_number(41, "19800229")
    data = xlsx_bytes(
        [
            HEADER,
            ["钱七", good, "男", 29280, "employee", "371002", "13963100033"],  # 29280 = 1980-02-29
            ["孙八", 371002196001010000, "男", 21916, "employee", "371002", ""],  # a number: digits lost
            ["周九", "371002196001010099", "男", "1960-01-01", "employee", "371002", ""],  # bad check digit
        ],
        title="2026年参保人员名单",
    )
    checked = imports.check_file(data, kind="persons", filename="名单.xlsx")
    assert checked.table.header_row == 3  # below the merged title and the blank row
    errors = checked.errors()
    assert set(errors) == {5, 6}
    assert "文本" in errors[5] and "公民身份号码" in errors[5]
    assert "公民身份号码" in errors[6]
    assert checked.rows[0].values["birth_date"] == "1980-02-29"
    reasons = {row[0]: row[-1] for row in report_rows(checked.report())[1:]}
    assert set(reasons) == {5, 6} and all(reasons.values())

    assert apply_approve_execute(importers, data, checked) == 1
    assert ids_in_registry() == {good}
    assert str(Person.objects.get().birth_date) == "1980-02-29"


def test_duplicates_within_the_file_and_with_the_registry_are_refused(
    importers: tuple[Any, Any], make_person: Any
) -> None:
    registered = id_number(51)
    make_person(id_number=registered, name="已登记")
    first, other = id_number(52), id_number(53)
    fifteen = first[:6] + first[8:17]  # the same person's 15-digit number
    data = csv_bytes(
        [
            HEADER,
            ["张甲", first, "", "1960-01-01", "employee", "371002", ""],
            ["李乙", fifteen, "", "1960-01-01", "employee", "371002", ""],
            ["王丙", registered, "", "1960-01-01", "employee", "371002", ""],
            ["赵丁", other, "", "1960-01-01", "employee", "371002", ""],
            ["张甲", first, "", "1960-01-01", "employee", "371002", ""],
        ]
    )
    checked = imports.check_file(data, kind="persons")
    errors = checked.errors()
    assert set(errors) == {3, 4, 6}
    assert "第 2 行" in errors[3] and "第 2 行" in errors[6]
    assert "已登记" in errors[4]
    reasons = {row[0]: row[-1] for row in report_rows(checked.report())[1:]}
    assert reasons == errors

    assert apply_approve_execute(importers, data, checked) == 2
    assert ids_in_registry() == {registered, first, other}


def test_rows_the_applicant_leaves_out_are_not_applied(importers: tuple[Any, Any]) -> None:
    operator, approver = importers
    data = csv_bytes(
        [HEADER]
        + [["孙" + "甲乙丙"[i], id_number(60 + i), "", "", "employee", "371002", ""] for i in range(3)]
    )
    checked = imports.check_file(data, kind="persons")
    assert checked.errors() == {}
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="测试", exclude=[3])
    assert imported.rows_kept == 2 and imported.excluded == [3]
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    assert imports.execute_import(actor=operator, batch_id=imported.batch_id).rows == 2
    assert ids_in_registry() == {id_number(60), id_number(62)}


def test_the_same_file_is_recognised_and_not_imported_twice(importers: tuple[Any, Any]) -> None:
    operator, approver = importers
    data = csv_bytes([HEADER, ["张甲", id_number(71), "", "", "employee", "371002", ""]])
    checked = imports.check_file(data, kind="persons")
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="第一次")
    with pytest.raises(imports.SameFile) as again:
        imports.apply_import(
            actor=operator, data=data, checked=imports.check_file(data, kind="persons"), reason="x"
        )
    assert again.value.existing.pk == imported.pk and f"BA{imported.batch_id}" in again.value.localized()
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    imports.execute_import(actor=operator, batch_id=imported.batch_id)
    assert imports.resume(imports.same_file(checked.digest, "persons")) == "done"  # type: ignore[arg-type]
    with pytest.raises(imports.SameFile):
        imports.apply_import(actor=operator, data=data, checked=checked, reason="第二次")
    assert Person.objects.count() == 1


def test_four_eyes_the_approver_does_not_execute_and_the_applicant_does_not_approve(
    importers: tuple[Any, Any], make_staff: Any
) -> None:
    operator, approver = importers
    data = csv_bytes([HEADER, ["张甲", id_number(81), "", "", "employee", "371002", ""]])
    imported = imports.apply_import(
        actor=operator, data=data, checked=imports.check_file(data, kind="persons"), reason="测试"
    )
    second_approver = make_staff("approver_two", posts=("approver", "info_centre"), district="371000")
    batch_decide(actor=second_approver, batch_id=imported.batch_id, approve=True)
    with pytest.raises(SeparationOfDuties):
        imports.execute_import(actor=second_approver, batch_id=imported.batch_id)
    assert Person.objects.count() == 0
    assert approver is not None


def test_a_stored_file_swapped_after_approval_is_refused(importers: tuple[Any, Any]) -> None:
    operator, approver = importers
    data = csv_bytes([HEADER, ["张甲", id_number(91), "", "", "employee", "371002", ""]])
    imported = imports.apply_import(
        actor=operator, data=data, checked=imports.check_file(data, kind="persons"), reason="测试"
    )
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    other = csv_bytes([HEADER, ["李乙", id_number(92), "", "", "employee", "371002", ""]])
    imports._store(imported.uid, other)
    with pytest.raises(IntegrityAlert):
        imports.execute_import(actor=operator, batch_id=imported.batch_id)
    assert Person.objects.count() == 0
    # The alert is an audit event naming the import (it was raised without one before).
    event, payload = last_integrity_alert()
    assert (event.actor, event.object_type, event.object_id) == (
        operator.username,
        "import_file",
        str(imported.pk),
    )
    assert payload["detail"] == {"reason": "stored_file", "batch": imported.batch_id}


def test_units_and_employments_import_by_their_chinese_headers(
    importers: tuple[Any, Any], make_person: Any
) -> None:
    person = make_person(id_number=id_number(99), name="职工")
    units = csv_bytes(
        [
            ["单位名称", "统一社会信用代码", "单位类型", "行政区划代码", "联系电话"],
            ["威海甲公司", "91371082775260043P", "企业", "371002", "0631-5221234"],
            ["威海乙公司", "91371082775260043P", "enterprise", "371002", ""],
        ]
    )
    checked = imports.check_file(units, kind="units")
    assert list(checked.errors()) == [3] and "第 2 行" in checked.errors()[3]
    assert apply_approve_execute(importers, units, checked) == 1
    unit = Unit.objects.get()
    assert unit.unit_type == "enterprise"

    jobs = csv_bytes(
        [
            ["个人编号", "单位编号", "参保日期"],
            [person.person_no, unit.unit_no, "2020年3月1日"],
            ["3799999999", unit.unit_no, "2020-03-01"],
        ]
    )
    checked = imports.check_file(jobs, kind="employments")
    assert list(checked.errors()) == [3] and "个人编号" in checked.errors()[3]
    assert apply_approve_execute(importers, jobs, checked) == 1
    job = Employment.objects.get()
    assert (job.person_id, job.unit_id, str(job.start_date)) == (person.pk, unit.pk, "2020-03-01")


def test_an_application_whose_window_closed_unused_no_longer_holds_the_file_back(
    importers: tuple[Any, Any],
) -> None:
    from datetime import timedelta

    operator, approver = importers
    data = csv_bytes([HEADER, ["张甲", id_number(75), "", "", "employee", "371002", ""]])
    first = imports.apply_import(
        actor=operator, data=data, checked=imports.check_file(data, kind="persons"), reason="x"
    )
    batch_decide(actor=approver, batch_id=first.batch_id, approve=True, window=timedelta(seconds=-1))
    again = imports.apply_import(
        actor=operator, data=data, checked=imports.check_file(data, kind="persons"), reason="y"
    )
    batch_decide(actor=approver, batch_id=again.batch_id, approve=True)
    assert imports.execute_import(actor=operator, batch_id=again.batch_id).rows == 1
