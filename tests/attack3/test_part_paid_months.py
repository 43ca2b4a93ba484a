"""Attack on the unemployment benefit's contribution months (失业保险条例 Art. 14: the unit *and* the person
have paid for a year) with today's part payments.

`paid_months` counted every month with any ``paid`` ledger entry for insurance 210. A part payment writes a
``paid`` entry for each assessed entry it touches, however little it pays: a unit that paid only the
employees' withheld parts for twelve months (the seeded allocation pays individual parts first) made each
employee "paid" for twelve months, and the benefit was granted although the unit's part was never paid. A
month now counts only when nothing is left owing on the person's 210 entries of that month."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sidms.business.benefits import grant_unemployment, paid_months
from sidms.core.errors import ChangeRefused
from tests.business.conftest import laid_off, pay_months

pytestmark = pytest.mark.django_db


def _pay_2025(insured: dict[str, Any], clerk: Any, approver: Any, *, individual_only: bool) -> None:
    pay_months(insured, clerk, approver, individual_only=individual_only)
    laid_off(clerk, insured["employee"], "2025-12-31")  # the employment ends with the year


@pytest.mark.req("R2.2")
def test_months_the_unit_did_not_pay_do_not_count(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    employee = insured["employee"]
    _pay_2025(insured, huancui_clerk, approver, individual_only=True)
    assert paid_months(employee.pk, "210", date(2026, 1, 15)) == 0
    with pytest.raises(ChangeRefused) as short:
        grant_unemployment(actor=huancui_clerk, person=employee, start=date(2026, 1, 15))
    assert short.value.code == "minimum_months"


@pytest.mark.req("R2.2")
def test_months_paid_in_full_count(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> None:
    _pay_2025(insured, huancui_clerk, approver, individual_only=False)
    assert paid_months(insured["employee"].pk, "210", date(2026, 1, 15)) == 12
