"""The collection rules in real browsers (R5, R9.1): one city-level administrator proposes to make a person's
postcode required, a second confirms it on the review page of the proposal (four eyes); the rules page shows
the new version in force, and the window's form follows it at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import click_and_confirm, menu, reference_in

HUANCUI_1960 = "371002196001010011"
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


def postcode_row(page: Any) -> Any:
    """The row of the person's postcode in the table of rules in force."""
    link = page.get_by_role("link", name="邮政编码").and_(page.locator('[href="/rules/person/postcode/"]'))
    return page.get_by_role("row").filter(has=link)


@pytest.mark.req("R5")
@pytest.mark.req("R9.1")
def test_one_city_administrator_proposes_a_required_postcode_and_a_second_confirms_it(
    huancui_clerk: Any,
    make_staff: Callable[..., Any],
    make_person: Callable[..., Any],
    as_staff: Callable[[Any], Any],
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国", postcode="264200")
    admin = as_staff(
        make_staff("admin_city", posts=("city_admin",), district="371000", full_name="市级系统管理员 陈晨")
    )
    second_admin = make_staff(
        "admin2_city", posts=("city_admin",), district="371000", full_name="市级系统管理员 黄磊"
    )

    menu(admin).get_by_role("link", name="采集规则").click()
    expect(admin.get_by_text("当前生效的规则。")).to_be_visible()
    expect(postcode_row(admin).get_by_role("cell")).to_have_text(
        ["邮政编码", "选填", "邮政编码（6 位数字）", "系统校验", "—", "—", "1", DATE]
    )
    postcode_row(admin).get_by_role("link", name="邮政编码").click()

    # 1. The first administrator proposes the new version, with the reason.
    expect(admin.get_by_role("heading", name=re.compile("参保人员 · 邮政编码"))).to_be_visible()
    expect(admin.get_by_role("heading", name="提议新版本")).to_be_visible()
    admin.get_by_role("checkbox", name="必填").check()
    admin.get_by_label("修改理由").fill("邮寄社保卡须有邮政编码")
    admin.get_by_role("button", name="提交修改提议").click()
    proposed = admin.get_by_text(re.compile(r"修改已作为申请 CR\d+ 提出，须经第二名市级管理员确认后生效。"))
    expect(proposed).to_be_visible()
    request_no = reference_in(proposed, "CR")
    # Nothing changes before the confirmation: v1 stays in force, the proposal waits.
    expect(admin.get_by_role("row").filter(has_text="v1")).to_contain_text("现行")
    expect(admin.get_by_role("row").filter(has_text="v2")).to_have_count(0)
    expect(admin.get_by_role("heading", name="待确认的修改提议")).to_be_visible()
    admin.get_by_role("link", name=request_no).click()
    expect(admin.get_by_text("该规则修改由您本人提议，须由另一名市级管理员确认。")).to_be_visible()
    expect(admin.get_by_role("button", name="确认：规则在全市生效")).to_have_count(0)

    # 2. The second administrator finds it in 待办与已办 and confirms it on the review page.
    second = as_staff(second_admin)
    menu(second).get_by_role("link", name="待办与已办").click()
    row = second.get_by_role("row").filter(has=second.get_by_role("link", name=request_no))
    expect(row).to_contain_text("参保人员 · 邮政编码")
    row.get_by_role("link", name=request_no).click()
    expect(second.get_by_role("heading", name=re.compile(f"审核单 {request_no}"))).to_be_visible()
    expect(second.get_by_role("main")).to_contain_text("邮寄社保卡须有邮政编码")
    expect(second.get_by_role("main")).to_contain_text("市级系统管理员 陈晨")
    click_and_confirm(second, second.get_by_role("button", name="确认：规则在全市生效"), "全市")
    expect(second.get_by_text(f"审核单 {request_no} 已审核通过，新值已生效。")).to_be_visible()

    # 3. The rule's page shows version 2 in force, by whom and why; version 1 no longer.
    admin.goto("/rules/person/postcode/")
    latest = admin.get_by_role("row").filter(has_text="v2")
    expect(latest).to_contain_text("现行")
    expect(latest).to_contain_text("必填")
    expect(latest).to_contain_text("市级系统管理员 黄磊")  # the version is written by the confirmation
    expect(latest).to_contain_text("邮寄社保卡须有邮政编码")
    expect(admin.get_by_role("row").filter(has_text="v1")).not_to_contain_text("现行")
    menu(admin).get_by_role("link", name="采集规则").click()
    expect(postcode_row(admin).get_by_role("cell")).to_have_text(
        ["邮政编码", "必填", "邮政编码（6 位数字）", "系统校验", "—", "—", "2", DATE]
    )

    # The window's form follows the rule in force: the postcode is marked required, and it can no longer
    # be removed: the submission is refused with a Chinese message at the top and next to the field.
    clerk = as_staff(huancui_clerk)
    clerk.goto(f"/persons/{person.person_no}/edit/")
    expect(clerk.get_by_text(re.compile(r"^邮政编码\s*\*"))).to_be_visible()
    clerk.get_by_label("邮政编码").fill("")
    clerk.get_by_label("地址").fill("环翠区新威路 8 号")
    clerk.get_by_role("button", name="提交").click()
    expect(clerk.get_by_role("alert")).to_contain_text("邮政编码为必填项")
    expect(clerk.get_by_label("地址")).to_have_value("环翠区新威路 8 号")  # what was typed is kept
    person.refresh_from_db()
    assert (person.postcode, person.address, person.version) == ("264200", "", 1)  # nothing stored
