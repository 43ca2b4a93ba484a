"""The audit log in a real browser (R20): the auditor reads the acts of the other posts (reads, changes,
reviews, a rule confirmed by four eyes) in Chinese, with staff by name and without the ID numbers searched
for, verifies the whole store from the page and sees it intact; the verification is itself recorded."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from sidms.lib.idcard import check_digit
from tests.e2e.conftest import menu

HUANCUI_1960 = "371002196001010011"
CORRECTED = "37100219600101003" + check_digit("37100219600101003")


def clerk_at_the_window(page: Any, person_no: str) -> None:
    """Search by ID number, open the record, change its address: through the pages."""
    menu(page).get_by_role("link", name="参保人员").click()
    page.get_by_role("searchbox", name="查询").fill(HUANCUI_1960)
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name=person_no).click()
    page.get_by_role("link", name="修改信息").click()
    page.get_by_label("地址").fill("环翠区新威路 8 号")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_text("已立即生效：地址。")).to_be_visible()


@pytest.mark.req("R20")
def test_the_auditor_reads_the_acts_of_the_other_posts_in_chinese_and_verifies_the_store_intact(
    huancui_clerk: Any,
    auditor: Any,
    make_staff: Callable[..., Any],
    make_person: Callable[..., Any],
    as_staff: Callable[[Any], Any],
) -> None:
    from sidms.changes.models import Channel
    from sidms.changes.rules import rule_propose
    from sidms.changes.services import review_decide, submit_change
    from sidms.changes.verify import verify_store

    person = make_person(id_number=HUANCUI_1960, name="王建国")
    clerk_at_the_window(as_staff(huancui_clerk), person.person_no)
    # A held change approved by a reviewer, and a rule change proposed and confirmed by two administrators,
    # through the services the pages call.
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002", full_name="环翠审核 王强")
    admin = make_staff(
        "admin_city", posts=("city_admin",), district="371000", full_name="市级系统管理员 陈晨"
    )
    admin2 = make_staff(
        "admin2_city", posts=("city_admin",), district="371000", full_name="市级系统管理员 黄磊"
    )
    person.refresh_from_db()
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
        values={"id_number": CORRECTED},
    ).held  # fmt: skip
    assert held is not None
    review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    proposal = rule_propose(
        actor=admin, entity="person", field="postcode", required=True, validator="postcode",
        review_level="system", crosschecks=[], reason="邮寄社保卡须有邮政编码",
    )  # fmt: skip
    review_decide(actor=admin2, change_request_id=proposal.pk, approve=True)

    page = as_staff(auditor)
    menu(page).get_by_role("link", name="审计日志").click()
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()
    log = page.get_by_role("table")
    # Actions and objects in Chinese, staff by name: no login names, no codes.
    for action, actor, target in (
        ("登录成功（双因素）", "环翠窗口 张敏", "工作人员 环翠窗口 张敏"),
        ("查询参保人员", "环翠窗口 张敏", "参保人员"),
        ("查看参保人员", "环翠窗口 张敏", f"参保人员 {person.person_no}"),
        ("修改参保人员", "环翠窗口 张敏", f"参保人员 {person.person_no}"),
        ("提交参保人员待审核", "环翠窗口 张敏", f"审核申请 CR{held.pk}"),
        ("审核通过", "环翠审核 王强", f"审核申请 CR{held.pk}"),
        ("提议修改采集规则", "市级系统管理员 陈晨", f"CR{proposal.pk}"),
        ("写入采集规则新版本", "市级系统管理员 黄磊", "采集规则 参保人员 · 邮政编码"),
    ):
        rows = log.get_by_role("row").filter(has=page.get_by_role("cell", name=action, exact=True))
        row = rows.filter(has=page.get_by_role("cell", name=re.compile(f"^{actor}"))).first
        expect(row).to_contain_text(target)
        expect(row).to_contain_text("成功")
    # The search is recorded by how it was made, never by the number typed.
    expect(log.get_by_role("row").filter(has_text="查询参保人员").first).to_contain_text("公民身份号码")
    html = page.content()
    assert HUANCUI_1960 not in html and CORRECTED not in html
    assert not re.search(r">\s*(read|write|submit|review|rules|auth)\.\w+", html)  # no action codes shown

    # Filtering by a person's name narrows the log to that person's acts; the filter stays in the address.
    page.get_by_label("工作人员").fill("王强")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"/audit/\?.*actor="))
    acts = log.get_by_role("row").filter(has=page.get_by_role("link", name=re.compile(r"^\d+$")))
    expect(acts.first).to_be_visible()
    for text in acts.all_inner_texts():
        assert "环翠审核 王强" in text
    page.get_by_role("link", name="重置").click()

    expect(page.get_by_text("尚未在本页执行过校验。")).to_be_visible()
    page.get_by_role("button", name="立即校验").click()
    expect(page.get_by_text("数据完整：全部校验通过。")).to_be_visible()
    status = page.locator("#chain-status")
    expect(status).to_contain_text("最近一次校验")
    expect(status).to_contain_text("市级审计 吴刚")
    expect(status).to_contain_text("完整")
    newest = log.get_by_role("row").nth(1)
    expect(newest).to_contain_text("校验数据完整性")
    expect(newest).to_contain_text("市级审计 吴刚")
    # And the store is intact as the operators' command sees it. One worker here: on PostgreSQL, workers
    # forked from this process (beside the live server's thread) lost their connections.
    report = verify_store(workers=1)
    assert report.ok, report.problem
