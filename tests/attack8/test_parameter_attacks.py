"""Attack round 8 on the parameters (R2.3, R9.1): a city-level administrator's proposal that the second
administrator cannot confirm, or that writes a version no one reads.

The proposal checked the value, the reason and the source, but not the region nor the lengths: a region
``3710021`` or ``ABC`` and a source of 600 characters were held for confirmation; on PostgreSQL the
confirmation was then a server error (the version's columns hold 6 and 500 characters), and on SQLite a
version for a region that is no district of the city was written and never read."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sidms.business.models import ParameterVersion
from sidms.business.parameters import parameter_propose, value_at
from sidms.changes.services import review_decide
from sidms.core.errors import ChangeRefused

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.3"), pytest.mark.req("R9.1")]


def _propose(admin: Any, **changed: Any) -> Any:
    values: dict[str, Any] = {
        "key": "late_fee.daily_rate", "value": "0.0004", "region": "", "effective_from": date(2026, 1, 1),
        "source": "威海市人社局通知（测试）", "reason": "测试",
    }  # fmt: skip
    return parameter_propose(actor=admin, **{**values, **changed})


@pytest.mark.parametrize(
    "changed",
    [
        {"region": "3710021"},
        {"region": "ABC"},
        {"region": "999999"},
        {"region": "370000"},
        {"source": "国" * 501},
        {"reason": "因" * 501},
    ],
    ids=["seven-digits", "letters", "no-region", "not-a-district", "long-source", "long-reason"],
)
def test_a_proposal_the_version_cannot_hold_is_refused_at_once(
    city_admin: Any, changed: dict[str, Any]
) -> None:
    before = ParameterVersion.objects.count()
    with pytest.raises(ChangeRefused):
        _propose(city_admin, **changed)
    assert ParameterVersion.objects.count() == before


def test_a_districts_own_value_is_proposed_confirmed_and_read(city_admin: Any, second_admin: Any) -> None:
    held = _propose(city_admin, region="371083", source="国" * 500)
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
    assert str(value_at("late_fee.daily_rate", date(2026, 2, 1), "371083")) == "0.0004"
    assert str(value_at("late_fee.daily_rate", date(2026, 2, 1), "371002")) != "0.0004"


@pytest.mark.req("R20")
@pytest.mark.parametrize("key", ["rounding.amount", "rounding.base_limit"])
def test_a_rounding_finer_than_the_fen_is_refused(city_admin: Any, key: str) -> None:
    """Accepted, a rule to the li (0.001) gave amounts such as 979.752 that the ledger stores as 979.75, and
    ``sidms audit verify`` named the next assessment's entries as altered outside the system."""
    li = {"precision": "0.001", "mode": "ROUND_HALF_UP", "discard_below": None}
    with pytest.raises(ChangeRefused) as refused:
        _propose(city_admin, key=key, value=li)
    assert refused.value.code == "parameter_value"
    yuan = {"precision": "1", "mode": "ROUND_HALF_UP", "discard_below": "0.1"}
    assert _propose(city_admin, key=key, value=yuan).pk


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("enrolment.exclusive_groups", "110,120,170"),  # read letter by letter: no group of two schemes left
        ("enrolment.exclusive_groups", [["110", "120"], "310"]),
        ("declaration.deadline", {"month": 13, "day": 40}),
        ("declaration.deadline", {"month": 2, "day": 30}),
        ("work_injury.base_rates", {"1": "2.5"}),  # 250 % of the base
    ],
    ids=["groups-as-text", "group-as-text", "month-13", "feb-30", "rate-above-one"],
)
def test_a_value_of_the_wrong_shape_is_refused(city_admin: Any, key: str, value: Any) -> None:
    with pytest.raises(ChangeRefused) as refused:
        _propose(city_admin, key=key, value=value)
    assert refused.value.code == "parameter_value"


def test_a_value_nested_past_the_parsers_depth_is_refused_on_the_page(
    city_admin: Any, signed_in: Any
) -> None:
    """json.loads raises RecursionError, not ValueError, for 100,000 opening brackets: a server error."""
    before = ParameterVersion.objects.count()
    response = signed_in(city_admin).post(
        "/business/parameters/late_fee.daily_rate/",
        {"value": "[" * 100_000, "effective_from": "2026-01-01", "source": "测试", "reason": "测试"},
    )
    assert response.status_code == 200 and ParameterVersion.objects.count() == before
