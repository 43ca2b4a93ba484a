"""An import numbers its new persons past the numbers already taken: a legacy list brings its own 个人编号,
one of them just ahead of the system's sequence; the rows without a number get consecutive free numbers
that skip it, each with its ISO 7064 MOD 11-10 check digit (python-stdnum as the oracle)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation
from stdnum.iso7064 import mod_11_10

from sidms.changes import batches
from sidms.changes.batches import batch_decide
from sidms.exchange import imports
from sidms.lib import recordno
from sidms.registry.models import Person
from tests.exchange.conftest import csv_bytes, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R6.1"), pytest.mark.req("B3")]

NEW = ["甲一", "乙二", "丙三", "丁四"]
HEADER = ["个人编号", "姓名", "公民身份号码", "性别", "出生日期", "人员类别", "行政区划代码", "联系电话"]


def test_new_numbers_skip_one_a_legacy_row_already_took(make_person: Any, importers: Any) -> None:
    operator, approver = importers
    first = make_person(id_number=id_number(3), name="环翠人")  # sets the sequence
    serial = int(first.person_no[2:-1])
    ahead = recordno.compose("37", serial + 2, 7)  # the second number the import would otherwise take
    rows = [[ahead, "旧号", id_number(5), "男", "", "employee", "371002", ""]]
    rows += [["", NEW[n], id_number(7 + 2 * n), "男", "", "employee", "371002", ""] for n in range(4)]
    data = csv_bytes([HEADER, *rows])
    checked = imports.check_file(data, kind="persons", actor=operator)
    assert not checked.failing, [r.errors for r in checked.rows]
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="旧系统名单")
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    imports.execute_import(actor=operator, batch_id=imported.batch_id)
    numbers = [Person.objects.get(name=name).person_no for name in NEW]
    serials = [int(number[2:-1]) for number in numbers]
    assert serials == [serial + 1, serial + 3, serial + 4, serial + 5]
    assert all(mod_11_10.is_valid(number) for number in numbers)
    assert Person.objects.get(name="旧号").person_no == ahead


def test_a_later_row_bringing_a_number_the_import_assigned_is_refused_not_a_server_error(
    make_person: Any, importers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is numbered a chunk at a time as it streams: a number the import assigned in an earlier
    chunk, brought by a later row, refuses that row as registered; nothing is stored."""
    monkeypatch.setattr(batches, "IMPORT_CHUNK", 2)
    operator, approver = importers
    first = make_person(id_number=id_number(3), name="环翠人")
    serial = int(first.person_no[2:-1])
    rows = [["", NEW[n], id_number(7 + 2 * n), "男", "", "employee", "371002", ""] for n in range(2)]
    rows += [
        [recordno.compose("37", serial + 1, 7), "旧号", id_number(5), "男", "", "employee", "371002", ""]
    ]
    data = csv_bytes([HEADER, *rows])
    checked = imports.check_file(data, kind="persons", actor=operator)
    assert not checked.failing
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="旧系统名单")
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    with translation.override("zh-hans"), pytest.raises(batches.ImportRefused) as refused:
        imports.execute_import(actor=operator, batch_id=imported.batch_id)
    assert list(refused.value.rows) == [3]
    assert "已登记" in str(refused.value.rows[3]["person_no"].localized())
    assert Person.objects.count() == 1
