"""Attack on the unemployment benefit's entry rules (失业保险条例 Art. 14–17) added with the benefit pages.

1. The rule "refused while the unemployment insurance is still being paid on the first day" ran on the
   stored first day (the first of the month) while the window checked the day the clerk typed: a person
   laid off on 10 January and granted from the 15th was refused at submission — a legitimate grant blocked.
   Fix: the benefit is paid from the first of the month when the person was no longer insured that day,
   else from the next month; the rule and the window check the same day.
2. The rule ran for a new entitlement only: an edit moving a granted benefit's first day back into the
   employment (start 2025-06 for a layoff at the end of 2025) passed review with no rule against it, and
   the months were paid with the wages. Fix: the rule runs whenever an edit changes the first day, the
   status or the kind.
3. Enrolment status is applied at once by one clerk (level "system"): terminate the enrolment, have the
   benefit granted, re-open the enrolment — or simply a new employer's enrolment — and the monthly run kept
   paying the benefit to a person insured again (Art. 15: re-employment stops it). Fix: the run pays no
   unemployment benefit for a month in which the person's unemployment insurance is being paid on its
   first day.
4. On PostgreSQL two reviewers approving two overlapping held grants of one person at once each read the
   other's absence before it committed (READ COMMITTED), and both were recorded. Fix: the entry rules that
   compare a person's benefits take the person's advisory lock first inside the writing transaction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from sidms.business.benefits import PERSON_LOCK_CLASS, PERSON_SLOTS, grant_maternity, grant_unemployment
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry, PersonEnrolment
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused
from tests.business.conftest import approved, laid_off, other_session, pay_months, unemployed

pytestmark = pytest.mark.django_db


def _unemployment_paid(person: Any) -> list[str]:
    rows = LedgerEntry.objects.filter(kind="benefit", person=person, insurance="210").order_by("period")
    return list(rows.values_list("period", flat=True))


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.1")
def test_a_layoff_during_the_month_is_granted_from_the_next_month(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any, signed_in: Any
) -> None:
    employee = insured["employee"]
    pay_months(insured, huancui_clerk, approver)
    laid_off(huancui_clerk, employee, "2026-01-10")
    # A first day in the year 9999 overflowed the end date: a server error, now a refusal at entry.
    client = signed_in(huancui_clerk)
    client.raise_request_exception = False
    page = client.post(f"/persons/{employee.person_no}/benefits/new/",
                       {"kind": "unemployment", "start": "9999-12-15", "action": "compute"})  # fmt: skip
    assert page.status_code == 200 and 'class="error"' in page.content.decode()
    granted = approved(grant_unemployment(actor=huancui_clerk, person=employee, start=date(2026, 1, 15)),
                       city_reviewer)  # fmt: skip
    # Insured until the 10th: January is not paid; twelve months from February.
    assert (granted.start_date, granted.end_date) == (date(2026, 2, 1), date(2027, 1, 31))


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.3")
def test_an_edit_cannot_move_the_benefit_back_into_the_employment(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    granted = unemployed(insured, huancui_clerk, approver, city_reviewer)
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=granted,
                      values={"start_date": "2025-06-01", "end_date": "2026-05-31"})  # fmt: skip
    assert refused.value.code == "still_insured"
    # Ending it (the person found work) is an edit the rule does not stand in the way of.
    ended = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=granted,
                          values={"end_date": "2026-03-31"})  # fmt: skip
    assert ended.held is not None


@pytest.mark.req("R2.2")
def test_no_unemployment_benefit_while_insured_again(
    reemployed: Any, huancui_clerk: Any, approver: Any
) -> None:
    # The same clerk alone re-opened the unemployment insurance enrolment from February (the fixture): applied
    # at once, no review request waiting.
    enrolment = PersonEnrolment.objects.get(person=reemployed, insurance="210")
    assert enrolment.status == "paying" and enrolment.status_date == date(2026, 2, 1)
    assert not ChangeRequest.objects.filter(entity="person_enrolment", record_id=enrolment.pk,
                                            status=ReviewStatus.PENDING).exists()  # fmt: skip
    for period in ("2026-02", "2026-03"):
        run_through(huancui_clerk, approver, "pension", period)
    assert _unemployment_paid(reemployed) == ["2026-01"]


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.3")
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL advisory lock; SQLite queues writers"
)
def test_a_second_approval_for_the_same_person_waits_for_the_first(
    make_person: Any, huancui_clerk: Any, city_reviewer: Any, make_staff: Any
) -> None:
    from tests.changes.conftest import id_number

    mother = make_person(
        id_number=id_number("37100219900303002"), name="孙母亲", birth_date="1990-03-03", sex="2"
    )
    first = grant_maternity(actor=huancui_clerk, person=mother, birth=date(2025, 4, 8),
                            unit_average_wage=Decimal("7500"))  # fmt: skip
    again = grant_maternity(actor=huancui_clerk, person=mother, birth=date(2025, 4, 9),
                            unit_average_wage=Decimal("7500"))  # fmt: skip
    assert first.held is not None and again.held is not None  # both wait: neither is recorded yet
    review_decide(actor=city_reviewer, change_request_id=first.held.pk, approve=True)  # not committed yet
    # A second reviewer's approval, in another server process, would now wait for this one to commit and
    # then read its allowance (and refuse the same birth); before, it went straight on.
    slot = mother.pk % PERSON_SLOTS
    with other_session() as other:
        other.execute("BEGIN")
        taken = other.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [PERSON_LOCK_CLASS, slot])
        assert taken.fetchone() == (False,)
        other.execute("ROLLBACK")
    with pytest.raises(ChangeRefused):
        review_decide(actor=make_staff("reviewer2_city", posts=("reviewer",), district="371000"),
                      change_request_id=again.held.pk, approve=True)  # fmt: skip
