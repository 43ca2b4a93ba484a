"""Attacks on one unit per 统一社会信用代码 (registry.Unit's declared and database unique credit code)."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.registry.models import Unit
from tests.audit.test_tampering import _raw, broken_at
from tests.conftest import credit_code_for

pytestmark = [pytest.mark.django_db]

CODE = credit_code_for("攻击七")


@pytest.mark.req("R20")
@pytest.mark.req("R7.3")
@pytest.mark.xfail(
    strict=True,
    reason="credit_code_duplicate is outside the row digest (kernel.state_of covers the declared fields only) "
    "and verify reads nothing else of the row; covering it changes the digest of flagged rows (legacy "
    "imports, migration 0008), which needs a re-digest migration: not done within this attack's time",
)
def test_the_legacy_duplicate_flag_flipped_in_sql_is_named_by_verify(make_unit: Any) -> None:
    """credit_code_duplicate takes a unit out of the database's unique key (and marks it a duplicate for the
    quality work): a stored column that decides, so a flip in SQL is evidence verify must name (issue 7)."""
    unit = make_unit(unit_no="U371002701", name="威海攻击七有限公司", district="371002", credit_code=CODE)
    _raw("UPDATE registry_unit SET credit_code_duplicate = %s WHERE id = %s", [True, unit.pk])
    assert Unit.objects.get(pk=unit.pk).credit_code_duplicate
    problem = broken_at()
    assert unit.unit_no in problem.where or str(unit.pk) in problem.where, problem
