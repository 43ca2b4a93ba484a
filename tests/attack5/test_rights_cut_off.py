"""Attack on the rights record (/persons/<no>/rights/) and its printed statement by a window clerk who
chooses the cut-off date.

A cut-off of 2099-06-30 issued a statement that the public verification page (/verify/statement/) then
confirmed as genuine, with that cut-off: an official record "up to" a day to come, which also failed its own
verification (unchanged: no) as soon as anything more was recorded. A cut-off in the year 1 or 9999 was a
server error (500) on the page and the statement alike.

Fix: a staff member's cut-off lies between 1951-01-01 and today (business.rights); the page and the
statement refuse another with a message, and no statement is issued. The yearly batch (`sidms statements
YEAR`) is refused for a year that has not ended."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from sidms.audit.models import AuditEvent
from sidms.business.models import IssuedStatement

pytestmark = pytest.mark.django_db


@pytest.mark.req("B5")
@pytest.mark.req("R20")
@pytest.mark.parametrize("cut_off", ["0001-01-01", "9999-12-31", "2099-06-30", "tomorrow"])
def test_a_cut_off_after_today_or_before_1951_is_refused_on_the_page_and_the_statement(
    cut_off: str, insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    if cut_off == "tomorrow":
        cut_off = (timezone.localdate() + timedelta(days=1)).isoformat()
    client = signed_in(huancui_clerk)
    client.raise_request_exception = False
    url = f"/persons/{insured['employee'].person_no}/rights/"
    with translation.override("zh-hans"):
        page = client.get(url, {"cut_off": cut_off})
        statement = client.post(f"{url}statement/", {"cut_off": cut_off})
        assert page.status_code == statement.status_code == 302
        assert "截止日期" in client.get(url).content.decode()  # the refusal, shown on the page for today
    assert not IssuedStatement.objects.exists()
    # Today's record and statement as before.
    assert client.get(url, {"cut_off": timezone.localdate().isoformat()}).status_code == 200
    assert client.post(f"{url}statement/").status_code == 200
    assert IssuedStatement.objects.get().cut_off == timezone.localdate()


@pytest.mark.req("B5")
@pytest.mark.req("R20")
def test_the_yearly_statements_of_a_year_not_ended_are_refused(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, tmp_path: Any
) -> None:
    """`sidms statements YEAR` for the current year (run in November) issued every insured person a
    statement cut off on 31 December, weeks ahead, each publicly verifiable."""
    from django.core.management import CommandError, call_command

    from sidms.business.ledger import run_through

    year = timezone.localdate().year
    run_through(huancui_clerk, approver, "assessment", f"{year}-01")  # contributions in the current year
    with pytest.raises(CommandError, match="year has ended"):
        call_command("statements", str(year), "--out", str(tmp_path / "out"))
    assert not IssuedStatement.objects.exists()


@pytest.mark.req("R10.3")
@pytest.mark.req("R17")
@pytest.mark.parametrize("query", [{}, {"cut_off": "2024-12-31"}])
def test_a_staff_member_without_the_post_to_view_records_is_refused_not_sent_round_in_circles(
    query: dict[str, str], insured: dict[str, Any], make_staff: Any, signed_in: Any
) -> None:
    """The information centre's account (import and batch execution, no window post) opened a person's
    rights record: the page caught the refusal as a bad cut-off and redirected to itself for ever
    (ERR_TOO_MANY_REDIRECTS in the browser). It is a 403, as on every page it may not see, and audited."""
    info = make_staff("info_city", posts=("info_centre",), district="371000")
    client = signed_in(info)
    client.raise_request_exception = False
    response = client.get(f"/persons/{insured['employee'].person_no}/rights/", query)
    assert response.status_code == 403
    denied = AuditEvent.objects.filter(action="access.denied", actor="info_city")
    assert denied.count() == 1 and json.loads(denied.get().payload)["detail"]["permission"] == "person.view"
