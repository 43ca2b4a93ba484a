"""Attack on the benefit entitlements (issue 8 §7) as a window clerk.

An entitlement's amount is a text field checked as text: a clerk could write "-1980.00" (a negative benefit,
money taken back through the ledger) or "abc" (the monthly benefit run raised on it and paid nobody that
month). The amount must be a sum of money in yuan to the fen, not negative.

The amount, kind, dates and status of an entitlement were applied at once when a single window clerk
submitted them (review level "system"), so one person alone granted or raised a benefit the monthly run then
paid. They are now "manual": a grant or a change waits for a second person's review, and nobody approves
their own submission.

A maternity allowance could be granted again for the same birth under a date one day apart and was paid
twice; one dated within ``maternity.same_event_days`` of one already recorded is now refused as the same
birth. A disability grant for the same appraisal date is refused likewise, and one unemployment benefit runs
at a time: two grants for overlapping months cannot both be recorded, even when both waited for review
together (the entry rules run again at approval)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from sidms.business.benefits import grant_maternity, grant_unemployment
from sidms.business.ledger import run_through
from sidms.business.models import Entitlement, LedgerEntry
from sidms.changes.models import Channel
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused, SeparationOfDuties
from tests.business.conftest import approved

pytestmark = pytest.mark.django_db


@pytest.fixture
def mother(make_person: Any) -> Any:
    from tests.changes.conftest import id_number

    return make_person(
        id_number=id_number("37100219900303002"), name="孙母亲", birth_date="1990-03-03", sex="2"
    )


def _grant(clerk: Any, reviewer: Any, person: Any, birth: date) -> Entitlement:
    outcome = grant_maternity(actor=clerk, person=person, birth=birth, unit_average_wage=Decimal("7500"))
    return approved(outcome, reviewer)


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.2")
@pytest.mark.parametrize("amount", ["abc", "-1980.00", "NaN", "Infinity", "12.345", "1e3"])
def test_an_entitlement_amount_is_money(
    amount: str, mother: Any, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    granted = _grant(huancui_clerk, city_reviewer, mother, date(2025, 4, 8))
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=granted,
                      values={"monthly_amount": amount})  # fmt: skip
    assert refused.value.code == "amount"
    with pytest.raises(ChangeRefused):  # nor on a new entitlement
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement",
                      values={"person_id": mother.pk, "kind": "maternity", "start_date": "2025-06-01",
                              "end_date": "2025-06-01", "monthly_amount": amount, "status": "active"})  # fmt: skip
    # The month's benefit run pays what was granted.
    run_through(huancui_clerk, approver, "pension", "2025-04")
    paid = LedgerEntry.objects.filter(kind="benefit_once", person=mother).values_list(
        "individual_amount", flat=True
    )
    assert list(paid) == [Decimal(granted.monthly_amount)]


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.3")
def test_one_clerk_alone_cannot_raise_a_benefit(
    mother: Any, huancui_clerk: Any, city_reviewer: Any, make_staff: Any
) -> None:
    granted = _grant(huancui_clerk, city_reviewer, mother, date(2025, 4, 8))
    outcome = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=granted,
                            values={"monthly_amount": "320000.00"})  # fmt: skip
    assert Entitlement.objects.get(pk=granted.pk).monthly_amount == granted.monthly_amount
    assert outcome.held is not None  # waits for a second person
    # Nor can one person alone grant one, or move its dates or status, even holding a reviewer's post too.
    both = make_staff("clerk_rev_hc", posts=("window_clerk", "reviewer"), district="371002")
    new = submit_change(actor=both, channel=Channel.WINDOW, entity="entitlement",
                        values={"person_id": mother.pk, "kind": "maternity", "start_date": "2025-06-01",
                                "end_date": "2025-06-01", "monthly_amount": "99999.00", "status": "active"})  # fmt: skip
    moved = submit_change(actor=both, channel=Channel.WINDOW, entity="entitlement", record=granted,
                          values={"start_date": "2025-05-01", "end_date": "2025-05-01", "status": "ended"})  # fmt: skip
    assert new.record is None and new.held is not None and moved.held is not None
    assert moved.applied == ()
    assert Entitlement.objects.filter(person=mother).count() == 1
    for own in (new.held, moved.held):
        with pytest.raises(SeparationOfDuties):
            review_decide(actor=both, change_request_id=own.pk, approve=True)
    # A second person's approval applies the raise.
    review_decide(actor=city_reviewer, change_request_id=outcome.held.pk, approve=True)
    assert Entitlement.objects.get(pk=granted.pk).monthly_amount == "320000.00"


@pytest.mark.req("R2.2")
def test_one_birth_is_not_paid_twice(
    mother: Any, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    _grant(huancui_clerk, city_reviewer, mother, date(2025, 4, 8))
    with pytest.raises(ChangeRefused) as again:  # the same birth under a date one day later
        _grant(huancui_clerk, city_reviewer, mother, date(2025, 4, 9))
    assert again.value.code == "same_birth" and "30" in str(again.value)
    run_through(huancui_clerk, approver, "pension", "2025-04")
    assert LedgerEntry.objects.filter(kind="benefit_once", person=mother, insurance="510").count() == 1
    # A later birth is a new event: granted and paid.
    _grant(huancui_clerk, city_reviewer, mother, date(2026, 5, 20))
    run_through(huancui_clerk, approver, "pension", "2026-05")
    assert LedgerEntry.objects.filter(kind="benefit_once", person=mother, insurance="510").count() == 2


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.2")
def test_a_second_unemployment_benefit_for_the_same_months_is_not_paid(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    from tests.attack3.test_part_paid_months import _pay_2025

    employee = insured["employee"]
    _pay_2025(insured, huancui_clerk, approver, individual_only=False)
    first = approved(grant_unemployment(actor=huancui_clerk, person=employee, start=date(2026, 1, 15)),
                     city_reviewer)  # fmt: skip
    with pytest.raises(ChangeRefused) as running:
        grant_unemployment(actor=huancui_clerk, person=employee, start=date(2026, 2, 1))
    assert running.value.code == "running"
    # The same entitlement submitted as plain values (as an import row would be) is refused by the entry
    # rule as well, not left to the reviewer.
    with pytest.raises(ChangeRefused) as plain:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement",
                      values={"person_id": employee.pk, "kind": "unemployment", "start_date": "2026-02-01",
                              "end_date": "2026-12-31", "monthly_amount": first.monthly_amount,
                              "status": "active"})  # fmt: skip
    assert plain.value.code == "running"
    run_through(huancui_clerk, approver, "pension", "2026-02")
    assert LedgerEntry.objects.filter(kind="benefit", person=employee, insurance="210").count() == 1


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.2")
def test_two_unemployment_grants_waiting_together_cannot_both_be_approved(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    from sidms.changes.models import ChangeRequest, ReviewStatus
    from tests.attack3.test_part_paid_months import _pay_2025

    employee = insured["employee"]
    _pay_2025(insured, huancui_clerk, approver, individual_only=False)
    # Two clerks' grants (or one clerk's twice) for overlapping months, both held before either is recorded.
    one = grant_unemployment(actor=huancui_clerk, person=employee, start=date(2026, 1, 15))
    two = grant_unemployment(actor=huancui_clerk, person=employee, start=date(2026, 3, 2))
    assert one.held is not None and two.held is not None
    approved(one, city_reviewer)
    with pytest.raises(ChangeRefused) as second:
        review_decide(actor=city_reviewer, change_request_id=two.held.pk, approve=True)
    assert second.value.code == "running"
    assert (
        ChangeRequest.objects.get(pk=two.held.pk).status == ReviewStatus.PENDING
    )  # for the reviewer to reject
    assert Entitlement.objects.filter(person=employee, kind="unemployment").count() == 1
    # Once the first has ended (status changed through review), a later grant may be recorded.
    ended = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement",
                          record=Entitlement.objects.get(person=employee, kind="unemployment"),
                          values={"status": "ended", "end_date": "2026-02-28"})  # fmt: skip
    review_decide(actor=city_reviewer, change_request_id=ended.held.pk, approve=True)
    assert review_decide(actor=city_reviewer, change_request_id=two.held.pk, approve=True).record_id


@pytest.mark.req("R2.2")
def test_one_appraisal_is_not_granted_twice(
    insured: dict[str, Any], huancui_clerk: Any, city_reviewer: Any
) -> None:
    from sidms.business.benefits import grant_disability_grant

    employee = insured["employee"]
    first = grant_disability_grant(actor=huancui_clerk, person=employee, on=date(2025, 6, 10), grade=8,
                                   own_wage=Decimal("6500.00"), injured=date(2025, 3, 3))  # fmt: skip
    again = grant_disability_grant(actor=huancui_clerk, person=employee, on=date(2025, 6, 10), grade=7,
                                   own_wage=Decimal("6500.00"), injured=date(2025, 3, 3))  # fmt: skip
    approved(first, city_reviewer)
    with pytest.raises(ChangeRefused) as same:
        review_decide(actor=city_reviewer, change_request_id=again.held.pk, approve=True)
    assert same.value.code == "same_appraisal" and "2025-06-10" in str(same.value)
    with pytest.raises(ChangeRefused):
        grant_disability_grant(actor=huancui_clerk, person=employee, on=date(2025, 6, 10), grade=8,
                               own_wage=Decimal("6500.00"), injured=date(2025, 3, 3))  # fmt: skip
    # Another appraisal (another injury) on another date is a new grant.
    later = grant_disability_grant(actor=huancui_clerk, person=employee, on=date(2026, 2, 3), grade=9,
                                   own_wage=Decimal("6500.00"), injured=date(2025, 3, 3))  # fmt: skip
    assert approved(later, city_reviewer).start_date == date(2026, 2, 3)


@pytest.mark.req("R7.3")
@pytest.mark.req("R10.3")
def test_the_edit_page_holds_a_raise_for_review(
    mother: Any, huancui_clerk: Any, city_reviewer: Any, signed_in: Any
) -> None:
    from sidms.changes.models import ChangeRequest, ReviewStatus

    granted = _grant(huancui_clerk, city_reviewer, mother, date(2025, 4, 8))
    client = signed_in(huancui_clerk)
    path = f"/entitlements/{granted.pk}/edit/"
    assert client.get(path).status_code == 200
    posted = client.post(path, {
        "version": granted.version, "person_id": mother.person_no, "kind": granted.kind,
        "start_date": "2025-04-08", "end_date": "2025-04-08", "monthly_amount": "320000.00",
        "basis": granted.basis, "status": granted.status, "certified_on": "2025-04-08",
    })  # fmt: skip
    assert posted.status_code == 302, posted.content.decode()[-3000:]
    assert Entitlement.objects.get(pk=granted.pk).monthly_amount == granted.monthly_amount
    held = ChangeRequest.objects.get(entity="entitlement", record_id=granted.pk, status=ReviewStatus.PENDING)
    assert held.submitted_by_id == huancui_clerk.pk and set(held.proposed) == {"monthly_amount"}
    # The second person sees it in the review queue and approves it there.
    reviewer = signed_in(city_reviewer)
    assert f"CR{held.pk}" in reviewer.get("/queues/").content.decode()
    detail = reviewer.get(f"/queues/review/{held.pk}/")
    assert detail.status_code == 200 and "320000.00" in detail.content.decode()
    assert client.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}).status_code in (403, 404)
    reviewer.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    assert Entitlement.objects.get(pk=granted.pk).monthly_amount == "320000.00"
