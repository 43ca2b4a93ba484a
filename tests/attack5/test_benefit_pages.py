"""Attack on 待遇核定 (/persons/<no>/benefits/new/) by a window clerk who submits the same pension twice (a
double click, or a second try with a higher average contribution index), each held request then approved by
a different reviewer.

The entry rules compared a person's unemployment benefits, disability grants and maternity allowances with
the ones already recorded, but not pensions: both requests were approved, and the person had two active
basic pensions (the monthly run paid the older one; a later change of that one, or its suspension,
would have let the second be paid, and the rights record and the checks page listed two).

And the pension's basis named none of what the clerk typed (index, months, transitional pension), and the
basis was review level "none": see the second test.

Fix: an entry rule — one active basic pension per person (基本养老金: one pension relationship). It runs
again when a reviewer approves a held grant, under the person's advisory lock, so two grants that waited
together cannot both be recorded; a change of the recorded pension (its amount, its certification) is not
refused. The pension's basis names the clerk's inputs; the basis is review level "manual" in the declared
rules (a store seeded before keeps its level until two administrators change it in /rules/)."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.business.models import Entitlement
from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.2")
def test_one_pension_submitted_twice_is_recorded_once(
    retiree: Any, huancui_clerk: Any, city_reviewer: Any, make_staff: Any, signed_in: Any
) -> None:
    second_reviewer = make_staff("reviewer2_city", posts=("reviewer",), district="371000")
    client = signed_in(huancui_clerk)
    url = f"/persons/{retiree.person_no}/benefits/new/"
    for index in ("1.2", "1.8"):  # the same grant posted twice, the second time with a higher index
        form = {"kind": "pension", "category": "male", "index": index, "months": "366", "action": "submit"}
        assert client.post(url, form).status_code == 302
    held = list(ChangeRequest.objects.filter(entity="entitlement").order_by("pk"))
    assert len(held) == 2
    review_decide(actor=city_reviewer, change_request_id=held[0].pk, approve=True)
    with pytest.raises(ChangeRefused):
        review_decide(actor=second_reviewer, change_request_id=held[1].pk, approve=True)
    assert Entitlement.objects.filter(person=retiree, kind="pension").count() == 1
    # The recorded pension is still changed through review as before (its amount after a recalculation).
    pension = Entitlement.objects.get(person=retiree)
    changed = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=pension,
                            values={"monthly_amount": "2400.00"})  # fmt: skip
    assert changed.held is not None
    review_decide(actor=second_reviewer, change_request_id=changed.held.pk, approve=True)
    assert Entitlement.objects.get(pk=pension.pk).monthly_amount == "2400.00"


@pytest.mark.req("R2.2")
@pytest.mark.req("R9.3")
def test_the_reviewer_sees_what_the_clerk_typed_and_one_clerk_cannot_rewrite_the_basis(
    retiree: Any, huancui_clerk: Any, city_reviewer: Any, signed_in: Any
) -> None:
    """A pension's amount rests on what the clerk types — the average contribution index, the contribution
    months, a transitional pension — but its basis (计算依据), all the reviewer sees of the computation,
    named none of them: an index of 3.0 for 1.2, or 720 months for 366, reached the reviewer as a bare
    result. And the basis was review level "none": one clerk alone could rewrite the recorded computation
    (to match a raise waiting for review, say), applied at once."""
    client = signed_in(huancui_clerk)
    form = {"kind": "pension", "category": "male", "index": "1.8", "months": "366", "transitional": "120.50",
            "action": "submit"}  # fmt: skip
    assert client.post(f"/persons/{retiree.person_no}/benefits/new/", form).status_code == 302
    held = ChangeRequest.objects.get(entity="entitlement")
    basis = held.proposed["basis"][1]
    assert "1.8" in basis and "366" in basis and "120.50" in basis, basis
    review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)
    pension = Entitlement.objects.get(person=retiree)
    outcome = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=pension,
                            values={"basis": "基础养老金 9000.00（按指数 3.0）"})  # fmt: skip
    assert outcome.held is not None  # waits for a second person, like the amount it documents
    assert Entitlement.objects.get(pk=pension.pk).basis == basis
