"""The collection rules in real browsers (R5): the city-level administrator makes a person's postcode
required; the rules page shows the new version in force, and the window's form follows it at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

HUANCUI_1960 = "371002196001010011"


def postcode_row(page: Any) -> Any:
    """The row of the person's postcode in the table of rules in force."""
    link = page.get_by_role("link", name="邮政编码").and_(page.locator('[href="/rules/person/postcode/"]'))
    return page.get_by_role("row").filter(has=link)


@pytest.mark.req("R5")
def test_the_city_administrator_makes_the_postcode_required_and_the_rules_show_the_new_version(
    huancui_clerk: Any,
    make_staff: Callable[..., Any],
    make_person: Callable[..., Any],
    as_staff: Callable[[Any], Any],
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国", postcode="264200")
    admin = as_staff(make_staff("admin_city", posts=("city_admin",), district="371000"))

    admin.get_by_role("navigation").get_by_role("link", name="采集规则").click()
    expect(admin.get_by_text("当前生效的规则。")).to_be_visible()
    expect(postcode_row(admin).get_by_role("cell")).to_have_text(
        ["邮政编码", "选填", "邮政编码（6 位数字）", "系统校验", "—", "1", re.compile(r"\d{4}-\d\d-\d\d")]
    )
    postcode_row(admin).get_by_role("link", name="邮政编码").click()

    expect(admin.get_by_role("heading", name=re.compile("参保人员 · 邮政编码"))).to_be_visible()
    expect(admin.get_by_role("heading", name="新增版本")).to_be_visible()
    admin.get_by_role("checkbox", name="必填").check()
    admin.get_by_label("修改理由").fill("邮寄社保卡须有邮政编码")
    admin.get_by_role("button", name="保存为新版本").click()

    expect(admin.get_by_text("已保存第 2 版规则。")).to_be_visible()
    latest = admin.get_by_role("row").filter(has_text="v2")
    expect(latest).to_contain_text("现行")
    expect(latest).to_contain_text("必填")
    expect(latest).to_contain_text("admin_city")
    expect(latest).to_contain_text("邮寄社保卡须有邮政编码")
    expect(admin.get_by_role("row").filter(has_text="v1")).not_to_contain_text("现行")

    admin.get_by_role("link", name="全部规则").click()
    expect(postcode_row(admin).get_by_role("cell")).to_have_text(
        ["邮政编码", "必填", "邮政编码（6 位数字）", "系统校验", "—", "2", re.compile(r"\d{4}-\d\d-\d\d")]
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
