"""The review pages present each kind of request by its presenter (sidms.web.workflow.presenters): every kind
registered renders in the queue and on its review page, for its decider and its proposer, and a kind with no
presenter is refused — nothing of it shown, nothing decided (fail closed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.utils import translation

from sidms.business.parameters import parameter_propose
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.rules import rule_propose
from sidms.changes.services import PROPOSALS, submit_change
from sidms.core.kernel import ENTITIES
from sidms.registry.models import Staff, StaffPost
from sidms.security.accounts import staff_post_propose
from sidms.web.workflow import presenters

pytestmark = [pytest.mark.django_db]


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(message)


# Per kind: who proposes, who decides, how the request is made, and what its page alone says to each.
Case = tuple[str, str, Callable[[Any, Any], ChangeRequest], str, str]


def _person(proposer: Any, make_person: Any) -> ChangeRequest:
    person = make_person(id_number="371002196001010011", name="王建国")
    submit_change(
        actor=proposer, channel=Channel.WINDOW, entity="person", record=person, values={"name": "王建华"}
    )
    return ChangeRequest.objects.get(entity="person")


def _rule(proposer: Any, _: Any) -> ChangeRequest:
    return rule_propose(
        actor=proposer, entity="person", field="address", required=True, validator="text",
        review_level="manual", crosschecks=[], reason="地址须人工核实",
    )  # fmt: skip


def _post(proposer: Any, make_staff: Any) -> ChangeRequest:
    member = make_staff("clerk_new", posts=(), district="371002", full_name="新人 周")
    return staff_post_propose(actor=proposer, staff=member, post="window_clerk", reason="任职通知")


def _parameter(proposer: Any, _: Any) -> ChangeRequest:
    return parameter_propose(
        actor=proposer, key="lockout.failures", value=6, effective_from=date(2027, 1, 1),
        source="威人社发〔2026〕1号（示例）", reason="调整",
    )  # fmt: skip


CASES: dict[str, Case] = {
    "person": (
        "window_clerk", "reviewer", _person,
        "Approve: the new values take effect", "You submitted this change yourself. Another reviewer must decide on it.",
    ),
    "collection_rule": (
        "city_admin", "city_admin", _rule,
        "Confirm: the rule takes effect city-wide",
        "You proposed this rule change yourself. A second city-level administrator must confirm it.",
    ),
    "staff": (
        "security_admin", "security_admin", _post,
        "Confirm: grant the post", "You proposed this yourself. A second administrator must confirm it.",
    ),
    "business_parameter": (
        "city_admin", "city_admin", _parameter,
        "Approve: the new values take effect", "You proposed this yourself. A second administrator must confirm it.",
    ),
}  # fmt: skip


@pytest.mark.req("R7.3")
@pytest.mark.req("R9.1")
def test_every_kind_the_review_service_decides_has_a_presenter_and_a_case_here() -> None:
    # A proposal kind the service can approve but no page presents would be confirmed unseen.
    assert set(PROPOSALS) <= set(presenters.PRESENTERS)
    assert set(CASES) == set(presenters.PRESENTERS) | {"person"}
    for entity in ENTITIES:
        assert isinstance(presenters.presenter_for(entity), presenters.RecordPresenter)


@pytest.mark.req("R7.3")
@pytest.mark.req("R9.1")
@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_registered_kind_shows_in_the_queue_and_on_its_review_page(  # type: ignore[no-untyped-def]
    kind, make_staff, make_person, signed_in
) -> None:
    proposer_post, decider_post, propose, approve, own = CASES[kind]
    district = "371002" if proposer_post == "window_clerk" else "371000"
    proposer = make_staff("proposer", posts=(proposer_post,), district=district)
    decider = make_staff("decider", posts=(decider_post,), district=district)
    held = propose(proposer, make_person if kind == "person" else make_staff)
    assert held.entity == kind and held.status == ReviewStatus.PENDING
    presenter = presenters.presenter_for(kind)
    with translation.override("zh-hans"):
        label, fields = presenter.label, presenter.fields(held)

    client = signed_in(decider)
    queue = client.get("/queues/")
    assert queue.status_code == 200
    row = queue.content.decode().split(f'href="/queues/review/{held.pk}/"')[1].split("</tr>")[0]
    assert label in row and fields in row
    page = client.get(f"/queues/review/{held.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f"CR{held.pk}" in body and label in body and zh(approve) in body
    # The registries' cross-checks and the archive belong to a governed record's change only.
    assert (zh("Cross-checks with partner registries") in body) == (kind == "person")

    mine = signed_in(proposer).get(f"/queues/review/{held.pk}/")
    assert mine.status_code == 200 and zh(own) in mine.content.decode()


@pytest.mark.req("R7.3")
@pytest.mark.req("R9.1")
def test_a_kind_without_a_presenter_is_neither_shown_nor_decided(  # type: ignore[no-untyped-def]
    make_staff, signed_in, monkeypatch
) -> None:
    security = make_staff("security_city", posts=("security_admin",), district="371000")
    second = make_staff("security2_city", posts=("security_admin",), district="371000")
    held = _post(security, make_staff)
    # A proposal kind the service knows and no web chapter presents (its presenters module forgotten).
    monkeypatch.delitem(presenters.PRESENTERS, "staff")
    client = signed_in(second)

    queue = client.get("/queues/")
    assert queue.status_code == 200
    row = queue.content.decode().split(f'href="/queues/review/{held.pk}/"')[1].split("</tr>")[0]
    assert zh("Other record") in row and "clerk_new" not in row and zh("Post") not in row

    with translation.override("zh-hans"):
        refusal = str(presenters.UnregisteredKind.default)
    for response in (
        client.get(f"/queues/review/{held.pk}/"),
        client.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}),
        client.post(f"/queues/review/{held.pk}/recheck/"),
    ):
        body = response.content.decode()
        assert response.status_code == 403 and refusal in body
        assert "clerk_new" not in body and "新人 周" not in body and "任职通知" not in body

    held.refresh_from_db()
    assert held.status == ReviewStatus.PENDING
    member = Staff.objects.get(username="clerk_new")
    assert not StaffPost.objects.filter(staff=member).exists()


@pytest.mark.req("R7.3")
def test_a_kind_the_service_no_longer_handles_can_be_rejected_not_approved(  # type: ignore[no-untyped-def]
    make_staff, monkeypatch
) -> None:
    """A request held for a kind whose app no longer registers it (a version that removed it): approving it
    is refused with a reason, not a lookup error; rejecting it clears the queue; asking the registries again
    names no such request."""
    from sidms.changes.services import review_decide, review_recheck_registries
    from sidms.core.errors import ChangeRefused, NotPermitted

    security = make_staff("security_city", posts=("security_admin",), district="371000")
    second = make_staff("security2_city", posts=("security_admin",), district="371000")
    held = _post(security, make_staff)
    monkeypatch.delitem(PROPOSALS, "staff")
    with pytest.raises(ChangeRefused) as refused:
        review_decide(actor=second, change_request_id=held.pk, approve=True)
    assert refused.value.code == "unknown_kind"
    with pytest.raises(NotPermitted):
        review_recheck_registries(actor=second, change_request_id=held.pk)
    held.refresh_from_db()
    assert held.status == ReviewStatus.PENDING
    review_decide(actor=second, change_request_id=held.pk, approve=False, reason="该业务已停办")
    held.refresh_from_db()
    assert held.status == ReviewStatus.REJECTED
    assert not StaffPost.objects.filter(staff=Staff.objects.get(username="clerk_new")).exists()
