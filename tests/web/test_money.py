"""Money on the staff pages (notes/ux-conventions.md): ¥1,234.56 with two decimals, -¥1,234.56 when
negative, through one formatter (sidms.web.display.money) that the declarations' money fields and the
``money`` template filter share."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template

from sidms.core.declare import Declaration
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
