"""The rights record's months of contribution (缴费年限) against its own grid: a month it shows in arrears (△)
is not a month contributed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sidms.business.ledger import run_through
from sidms.business.rights import rights_record
from sidms.lib import statement as st

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.2")
@pytest.mark.req("B5")
def test_a_month_paid_in_part_is_not_counted_a_month_of_contribution(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit, employee = insured["unit"], insured["employee"]
    run_through(huancui_clerk, approver, "assessment", "2025-01")
    # 1,000.00 of January's 2,194.65: the individual parts and part of the unit's pension part.
    rows = [{"unit_id": unit.pk, "period": "2025-01", "amount": "1000.00", "paid_on": "2025-03-17"}]
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows})
    data = rights_record(employee, date(2025, 3, 31))
    [year] = [y for y in data.years if y.year == 2025]
    assert year.row(st.Insurance.PENSION).months[0].mark == st.Mark.ARREARS  # type: ignore[union-attr]
    pension = next(s for s in data.summaries if s.insurance is st.Insurance.PENSION)
    assert pension.months_total == 0  # shown △: in arrears, not contributed
