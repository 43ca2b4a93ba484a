"""The demo's documented anomaly unit_name_variant (docs/demo-data.md: the same 统一社会信用代码 registered
again under another spelling, with a new 单位编号) still loads now that a credit code is one unit's (R7.3):
the demo's legacy migration keeps it as found, flags it against the database's unique key and notes the
duplicate in its revision, so that the quality work (R14) finds it by the credit code or by the note."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count

from sidms.changes.models import Revision
from sidms.demo.generate import generate_units
from sidms.demo.loader import _unit
from sidms.registry.models import Unit

pytestmark = [pytest.mark.django_db, pytest.mark.req("R14"), pytest.mark.req("R7.3"), pytest.mark.req("B3")]


def test_a_generated_name_variant_loads_beside_its_original_flagged_and_noted(load: Any) -> None:
    units = generate_units(count=600)  # the first count with a variant (the demo's share is 0.5 %)
    variant = next(u for u in units if "unit_name_variant" in u.anomalies)
    group = [u for u in units if u.credit_code == variant.credit_code]
    assert len(group) == 2 and group[-1] is variant and variant.name != group[0].name

    stored = load("unit", [_unit(u) for u in group], legacy=True)  # the demo loader's conversion and batch

    assert [u.unit_no for u in stored] == [u.unit_no for u in group]
    flags = {u.unit_no: u.credit_code_duplicate for u in Unit.objects.all()}
    assert flags == {group[0].unit_no: False, variant.unit_no: True}
    noted = Revision.objects.filter(entity="unit", notes__nonconforming__credit_code="duplicate")
    assert list(noted.values_list("record_id", flat=True)) == [stored[1].pk]
    # What the quality work groups by (docs/demo-data.md) finds the pair.
    groups = Unit.objects.values("credit_code").annotate(n=Count("id")).filter(n__gt=1)
    assert list(groups) == [{"credit_code": variant.credit_code, "n": 2}]
