"""Attack on the record numbers an import's file brings (个人编号, 单位编号), merged an hour before round 6
(`_FileNumbers`, `assign_numbers(skip=...)`).

* Two applications, both with a clean dry run: A's file brings a number in the system's own format just
  ahead of the sequence (a list from a neighbouring system that used the same format); B's rows bring none.
  B is executed first and is assigned that very number (nothing told the sequence about A's file, which is
  not stored yet). A's execution then met the database's unique key: an IntegrityError, a server error, where
  the row should be refused as registered. The same happens when a person registered at the window takes the
  number between A's dry run and its execution.
* A legacy migration (存量数据迁移, batches made with legacy=True) that brings a number already registered, or
  one number on two rows: the execution checked the brought numbers against nothing but the numbers the
  import assigned, and died on the unique key too.

Fix: at execution each chunk's brought numbers are looked up in the registry (one query a chunk) and held
against the numbers the file brought before; a clash refuses the row (registered / same as row n), legacy or
not, since the unique key would refuse it anyway.

Also pinned here (they hold): a number ahead of the sequence in a later chunk is skipped by the numbering
of earlier rows only when it was read before; numbers of other formats and lengths inside the range the
numbering queries do not make it skip or reuse a number."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.changes import batches
from sidms.changes.batches import ImportRefused, batch_apply_import, batch_decide, batch_execute
from sidms.changes.numbers import assign_numbers
from sidms.core.kernel import spec_for
from sidms.exchange import imports
from sidms.lib import recordno, uscc
from sidms.registry.models import Person, Unit
from tests.conftest import luhn_complete
from tests.exchange.conftest import csv_bytes, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.1"), pytest.mark.req("R6.2")]

HEADER = ["个人编号", "姓名", "公民身份号码", "性别", "出生日期", "人员类别", "行政区划代码", "联系电话"]


def credit_code(org8: str) -> str:
    body = f"91371002{org8}{uscc.org_check_char(org8)}"
    return body + uscc.check_char(body)


def row(number: str, name: str, serial: int) -> list[str]:
    return [number, name, id_number(serial), "男", "", "employee", "371002", ""]


def approved(importers: tuple[Any, Any], data: bytes, kind: str = "persons") -> imports.ImportFile:
    operator, approver = importers
    checked = imports.check_file(data, kind=kind, actor=operator)
    assert not checked.failing, [r.errors for r in checked.rows]
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="旧系统名单")
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    return imported


def test_a_number_brought_by_an_approved_file_and_assigned_to_another_import_first_refuses_the_row(
    make_person: Any, importers: tuple[Any, Any]
) -> None:
    operator, _approver = importers
    first = make_person(id_number=id_number(3), name="环翠人")
    serial = int(first.person_no[2:-1])
    ahead = recordno.compose("37", serial + 1, 7)
    a = approved(importers, csv_bytes([HEADER, row(ahead, "邻系统人", 5), row("", "甲一", 7)]))
    b = approved(importers, csv_bytes([HEADER, row("", "乙二", 9), row("", "丙三", 11)]))
    imports.execute_import(actor=operator, batch_id=b.batch_id)
    assert Person.objects.get(name="乙二").person_no == ahead  # B took it: A's file was not stored yet
    with translation.override("zh-hans"), pytest.raises(ImportRefused) as refused:
        imports.execute_import(actor=operator, batch_id=a.batch_id)
    assert list(refused.value.rows) == [1]  # the application's first row
    assert "已登记" in str(refused.value.rows[1]["person_no"].localized())
    assert not Person.objects.filter(name__in=["邻系统人", "甲一"]).exists()


def _legacy_row(number: str, name: str, serial: int) -> dict[str, Any]:
    return {
        "person_no": number, "id_number": id_number(serial), "name": name, "sex": "1",
        "birth_date": "1960-01-01", "category": "employee", "district_id": "371002",
        "phone": "13963100000", "bank_account": luhn_complete("621700000000000000"), "status": "active",
    }  # fmt: skip


@pytest.mark.parametrize("where", ["registry", "file"])
def test_a_legacy_migration_bringing_a_number_in_use_is_refused_not_a_server_error(
    make_person: Any, importers: tuple[Any, Any], where: str
) -> None:
    operator, approver = importers
    taken = make_person(id_number=id_number(3), name="环翠人").person_no
    rows = [
        _legacy_row("L0000001", "旧一", 5),
        _legacy_row("L0000001" if where == "file" else taken, "旧二", 7),
    ]
    batch = batch_apply_import(actor=operator, entity="person", rows=rows, reason="存量数据迁移", legacy=True)
    batch_decide(actor=approver, batch_id=batch.pk, approve=True)
    with translation.override("zh-hans"), pytest.raises(ImportRefused) as refused:
        batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: rows)
    assert list(refused.value.rows) == [2]
    message = str(refused.value.rows[2]["person_no"].localized())
    assert ("已登记" in message) if where == "registry" else ("1" in message)
    assert Person.objects.count() == 1


def test_a_number_ahead_in_a_later_chunk_of_a_unit_list_is_refused_and_one_in_an_earlier_chunk_skipped(
    make_unit: Any, importers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """单位编号 as 个人编号: one brought in an earlier chunk is skipped; one brought after it was assigned
    refuses its row (the file streams); nothing is stored."""
    monkeypatch.setattr(batches, "IMPORT_CHUNK", 2)
    operator, _approver = importers
    make_unit(unit_no=recordno.compose("3710", 1, 6), name="某甲公司", district="371002")
    codes = [credit_code(f"MA3C000{i}") for i in range(1, 5)]
    header = ["单位编号", "单位名称", "统一社会信用代码", "单位类型", "行政区划代码"]
    given = recordno.compose("3710", 2, 6)  # chunk 1 brings it: skipped by chunk 1's numbering
    later = recordno.compose("3710", 3, 6)  # chunk 2 brings the number chunk 1 assigned (2 was skipped)
    rows = [
        [given, "某乙公司", codes[0], "enterprise", "371002"],
        ["", "某丙公司", codes[1], "enterprise", "371002"],
    ]
    rows += [[later, "某丁公司", codes[2], "enterprise", "371002"]]
    data = csv_bytes([header, *rows])
    imported = approved(importers, data, kind="units")
    with translation.override("zh-hans"), pytest.raises(ImportRefused) as refused:
        imports.execute_import(actor=operator, batch_id=imported.batch_id)
    assert list(refused.value.rows) == [3]
    assert Unit.objects.count() == 1


def test_numbers_of_other_formats_inside_the_queried_range_neither_skip_nor_repeat(
    make_person: Any, importers: tuple[Any, Any]
) -> None:
    """The numbering looks taken numbers up by one range (first candidate .. last candidate). Numbers of other
    lengths and check digits sort inside that range; only a candidate itself may be taken."""
    spec = spec_for("person")
    serial = int(assign_numbers(spec, 1)[0][2:-1])  # the sequence exists from here
    low, high = recordno.compose("37", serial + 1, 7), recordno.compose("37", serial + 5, 7)
    inside = [
        recordno.compose("37", serial + 2, 7)[:-1] + "X",  # a bad check digit
        recordno.compose("37", serial + 2, 7) + "0",  # one digit longer
        recordno.compose("37", serial + 3, 7)[:-1],  # shorter
        "37" + " " * 8,  # spaces sort before digits: outside, as a control
    ]
    assert sum(low <= n <= high for n in inside) == 3
    for i, number in enumerate(inside):
        make_person(id_number=id_number(21 + 2 * i), name=f"旧{i}", person_no=number, legacy=True)
    make_person(
        id_number=id_number(41), name="占号", person_no=recordno.compose("37", serial + 4, 7), legacy=True
    )
    got = assign_numbers(spec, 4)
    assert [int(n[2:-1]) for n in got] == [serial + 1, serial + 2, serial + 3, serial + 5]
    assert all(recordno.is_valid(n, "37", 7) for n in got)
