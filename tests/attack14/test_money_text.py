"""Attack round 14: an amount of 10²⁶ yuan or more, or one written with an exponent past that, was a server
error wherever a page showed it as money.

lib.money.yuan (this session's one formatter) promises that a value that is no amount is shown as it is,
never an error; but it rounded to the fen under Decimal's default 28 digits, which raises InvalidOperation
for any amount of 27 digits before the point. A parameter typed as money takes any finite non-negative
decimal: a city-level administrator's proposal of 月最低工资标准 = 1e30 made its review page a server error
for the second administrator who was to refuse it. Fixed: the rounding is done in a context wide enough for
the figure, so such an amount reads in full (¥1,000,…,000.00) and the proposal can be read and refused."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sidms.business.parameters import parameter_propose
from sidms.lib.money import yuan, yuan_exact

pytestmark = [pytest.mark.req("R2.3")]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1e30", "¥1,000,000,000,000,000,000,000,000,000,000.00"),
        ("-1E+26", "-¥100,000,000,000,000,000,000,000,000.00"),
        ("123456789012345678901234567.891", "¥123,456,789,012,345,678,901,234,567.89"),
        ("7180", "¥7,180.00"),
    ],
)
def test_an_amount_of_any_size_reads_as_yuan(value: str, shown: str) -> None:
    assert yuan(value) == shown
    assert yuan_exact(value).startswith(shown.removesuffix(".00").removesuffix(".89"))


@pytest.mark.django_db
def test_a_huge_money_parameter_proposed_can_be_read_by_whoever_is_to_refuse_it(
    city_admin: Any, second_admin: Any, signed_in: Any
) -> None:
    held = parameter_propose(actor=city_admin, key="wage.minimum_monthly", value="1e30",
                             effective_from=date(2026, 1, 1), source="威海市人社局通知（测试）", reason="测试")  # fmt: skip
    page = signed_in(second_admin).get(f"/queues/review/{held.pk}/")
    assert page.status_code == 200
    assert "¥1,000,000,000,000,000,000,000,000,000,000.00" in page.content.decode()


def test_a_figure_of_more_than_a_hundred_digits_is_shown_as_it_is() -> None:
    """A few characters that would print a million digits are no amount: shown as typed."""
    assert yuan("1e999999") == "1e999999"
