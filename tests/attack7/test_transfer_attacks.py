"""Attacks on the transfer-in of pension months (sidms.business.transfers): months no one could have
contributed (after the person's death), and the ways a month could be counted twice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sidms.business.ledger import run_apply
from sidms.business.models import AssessmentRun
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from tests.business.test_transfers import mover, transfer

__all__ = ["mover"]

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.2")
def test_months_after_the_persons_death_are_not_transferred_in(mover: Any, huancui_clerk: Any) -> None:
    """The death registered (30 June 2024): months of contribution after it cannot have been worked; an
    enrolment starting after a death is refused (business.enrolment), and so is a transfer of such months."""
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": mover.pk, "date_of_death": "2024-06-30", "source": "民政殡葬信息"})  # fmt: skip
    after = [{"period": "2024-07", "base": "5500.00"}, {"period": "2024-08", "base": "5500.00"}]
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="transfer_in", period="2025-03",
                  params=transfer(mover, months=after, balance=Decimal(0)))  # fmt: skip
    assert refused.value.code == "transfer_after_death" and "2024-07" in str(refused.value)
    assert not AssessmentRun.objects.filter(kind="transfer_in").exists()
    # The months up to and including the month of death still come in.
    run_apply(actor=huancui_clerk, kind="transfer_in", period="2025-03",
              params=transfer(mover, months=[{"period": "2024-06", "base": "5500.00"}]))  # fmt: skip
