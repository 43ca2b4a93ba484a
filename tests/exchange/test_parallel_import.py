"""An import large enough to use forked workers (more than one unit of the dry run, more than one chunk of
the execution): the dry run names the failing rows of every unit, and the execution stores exactly the
file, with revisions that verify, as one process would."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import pytest

from sidms.changes.batches import IMPORT_CHUNK, batch_decide
from sidms.changes.models import Revision
from sidms.changes.verify import verify_store
from sidms.exchange import imports
from sidms.registry.models import Person
from tests.changes.conftest import person_row
from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [
    pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2"),
    pytest.mark.usefixtures("idle_threads_fork_safe"),
]  # fmt: skip

ROWS = 2 * IMPORT_CHUNK + 500  # three chunks of execution, five units of the dry run

FORKS = [0]
os.register_at_fork(after_in_parent=lambda: FORKS.__setitem__(0, FORKS[0] + 1))


def _name(i: int) -> str:
    return "测试" + "".join("零一二三四五六七八九"[int(d)] for d in str(i))


def _row(i: int) -> list[str]:
    born = date(1960, 1, 1) + timedelta(days=i // 900)
    return [
        _name(i), id_number(i % 900 + 1, born=born.strftime("%Y%m%d")), "",
        f"{born.year}/{born.month}/{born.day}", "在职职工", "371002", f"1396{i:07d}",
    ]  # fmt: skip


def test_the_dry_run_names_failing_rows_in_every_unit() -> None:
    rows = [_row(i) for i in range(ROWS)]
    rows[3_700][1] = rows[3_700][1][:-1] + ("0" if rows[3_700][1][-1] != "0" else "1")  # a wrong check digit
    rows[4_200][1], rows[4_200][3] = rows[10][1], rows[10][3]  # the same person as an earlier row
    rows[4_201][4] = "不存在的类别"
    forks = FORKS[0]
    checked = imports.check_file(csv_bytes([HEADER, *rows], "gbk"), kind="persons", filename="名单.csv")
    assert FORKS[0] > forks  # the field rules ran in workers
    failing = {row.number: " ".join(row.errors) for row in checked.rows if row.errors}
    numbers = {checked.rows[i].number for i in (3_700, 4_200, 4_201)}
    assert set(failing) == numbers
    assert "校验码" in failing[checked.rows[3_700].number]
    assert "同" in failing[checked.rows[4_200].number]
    assert sum(1 for row in checked.rows if not row.errors and row.cleaned is not None) == ROWS - 3


def test_a_large_import_stores_exactly_the_file_with_revisions_that_verify(
    importers: tuple[Any, Any], django_capture_on_commit_callbacks: Any, load: Any
) -> None:
    operator, approver = importers
    data = csv_bytes([HEADER, *(_row(i) for i in range(ROWS))], "gbk")
    checked = imports.check_file(data, kind="persons", filename="名单.csv")
    assert not checked.failing
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="单位申报")
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    forks = FORKS[0]
    with django_capture_on_commit_callbacks(execute=True):
        done = imports.execute_import(actor=operator, batch_id=imported.batch_id)
    assert FORKS[0] > forks  # the records were made in workers
    assert done.rows == ROWS
    assert Person.objects.count() == ROWS
    assert Revision.objects.filter(entity="person", reference=f"BA{imported.batch_id}").count() == ROWS
    numbers = list(Person.objects.order_by("person_no").values_list("person_no", flat=True))
    assert len(set(numbers)) == ROWS  # every record numbered once, across the chunks
    sample = Person.objects.get(name=_name(4321))
    expected = _row(4321)
    assert str(sample.id_number) == expected[1] and str(sample.phone) == expected[6]
    # The ids were reserved before the records were made (their revisions' seals name them): each revision
    # names its own record, and the next insert, by another batch, takes ids after them.
    ids = sorted(Person.objects.values_list("id", flat=True))
    revised = Revision.objects.filter(entity="person", reference=f"BA{imported.batch_id}")
    assert sorted(revised.values_list("record_id", flat=True)) == ids
    assert revised.get(record_id=sample.pk).state["uid"] == str(sample.uid)
    (later,) = load("person", [person_row(1, district="371002")])
    assert later.pk > ids[-1]
    assert verify_store(workers=1).ok


def test_a_large_file_with_references_is_checked_row_by_row_through_the_workers() -> None:
    """A kind whose columns name other records (a death list names persons): the references are looked up
    for the whole file here, and the prepared rows go to the workers for the field rules."""
    rows = [[f"P{900_000_000 + i:09d}", "2024/3/5"] for i in range(ROWS)]
    rows[2_345][1] = "2024/13/45"
    forks = FORKS[0]
    checked = imports.check_file(csv_bytes([["个人编号", "死亡日期"], *rows], "gbk"), kind="deaths")
    assert FORKS[0] > forks
    assert len(checked.rows) == ROWS and all(row.errors for row in checked.rows)
    assert all("个人编号" in " ".join(row.errors) for row in checked.rows)
    assert "死亡日期" in " ".join(checked.rows[2_345].errors)
