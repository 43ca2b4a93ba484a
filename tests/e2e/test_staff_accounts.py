"""Staff accounts in real browsers (R16, R17): a city-level security administrator creates an account and
proposes its post, a second one confirms it (four eyes) and, since the first set the password, issues the
one-time enrolment code; the new person signs in for the first time with the password, the code and a TOTP
code from the authenticator they bind. The code is shown once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import current_code
from tests.e2e.conftest import click_and_confirm, menu, reference_in

NEW_PASSWORD = "Harbour-Lights-2026"


@pytest.mark.req("R16")
@pytest.mark.req("R17")
def test_two_security_administrators_set_up_an_account_and_the_person_signs_in_with_the_enrolment_code(
    make_staff: Callable[..., Any], new_page: Callable[[str], Any], as_staff: Callable[[Any], Any]
) -> None:
    from sidms.registry.models import Staff
    from sidms.security.models import SealedTOTPDevice

    security = as_staff(
        make_staff("security_city", posts=("security_admin",), district="371000", full_name="安全管理员 林峰")
    )
    second_admin = make_staff(
        "security2_city", posts=("security_admin",), district="371000", full_name="安全管理员 何静"
    )

    # 1. The account, without posts; a refused form keeps what was typed, but not the password.
    menu(security).get_by_role("link", name="工作人员账号").click()
    expect(security.get_by_role("heading", name="工作人员账号")).to_be_visible()
    expect(security.get_by_role("status")).to_have_text("共 2 条")
    security.get_by_role("link", name="新建工作人员账号").click()
    security.get_by_label("登录名").fill("clerk_wd")
    security.get_by_label("显示姓名").fill("文登窗口 李红")
    security.get_by_label("所属区市（数据范围）").select_option("371003")
    security.get_by_label("初始密码").fill("short")
    security.get_by_label("再次输入密码").fill("short")
    security.get_by_label("保密协议签订日期").fill("2026-03-01")
    security.get_by_role("button", name="建立账号").click()
    expect(security.get_by_role("alert")).to_contain_text("密码至少 12 位")
    expect(security.get_by_label("显示姓名")).to_have_value("文登窗口 李红")
    expect(security.get_by_label("初始密码")).to_have_value("")
    security.get_by_label("初始密码").fill(NEW_PASSWORD)
    security.get_by_label("再次输入密码").fill(NEW_PASSWORD)
    security.get_by_role("button", name="建立账号").click()
    expect(security.get_by_text("账号 clerk_wd 已建立。")).to_be_visible()
    expect(security.get_by_role("heading", name="文登窗口 李红 clerk_wd")).to_be_visible()
    expect(security.get_by_text("尚无岗位：该人员可以登录，但不能使用任何功能。")).to_be_visible()

    # 2. The post is proposed; it is not granted until a second administrator confirms it.
    security.get_by_role("link", name="提议授予岗位").click()
    expect(security.get_by_text("由谁确认：另一名市级安全管理员（不能是您本人）。")).to_be_visible()
    security.get_by_label("拟授予岗位").select_option(label="窗口经办")
    security.get_by_label("修改理由").fill("任职通知 威人社〔2026〕12 号")
    click_and_confirm(security, security.get_by_role("button", name="提议授予"), "另一名安全管理员确认")
    proposed = security.get_by_text(re.compile(r"已提议授予岗位“窗口经办”（审核单 CR\d+）"))
    expect(proposed).to_be_visible()
    request_no = reference_in(proposed, "CR")
    security.get_by_role("link", name=request_no).click()
    expect(security.get_by_text("该提议由您本人提出，须由另一名管理员确认。")).to_be_visible()
    expect(security.get_by_role("button", name="确认：授予岗位")).to_have_count(0)
    assert Staff.objects.get(username="clerk_wd").posts == frozenset()

    # 3. The second administrator finds it in 待办与已办 and confirms it on its review page.
    second = as_staff(second_admin)
    second.get_by_role("link", name="待确认的岗位授予").click()
    row = second.get_by_role("row").filter(has=second.get_by_role("link", name=request_no))
    expect(row).to_contain_text("工作人员 clerk_wd")
    expect(row).to_contain_text("安全管理员 林峰")
    row.get_by_role("link", name=request_no).click()
    expect(second.get_by_role("main")).to_contain_text("任职通知 威人社〔2026〕12 号")
    expect(second.get_by_role("main")).to_contain_text("窗口经办")
    click_and_confirm(second, second.get_by_role("button", name="确认：授予岗位"), "立即获得此岗位")
    expect(second.get_by_text(f"审核单 {request_no} 已审核通过，新值已生效。")).to_be_visible()
    assert Staff.objects.get(username="clerk_wd").posts == frozenset({"window_clerk"})
    # The account's page shows the post and, in its history, who granted it on whose proposal.
    menu(second).get_by_role("link", name="工作人员账号").click()
    second.get_by_label("登录名或姓名").fill("李红")
    second.get_by_role("button", name="查询").click()
    expect(second.get_by_role("status")).to_have_text("共 1 条")
    second.get_by_role("link", name="clerk_wd").click()
    expect(second.get_by_role("table", name="岗位")).to_contain_text("窗口经办")
    history = second.get_by_role("table", name="账号变更历史").get_by_role("row").filter(has_text="授予岗位")
    expect(history).to_contain_text("安全管理员 何静")
    expect(history).to_contain_text("授予 窗口经办")

    # 4. The first administrator set the password, so the second issues the enrolment code (no one holds both
    #    factors of another's account): shown once, never again.
    menu(security).get_by_role("link", name="工作人员账号").click()
    security.get_by_role("link", name="clerk_wd").click()
    security.get_by_role("link", name="签发登记码").first.click()
    expect(security.get_by_role("alert")).to_contain_text("登记码须由另一名安全管理员签发")
    expect(security.get_by_role("button", name="签发登记码")).to_have_count(0)
    second.get_by_role("link", name="签发登记码").first.click()
    second.get_by_role("button", name="签发登记码").click()
    expect(second.get_by_text("登记码只显示这一次。请当面交给本人")).to_be_visible()
    code = second.locator("#enrolment-code").inner_text()
    assert re.fullmatch(r"\d{8}", code)
    second.reload()  # the browser sends the form again: no code, none issued
    expect(second.get_by_text("该登记码已显示过，不再显示。")).to_be_visible()
    assert code not in second.content()

    # 5. The person's first sign-in: password, the enrolment code, the QR code, a TOTP code.
    person = new_page("clerk_wd")
    person.goto("/login/")
    person.get_by_label("用户名").fill("clerk_wd")
    person.get_by_label("密码").fill(NEW_PASSWORD)
    person.get_by_role("button", name="下一步").click()
    expect(person).to_have_url(re.compile(r"/login/enrol/$"))
    person.get_by_label("安全管理员当面发放的 8 位登记码").fill(code)
    person.get_by_role("button", name="继续").click()
    expect(person.get_by_role("heading", name="绑定身份验证器")).to_be_visible()
    expect(person.locator(".qr svg")).to_be_visible()
    device = SealedTOTPDevice.objects.get(user__username="clerk_wd", confirmed=False)
    person.get_by_label("身份验证器中的 6 位动态口令").fill(current_code(device))
    person.get_by_role("button", name="确认并登录").click()
    expect(person).to_have_url(re.compile(r"^https?://[^/]+/$"))
    expect(person.get_by_role("heading", name="首页")).to_be_visible()
    expect(person.get_by_text("文登窗口 李红 · 文登区")).to_be_visible()
    expect(menu(person).get_by_role("link", name="参保人员")).to_be_visible()  # the window clerk's pages
    expect(menu(person).get_by_role("link", name="工作人员账号")).to_have_count(0)

    # The account's page now says the authenticator is bound, and its history tells the whole story.
    second.get_by_role("link", name="返回账号").click()
    expect(second.get_by_role("main")).to_contain_text("已绑定")
    history = second.get_by_role("table", name="账号变更历史")
    for act in ("创建工作人员账号", "授予岗位", "签发绑定码", "绑定身份验证器"):
        expect(history.get_by_role("row").filter(has_text=act)).to_have_count(1)
