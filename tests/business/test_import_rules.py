"""Import batches of business kinds obey the entry rules the window applies (issue 8 §2–§3, R5, R6.1, R6.2):
a contribution-base declaration whose base is not the clamp of the declared wage, an enrolment after the
date of death, a death in the future — each refuses its row, and so the whole file; a legacy migration keeps
the row and notes the rule it breaks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from sidms.business import calc
from sidms.business.models import BaseDeclaration, Death, PersonEnrolment
from sidms.changes.batches import ImportRefused, batch_apply_import, batch_decide, batch_execute
from sidms.changes.models import Revision
from sidms.lib.money import yuan

pytestmark = pytest.mark.django_db


def import_rows(importers: Any, entity: str, rows: list[dict[str, Any]], *, legacy: bool = False) -> Any:
    operator, approver = importers
    batch = batch_apply_import(actor=operator, entity=entity, rows=rows, reason="单位申报文件", legacy=legacy)
    batch_decide(actor=approver, batch_id=batch.pk, approve=True)
    return batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: rows)


@pytest.mark.req("R6.2")
@pytest.mark.req("R5")
def test_an_imported_base_declaration_must_carry_the_clamped_base(
    insured: dict[str, Any], importers: Any
) -> None:
    employee, unit = insured["employee"], insured["unit"]
    limits = calc.limits_for(2026)
    # A wage below the floor declared with itself as the base: the window refuses it, and so does the file.
    low = {"person_id": str(employee.pk), "unit_id": str(unit.pk), "year": "2026", "declared_wage": "1000.00",
           "base": "1000.00"}  # fmt: skip
    good = {**low, "person_id": str(insured["flexible"].pk), "unit_id": "", "base": f"{limits.floor:.2f}"}
    with translation.override("zh-hans"), pytest.raises(ImportRefused) as refused:
        import_rows(importers, "base_declaration", [good, low])
    assert list(refused.value.rows) == [2]
    [error] = refused.value.rows[2].values()
    assert error.code == "base_not_clamped" and f"：{yuan(limits.floor)}。" in error.localized()
    assert not BaseDeclaration.objects.filter(year="2026").exists()  # nothing of the file is stored
    import_rows(importers, "base_declaration", [good, {**low, "base": f"{limits.floor:.2f}"}])
    assert BaseDeclaration.objects.filter(year="2026").count() == 2


@pytest.mark.req("R6.2")
@pytest.mark.req("R5")
def test_imported_deaths_and_enrolments_obey_the_entry_rules(insured: dict[str, Any], importers: Any) -> None:
    person = insured["flexible"]  # born 5 May 1985, enrolled in pension only
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    future = {"person_id": str(person.pk), "date_of_death": tomorrow, "source": "民政殡葬信息"}
    with pytest.raises(ImportRefused) as refused:
        import_rows(importers, "death", [future])
    assert [e.code for e in refused.value.rows[1].values()] == ["death_in_future"]
    before_birth = {**future, "date_of_death": "1985-05-04"}
    with pytest.raises(ImportRefused):
        import_rows(importers, "death", [before_birth])
    import_rows(importers, "death", [{**future, "date_of_death": "2025-06-30"}])
    assert Death.objects.get(person=person).date_of_death.isoformat() == "2025-06-30"
    # An enrolment that begins after the death is refused in a file as at the window.
    late = {"person_id": str(person.pk), "insurance": "390", "kind": "resident", "status": "paying",
            "start_date": "2025-09-01"}  # fmt: skip
    with pytest.raises(ImportRefused) as refused:
        import_rows(importers, "person_enrolment", [late])
    assert [e.code for e in refused.value.rows[1].values()] == ["after_death"]
    # A legacy migration (存量数据迁移) stores it as found and notes the rule it breaks.
    done = import_rows(importers, "person_enrolment", [late], legacy=True)
    revision = Revision.objects.get(pk=done.first_revision)
    assert PersonEnrolment.objects.filter(person=person, insurance="390").exists()
    assert revision.notes == {"nonconforming": {"*": "after_death"}}


@pytest.mark.req("R6.2")
@pytest.mark.req("R5")
def test_the_rows_of_one_file_are_held_against_each_other(
    insured: dict[str, Any], importers: Any, make_person: Any
) -> None:
    """Two active enrolments of one person in mutually exclusive schemes, or one death twice, in the same
    file: the entry checks read only what is stored, so the later row is refused by the file's own rule."""
    from tests.changes.conftest import id_number

    person = make_person(id_number=id_number("37100219900101011"), name="钱两全", birth_date="1990-01-01")
    employee_pension = {"person_id": str(person.pk), "insurance": "110", "kind": "flexible", "status": "paying",
                        "start_date": "2024-01-01"}  # fmt: skip
    resident_pension = {**employee_pension, "insurance": "120", "kind": "resident"}
    medical = {**employee_pension, "insurance": "390", "kind": "resident"}  # another group: no clash
    with translation.override("zh-hans"), pytest.raises(ImportRefused) as refused:
        import_rows(importers, "person_enrolment", [employee_pension, medical, resident_pension])
    assert list(refused.value.rows) == [3]
    [error] = refused.value.rows[3].values()
    assert error.code == "exclusive_scheme" and "第 1 行" in error.localized()
    assert not PersonEnrolment.objects.filter(person=person).exists()
    import_rows(
        importers,
        "person_enrolment",
        [employee_pension, medical, {**resident_pension, "status": "terminated"}],
    )
    assert PersonEnrolment.objects.filter(person=person).count() == 3

    death = {"person_id": str(person.pk), "date_of_death": "2025-06-30", "source": "民政殡葬信息"}
    with pytest.raises(ImportRefused) as refused:  # not the database's unique constraint at the INSERT
        import_rows(importers, "death", [death, {**death, "date_of_death": "2025-07-01"}])
    assert [e.code for e in refused.value.rows[2].values()] == ["death_twice"]
    assert not Death.objects.filter(person=person).exists()
