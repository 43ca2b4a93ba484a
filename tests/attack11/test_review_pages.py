"""Attack round 11 on the review pages as presented by the presenter registry (sidms.web.workflow.presenters):
who opens which request by its number, what each sees, and what a decision needs.

Found and fixed: every holder of a post that decides some kind of request saw every request of the city (or
of their district) by URL, whatever its kind. A city-level security administrator and a city-level system
administrator — administrators, who handle no insured person's records (B7, R4.1) and hold no person.view —
opened a person's change request by its number: the name, sex, birth date and district, the values before
and proposed. A reviewer opened a parameter proposal and a post's proposal, a security administrator a
parameter proposal, decisions none of them may take. The queue was right (each lists its own kind); the page
was not. Now a review request is visible to the holders of the post that decides it (and to its submitter).

Found and fixed: a request follows its record once the record moves district, and the district it left
found no page for it — but a rejection posted to its number was taken. The decision now checks it too.

Held, pinned here: a reviewer of another district sees and decides nothing of a 环翠区 request by URL; the
decision form carries its CSRF token and a decision posted without it is refused; the submitter's page and
the reviewer's show a stored phone masked (only a value held for manual review is shown in full, to the one
who decides it).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client

from sidms.business.parameters import parameter_propose
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import submit_change
from sidms.registry.models import Person
from sidms.security.accounts import staff_post_propose
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db]


def _person_change(clerk: Any, make_person: Any) -> ChangeRequest:
    person = make_person(id_number=id_number("37100219600101001"), name="王建国", birth_date="1960-01-01")
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", record=person,
                         values={"name": "王建华"}).held  # fmt: skip
    assert held is not None
    return held


@pytest.mark.req("R10.3")
@pytest.mark.req("R4.1")
@pytest.mark.parametrize("post", ["security_admin", "city_admin"])
def test_an_administrator_does_not_open_a_persons_change_by_its_number(
    post: str, make_staff: Any, make_person: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    held = _person_change(huancui_clerk, make_person)
    administrator = make_staff(f"{post}_x", posts=(post,), district="371000")
    client = signed_in(administrator)
    page = client.get(f"/queues/review/{held.pk}/")
    assert page.status_code == 404
    assert "王建" not in page.content.decode() and "1960-01-01" not in page.content.decode()
    decided = client.post(f"/queues/review/{held.pk}/decide/", {"decision": "reject", "reason": "x"})
    assert decided.status_code in (403, 404)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING


@pytest.mark.req("R9.1")
@pytest.mark.req("R10.3")
def test_a_proposal_opens_only_to_the_post_that_decides_it(
    make_staff: Any, city_admin: Any, security: Any, city_reviewer: Any, signed_in: Any
) -> None:
    parameter = parameter_propose(
        actor=city_admin, key="session.max_hours", value=8, effective_from=date(2027, 1, 1),
        source="威人社发〔2026〕1号（示例）", reason="缩短会话",
    )  # fmt: skip
    member = make_staff("clerk_new", posts=(), district="371002", full_name="新人 周")
    post = staff_post_propose(actor=security, staff=member, post="window_clerk", reason="任职通知")
    second_admin = make_staff("admin2_x", posts=("city_admin",), district="371000")
    second_security = make_staff("security2_x", posts=("security_admin",), district="371000")
    clients = {who.username: signed_in(who) for who in (city_reviewer, security, city_admin, second_admin,
                                                         second_security)}  # fmt: skip

    def status(who: Any, held: ChangeRequest) -> int:
        return int(clients[who.username].get(f"/queues/review/{held.pk}/").status_code)

    assert status(second_admin, parameter) == 200 and status(city_admin, parameter) == 200
    assert status(city_reviewer, parameter) == 404 and status(security, parameter) == 404
    assert status(second_security, post) == 200 and status(security, post) == 200
    assert status(city_reviewer, post) == 404 and status(city_admin, post) == 404


@pytest.mark.req("R10.3")
def test_a_reviewer_of_another_district_neither_sees_nor_decides(
    make_staff: Any, make_person: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    held = _person_change(huancui_clerk, make_person)
    rushan = make_staff("reviewer_rs", posts=("reviewer",), district="371083")
    client = signed_in(rushan)
    assert client.get(f"/queues/review/{held.pk}/").status_code == 404
    for decision in ("approve", "reject"):
        response = client.post(f"/queues/review/{held.pk}/decide/", {"decision": decision, "reason": "x"})
        assert response.status_code in (403, 404) and "王建" not in response.content.decode()
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
    assert Person.objects.get(pk=held.record_id).name == "王建国"


@pytest.mark.req("R17")
def test_the_decision_form_needs_its_csrf_token(
    make_person: Any, huancui_clerk: Any, huancui_reviewer: Any, signed_in: Any
) -> None:
    held = _person_change(huancui_clerk, make_person)
    signed = signed_in(huancui_reviewer)
    page = signed.get(f"/queues/review/{held.pk}/").content.decode()
    form = page.split(f'action="/queues/review/{held.pk}/decide/"')[1].split("</form>")[0]
    assert 'name="csrfmiddlewaretoken"' in form
    forger = Client(enforce_csrf_checks=True)
    forger.cookies = signed.cookies
    assert forger.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"}).status_code == 403
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING


@pytest.mark.req("R10.1")
def test_a_stored_phone_stays_masked_on_the_review_page(
    make_person: Any, huancui_clerk: Any, huancui_reviewer: Any, signed_in: Any
) -> None:
    person = make_person(id_number=id_number("37100219600101001"), name="王建国", birth_date="1960-01-01")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
                  values={"phone": "13912345678"})  # fmt: skip
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person",
                         record=Person.objects.get(pk=person.pk), values={"name": "王建华",
                                                                          "phone": "13787654321"}).held  # fmt: skip
    assert held is not None
    for who in (huancui_clerk, huancui_reviewer):
        body = signed_in(who).get(f"/queues/review/{held.pk}/").content.decode()
        assert "13912345678" not in body  # the stored value, to everyone
        if who is huancui_clerk:
            assert "13787654321" not in body  # the proposed value, to its submitter


@pytest.mark.req("R10.3")
def test_the_district_a_record_left_does_not_reject_its_request_blind(
    make_staff: Any, make_person: Any, huancui_clerk: Any, huancui_reviewer: Any, signed_in: Any
) -> None:
    """A request follows its record: once the person moved to 乳山市, 环翠区's reviewer finds no page for it —
    and a rejection posted to its number was taken all the same."""
    held = _person_change(huancui_clerk, make_person)
    city_clerk = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    submit_change(actor=city_clerk, channel=Channel.WINDOW, entity="person",
                  record=Person.objects.get(pk=held.record_id), values={"district_id": "371083"})  # fmt: skip
    client = signed_in(huancui_reviewer)
    assert client.get(f"/queues/review/{held.pk}/").status_code == 404
    response = client.post(f"/queues/review/{held.pk}/decide/", {"decision": "reject", "reason": "不予受理"})
    assert response.status_code in (403, 404)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING
