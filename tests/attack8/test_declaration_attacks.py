"""Attack round 8 on the yearly base declarations (缴费基数申报, issue 8 §3) at the window.

The entry rule read the year with ``int()`` and the limits with the parameters of that year: a year 0 was a
ValueError, a year 99, 0001 or +202 and any year before the seeded average wages (2015) a MissingParameter,
and a second declaration of the same person, unit and year an IntegrityError of the database's unique key —
all server errors of the window's form instead of a refusal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sidms.business.bases import declare_base
from sidms.business.models import BaseDeclaration
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused

pytestmark = [pytest.mark.django_db, pytest.mark.req("R6.1"), pytest.mark.req("R2.2")]


def _declare(clerk: Any, insured: dict[str, Any], year: str) -> Any:
    values = {"person_id": insured["employee"].pk, "unit_id": insured["unit"].pk, "year": year,
              "declared_wage": "5000.00", "base": "5000.00"}  # fmt: skip
    return submit_change(actor=clerk, channel=Channel.WINDOW, entity="base_declaration", values=values)


@pytest.mark.parametrize("year", ["0", "99", "0001", "+202", "2015"])
def test_a_year_without_limits_is_refused(insured: dict[str, Any], huancui_clerk: Any, year: str) -> None:
    before = BaseDeclaration.objects.count()
    with pytest.raises(ChangeRefused) as refused:
        _declare(huancui_clerk, insured, year)
    assert refused.value.code == "year"
    assert BaseDeclaration.objects.count() == before


def test_a_second_declaration_of_the_year_is_refused_not_a_database_error(
    insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    with pytest.raises(ChangeRefused) as refused:
        declare_base(actor=huancui_clerk, person=insured["employee"], unit=insured["unit"], year=2025,
                     wage=Decimal("7000"))  # fmt: skip
    assert refused.value.code == "declaration_twice"
    assert BaseDeclaration.objects.filter(person=insured["employee"], year="2025").count() == 1
    # Another year, or the same year at another unit, is declared.
    assert declare_base(actor=huancui_clerk, person=insured["employee"], unit=insured["unit"], year=2024,
                        wage=Decimal("7000")).record is not None  # fmt: skip
