"""Attack on the 待遇核定 page (/persons/<no>/benefits/new/) with what a careless or malicious window clerk
types.

A wage of 1e30 (or thirty nines) made the decimal arithmetic raise, and a date before the parameter table
begins (1900) raised ``MissingParameter``: both were a server error (500) instead of a refusal at entry. An
unemployment benefit starting in the year 9999 overflowed the end date likewise. A one-time benefit (a
disability grant, a maternity allowance) could be dated years ahead (2062 for 2026): recorded after review,
it waited and was paid by that month's run.

Fix: the money inputs have at most 9 digits (the transitional pension 7), a date the parameter table does
not cover is refused with its reason, an unemployment benefit starts at most a year ahead, and a one-time
benefit's event may not be dated after today — the last as an entry rule, so the entitlement's edit page
and an import obey it too."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone, translation

from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from tests.business.conftest import laid_off

pytestmark = pytest.mark.django_db

WEIRD = [
    {"kind": "work_injury", "injured": "2025-03-03", "on": "2025-06-10", "grade": "5", "own_wage": "1e30"},
    {
        "kind": "work_injury",
        "injured": "2025-03-03",
        "on": "2025-06-10",
        "grade": "5",
        "own_wage": "9" * 29 + ".99",
    },
    {"kind": "work_injury", "injured": "1900-03-03", "on": "1900-06-10", "grade": "5", "own_wage": "6000"},
    {"kind": "maternity", "birth": "2025-06-10", "unit_average_wage": "1e30", "babies": "1"},
    {"kind": "maternity", "birth": "1900-06-10", "unit_average_wage": "7000", "babies": "1"},
    {"kind": "pension", "category": "male", "index": "1", "months": "400", "transitional": "1e30"},
    {"kind": "unemployment", "start": "1900-01-15"},
]


@pytest.mark.req("R6.1")
@pytest.mark.req("R2.2")
@pytest.mark.parametrize("form", WEIRD, ids=lambda f: "-".join(f.values())[:40])
def test_absurd_inputs_are_refused_at_entry_not_a_server_error(
    form: dict[str, str], insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    employee = insured["employee"]
    laid_off(huancui_clerk, employee, "2025-12-31")
    client = signed_in(huancui_clerk)
    client.raise_request_exception = False
    url = f"/persons/{employee.person_no}/benefits/new/"
    for action in ("compute", "submit"):
        with translation.override("zh-hans"):
            answer = client.post(url, {**form, "action": action})
        page = answer.content.decode()
        assert answer.status_code == 200, page[-2000:]
        assert "<strong>" not in page and ('class="error"' in page or 'class="alert bad"' in page)
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()


@pytest.mark.req("R6.1")
@pytest.mark.req("R2.2")
@pytest.mark.parametrize("kind", ["work_injury", "maternity"])
def test_a_one_time_benefit_is_not_dated_ahead(
    kind: str, insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    employee = insured["employee"]
    ahead = timezone.localdate().replace(year=timezone.localdate().year + 36).isoformat()
    form = (
        {"kind": kind, "injured": "2025-03-03", "on": ahead, "grade": "5", "own_wage": "6000"}
        if kind == "work_injury"
        else {"kind": kind, "birth": ahead, "unit_average_wage": "7000", "babies": "1"}
    )
    with translation.override("zh-hans"):
        page = signed_in(huancui_clerk).post(
            f"/persons/{employee.person_no}/benefits/new/", {**form, "action": "submit"}
        )
    assert page.status_code == 200 and "不能晚于今天" in page.content.decode()
    # Plain values (the entitlement's own form, an import row) meet the same rule.
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement",
                      values={"person_id": employee.pk, "kind": kind, "start_date": ahead, "end_date": ahead,
                              "monthly_amount": "5000.00", "status": "active"})  # fmt: skip
    assert refused.value.code == "event_ahead"
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()
