"""One door for writes (principle 1, R9.2): governed rows change only through the change pipeline.

Two nets. At run time, every ORM write path of a governed model outside `sidms.changes` raises
`UngovernedWrite`. At review time, a scan of the source refuses code that calls a write method on a
governed model class by name. The scan is deliberately simple: it catches `Person.objects.create(...)`,
`Unit.objects.filter(...).update(...)` and the like, not a write through a variable holding an instance or
a queryset (`person.save()`); those are what the run-time guard is for. Raw SQL is caught neither here
nor there but by the live-row digests that `sidms audit verify` checks (principle 4).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import models

import sidms
from sidms.archives.services import archive_upload
from sidms.core.governed import UngovernedWrite, pipeline_writes
from sidms.core.kernel import ENTITIES
from sidms.registry.models import Agency
from tests.archives.conftest import noise
from tests.changes.conftest import WANG_ID

pytestmark = pytest.mark.django_db

# Every governed model, from the kernel's registry (built from the models' declarations).
GOVERNED: dict[str, type[models.Model]] = {spec.model.__name__: spec.model for spec in ENTITIES.values()}


def harmless(model: type[models.Model]) -> tuple[str, object]:
    """A field to write and a plausible value: the first date or text field the entity governs."""
    spec = next(spec for spec in ENTITIES.values() if spec.model is model)
    for name in spec.fields:
        field = spec.field(name)
        if name == spec.label_field or field.is_relation or spec.encrypted(name) or field.choices:
            continue
        if isinstance(field, models.DateField):
            return name, date(2021, 1, 1)
        if isinstance(field, models.CharField):
            return name, "改名"
    raise AssertionError(f"{model.__name__} has no plain field to write")


@pytest.fixture
def stored(
    load: Callable[..., list[Any]],
    make_person: Callable[..., Any],
    make_unit: Callable[..., Any],
    make_staff: Callable[..., Any],
    importers: tuple[Any, Any],
) -> dict[str, Any]:
    """One stored row of every governed model, each written through an approved import."""
    person = make_person(id_number=WANG_ID, name="王建国")
    unit = make_unit(unit_no="U0001", name="威海海韵食品有限公司", district="371002")
    (employment,) = load(
        "employment", [{"person_id": person.pk, "unit_id": unit.pk, "start_date": "2020-01-01"}]
    )
    (institution,) = load(
        "service_institution",
        [
            {
                "code": "SI0001",
                "name": "威海市立医院",
                "kind": "medical",
                "district_id": "371002",
                "status": "active",
            }
        ],
    )
    (agency,) = load(
        "agency",
        [{"code": "AG371002", "name": "环翠区社保中心", "level": "district", "district_id": "371002"}],
    )
    clerk = make_staff("clerk_guard", posts=("window_clerk",), district="371002")
    item = archive_upload(
        actor=clerk, target_kind="person", target=person, doc_type="id_copy", data=noise("PNG")
    )
    # Business data (issue 8): enrolments, a base, a death, an entitlement, and a ledger entry written by a
    # pension run (ledger facts are written only by runs).
    (unit_enrolment,) = load(
        "unit_enrolment",
        [{"unit_id": unit.pk, "insurance": "110", "status": "paying", "start_date": "2020-01-01"}],
    )
    (person_enrolment,) = load(
        "person_enrolment",
        [{"person_id": person.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
          "status": "paying", "start_date": "2020-01-01"}],
    )  # fmt: skip
    (declaration,) = load(
        "base_declaration",
        [{"person_id": person.pk, "unit_id": unit.pk, "year": "2020", "declared_wage": "5000.00",
          "base": "5000.00"}],
    )  # fmt: skip
    (entitlement,) = load(
        "entitlement",
        [{"person_id": person.pk, "kind": "pension", "start_date": "2025-01-01", "monthly_amount": "3000.00",
          "status": "active", "certified_on": "2025-01-01"}],
    )  # fmt: skip
    (death,) = load("death", [{"person_id": person.pk, "date_of_death": "2026-01-05", "source": "公安"}])
    (delegated,) = load(
        "delegated_query",
        [{"person_id": person.pk, "delegate_name": "王丽娜", "delegate_id_number": "11010519491231002X",
          "purpose": "缴费证明", "valid_until": (date.today() + timedelta(days=30)).isoformat()}],
    )  # fmt: skip
    from sidms.business.ledger import run_through
    from sidms.business.models import LedgerEntry

    run_through(*importers, "pension", "2025-03")
    rows = {
        "ArchiveItem": item,
        "Person": person,
        "Unit": unit,
        "Employment": employment,
        "ServiceInstitution": institution,
        "Agency": agency,
        "UnitEnrolment": unit_enrolment,
        "PersonEnrolment": person_enrolment,
        "BaseDeclaration": declaration,
        "Entitlement": entitlement,
        "Death": death,
        "DelegatedQuery": delegated,
        "LedgerEntry": LedgerEntry.objects.get(),
    }
    # A new governed entity must be stored here too, so that the guard is tried on it.
    assert set(rows) == set(GOVERNED), f"add a stored row of {sorted(set(GOVERNED) - set(rows))}"
    return rows


def writes(model: type[models.Model], row: Any) -> Iterator[tuple[str, Callable[[], object]]]:
    name, value = harmless(model)

    def save() -> None:
        setattr(row, name, value)
        row.save()

    def bulk_update() -> None:
        setattr(row, name, value)
        model.objects.bulk_update([row], [name])  # type: ignore[attr-defined]

    manager = model.objects  # type: ignore[attr-defined]
    yield "save()", save
    yield "save(update_fields)", lambda: row.save(update_fields=[name])
    yield "objects.create()", lambda: manager.create(**{name: value})
    yield "objects.get_or_create()", lambda: manager.get_or_create(**{name: value})
    yield "objects.update_or_create()", lambda: manager.update_or_create(pk=row.pk, defaults={name: value})
    yield "QuerySet.update()", lambda: manager.filter(pk=row.pk).update(**{name: value})
    yield "objects.update()", lambda: manager.update(**{name: value})
    yield "QuerySet.delete()", lambda: manager.filter(pk=row.pk).delete()
    yield "instance.delete()", lambda: row.delete()
    yield "bulk_create()", lambda: manager.bulk_create([model(**{name: value})])
    yield "bulk_update()", bulk_update


@pytest.mark.req("R9.2")
@pytest.mark.parametrize("model_name", list(GOVERNED))
def test_every_orm_write_of_a_governed_model_outside_the_pipeline_is_refused(stored, model_name) -> None:  # type: ignore[no-untyped-def]
    model = GOVERNED[model_name]
    row = stored[model_name]
    before = (model.objects.count(), model.objects.get(pk=row.pk).row_digest)  # type: ignore[attr-defined]

    for what, write in writes(model, model.objects.get(pk=row.pk)):  # type: ignore[attr-defined]
        with pytest.raises(UngovernedWrite, match="one door for writes"):
            write()
        assert (model.objects.count(), model.objects.get(pk=row.pk).row_digest) == before, what  # type: ignore[attr-defined]


@pytest.mark.req("R9.2")
def test_writes_through_a_related_manager_are_refused_too(stored) -> None:  # type: ignore[no-untyped-def]
    person, unit = stored["Person"], stored["Unit"]
    with pytest.raises(UngovernedWrite):
        unit.employments.update(end_date=date(2025, 12, 31))
    with pytest.raises(UngovernedWrite):
        person.employments.all().delete()
    assert unit.employments.get().end_date is None


@pytest.mark.req("R9.2")
def test_the_guard_is_lifted_only_inside_the_pipelines_own_block(stored) -> None:  # type: ignore[no-untyped-def]
    # The pipeline's block is what makes a write legitimate; it ends with the block.
    agency = Agency.objects.get(pk=stored["Agency"].pk)
    with pipeline_writes():
        Agency.objects.filter(pk=agency.pk).update(name="改名中心")
    assert Agency.objects.get(pk=agency.pk).name == "改名中心"
    with pytest.raises(UngovernedWrite):
        Agency.objects.filter(pk=agency.pk).update(name="再改名")


# --------------------------------------------------------------------------------------------------------
# The source scan

SOURCE = Path(sidms.__file__).parent
PIPELINE = SOURCE / "changes"
WRITE_METHODS = frozenset(
    {"save", "create", "get_or_create", "update_or_create", "update", "delete", "bulk_create", "bulk_update"}
)


def _root_name(node: ast.expr) -> str | None:
    """The name at the start of a chain such as `Person.objects.filter(...).select_related(...)`."""
    while True:
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def direct_writes(source: str, filename: str = "<source>") -> list[str]:
    """`file:line Model.method` for every call of a write method on a chain rooted at a governed class."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRITE_METHODS
        ):
            root = _root_name(node.func.value)
            if root in GOVERNED:
                found.append(f"{filename}:{node.lineno} {root}….{node.func.attr}()")
    return found


@pytest.mark.req("R9.2")
def test_the_scan_recognises_direct_writes_and_leaves_reads_alone() -> None:
    source = """
Person.objects.create(name="x")
Unit.objects.filter(district_id="371002").exclude(status="closed").update(status="closed")
Agency.objects.all()[0].delete()
Employment.objects.bulk_create(rows)
ServiceInstitution(name="y").save()
Person.objects.filter(name="x").count()
cache.update({"Person": 1})
"""
    assert [line.split(" ", 1)[1] for line in direct_writes(source)] == [
        "Person….create()", "Unit….update()", "Agency….delete()", "Employment….bulk_create()",
        "ServiceInstitution….save()",
    ]  # fmt: skip


@pytest.mark.req("R9.2")
def test_no_code_outside_the_pipeline_writes_a_governed_model_directly() -> None:
    offenders = []
    scanned = 0
    for path in sorted(SOURCE.rglob("*.py")):
        if PIPELINE in path.parents:
            continue
        scanned += 1
        offenders += direct_writes(path.read_text(encoding="utf-8"), str(path.relative_to(SOURCE.parent)))
    assert scanned > 20  # the scan really looked at the code base
    assert offenders == [], "write through sidms.changes.services instead:\n" + "\n".join(offenders)
