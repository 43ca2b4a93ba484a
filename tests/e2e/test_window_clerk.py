"""A window clerk's main flow in a real browser (R10.3, R7): find a person by ID number without the number
ever reaching a web address, open the record with phone and bank account masked, and change the address
(applied at once) and the phone (checked, then applied)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import menu

HUANCUI_1960 = "371002196001010011"
PHONE = "13963100000"


@pytest.mark.req("R10.3")
def test_a_clerk_finds_a_person_by_id_number_sees_masked_details_and_changes_address_and_phone(
    huancui_clerk: Any, make_person: Callable[..., Any], as_staff: Callable[[Any], Any]
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国", phone=PHONE, address="环翠区旧址路 1 号")
    account = str(person.bank_account)
    page = as_staff(huancui_clerk)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    menu(page).get_by_role("link", name="参保人员").click()
    expect(page.get_by_role("heading", name="参保人员", level=1)).to_be_visible()

    # As typed at a window, with spaces around it. The search posts: the number stays out of the URL.
    page.get_by_role("searchbox", name="查询").fill(f" {HUANCUI_1960} ")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/persons/")):
        page.get_by_role("button", name="查询").click()
    expect(page.get_by_text("按公民身份号码查询。")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("共 1 条")
    row = page.get_by_role("row").filter(has_text="王建国")
    expect(row).to_contain_text("371002********0011")  # masked in the list
    assert HUANCUI_1960 not in page.url

    row.get_by_role("link", name=person.person_no).click()
    expect(page).to_have_url(re.compile(rf"/persons/{person.person_no}/$"))
    expect(page.get_by_role("heading", name=f"王建国（{person.person_no}）")).to_be_visible()
    details = page.get_by_role("main")
    expect(details).to_contain_text("139****0000")
    expect(details).to_contain_text(f"{account[:4]} **** **** {account[-4:]}")
    expect(details).to_contain_text("本次查看已记入审计日志")
    html = page.content()
    assert PHONE not in html and account not in html  # nowhere on the page, not even in the history

    # The edit form does not show the phone or the account again: it starts empty, the mask as a hint.
    page.get_by_role("link", name="修改信息").click()
    phone = page.get_by_label("电话")
    expect(phone).to_have_value("")
    expect(phone).to_have_attribute("placeholder", "139****0000")
    assert PHONE not in page.content() and account not in page.content()
    page.get_by_label("地址").fill("环翠区新威路 8 号")
    phone.fill("13812345678")
    page.get_by_role("button", name="提交").click()

    expect(page).to_have_url(re.compile(rf"/persons/{person.person_no}/$"))
    expect(page.get_by_text(re.compile(r"已立即生效：.*电话"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"已立即生效：.*地址"))).to_be_visible()
    expect(details).to_contain_text("环翠区新威路 8 号")
    expect(details).to_contain_text("138****5678")
    expect(details).to_contain_text("第 2 版")
    assert "13812345678" not in page.content()

    person.refresh_from_db()
    assert (person.address, person.phone, person.version) == ("环翠区新威路 8 号", "13812345678", 2)

    # An ID number typed into the address bar is not searched; the clerk is sent to the search box.
    page.goto(f"/persons/?q={HUANCUI_1960}")
    expect(page.get_by_text("请在查询框中输入身份证号码查询")).to_be_visible()
    expect(page.get_by_text("按公民身份号码查询。")).to_have_count(0)

    assert [url for url in requested if HUANCUI_1960 in url] == [page.url]  # only the one typed by hand
