"""The rows a run reads, checked against their history as they are read (sidms.changes.inputs), with their
digests computed by a forked worker beside the reader: the rows come back as read here, and a row forged in
SQL is named when the reader finishes, before anything it made of the rows could be committed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sidms.business.bases import declare_base
from sidms.business.models import BaseDeclaration
from sidms.changes.inputs import Condition, RunInputs, missing, positions
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import ENTITIES
from tests.audit.test_tampering import _raw
from tests.changes.conftest import id_number

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.req("R20"),
    pytest.mark.usefixtures("idle_threads_fork_safe"),
]

YEAR = [Condition("year", "=", "2025")]


@pytest.fixture
def declared(make_person: Any, huancui_clerk: Any) -> list[BaseDeclaration]:
    """Seven flexible workers' 2025 declarations, through the pipeline."""
    for n in range(7):
        person = make_person(
            id_number=id_number(f"37100219800201{2 * n + 11:03d}"),
            name="灵活" + "甲乙丙丁戊己庚"[n],
            birth_date="1980-02-01",
        )
        declare_base(actor=huancui_clerk, person=person, year=2025, wage=Decimal(5000 + n))
    return list(BaseDeclaration.objects.filter(year="2025").order_by("pk"))


def _read(workers: int) -> list[tuple[Any, ...]]:
    with RunInputs("test", workers=workers, chunk=2) as inputs:
        rows = list(inputs.read("base_declaration", YEAR))
        inputs.finish()
    return rows


def test_a_worker_gives_the_rows_as_read_here(declared: list[BaseDeclaration]) -> None:
    base = positions("base_declaration")["base"]
    here, beside = _read(0), _read(1)
    assert here == beside
    assert [row[0] for row in beside] == [d.pk for d in declared]
    assert [row[base] for row in beside] == [d.base for d in declared]


def test_a_row_forged_in_sql_is_named_when_the_reader_finishes(declared: list[BaseDeclaration]) -> None:
    forged = declared[4]
    _raw("UPDATE business_basedeclaration SET base = '3000.00' WHERE id = %s", [forged.pk])
    with RunInputs("test", workers=1, chunk=2) as inputs:
        rows = list(inputs.read("base_declaration", YEAR))  # read in full: the worker's verdicts wait
        assert len(rows) == len(declared)
        with pytest.raises(IntegrityAlert) as alert:
            inputs.finish()
    assert alert.value.audit_event is not None
    assert alert.value.audit_event["detail"] == {"reason": "digest", "record_id": forged.pk}


def test_without_a_worker_a_forged_row_is_named_at_once(declared: list[BaseDeclaration]) -> None:
    forged = declared[1]
    _raw("UPDATE business_basedeclaration SET declared_wage = '1.00' WHERE id = %s", [forged.pk])
    with RunInputs("test", workers=0, chunk=2) as inputs:
        read = inputs.read("base_declaration", YEAR)
        with pytest.raises(IntegrityAlert):
            for _row in read:
                pass


def test_a_missing_record_is_named_before_any_row(declared: list[BaseDeclaration]) -> None:
    gone = declared[6]
    _raw("DELETE FROM business_basedeclaration WHERE id = %s", [gone.pk])
    assert missing(ENTITIES["base_declaration"], YEAR) == gone.pk
    with RunInputs("test", workers=1, chunk=2) as inputs, pytest.raises(IntegrityAlert) as alert:
        next(inputs.read("base_declaration", YEAR))
    assert alert.value.audit_event is not None
    assert alert.value.audit_event["detail"] == {"reason": "missing", "record_id": gone.pk}


def test_an_empty_selection_still_names_a_missing_record(declared: list[BaseDeclaration]) -> None:
    _raw("UPDATE business_basedeclaration SET year = '2031'")
    with RunInputs("test", workers=0) as inputs, pytest.raises(IntegrityAlert):
        list(inputs.read("base_declaration", YEAR))


def test_a_reader_failing_on_a_forged_value_fails_with_its_alert(declared: list[BaseDeclaration]) -> None:
    """The worker's verdict comes after the reader has used the rows: a base no pipeline writes fails the
    reader first, and the alert naming the row replaces that failure."""
    forged = declared[3]
    _raw("UPDATE business_basedeclaration SET base = 'abc' WHERE id = %s", [forged.pk])
    base = positions("base_declaration")["base"]
    with pytest.raises(IntegrityAlert) as alert, RunInputs("test", workers=1, chunk=2) as inputs:
        for row in inputs.read("base_declaration", YEAR):
            Decimal(row[base])
    assert alert.value.audit_event is not None
    assert alert.value.audit_event["detail"] == {"reason": "digest", "record_id": forged.pk}
    assert alert.value.__context__ is not None  # the reader's own failure, kept as its context
