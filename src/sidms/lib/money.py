"""An amount of money as people read it (notes/ux-conventions.md): ¥7,180.00, thousands separated, two
decimals (half up, to the fen), -¥1,234.56 when negative. The one formatter: the staff pages (through
sidms.web.display.money and the ``money`` template filter) and the texts the domain writes for people to
read, such as an entitlement's basis (计算依据), call it. Exports and the PDF statement keep plain figures."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

CENT = Decimal("0.01")
# The most figures before the point an amount is written out with; a value beyond (1e999999, a few characters
# that would print a million digits) is no amount, and is shown as it is.
FIGURES = 100


def yuan(value: Any, *, exact: bool = False) -> str:
    """VALUE (a Decimal, a number or its text) as ¥1,234.56; a value that is no amount (damaged, or a text
    typed before validation) is returned as it is, never an error. EXACT keeps what a figure carries beyond
    the fen (¥2,100.005), for a computation's record of its inputs, which rounds once at its end: shown to
    the fen, its figures would not add up."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return str(value)
    if not amount.is_finite() or amount.adjusted() > FIGURES:
        return str(value)
    # Rounded with room for every figure: under Decimal's default 28 digits an amount of 10^26 or more raised
    # InvalidOperation, and a parameter proposed at 1e30 made its review page a server error (attack 14).
    with localcontext() as context:
        context.prec = max(context.prec, amount.adjusted() + 4, len(amount.as_tuple().digits) + 2)
        cents = amount.quantize(CENT, ROUND_HALF_UP)
        shown = amount.normalize() if exact and cents != amount else cents
        return f"{'-' if shown < 0 else ''}¥{abs(shown):,f}"


def yuan_exact(value: Any) -> str:
    """:func:`yuan` with EXACT: a figure of a computation's record (an entitlement's basis)."""
    return yuan(value, exact=True)
