"""A batch update in real browsers (R9.3): a district clerk applies, a city-level approver approves, the
clerk executes once; exactly the selected records change."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from sidms.lib.idcard import check_digit
from tests.conftest import luhn_complete
from tests.e2e.conftest import click_and_confirm, menu, reference_in


def person_row(district: str, serial: str, name: str) -> dict[str, object]:
    body = f"{district}19700101{serial}"
    return {
        "person_no": f"P{district}{serial}",
        "id_number": body + check_digit(body),
        "name": name,
        "sex": "1" if int(serial) % 2 else "2",  # the sequence number's last digit: odd for men
        "birth_date": "1970-01-01",
        "category": "employee",
        "district_id": district,
        "phone": "13963100000",
        "bank_account": luhn_complete("621700000000000000"),
        "status": "active",
    }


@pytest.mark.req("R9.3")
def test_a_batch_is_applied_for_approved_at_city_level_and_executed_once(
    huancui_clerk: Any,
    make_staff: Callable[..., Any],
    load: Callable[..., list[Any]],
    as_staff: Callable[[Any], Any],
) -> None:
    # Two employees in Huancui, one in Rushan (outside the clerk's district).
    rows = [
        person_row("371002", "001", "刘坤"),
        person_row("371002", "002", "王芳"),
        person_row("371083", "003", "张敏"),
    ]
    load("person", rows)
    city_approver = make_staff("approver_city", posts=("approver",), district="371000")
    clerk = as_staff(huancui_clerk)

    menu(clerk).get_by_role("link", name="批量变更").click()
    clerk.get_by_role("link", name="申请批量变更").click()
    expect(clerk.get_by_role("heading", name="申请批量变更")).to_be_visible()
    # A district clerk selects within their own district only.
    expect(clerk.get_by_label("区市").locator("option")).to_have_text(["371002 环翠区"])
    clerk.get_by_label("邮政编码").fill("264200")
    clerk.get_by_label("地址").fill("威海市环翠区新威路 1 号")
    # The reason box has no label of its own (see the report); its form field name is stable.
    clerk.locator("textarea[name=reason]").fill("街道邮编调整")
    clerk.get_by_role("button", name="统计符合条件的记录").click()
    expect(clerk.get_by_role("status")).to_contain_text("2")

    clerk.get_by_role("button", name="提交申请").click()
    submitted = clerk.get_by_text(
        re.compile(r"批量变更申请 BA\d+ 已提交，符合条件的记录 2 条，等待市级审批。")
    )
    expect(submitted).to_be_visible()
    batch_no = reference_in(submitted, "BA")
    expect(clerk.get_by_role("button", name="执行批量变更")).to_have_count(0)  # not before approval

    approver = as_staff(city_approver)
    menu(approver).get_by_role("link", name="批量变更").click()
    row = approver.get_by_role("row").filter(has=approver.get_by_role("link", name=batch_no, exact=True))
    expect(row).to_contain_text("环翠窗口 张敏")
    row.get_by_role("link", name=batch_no, exact=True).click()
    expect(approver.get_by_role("main")).to_contain_text("264200")
    expect(approver.get_by_role("main")).to_contain_text("街道邮编调整")
    approver.get_by_label("执行时间窗口").select_option(label="4 小时")
    click_and_confirm(approver, approver.get_by_role("button", name="批准", exact=True), "2 条记录")
    expect(approver.get_by_text("已批准：授权对 2 条记录执行一次。")).to_be_visible()
    # The approver does not execute.
    expect(approver.get_by_role("button", name="执行批量变更")).to_have_count(0)

    clerk.reload()
    click_and_confirm(clerk, clerk.get_by_role("button", name="执行批量变更"), "2 条记录")
    expect(clerk.get_by_text("已执行：变更 2 条记录。")).to_be_visible()
    expect(clerk.get_by_role("button", name="执行批量变更")).to_have_count(0)  # once only

    clerk.goto("/persons/P371002001/")
    expect(clerk.get_by_role("main")).to_contain_text("威海市环翠区新威路 1 号")
    expect(clerk.get_by_role("main")).to_contain_text("264200")
    from sidms.registry.models import Person

    changed = {p.person_no: (p.postcode, p.address, p.version) for p in Person.objects.all()}
    assert changed == {
        "P371002001": ("264200", "威海市环翠区新威路 1 号", 2),
        "P371002002": ("264200", "威海市环翠区新威路 1 号", 2),
        "P371083003": ("", "", 1),
    }
