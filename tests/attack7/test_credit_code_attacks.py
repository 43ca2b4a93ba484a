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
def test_the_legacy_duplicate_flag_flipped_in_sql_is_named_by_verify(make_unit: Any) -> None:
    """credit_code_duplicate takes a unit out of the database's unique key (and marks it a duplicate for the
    quality work): a stored column that decides, so a flip in SQL is evidence verify must name (issue 7)."""
    unit = make_unit(unit_no="U371002701", name="威海攻击七有限公司", district="371002", credit_code=CODE)
    _raw("UPDATE registry_unit SET credit_code_duplicate = %s WHERE id = %s", [True, unit.pk])
    assert Unit.objects.get(pk=unit.pk).credit_code_duplicate
    problem = broken_at()
    assert unit.unit_no in problem.where or str(unit.pk) in problem.where, problem


@pytest.mark.req("R20")
@pytest.mark.req("R14")
def test_the_legacy_duplicate_flag_cleared_in_sql_is_named_by_verify_and_refused_by_the_pipeline(
    load: Any, importers: Any
) -> None:
    """The other way: a kept duplicate whose code no other unit holds any more (the first unit was given its
    own) can lose its flag in SQL without the unique key objecting; the quality work would no longer see it
    as a duplicate. Evidence all the same."""
    from sidms.changes.models import Channel, Method
    from sidms.changes.services import apply_values
    from sidms.core.errors import IntegrityAlert
    from sidms.core.kernel import spec_for

    row = {"unit_type": "enterprise", "district_id": "371002", "status": "active", "credit_code": CODE}
    first, kept = load(
        "unit",
        [{**row, "unit_no": "U371002721", "name": "威海原有有限公司"},
         {**row, "unit_no": "U371002722", "name": "威海原有有限责任公司"}],
        legacy=True,
    )  # fmt: skip
    assert Unit.objects.get(pk=kept.pk).credit_code_duplicate
    # The first unit is given a code of its own, as an approved review applies it.
    apply_values(
        spec_for("unit"), Unit.objects.get(pk=first.pk), {"credit_code": credit_code_for("攻击七之二")},
        actor=importers[1], channel=Channel.WINDOW, method=Method.REVIEW,
    )  # fmt: skip
    _raw("UPDATE registry_unit SET credit_code_duplicate = %s WHERE id = %s", [False, kept.pk])
    assert not Unit.objects.get(pk=kept.pk).credit_code_duplicate  # the unique key let it through
    problem = broken_at()
    assert kept.unit_no in problem.where or str(kept.pk) in problem.where, problem
    with pytest.raises(IntegrityAlert):
        apply_values(
            spec_for("unit"), Unit.objects.get(pk=kept.pk), {"address": "统一路3号"},
            actor=importers[1], channel=Channel.WINDOW, method=Method.DIRECT,
        )  # fmt: skip


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.req("B3")
@pytest.mark.req("R14")
@pytest.mark.parametrize(
    "variant",
    [CODE.lower(), f" {CODE} ", _fullwidth(CODE), CODE[:-1] + _fullwidth(CODE[-1]), f"{CODE}\u00a0"],
    ids=["lower", "spaces", "fullwidth", "fullwidth-last", "nbsp"],
)
def test_a_legacy_row_spelling_a_registered_code_otherwise_is_kept_flagged_not_as_a_new_code(
    load: Any, variant: str
) -> None:
    """A legacy migration keeps what it finds, but a registered code written in lower case, with spaces or in
    full-width characters is the same 统一社会信用代码: kept flagged as a duplicate (or refused), never stored
    as a code of its own outside the quality work's sight."""
    row = {"unit_type": "enterprise", "district_id": "371002", "status": "active"}
    (first,) = load(
        "unit", [{**row, "unit_no": "U371002711", "name": "威海原有有限公司", "credit_code": CODE}]
    )
    try:
        (kept,) = load("unit", [{**row, "unit_no": "U371002712", "name": "威海变体有限公司", "credit_code": variant}],
                       legacy=True)  # fmt: skip
    except Exception:
        assert not Unit.objects.filter(unit_no="U371002712").exists()
        return
    kept = Unit.objects.get(pk=kept.pk)
    assert kept.credit_code_duplicate, (kept.credit_code, variant)
    assert not Unit.objects.get(pk=first.pk).credit_code_duplicate
    if variant.strip().isascii():  # a value its rule accepts is stored as the rule writes it
        assert kept.credit_code == CODE
