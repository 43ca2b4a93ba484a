"""Attack on the dry run searching the registry part by part while workers check the later parts, with the
blind indexes made in the workers (`_Registered`, `_Checker.indexed`), merged an hour before round 6.

The dry run must refuse exactly what it refused before, whether the rows are checked in forked workers
(parts of two rows, the registry searched a value at a time) or here (SIDMS_WORKERS=-1): a row duplicating
the registry (its 18-digit form of a registered 15-digit number too), a row duplicating a new person waiting
for review in another district (the same message), a row repeating an earlier row of the file in either
form (the later one names the first, also across parts, and also when the first is registered), units'
credit codes in any case, and the kinds with references (a death list: the same death twice, a death
registered; employments: the same employment twice)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.utils import translation

from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.exchange import imports
from tests.business.conftest import insured  # noqa: F401  (the fixture: a unit, an employee, a flexible worker)
from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [
    pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.1"), pytest.mark.req("R10.3"),
    pytest.mark.usefixtures("idle_threads_fork_safe"),
]  # fmt: skip

FORKS = [0]
os.register_at_fork(after_in_parent=lambda: FORKS.__setitem__(0, FORKS[0] + 1))


@pytest.fixture(params=["workers", "here"])
def mode(request: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Small parts (two rows; lists prepared first, two rows a part too) and look-ups of one value, so that
    a small file spans several parts and several look-ups; forked workers, or none."""
    monkeypatch.setattr(imports, "REPAIR_UNIT", 2)
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(imports._Registered, "LOOKUP", 1)
    settings.SIDMS_WORKERS = 2 if request.param == "workers" else -1
    FORKS[0] = 0
    return str(request.param)


def forked(mode: str) -> None:
    assert (FORKS[0] > 0) == (mode == "workers"), FORKS


def person(number: str, name: str = "张三") -> list[str]:
    return [name, number, "男", "", "employee", "371002", ""]


def test_persons_registered_waiting_or_repeated_across_parts(
    make_person: Any, rushan_clerk: Any, mode: str
) -> None:
    here = id_number(1)
    make_person(id_number=here, name="环翠人")
    old = id_number(3, district="371083")
    make_person(
        id_number=old[:6] + old[8:17], name="旧号人", district="371083", legacy=True
    )  # 15 digits stored
    waiting = id_number(5, district="371083")
    held = submit_change(actor=rushan_clerk, channel=Channel.WINDOW, entity="person", values={
        "id_number": waiting, "name": "待审人", "sex": "1", "birth_date": "1960-01-01", "category": "employee",
        "district_id": "371083", "status": "active"})  # fmt: skip
    assert held.held is not None
    first = id_number(7)
    rows = [
        person(id_number(9)),  # 2 free
        person(here),  # 3 registered
        person(old),  # 4 registered in its 15-digit form
        person(waiting),  # 5 waiting in another district's review
        person(first),  # 6 free
        person(first[:6] + first[8:17]),  # 7 row 6 again, 15 digits
        person(id_number(11)),  # 8 free
        person(first),  # 9 row 6 again
        person(here),  # 10 row 3 again: named as the repeat
    ]
    with translation.override("zh-hans"):
        checked = imports.check_file(csv_bytes([HEADER, *rows]), kind="persons")
        alone = imports.check_file(csv_bytes([HEADER, person(here)]), kind="persons")
    forked(mode)
    errors = {r.number: r.errors for r in checked.rows if r.errors}
    assert sorted(errors) == [3, 4, 5, 7, 9, 10], errors
    assert errors[3] == errors[4] == errors[5] == alone.rows[0].errors
    assert len(errors[3]) == 1 and "已登记" in errors[3][0]
    assert all(len(errors[n]) == 1 and "第 6 行" in errors[n][0] for n in (7, 9))
    assert len(errors[10]) == 1 and "第 3 行" in errors[10][0] and "已登记" not in errors[10][0]


def test_units_credit_codes_in_any_case_across_parts(make_unit: Any, mode: str) -> None:
    taken, free, other = "91371082775260043P", "91370000163040525U", "91371002MA3C00001M"
    make_unit(unit_no="U371082001", name="荣成某公司", district="371082", credit_code=taken)
    rows = [
        ["甲公司", free, "企业", "371002"],  # 2
        ["乙公司", taken.lower(), "企业", "371002"],  # 3 registered, in lower case
        ["丙公司", other, "企业", "371002"],  # 4 (valid or not, the same either way)
        ["丁公司", free.lower(), "企业", "371002"],  # 5 row 2 again
        ["戊公司", taken, "企业", "371002"],  # 6 row 3 again
    ]
    with translation.override("zh-hans"):
        checked = imports.check_file(
            csv_bytes([["单位名称", "统一社会信用代码", "单位类型", "行政区划代码"], *rows]), kind="units"
        )
    forked(mode)
    errors = {r.number: r.errors for r in checked.rows if r.errors}
    assert "已登记" in errors[3][0] and len(errors[3]) == 1
    assert "第 2 行" in errors[5][0] and "第 3 行" in errors[6][0]
    assert 2 not in errors


def test_lists_with_references_across_parts(
    insured: dict[str, Any],  # noqa: F811
    make_person: Any,
    load: Any,
    mode: str,
) -> None:
    employee, flexible, unit = insured["employee"], insured["flexible"], insured["unit"]
    third = make_person(id_number=id_number(21, born="19700202"), name="孙老", birth_date="1970-02-02")
    dead = make_person(id_number=id_number(23, born="19600303"), name="周老", birth_date="1960-03-03")
    load("death", [{"person_id": dead.pk, "date_of_death": "2025-01-01", "source": "公安"}])
    deaths = [
        ["个人编号", "死亡日期", "信息来源"],
        [flexible.person_no, "2025-06-01", "民政"],  # 2
        [dead.person_no, "2025-01-01", "民政"],  # 3 registered already
        [third.person_no, "2025-06-30", "民政"],  # 4
        [flexible.person_no, "2025-06-01", "民政"],  # 5 row 2 again
        [third.person_no, "2025-06-30", "民政"],  # 6 row 4 again
    ]
    employments = [
        ["个人编号", "单位编号", "参保日期"],
        [third.person_no, unit.unit_no, "2024-01-01"],  # 2
        [employee.person_no, unit.unit_no, "2025-03-01"],  # 3
        [dead.person_no, unit.unit_no, "2020-01-01"],  # 4
        [third.person_no, unit.unit_no, "2024-01-01"],  # 5 row 2 again
    ]
    with translation.override("zh-hans"):
        died = imports.check_file(csv_bytes(deaths), kind="deaths")
        employed = imports.check_file(csv_bytes(employments), kind="employments")
    forked(mode)
    errors = {r.number: r.errors for r in died.rows if r.errors}
    assert sorted(errors) == [3, 5, 6], errors
    assert "已登记" in errors[3][0] and "第 2 行" in errors[5][0] and "第 4 行" in errors[6][0]
    errors = {r.number: r.errors for r in employed.rows if r.errors}
    assert 5 in errors and "第 2 行" in errors[5][0] and 2 not in errors, errors
