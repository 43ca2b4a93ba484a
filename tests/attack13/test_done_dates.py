"""Attack round 13 on the 已办 pages' date filters (/queues/done/<queue>/) and the audit browser's, which they
copy: a date the form accepts but the database cannot take.

Found and fixed: 9999-12-31 as the end date (the filter reads up to the next day's start, past the last date
Python holds) and 0001-01-01 as the start (midnight in Beijing is the year before in UTC, which no datetime
holds) answered 500 with an OverflowError. Such a date is now refused as a date the list cannot use, like any
unreadable one: nothing listed, the field marked."""

from __future__ import annotations

import pytest

from sidms.changes.models import Channel
from sidms.changes.services import review_decide, submit_change
from sidms.lib.idcard import check_digit

pytestmark = [pytest.mark.django_db]

EDGES = ("date_to=9999-12-31", "date_from=0001-01-01", "date_from=0001-01-01&date_to=0001-01-01",
         "date_from=9999-12-31")  # fmt: skip


@pytest.mark.req("R7.3")
@pytest.mark.parametrize("query", EDGES)
def test_a_done_list_refuses_a_date_beyond_what_it_can_search(  # type: ignore[no-untyped-def]
    query, huancui_clerk, make_staff, make_person, signed_in
) -> None:
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    person = make_person(id_number="37100219600101001" + check_digit("37100219600101001"), name="王建国")
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": "王建华"}).held  # fmt: skip
    review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    client = signed_in(reviewer)
    page = client.get(f"/queues/done/change_request.review_done/?{query}")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'class="has-error"' in text and 'role="alert"' in text and f"CR{held.pk}<" not in text
    last = client.get("/queues/done/change_request.review_done/?date_from=1900-01-01&date_to=9998-12-31")
    assert f"CR{held.pk}<" in last.content.decode()


@pytest.mark.req("R20")
@pytest.mark.parametrize("query", EDGES)
def test_the_audit_browser_refuses_a_date_beyond_what_it_can_search(query, auditor, signed_in) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(auditor).get(f"/audit/?{query}")
    assert page.status_code == 400  # as for any filter it cannot read (a date that does not exist)
    assert 'class="has-error"' in page.content.decode()
