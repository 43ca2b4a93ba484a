"""The electronic archive in real browsers (R2.4, R7.4): a clerk attaches scans on a review request's archive
catalogue, a refused file is explained, the archive reviewer accepts or rejects each with a reason on the
review page, the catalogue shows the outcome, and the review request can be approved only once the required
document is accepted."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from sidms.lib.idcard import check_digit
from tests.archives.conftest import noise
from tests.e2e.conftest import menu, reference_in

NEW_ID = "37100219900101002" + check_digit("37100219900101002")
UPLOAD_LABEL = "扫描件（JPEG、PNG、TIFF 或 PDF）"


def attach(page: Any, doc_type: str, name: str, data: bytes, mime: str = "image/png") -> None:
    """On an archive catalogue page: choose the document type and the file, and upload."""
    page.get_by_label("材料类型").select_option(label=doc_type)
    page.get_by_label(UPLOAD_LABEL).set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.get_by_role("button", name="上传").click()


def decide(page: Any, item: str, decision: str, reason: str = "") -> None:
    """On the archive review page: accept or reject ITEM ("#12") with REASON."""
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=item, exact=True))
    if reason:
        row.get_by_role("textbox").fill(reason)
    row.get_by_role("button", name=decision).click()


@pytest.mark.req("R7.4")
def test_upload_catalogue_and_archive_review_before_a_new_person_is_approved(
    huancui_clerk: Any, make_staff: Callable[..., Any], as_staff: Callable[[Any], Any]
) -> None:
    from sidms.archives.models import ArchiveItem
    from sidms.registry.models import Person

    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002", full_name="环翠审核 王强")
    archivist = make_staff(
        "archivist_hc", posts=("archive_reviewer",), district="371002", full_name="档案审核员 孙丽"
    )
    clerk = as_staff(huancui_clerk)

    # A new person, held for review.
    menu(clerk).get_by_role("link", name="参保人员").click()
    clerk.get_by_role("link", name="新增参保人员").click()
    clerk.get_by_label("公民身份号码").fill(NEW_ID)
    clerk.get_by_label("姓名").fill("周文")
    clerk.get_by_label("性别").select_option(label="女")
    clerk.get_by_label("出生日期").fill("1990-01-01")
    clerk.get_by_label("人员类别").select_option(label="在职职工")
    clerk.get_by_label("所属区域").select_option(label="371002 环翠区")
    clerk.get_by_label("状态").select_option(label="正常")
    clerk.get_by_role("button", name="提交").click()
    request_no = reference_in(clerk.get_by_text(re.compile(r"已提交审核（审核单 CR\d+）")), "CR")

    # The reviewer cannot approve it yet: the ID copy is missing.
    review = as_staff(reviewer)
    review.goto(clerk.url)
    review.get_by_role("button", name="审核通过，新值生效").click()
    expect(review.get_by_role("alert")).to_contain_text(
        "办理本业务所需的档案材料缺失或被退回：居民身份证复印件"
    )

    # The clerk opens the request's archive catalogue: a renamed program is refused and explained.
    clerk.get_by_role("link", name="档案目录与上传").click()
    expect(clerk.get_by_role("heading", name=f"档案目录：审核申请 {request_no}")).to_be_visible()
    attach(clerk, "居民身份证复印件", "身份证.png", b"MZ" + b"\x00" * 500, "image/png")
    expect(clerk.get_by_role("alert")).to_contain_text("Windows 可执行程序")
    assert not ArchiveItem.objects.exists()
    # Two real scans: the ID copy (blurred, to be rejected) and a second one.
    attach(clerk, "居民身份证复印件", "身份证.png", noise("PNG"))
    expect(
        clerk.get_by_text(re.compile(r"扫描件已存入档案（档案条目 \d+），等待档案审核员审核。"))
    ).to_be_visible()
    attach(clerk, "居民身份证复印件", "身份证-重扫.jpg", noise("JPEG"), "image/jpeg")
    first, second = ArchiveItem.objects.order_by("pk")
    catalogue = clerk.get_by_role("table")
    expect(catalogue).to_contain_text("待档案审核")
    expect(catalogue).to_contain_text("永久")
    expect(clerk.get_by_role("img", name="首页预览")).to_have_count(2)

    # The archive reviewer rejects the first with a reason and accepts the second.
    archive = as_staff(archivist)
    menu(archive).get_by_role("link", name="档案审核").click()
    decide(archive, f"#{first.pk}", "驳回", "复印件模糊")
    expect(archive.get_by_text(f"档案条目 {first.pk} 已退回。")).to_be_visible()
    decide(archive, f"#{second.pk}", "通过")
    expect(archive.get_by_text(f"档案条目 {second.pk} 已审核通过。")).to_be_visible()
    expect(archive.get_by_text("没有待审核的扫描件")).to_be_visible()

    # The catalogue shows both outcomes; now the request is approved.
    clerk.reload()
    expect(clerk.get_by_role("table")).to_contain_text("复印件模糊")
    expect(clerk.get_by_role("table")).to_contain_text("已通过")
    review.goto(review.url.removesuffix("decide/"))
    review.get_by_role("button", name="审核通过，新值生效").click()
    expect(review.get_by_text(f"审核单 {request_no} 已审核通过，新值已生效。")).to_be_visible()
    assert Person.objects.filter(name="周文").exists()
