"""Yearly contribution bases (issue 8 §3): the declaration records the wage and the base clamped to the year's
limits, computed here by hand from the parameter table (国办发〔2019〕13号: 60 % and 300 % of the previous
year's provincial average wage, ÷ 12, to the yuan)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.utils import translation

from sidms.business.bases import declare_base
from sidms.business.models import BaseDeclaration
from sidms.business.parameters import value_at
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(make_person: Any) -> Any:
    return make_person(id_number=id_number("37100219900101001"), name="王建国", birth_date="1990-01-01")


def hand_limits(year: int) -> tuple[Decimal, Decimal]:
    day = date(year, 1, 1)
    wage = value_at("wage.provincial_average_annual", day)  # 65,383 yuan a year (Shandong 2018)
    floor = (wage * value_at("base.floor_ratio", day) / 12).quantize(Decimal(1), ROUND_HALF_UP)
    ceiling = (wage * value_at("base.ceiling_ratio", day) / 12).quantize(Decimal(1), ROUND_HALF_UP)
    return floor, ceiling


@pytest.mark.req("R2.2")
def test_a_base_below_the_floor_and_one_above_the_ceiling(huancui_clerk: Any, person: Any) -> None:
    floor, ceiling = hand_limits(2020)
    assert (floor, ceiling) == (Decimal("3269"), Decimal("16346"))  # 3,269.15 and 16,345.75 to the yuan
    low = declare_base(actor=huancui_clerk, person=person, year=2020, wage=Decimal("2500.00")).record
    stored = BaseDeclaration.objects.get(pk=low.pk)
    assert (stored.declared_wage, Decimal(stored.base)) == ("2500.00", floor)
    high = declare_base(actor=huancui_clerk, person=person, year=2021, wage=Decimal("20000")).record
    stored = BaseDeclaration.objects.get(pk=high.pk)
    assert (stored.declared_wage, Decimal(stored.base)) == ("20000.00", ceiling)
    within = declare_base(actor=huancui_clerk, person=person, year=2022, wage=Decimal("8000.50")).record
    assert BaseDeclaration.objects.get(pk=within.pk).base == "8000.50"


@pytest.mark.req("R6.1")
def test_a_base_that_is_not_the_clamped_wage_is_refused(huancui_clerk: Any, person: Any) -> None:
    with pytest.raises(ChangeRefused) as refused:
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="base_declaration",
            values={"person_id": person.pk, "year": "2020", "declared_wage": "2500.00", "base": "2500.00"},
        )  # fmt: skip
    assert refused.value.code == "base_not_clamped"


@pytest.mark.req("R6.1")
@pytest.mark.req("R2.2")
def test_a_unit_declares_bases_only_for_those_it_employs_that_year(
    insured: dict[str, Any], huancui_clerk: Any, make_unit: Any, make_employment: Any
) -> None:
    """A unit declares its own employees' bases (issue 8 §3): not a base at a unit the person never worked
    for, nor for a year before the employment there began or after it ended; a new hire of the year is
    declared for that year."""
    employee = insured["employee"]
    other = make_unit(unit_no="U3710020009", name="威海新港物流有限公司", district="371002")
    with pytest.raises(ChangeRefused) as refused, translation.override("zh-hans"):
        declare_base(actor=huancui_clerk, person=employee, unit=other, year=2025, wage=Decimal("6000"))
    with translation.override("zh-hans"):
        assert "就业" in str(refused.value) and "2025" in str(refused.value)
    make_employment(employee, other, "2025-11-03", end="2026-03-31")  # a second job, hired in November 2025
    for year in (2024, 2027):
        with pytest.raises(ChangeRefused):
            declare_base(actor=huancui_clerk, person=employee, unit=other, year=year, wage=Decimal("6000"))
    for year in (2025, 2026):
        declare_base(actor=huancui_clerk, person=employee, unit=other, year=year, wage=Decimal("6000"))
    assert BaseDeclaration.objects.filter(person=employee, unit=other).count() == 2
