"""Attack round 9 on the parameters pages (R9.1, R2.3): only the city-level system administrator changes a
parameter, and a second one confirms it — and what the two of them may set.

* The session idle time and the sign-in lock-out are system parameters, and two system administrators could
  set the idle time to ten years, the failures to a million or the lock-out to no minutes (the controls
  switched off, GB/T 22239 §8.1.4.1b), or the failures to none (every account locked at its first wrong try,
  theirs too, and no one left to sign in and undo it). The security controls now keep a range whoever
  proposes them: idle 60–900 seconds, 3–10 failures, 10 minutes to a day.

* A proposal's review page was a server error (the page knew rule and post proposals only): the proposer met
  a 500 right after proposing, and the second administrator confirmed from his queue what no page showed him.
  It now shows the parameter, its value in force and the one proposed, the day, the region, the document and
  the reason.

What held, pinned here: a system administrator of a district proposes nothing and confirms nothing; a
reviewer, an approver or a security administrator does not confirm a parameter; the proposer does not
confirm his own; the pages refuse anyone but the system administrator; a source or reason holding markup is
text on the history and review pages."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from sidms.business.parameters import parameter_propose, value_at
from sidms.changes.services import review_decide
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties

pytestmark = pytest.mark.django_db


def _propose(actor: Any, key: str, value: Any, **more: Any) -> Any:
    fields: dict[str, Any] = {
        "effective_from": date(2027, 1, 1),
        "source": "威人社发〔2026〕1号（示例）",
        "reason": "调整",
    }
    return parameter_propose(actor=actor, key=key, value=value, **{**fields, **more})


@pytest.mark.req("R9.1")
@pytest.mark.req("R17")
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("session.idle_seconds", 315_360_000), ("session.idle_seconds", 0), ("session.idle_seconds", 3600),
        ("lockout.failures", 1_000_000), ("lockout.failures", 0), ("lockout.minutes", 0), ("lockout.minutes", True),
    ],
)  # fmt: skip
def test_the_security_controls_keep_their_range(city_admin: Any, key: str, value: Any) -> None:
    with pytest.raises(ChangeRefused) as refused:
        _propose(city_admin, key, value)
    assert refused.value.code == "parameter_bounds"


@pytest.mark.req("R9.1")
@pytest.mark.req("R17")
def test_the_security_controls_within_range_are_changed_four_eyes(city_admin: Any, second_admin: Any) -> None:
    for key, value in (("session.idle_seconds", 600), ("lockout.failures", 3), ("lockout.minutes", 60)):
        held = _propose(city_admin, key, value, effective_from=date(2026, 1, 1))
        review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
        assert value_at(key) == value


@pytest.mark.req("R9.1")
def test_only_two_city_level_system_administrators_change_a_parameter(
    city_admin: Any, make_staff: Any, security: Any, approver: Any, signed_in: Any
) -> None:
    district_admin = make_staff("admin_rs", posts=("city_admin",), district="371083")
    with pytest.raises(NotPermitted):
        _propose(district_admin, "export.approval_rows", 500)
    held = _propose(city_admin, "export.approval_rows", 500)
    reviewer = make_staff("reviewer_city", posts=("reviewer",), district="371000")
    for decider in (district_admin, reviewer, approver, security):
        with pytest.raises(NotPermitted):
            review_decide(actor=decider, change_request_id=held.pk, approve=True)
    with pytest.raises(SeparationOfDuties):
        review_decide(actor=city_admin, change_request_id=held.pk, approve=True)
    page = signed_in(district_admin).post(
        "/business/parameters/export.approval_rows/",
        {"value": "500", "effective_from": "2027-01-01", "source": "x", "reason": "y"},
        follow=True,
    )
    assert "只有市级系统管理员" in page.content.decode() or page.status_code == 403
    for outsider in (reviewer, security):
        client = signed_in(outsider)
        assert client.get("/business/parameters/").status_code == 403
        assert client.get("/business/parameters/export.approval_rows/").status_code == 403
    assert value_at("export.approval_rows", date(2027, 6, 1)) == 1000


@pytest.mark.req("R9.1")
def test_a_source_and_reason_with_markup_are_text_on_the_pages(
    city_admin: Any, second_admin: Any, signed_in: Any
) -> None:
    held = _propose(city_admin, "export.approval_rows", 800, source="<script>alert(1)</script>",
                    reason="<img src=x onerror=alert(2)>")  # fmt: skip
    review = signed_in(second_admin).get(f"/queues/review/{held.pk}/").content.decode()
    assert "<img src=x" not in review and "<script>alert" not in review
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
    history = signed_in(city_admin).get("/business/parameters/export.approval_rows/").content.decode()
    assert "<script>alert" not in history and "&lt;script&gt;alert(1)&lt;/script&gt;" in history
    assert json.dumps(800) in history


@pytest.mark.req("R9.1")
@pytest.mark.req("R2.3")
def test_the_second_administrator_reads_the_proposal_he_confirms_on_its_page(
    city_admin: Any, second_admin: Any, signed_in: Any
) -> None:
    proposer, confirmer = signed_in(city_admin), signed_in(second_admin)
    proposed = proposer.post(
        "/business/parameters/export.approval_rows/",
        {"value": "500", "region": "", "effective_from": "2026-01-01", "source": "威人社发〔2026〕9号",
         "status": "V", "reason": "收紧批量导出"},
        follow=True,
    )  # fmt: skip
    assert proposed.status_code == 200, proposed.content.decode()[-1500:]
    assert "须由另一名管理员确认" in proposed.content.decode()
    queue = confirmer.get("/queues/").content.decode()
    held = proposed.redirect_chain[-1][0].rstrip("/").rsplit("/", 1)[-1]
    assert f"CR{held}" in queue and "export.approval_rows" in queue
    page = confirmer.get(f"/queues/review/{held}/")
    text = page.content.decode()
    assert page.status_code == 200
    for shown in (
        "export.approval_rows",
        "1000",
        "500",
        "2026-01-01",
        "全市",
        "威人社发〔2026〕9号",
        "收紧批量导出",
    ):
        assert shown in text, shown
    assert confirmer.post(f"/queues/review/{held}/decide/", {"decision": "approve"}).status_code == 302
    assert value_at("export.approval_rows") == 500
