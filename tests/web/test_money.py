"""Money on the staff pages (notes/ux-conventions.md): ¥1,234.56 with two decimals, -¥1,234.56 when
negative, through one formatter (sidms.web.display.money) that the declarations' money fields and the
``money`` template filter share."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template

from sidms.core.declare import Declaration
from sidms.lib import benefits as lb
from sidms.lib.money import yuan_exact
from sidms.web.display import money

pytestmark = pytest.mark.req("R10")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("7180.00"), "¥7,180.00"),
        ("7180", "¥7,180.00"),
        (Decimal("1234567.5"), "¥1,234,567.50"),
        (Decimal("-1234.56"), "-¥1,234.56"),
        ("-0.004", "¥0.00"),  # no minus before a nought
        (Decimal("979.755"), "¥979.76"),  # to the fen, half up
        (0, "¥0.00"),
        (None, "—"),
        ("", "—"),
        ("abc", "abc"),  # not an amount: shown as it is, never a server error
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
    ],
)
def test_an_amount_reads_as_yuan_with_thousands_and_two_decimals(value: object, shown: str) -> None:
    assert money(value) == shown


def test_the_template_filter_is_the_same_formatter() -> None:
    rendered = Template("{% load sidms %}{{ a|money }} {{ b|money }}").render(
        Context({"a": Decimal("-7180"), "b": "12345.6"})
    )
    assert rendered == "-¥7,180.00 ¥12,345.60"


def test_a_declaration_names_as_money_only_fields_it_governs() -> None:
    with pytest.raises(ValueError, match="money"):
        Declaration(entity="x", fields=("amount",), key="pk", district=None, money=("amonut",))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("7180"), "¥7,180.00"),
        (Decimal("2100.005"), "¥2,100.005"),  # what a figure carries beyond the fen stays in a computation
        (Decimal("-0.004"), "-¥0.004"),
        (Decimal("1234567.50"), "¥1,234,567.50"),
    ],
)
def test_a_computations_figures_read_as_yuan_without_losing_what_they_carry(
    value: Decimal, shown: str
) -> None:
    assert yuan_exact(value) == shown


def test_an_entitlements_basis_names_amounts_as_money_and_rates_as_they_are() -> None:
    """The basis (计算依据) a reviewer reads shows the amounts as the pages do; a ratio, months and days are
    not money."""
    cent = lb.Rounding(Decimal("0.01"))
    assert lb.unemployment_benefit(Decimal("2200"), Decimal("0.9"), cent).basis == (
        "最低工资标准 ¥2,200.00 × 0.9 = ¥1,980.00"
    )
    assert lb.maternity_allowance(Decimal("7180"), 98, Decimal("30"), cent).basis == (
        "单位上年度职工月平均工资 ¥7,180.00 ÷ 30 × 98 天 = ¥23,454.67"
    )
    assert lb.disability_allowance(4, Decimal("2500"), {4: Decimal("0.75")}, Decimal("2200"), cent).basis == (
        "4级伤残：本人工资 ¥2,500.00 × 0.75 = ¥1,875.00，低于最低工资标准，补足至 ¥2,200.00"
    )
    assert lb.disability_grant(10, Decimal("12345.6"), {10: 7}, cent).basis == (
        "10级伤残：本人工资 ¥12,345.60 × 7 个月 = ¥86,419.20"
    )
