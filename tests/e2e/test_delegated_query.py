"""A query by a delegate in real browsers (R10.2, R7.4): the window registers the delegate from the person's
page, the registration waits for the reviewer and for the authorisation's scan accepted by the archive
reviewer, and then the rights record is printed for the delegate under the registration's number."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sidms.lib.idcard import check_digit
from tests.archives.conftest import noise
from tests.e2e.conftest import reference_in
from tests.e2e.test_archives import attach, decide

PERSON_ID = "37100219600101001" + check_digit("37100219600101001")
DELEGATE_ID = "37100219850315002" + check_digit("37100219850315002")


@pytest.mark.req("R10.2")
def test_a_delegate_is_registered_reviewed_with_the_authorisation_and_gets_the_statement(
    huancui_clerk: Any, make_staff: Callable[..., Any], make_person: Callable[..., Any],
    as_staff: Callable[[Any], Any],
) -> None:  # fmt: skip
    from sidms.audit.models import AuditEvent
    from sidms.registry.models import DelegatedQuery

    person = make_person(id_number=PERSON_ID, name="王建国")
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002", full_name="环翠审核 王强")
    archivist = make_staff(
        "archivist_hc", posts=("archive_reviewer",), district="371002", full_name="档案审核员 孙丽"
    )
    clerk = as_staff(huancui_clerk)
    clerk.goto(f"/persons/{person.person_no}/")
    expect(clerk.get_by_role("heading", name="委托查询")).to_be_visible()
    clerk.locator("a[href*='delegated-queries/new']").click()
    clerk.get_by_label("受托人姓名").fill("王丽娜")
    clerk.get_by_label("受托人身份证号码").fill(DELEGATE_ID)
    clerk.get_by_label("用途").fill("办理房贷需社保缴费证明")
    clerk.get_by_label("授权有效期至").fill((timezone.localdate() + timedelta(days=30)).isoformat())
    clerk.get_by_role("button", name="提交").click()
    request_no = reference_in(clerk.get_by_text(re.compile(r"已提交审核（审核单 CR\d+）")), "CR")

    review = as_staff(reviewer)
    review.goto(clerk.url)
    review.get_by_role("button", name="审核通过，新值生效").click()
    expect(review.get_by_role("alert")).to_contain_text("授权委托书")

    clerk.get_by_role("link", name="档案目录与上传").click()
    attach(clerk, "书面授权委托书", "授权委托书.pdf", noise("PDF"), "application/pdf")
    stored = clerk.get_by_text(re.compile(r"扫描件已存入档案（档案条目 \d+）"))
    item = re.search(r"档案条目 (\d+)", stored.inner_text()).group(1)  # type: ignore[union-attr]
    archive = as_staff(archivist)
    archive.goto("/archives/review/")
    decide(archive, f"#{item}", "通过")
    review.goto(review.url.removesuffix("decide/"))
    review.get_by_role("button", name="审核通过，新值生效").click()
    expect(review.get_by_text(f"审核单 {request_no} 已审核通过，新值已生效。")).to_be_visible()
    registration = DelegatedQuery.objects.get(person=person)

    # The person's page lists it, the delegate masked; the statement is printed under its number.
    clerk.goto(f"/persons/{person.person_no}/")
    expect(clerk.get_by_role("main")).to_contain_text("办理房贷需社保缴费证明")
    expect(clerk.get_by_role("main")).not_to_contain_text("王丽娜")
    clerk.goto(f"/persons/{person.person_no}/rights/")
    clerk.get_by_label("委托查询登记号（受托人代查时填写）").fill(str(registration.pk))
    with clerk.expect_response(re.compile(r"/rights/statement/$")) as printed:
        clerk.get_by_role("button", name="打印权益记录单（PDF）").click()
    assert printed.value.headers["content-type"] == "application/pdf"
    issued = AuditEvent.objects.filter(
        action="statement.issue", payload__contains=f'"delegated_query":{registration.pk}'
    )
    assert issued.count() == 1
