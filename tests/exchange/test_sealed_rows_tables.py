"""Sealed rows cleaned under other code tables or divisions than those in force (a migration changed a code
between the dry run and its execution) are validated again, as under other rules: the rules digest covers a
fingerprint of the code tables and divisions the validators read (parameters.codes.tables_fingerprint)."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.changes.batches import ImportRefused, rules_digest
from sidms.changes.services import rules_in_force
from sidms.exchange import imports
from sidms.parameters.codes import clear_caches, tables_fingerprint
from sidms.parameters.models import CodeItem, Region
from sidms.registry.models import Person
from tests.exchange.test_sealed_rows import applied, people

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]


def _changed(change: Any) -> None:
    """Change the tables as a data migration does (through the ORM), then drop the per-process caches of
    them, as the processes' restart after the migration does."""
    change()
    clear_caches()


@pytest.mark.req("R5")
def test_the_rules_digest_covers_the_code_tables_and_divisions() -> None:
    rules = rules_in_force("person")
    before = rules_digest(rules)
    assert rules_digest(rules) == before
    assert rules_digest(rules, tables="a") != rules_digest(rules, tables="b")
    tables = tables_fingerprint()
    _changed(lambda: CodeItem.objects.filter(table="person_category", code="retiree").update(code="retired"))
    assert tables_fingerprint() != tables
    assert rules_digest(rules) != before
    tables = tables_fingerprint()
    _changed(lambda: Region.objects.filter(code="371083").update(is_district=False))
    assert tables_fingerprint() != tables


@pytest.mark.req("R5")
def test_a_code_table_changed_since_the_dry_run_validates_the_rows_again(importers: tuple[Any, Any]) -> None:
    imported = applied(importers, people(81))
    # 在职职工 (employee), the category of every row, is given another code: the rows' code is no longer one.
    _changed(
        lambda: CodeItem.objects.filter(table="person_category", code="employee").update(code="in_service")
    )
    with pytest.raises(ImportRefused) as refused:
        imports.execute_import(actor=importers[0], batch_id=imported.batch_id)
    assert sorted(refused.value.rows) == [1, 2, 3]
    assert all("category" in errors for errors in refused.value.rows.values())
    assert Person.objects.count() == 0
