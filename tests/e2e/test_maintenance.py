"""Maintenance in real browsers (R9.3): apply → approve → modify → re-check, four people, each in their own
browser session; the record changes at the modification step and not before."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import menu, reference_in

HUANCUI_1960 = "371002196001010011"


def open_order_from_queue(page: Any, queue: str, order_no: str) -> None:
    """From the navigation to the order's page, through the queue QUEUE showing one order."""
    menu(page).get_by_role("link", name="待办与已办").click()
    expect(page.get_by_role("heading", name=f"{queue} 1")).to_be_visible()
    page.get_by_role("link", name=order_no).click()
    expect(page.get_by_role("heading", name=re.compile(f"维护单 {order_no}"))).to_be_visible()


@pytest.mark.req("R9.3")
def test_maintenance_runs_through_four_people_each_in_their_own_browser(
    make_staff: Callable[..., Any], make_person: Callable[..., Any], as_staff: Callable[[Any], Any]
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国", birth_date="1960-01-01")
    applicant = as_staff(make_staff("clerk_apply", posts=("window_clerk",), district="371002"))
    approver = as_staff(make_staff("approver_hc", posts=("approver",), district="371002"))
    modifier = as_staff(make_staff("clerk_modify", posts=("window_clerk",), district="371002"))
    rechecker = as_staff(make_staff("rechecker_hc", posts=("rechecker",), district="371002"))

    # 1. Apply: a window clerk corrects the name as written in the household register, with the reason.
    applicant.goto(f"/persons/{person.person_no}/")
    applicant.get_by_role("link", name="申请数据维护").click()
    applicant.get_by_label("姓名").fill("王建军")
    applicant.get_by_label("维护理由").fill("姓名录入错误，依据户口簿更正")
    applicant.get_by_role("button", name="申请数据维护").click()
    applied = applicant.get_by_text(re.compile(r"维护单 MO\d+ 已申报，等待审批。"))
    expect(applied).to_be_visible()
    order_no = reference_in(applied, "MO")
    expect(applicant.get_by_role("row").filter(has_text="姓名").get_by_role("cell")).to_have_text(
        ["姓名", "王建国", "王建军"]
    )
    expect(applicant.get_by_text("已申报，待审批")).to_be_visible()

    # 2. Approve: an approver of the district; approval alone changes nothing.
    open_order_from_queue(approver, "待审批", order_no)
    expect(approver.get_by_role("main")).to_contain_text("姓名录入错误，依据户口簿更正")
    approver.get_by_role("button", name="批准维护").click()
    expect(approver.get_by_text(f"维护单 {order_no}：已审批，待修改。")).to_be_visible()
    expect(approver.get_by_role("heading", name="待审批 0")).to_be_visible()
    person.refresh_from_db()
    assert person.name == "王建国"

    # The applicant may not carry out the modification of their own order: it is not in their queue.
    menu(applicant).get_by_role("link", name="待办与已办").click()
    expect(applicant.get_by_role("heading", name="待修改 0")).to_be_visible()
    applicant.get_by_role("link", name=order_no).click()
    expect(applicant.get_by_text("您已办理本维护单的前序步骤")).to_be_visible()
    expect(applicant.get_by_role("button", name="执行修改")).to_have_count(0)

    # 3. Modify: a second window clerk writes the corrected value to the record.
    open_order_from_queue(modifier, "待修改", order_no)
    modifier.get_by_role("button", name="执行修改").click()
    expect(modifier.get_by_text(f"维护单 {order_no}：已修改，待复核。")).to_be_visible()
    person.refresh_from_db()
    assert person.name == "王建军"

    # 4. Re-check: a re-checker accepts; the order shows the four people and is closed.
    open_order_from_queue(rechecker, "待复核", order_no)
    rechecker.get_by_role("button", name="复核通过").click()
    expect(rechecker.get_by_text(f"维护单 {order_no}：复核通过。")).to_be_visible()
    expect(rechecker.get_by_role("heading", name="待复核 0")).to_be_visible()

    # The applicant finds the order closed among those they applied for, with the four people who did it.
    menu(applicant).get_by_role("link", name="待办与已办").click()
    mine = applicant.get_by_role("row").filter(has=applicant.get_by_role("link", name=order_no))
    expect(mine).to_contain_text("复核通过")
    mine.get_by_role("link", name=order_no).click()
    steps = applicant.get_by_role("listitem").filter(has_text=re.compile("申报|审批通过|已修改|复核通过"))
    expect(steps).to_have_count(4)
    for step, who in zip(
        ("申报", "审批通过", "已修改", "复核通过"),
        ("clerk_apply", "approver_hc", "clerk_modify", "rechecker_hc"),
        strict=True,
    ):
        expect(steps.filter(has_text=step)).to_contain_text(who)
    expect(applicant.get_by_text("本维护单已办结。")).to_be_visible()

    # The record shows the corrected value, and its history links the order.
    applicant.goto(f"/persons/{person.person_no}/")
    expect(applicant.get_by_role("main")).to_contain_text("王建军")
    applicant.get_by_role("link", name="变更历史").click()
    expect(
        applicant.get_by_role("row").filter(has_text="维护修改").get_by_role("link", name=order_no)
    ).to_be_visible()
