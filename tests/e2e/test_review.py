"""Manual review in a real browser (R7.3): a clerk's change of an ID number is held, the old value stays in
force, and another person, a reviewer, approves it from the queue after comparing old and new values."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from sidms.lib.idcard import check_digit
from tests.e2e.conftest import menu, reference_in

HUANCUI_1960 = "371002196001010011"
# The same person with the sequence number corrected (born 1960-01-01, male): what a typing error looks like.
CORRECTED = "37100219600101003" + check_digit("37100219600101003")


def masked(id_number: str) -> str:
    """An ID number as every page shows it: the birth date and sequence starred out."""
    return f"{id_number[:6]}********{id_number[-4:]}"


@pytest.mark.req("R7.3")
def test_a_changed_id_number_waits_for_another_persons_review_and_then_takes_effect(
    huancui_clerk: Any,
    make_staff: Callable[..., Any],
    make_person: Callable[..., Any],
    as_staff: Callable[[Any], Any],
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    clerk = as_staff(huancui_clerk)

    clerk.goto(f"/persons/{person.person_no}/")
    clerk.get_by_role("link", name="修改信息").click()
    # The form says before submitting which fields wait for a reviewer: the ID number does, the address not.
    id_field = clerk.get_by_role("textbox", name=re.compile(r"^公民身份号码.*提交后需审核$"))
    # Masked everywhere once entered: the field starts empty, the mask as a hint.
    expect(id_field).to_have_value("")
    expect(id_field).to_have_attribute("placeholder", masked(HUANCUI_1960))
    expect(clerk.get_by_role("textbox", name="地址", exact=True)).to_be_visible()
    id_field.fill(CORRECTED)
    clerk.get_by_role("button", name="提交").click()

    expect(clerk).to_have_url(re.compile(rf"/persons/{person.person_no}/$"))
    held = clerk.get_by_text(re.compile(r"已提交审核（审核单 CR\d+）：公民身份号码。审核通过前仍以原值为准"))
    expect(held).to_be_visible()
    request_no = reference_in(held, "CR")
    details = clerk.get_by_role("main")
    expect(details).to_contain_text(masked(HUANCUI_1960))  # the old value is still in force
    assert HUANCUI_1960 not in clerk.content() and CORRECTED not in clerk.content()
    expect(clerk.get_by_role("link", name=request_no)).to_be_visible()  # and the record says what waits
    person.refresh_from_db()
    assert person.id_number == HUANCUI_1960

    # The submitter cannot decide on it.
    clerk.get_by_role("link", name=request_no).click()
    expect(clerk.get_by_text("这是您本人提交的变更，须由其他审核员审核")).to_be_visible()
    expect(clerk.get_by_role("button", name="审核通过，新值生效")).to_have_count(0)

    review = as_staff(reviewer)
    menu(review).get_by_role("link", name="待办与已办").click()
    expect(review.get_by_role("heading", name="待审核 1")).to_be_visible()
    row = review.get_by_role("row").filter(has=review.get_by_role("link", name=request_no))
    expect(row).to_contain_text("公民身份号码")
    expect(row).to_contain_text("环翠窗口 张敏")
    row.get_by_role("link", name=request_no).click()

    expect(review.get_by_role("heading", name=re.compile(f"审核单 {request_no}"))).to_be_visible()
    change = review.get_by_role("row").filter(has_text="公民身份号码")
    # The held value in full, to the one who decides; the stored one it replaces as the read door shows it.
    stored_masked = HUANCUI_1960[:6] + "*" * 8 + HUANCUI_1960[-4:]
    expect(change.get_by_role("cell")).to_have_text(["公民身份号码", stored_masked, CORRECTED])
    expect(review.get_by_text("审核通过前，仍以当前值为准")).to_be_visible()
    review.get_by_role("button", name="审核通过，新值生效").click()

    expect(review).to_have_url(re.compile(r"/queues/$"))
    expect(review.get_by_text(f"审核单 {request_no} 已审核通过，新值已生效。")).to_be_visible()
    expect(review.get_by_role("heading", name="待审核 0")).to_be_visible()

    clerk.goto(f"/persons/{person.person_no}/")
    expect(details).to_contain_text(masked(CORRECTED))
    clerk.get_by_role("link", name="变更历史").click()
    expect(clerk.get_by_role("link", name=request_no)).to_be_visible()  # the history links the request
    person.refresh_from_db()
    assert person.id_number == CORRECTED
