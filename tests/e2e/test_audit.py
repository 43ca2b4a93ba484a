"""The audit log in a real browser (R20): the auditor sees the acts of the other posts (reads, changes,
reviews, rule edits) without the ID numbers searched for, verifies the whole store from the page and sees
it intact; the verification is itself recorded."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from sidms.lib.idcard import check_digit

HUANCUI_1960 = "371002196001010011"
CORRECTED = "37100219600101003" + check_digit("37100219600101003")


def clerk_at_the_window(page: Any, person_no: str) -> None:
    """Search by ID number, open the record, change its address: through the pages."""
    page.get_by_role("navigation").get_by_role("link", name="参保人员").click()
    page.get_by_role("searchbox", name="查询").fill(HUANCUI_1960)
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name=person_no).click()
    page.get_by_role("link", name="修改信息").click()
    page.get_by_label("地址").fill("环翠区新威路 8 号")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_text("已立即生效：地址。")).to_be_visible()


@pytest.mark.req("R20")
def test_the_auditor_sees_the_acts_of_the_other_posts_and_verifies_the_store_intact(
    huancui_clerk: Any,
    auditor: Any,
    make_staff: Callable[..., Any],
    make_person: Callable[..., Any],
    as_staff: Callable[[Any], Any],
) -> None:
    from sidms.changes.models import Channel
    from sidms.changes.rules import rule_edit
    from sidms.changes.services import review_decide, submit_change

    person = make_person(id_number=HUANCUI_1960, name="王建国")
    clerk_at_the_window(as_staff(huancui_clerk), person.person_no)
    # A held change approved by a reviewer, and a rule edit, through the services the pages call.
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    admin = make_staff("admin_city", posts=("city_admin",), district="371000")
    person.refresh_from_db()
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
        values={"id_number": CORRECTED},
    ).held  # fmt: skip
    assert held is not None
    review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    rule_edit(
        actor=admin, entity="person", field="postcode", required=True, validator="postcode",
        review_level="system", crosschecks=[], reason="邮寄社保卡须有邮政编码",
    )  # fmt: skip

    page = as_staff(auditor)
    page.get_by_role("navigation").get_by_role("link", name="审计日志").click()
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()
    log = page.get_by_role("table")
    for action, actor, target in (
        ("auth.otp_ok", "clerk_hc", "staff:"),
        ("read.person_list", "clerk_hc", "person"),
        ("read.person", "clerk_hc", f"person:{person.person_no}"),
        ("write.person", "clerk_hc", f"person:{person.person_no}"),
        ("submit.person", "clerk_hc", f"person:{person.person_no}"),
        ("review.approve", "reviewer_hc", "change_request:"),
        ("rules.edit", "admin_city", "collection_rule:person.postcode"),
    ):
        rows = log.get_by_role("row").filter(has=page.get_by_role("cell", name=action, exact=True))
        row = rows.filter(has=page.get_by_role("cell", name=actor, exact=True)).first
        expect(row).to_contain_text(target)
        expect(row).to_contain_text("成功")
    # The search is recorded by how it was made, never by the number typed.
    expect(log.get_by_role("row").filter(has_text="read.person_list").first).to_contain_text("id_number")
    assert HUANCUI_1960 not in page.content() and CORRECTED not in page.content()

    # Filtering by actor narrows the log to that person's acts.
    page.get_by_label("操作人").fill("reviewer_hc")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"/audit/\?.*actor=reviewer_hc"))
    actors = log.get_by_role("row").filter(has=page.get_by_role("link", name=re.compile(r"^\d+$")))
    expect(actors.first).to_be_visible()
    for text in actors.all_inner_texts():
        assert "reviewer_hc" in text
    page.get_by_role("link", name="清除").click()

    expect(page.get_by_text("尚未在本页执行过校验。")).to_be_visible()
    page.get_by_role("button", name="立即校验").click()
    expect(page.get_by_text("数据完整：全部校验通过。")).to_be_visible()
    status = page.locator("#chain-status")
    expect(status).to_contain_text("最近一次校验")
    expect(status).to_contain_text("auditor_city")
    expect(status).to_contain_text("完整")
    newest = log.get_by_role("row").nth(1)
    expect(newest).to_contain_text("audit.verify")
    expect(newest).to_contain_text("auditor_city")
