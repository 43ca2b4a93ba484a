"""A new person at the window in real browsers (R6.1, R7.3): a clerk enters the person, whose ID number and
name wait for a reviewer; once approved, the system gives the person a number (never typed), and the clerk
enters the person's employment at a unit from the person's page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from sidms.lib.idcard import check_digit
from tests.archives.conftest import noise
from tests.e2e.conftest import menu, reference_in
from tests.e2e.test_archives import attach, decide

# Born 1985-03-15 in Huancui; the odd sequence digit says a man.
NEW_ID = "37100219850315001" + check_digit("37100219850315001")
MASKED = f"{NEW_ID[:6]}********{NEW_ID[-4:]}"


@pytest.mark.req("R6.1")
def test_a_clerk_enters_a_new_person_and_then_their_employment_from_the_persons_page(
    huancui_clerk: Any,
    make_staff: Callable[..., Any],
    make_unit: Callable[..., Any],
    as_staff: Callable[[Any], Any],
) -> None:
    from sidms.archives.models import ArchiveItem
    from sidms.registry.models import Employment, Person

    unit = make_unit(unit_no="3710020001", name="威海市环翠区海港机械有限公司", district="371002")
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002", full_name="环翠审核 王强")
    clerk = as_staff(huancui_clerk)

    # 1. The clerk enters the person; the number is not asked for.
    menu(clerk).get_by_role("link", name="参保人员").click()
    clerk.get_by_role("link", name="新增参保人员").click()
    expect(clerk.get_by_text("编号在保存时由系统自动分配。")).to_be_visible()
    expect(clerk.get_by_label("个人编号")).to_have_count(0)
    clerk.get_by_label("公民身份号码").fill(NEW_ID)
    clerk.get_by_label("姓名").fill("李明")
    clerk.get_by_label("性别").select_option(label="男")
    clerk.get_by_label("出生日期").fill("1985-03-15")
    clerk.get_by_label("人员类别").select_option(label="在职职工")
    clerk.get_by_label("所属区域").select_option(label="371002 环翠区")
    clerk.get_by_label("电话").fill("13912345678")
    clerk.get_by_label("状态").select_option(label="正常")
    clerk.get_by_role("button", name="提交").click()
    held = clerk.get_by_text(re.compile(r"已提交审核（审核单 CR\d+）：公民身份号码、姓名"))
    expect(held).to_be_visible()
    request_no = reference_in(held, "CR")
    expect(clerk.get_by_text("新记录：审核通过前不保存任何内容")).to_be_visible()
    assert not Person.objects.exists()  # nothing stored before the review

    # The ID copy the registration needs (R7.4): attached on the request's archive catalogue, accepted by the
    # archive reviewer.
    clerk.get_by_role("link", name="档案目录与上传").click()
    attach(clerk, "居民身份证复印件", "身份证.png", noise("PNG"))
    archive = as_staff(make_staff("archivist_hc", posts=("archive_reviewer",), district="371002"))
    menu(archive).get_by_role("link", name="档案审核").click()
    decide(archive, f"#{ArchiveItem.objects.get().pk}", "通过")
    expect(archive.get_by_text("没有待审核的扫描件")).to_be_visible()

    # 2. A reviewer approves it from the queue: the person exists now, with a number the system assigned.
    review = as_staff(reviewer)
    menu(review).get_by_role("link", name="待办与已办").click()
    review.get_by_role("row").filter(has=review.get_by_role("link", name=request_no)).get_by_role(
        "link", name=request_no
    ).click()
    review.get_by_role("button", name="审核通过，新值生效").click()
    expect(review.get_by_text(f"审核单 {request_no} 已审核通过，新值已生效。")).to_be_visible()
    person = Person.objects.get()
    assert re.fullmatch(r"\d{10}", person.person_no), person.person_no  # assigned, with its check digit
    assert (person.name, person.sex, str(person.birth_date)) == ("李明", "1", "1985-03-15")

    # 3. The clerk finds the person by ID number and enters the employment on the person's page.
    menu(clerk).get_by_role("link", name="参保人员").click()
    clerk.get_by_role("searchbox", name="查询").fill(NEW_ID)
    clerk.get_by_role("button", name="查询").click()
    clerk.get_by_role("link", name=person.person_no).click()
    expect(clerk.get_by_role("heading", name=f"李明（{person.person_no}）")).to_be_visible()
    expect(clerk.get_by_role("main")).to_contain_text(MASKED)
    employments = clerk.locator(".card").filter(has=clerk.get_by_role("heading", name="就业记录"))
    expect(employments).to_contain_text("暂无记录。")
    employments.get_by_role("link", name="新增").click()
    expect(clerk.get_by_role("main")).to_contain_text(f"李明（{person.person_no}）")  # the person is fixed
    clerk.get_by_label("参保单位（单位编号）").fill(unit.unit_no)
    clerk.get_by_label("开始日期").fill("2026-11-01")
    clerk.get_by_role("button", name="提交").click()

    saved = re.compile(rf"^已保存：就业记录 (\d+) · 李明（{person.person_no}）。该记录的变更历史自此开始。$")
    expect(clerk.get_by_text(saved)).to_be_visible()
    employment = Employment.objects.get()
    # The number it names is the record's own (the database's sequence gives it).
    expect(
        clerk.get_by_role("heading", name=f"就业记录 {employment.pk} · 李明（{person.person_no}）")
    ).to_be_visible()
    # The employment links both ways: to its unit, and back to its person.
    expect(clerk.get_by_role("link", name="威海市环翠区海港机械有限公司（3710020001）")).to_be_visible()
    clerk.get_by_role("link", name=f"李明（{person.person_no}）").first.click()
    assert (employment.person_id, employment.unit_id, str(employment.start_date)) == (
        person.pk,
        unit.pk,
        "2026-11-01",
    )
    row = employments.get_by_role("row").filter(has_text="海港机械")
    expect(row).to_contain_text("2026-11-01")
    row.get_by_role("link", name="威海市环翠区海港机械有限公司（3710020001）").click()  # and on to the unit
    expect(clerk.get_by_role("heading", name=re.compile("海港机械"))).to_be_visible()
