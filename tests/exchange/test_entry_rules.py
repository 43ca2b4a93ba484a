"""The dry run applies the entity's entry rules as the execution does (B3, R5, R6.2; issue 9 §2): a
contribution-base declaration whose base is not the clamp of the declared wage, a death in the future or
before the birth, the same death twice, a death or a declaration already registered — each row is reported
in the dry run and in the XLSX error report with the execution's own message, nothing is applied, and the
valid part, when the clerk keeps it, is applied exactly. Every file is generated here."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from sidms.business import calc
from sidms.business.models import BaseDeclaration, Death
from sidms.changes.batches import ImportRefused, batch_apply_import, batch_decide, batch_execute
from sidms.core.errors import ChangeRefused
from sidms.exchange import imports
from sidms.exchange.models import ImportFile
from tests.business.conftest import insured  # noqa: F401  (the fixture: a unit, an employee, a flexible worker)
from tests.exchange.conftest import csv_bytes, report_rows, xlsx_bytes

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.req("B3"),
    pytest.mark.req("R6.2"),
    pytest.mark.req("R5"),
]

DECLARATION = ["个人编号", "单位编号", "申报年度", "上年度月平均工资", "缴费基数"]
DEATHS = ["个人编号", "死亡日期", "信息来源"]


def execution_errors(importers: Any, entity: str, checked: imports.Checked) -> dict[int, list[str]]:
    """What the execution says of the same rows when they are all carried to it (an approved batch of
    every row, the dry run's findings ignored): {row number in the file: messages}. (A message that names
    another row names it by the batch's numbering, as the execution's refusal does.)"""
    operator, approver = importers
    rows = [row.values for row in checked.rows]
    batch = batch_apply_import(actor=operator, entity=entity, rows=rows, reason="全部行")
    batch_decide(actor=approver, batch_id=batch.pk, approve=True)
    with translation.override("zh-hans"), pytest.raises(ImportRefused) as refused:
        batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: rows)
    numbers = [row.number for row in checked.rows]
    return {
        numbers[n - 1]: [e.localized() for e in errors.values()] for n, errors in refused.value.rows.items()
    }


def apply_valid_part(importers: Any, data: bytes, checked: imports.Checked) -> ImportFile:
    operator, approver = importers
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="只导入正确的行")
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    imports.execute_import(actor=operator, batch_id=imported.batch_id)
    imported.refresh_from_db()
    return imported


def test_a_declaration_whose_base_is_not_clamped_fails_the_dry_run_as_it_would_the_execution(
    insured: dict[str, Any],  # noqa: F811
    importers: Any,
) -> None:
    employee, flexible, unit = insured["employee"], insured["flexible"], insured["unit"]
    floor = f"{calc.limits_for(2026).floor:.2f}"
    data = xlsx_bytes(
        [
            DECLARATION,
            [employee.person_no, unit.unit_no, "2026", "1000", "1000"],  # below the floor, not clamped
            [flexible.person_no, "", "2026", "1000", floor],  # clamped: valid
            [employee.person_no, unit.unit_no, "2025", "6123.45", "6123.45"],  # already declared for 2025
            [flexible.person_no, "", "2026", "1000", floor],  # the same declaration again
        ],
        title="2026年度缴费基数申报表",
    )
    with translation.override("zh-hans"):
        checked = imports.check_file(data, kind="base_declarations", filename="基数申报.xlsx")
    errors = checked.errors()
    assert sorted(errors) == [4, 6, 7]
    assert errors[4] == f"缴费基数须为按当年上下限调整后的申报工资：¥{Decimal(floor):,.2f}。"
    assert (
        "本年度的缴费基数已申报" in errors[6]
    )  # the entry rule's refusal, as at the window (attack round 8)
    assert "第 5 行" in errors[7]
    # The message is the execution's own, for the row the execution refuses.
    executed = execution_errors(importers, "base_declaration", checked)
    assert sorted(executed) == [4, 6, 7] and executed[4] == [errors[4]] and executed[6] == [errors[6]]
    # The error report names each failing row and why; nothing has been applied.
    report = report_rows(checked.report())
    assert report[0][0] == "原行号" and report[0][-1] == "错误原因"
    assert {row[0]: row[-1] for row in report[1:]} == errors
    assert not BaseDeclaration.objects.filter(year="2026").exists()
    # The clerk keeps the valid part: exactly that row is applied.
    imported = apply_valid_part(importers, data, checked)
    assert imported.rows_kept == 1 and imported.excluded == [4, 6, 7]
    [stored] = BaseDeclaration.objects.filter(year="2026")
    assert (stored.person_id, stored.unit_id, stored.declared_wage, stored.base) == (
        flexible.pk, None, "1000.00", floor,
    )  # fmt: skip


def test_a_clean_dry_run_of_declarations_executes(insured: dict[str, Any], importers: Any) -> None:  # noqa: F811
    employee, unit = insured["employee"], insured["unit"]
    limits = calc.limits_for(2026)
    ceiling = f"{limits.ceiling:.2f}"
    high = f"{limits.ceiling + Decimal('1000'):.2f}"
    data = csv_bytes([DECLARATION, [employee.person_no, unit.unit_no, "2026", high, ceiling]], "gbk")
    checked = imports.check_file(data, kind="base_declarations", filename="基数申报.csv")
    assert checked.errors() == {}
    assert apply_valid_part(importers, data, checked).rows_kept == 1
    assert BaseDeclaration.objects.get(year="2026").base == ceiling


def test_a_death_list_reports_every_entry_rule_and_the_same_death_twice(
    insured: dict[str, Any],  # noqa: F811
    importers: Any,
    make_person: Any,
) -> None:
    from tests.changes.conftest import id_number

    flexible, employee = insured["flexible"], insured["employee"]  # born 1985-05-05 and 1980-01-01
    third = make_person(id_number=id_number("37100219700202011"), name="孙老", birth_date="1970-02-02")
    fourth = make_person(id_number=id_number("37100219600303013"), name="周老", birth_date="1960-03-03")
    tomorrow = timezone.localdate() + timedelta(days=1)
    data = csv_bytes(
        [
            DEATHS,
            [flexible.person_no, tomorrow.strftime("%Y/%m/%d"), "民政殡葬信息"],  # in the future
            [employee.person_no, "1979-12-31", "民政殡葬信息"],  # before the birth
            [third.person_no, "2025年6月30日", "民政殡葬信息"],  # valid
            [third.person_no, "2025-06-30", "民政殡葬信息"],  # the same death again
            [fourth.person_no, "20250101", ""],  # valid, the source defaulted
        ],
        "utf-8-sig",
    )
    checked = imports.check_file(data, kind="deaths", filename="死亡名单.csv")
    errors = checked.errors()
    assert sorted(errors) == [2, 3, 5]
    assert errors[2] == "死亡日期晚于今天。" and errors[3] == "死亡日期早于出生日期。"
    assert "第 4 行" in errors[5]
    # The messages are the execution's own, in Chinese and in English.
    executed = execution_errors(importers, "death", checked)
    assert executed[2] == [errors[2]] and executed[3] == [errors[3]]
    english = imports.check_file(data, kind="deaths", filename="死亡名单.csv", language="en")
    assert english.errors()[2] == "The date of death is in the future."
    assert english.errors()[3] == "The date of death is before the person's birth."
    report = {row[0]: row[-1] for row in report_rows(checked.report())[1:]}
    assert report == errors
    assert not Death.objects.exists()
    # Nothing is applied for while rows fail unless the clerk keeps the valid part; then exactly that part.
    imported = apply_valid_part(importers, data, checked)
    assert imported.rows_kept == 2
    assert {(d.person_id, d.date_of_death.isoformat(), d.source) for d in Death.objects.all()} == {
        (third.pk, "2025-06-30", "民政殡葬信息"), (fourth.pk, "2025-01-01", "民政部门死亡名单"),
    }  # fmt: skip
    # A death already registered is refused by the next list's dry run, not by the database at execution.
    again = csv_bytes([DEATHS, [fourth.person_no, "2025-01-01", "民政殡葬信息"]])
    refused = imports.check_file(again, kind="deaths", filename="死亡名单2.csv")
    assert "已登记" in refused.errors()[2]
    with pytest.raises(ChangeRefused):
        imports.apply_import(actor=importers[0], data=again, checked=refused, reason="再次导入")


def _future_death_list(people: dict[str, Any]) -> bytes:
    tomorrow = timezone.localdate() + timedelta(days=1)
    return csv_bytes(
        [
            DEATHS,
            [people["flexible"].person_no, tomorrow.isoformat(), "民政殡葬信息"],
            [people["employee"].person_no, "2025-06-30", "民政殡葬信息"],
        ],
        "gbk",
    )


def test_the_command_s_dry_run_reports_entry_rules(
    insured: dict[str, Any],  # noqa: F811
    importers: Any,
    tmp_path: Any,
) -> None:
    import io

    from django.core.management import call_command

    from sidms.changes.models import BatchApplication

    file = tmp_path / "死亡名单.csv"
    file.write_bytes(_future_death_list(insured))
    report = tmp_path / "错误报告.xlsx"
    batches = BatchApplication.objects.count()  # the fixture's own records came through batches
    out = io.StringIO()
    call_command(
        "import_file", str(file), "--kind", "deaths", "--dry-run", "--report", str(report), stdout=out
    )
    text = out.getvalue()
    assert "2 行数据，1 行可以导入，1 行有错误" in text and "第 2 行：死亡日期晚于今天。" in text
    assert [(row[0], row[-1]) for row in report_rows(report.read_bytes())[1:]] == [(2, "死亡日期晚于今天。")]
    assert BatchApplication.objects.count() == batches and not Death.objects.exists()


def test_the_upload_page_reports_entry_rules(
    insured: dict[str, Any],  # noqa: F811
    make_staff: Any,
    signed_in: Any,
) -> None:
    import re

    from django.core.files.uploadedfile import SimpleUploadedFile

    client = signed_in(make_staff("death_clerk", posts=("window_clerk",), district="371002"))
    page = client.get("/exchange/imports/")
    assert "死亡名单" in page.content.decode()  # the kind is offered
    token = re.search(rb'name="token" value="([0-9a-f]{32})"', page.content)[1].decode()  # type: ignore[index]
    data = _future_death_list(insured)
    checked = client.post(
        "/exchange/imports/",
        {"token": token, "kind": "deaths", "file": SimpleUploadedFile("死亡名单.csv", data, "text/csv")},
    )
    assert checked.status_code == 200 and "死亡日期晚于今天。" in checked.content.decode()
    report = client.get(f"/exchange/imports/{token}/report/")
    assert [(row[0], row[-1]) for row in report_rows(report.content)[1:]] == [(2, "死亡日期晚于今天。")]
    assert not Death.objects.exists()


@pytest.mark.req("R10.3")
def test_a_district_dry_run_does_not_tell_another_districts_person_from_no_person(
    make_person: Any, huancui_clerk: Any, importers: Any
) -> None:
    from tests.changes.conftest import id_number

    own = make_person(id_number=id_number("37100219700202011"), name="孙老", birth_date="1970-02-02")
    elsewhere = make_person(
        id_number=id_number("37100319600303013"), name="周老", birth_date="1960-03-03", district="371003"
    )
    data = csv_bytes(
        [
            DEATHS,
            [own.person_no, "2025-06-30", "民政殡葬信息"],
            [elsewhere.person_no, "2025-06-30", "民政殡葬信息"],  # registered in 文登区
            ["P999999999", "2025-06-30", "民政殡葬信息"],  # registered nowhere
        ],
        "utf-8-sig",
    )
    # 环翠区's clerk: the other district's person and a number never registered read alike.
    checked = imports.check_file(data, kind="deaths", filename="死亡名单.csv", actor=huancui_clerk)
    errors = checked.errors()
    assert sorted(errors) == [3, 4]
    assert errors[3] == errors[4] == "第 A 列“个人编号”：在您的数据范围内没有登记此编号的参保人员。"
    # The city level sees every district: only the unregistered number fails.
    city = imports.check_file(data, kind="deaths", filename="死亡名单.csv", actor=importers[0])
    assert sorted(city.errors()) == [4]
