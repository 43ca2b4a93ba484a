"""Attack on a persons (or units) import by a district clerk: a file that brings record numbers (个人编号,
单位编号, as a legacy list does) naming numbers already in use — another district's person's, one of the
clerk's own district, or one number on two rows.

The dry run checked a new record's ID number or credit code against the registry, not its number: every
row passed, the batch was applied for and approved, and its execution met the database's unique key (an
IntegrityError: a server error on the page, and a failed execution that told the clerk the number exists
somewhere). A clean dry run must not be refused at execution.

Fix: the dry run refuses a row whose record number is already registered — the same message whatever the
district holding it, as for ID numbers (attack round 2), so it says nothing of where — and a number given
on two rows of the file (the later row, naming the first)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.changes.batches import batch_decide
from sidms.exchange import imports
from sidms.registry.models import Person, Unit
from tests.exchange.conftest import csv_bytes, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.1"), pytest.mark.req("R10.3")]

HEADER = ["个人编号", "姓名", "公民身份号码", "性别", "出生日期", "人员类别", "行政区划代码", "联系电话"]


def row(number: str, serial: int) -> list[str]:
    return [number, "张三", id_number(serial), "男", "", "employee", "371002", ""]


def test_a_persons_file_with_numbers_in_use_is_refused_in_the_dry_run_not_at_execution(
    make_person: Any, huancui_clerk: Any, importers: tuple[Any, Any]
) -> None:
    _operator, approver = importers
    elsewhere = make_person(id_number=id_number(3, district="371083"), name="乳山人", district="371083")
    here = make_person(id_number=id_number(5), name="环翠人")
    data = csv_bytes([HEADER, row(elsewhere.person_no, 11), row(here.person_no, 13),
                      row("P000000777", 15), row("P000000777", 17), row("", 19)])  # fmt: skip
    with translation.override("zh-hans"):
        checked = imports.check_file(data, kind="persons", actor=huancui_clerk)
    errors = {r.number: r.errors for r in checked.rows}
    assert errors[2] == errors[3] != [], errors  # another district's number reads like one of its own
    assert "已登记" in errors[2][0] and "乳山" not in errors[2][0]
    assert errors[4] == [] and errors[6] == []
    assert errors[5] != [] and "4" in errors[5][0]  # the same number as row 4 of the file
    imported = imports.apply_import(actor=huancui_clerk, data=data, checked=checked, reason="旧系统名单")
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    imports.execute_import(actor=huancui_clerk, batch_id=imported.batch_id)
    assert Person.objects.filter(person_no="P000000777").count() == 1
    assert Person.objects.count() == 4


def test_a_units_file_with_a_number_in_use_is_refused_in_the_dry_run(
    make_unit: Any, huancui_clerk: Any
) -> None:
    taken = make_unit(unit_no="U3710830001", name="乳山某公司", district="371083")
    header = ["单位编号", "单位名称", "统一社会信用代码", "单位类型", "行政区划代码"]
    data = csv_bytes([header, [taken.unit_no, "环翠某公司", "913710021234567885", "enterprise", "371002"]])
    with translation.override("zh-hans"):
        checked = imports.check_file(data, kind="units", actor=huancui_clerk)
    assert checked.rows[0].errors and "已登记" in checked.rows[0].errors[0]
    assert Unit.objects.filter(unit_no=taken.unit_no).count() == 1
