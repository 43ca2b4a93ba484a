"""An amount of money as people read it (notes/ux-conventions.md): ¥7,180.00, thousands separated, two
decimals (half up, to the fen), -¥1,234.56 when negative. The one formatter: the staff pages (through
sidms.web.display.money and the ``money`` template filter) and the texts the domain writes for people to
read, such as an entitlement's basis (计算依据), call it. Exports and the PDF statement keep plain figures."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def yuan(value: Any, *, exact: bool = False) -> str:
    """VALUE (a Decimal, a number or its text) as ¥1,234.56; a value that is no amount (damaged, or a text
    typed before validation) is returned as it is, never an error. EXACT keeps what a figure carries beyond
    the fen (¥2,100.005), for a computation's record of its inputs, which rounds once at its end: shown to
    the fen, its figures would not add up."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return str(value)
    if not amount.is_finite():
        return str(value)
    cents = amount.quantize(CENT, ROUND_HALF_UP)
    shown = amount.normalize() if exact and cents != amount else cents
    return f"{'-' if shown < 0 else ''}¥{abs(shown):,f}"


def yuan_exact(value: Any) -> str:
    """:func:`yuan` with EXACT: a figure of a computation's record (an entitlement's basis)."""
    return yuan(value, exact=True)
