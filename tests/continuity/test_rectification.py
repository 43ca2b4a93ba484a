"""Rectification orders (责令改正) from the supervising department to an agency, with a deadline, tracked until
closed and printed as a PDF (R4.1, R20, B4)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from sidms.audit.services import audit_record
from sidms.changes.verify import verify_store
from sidms.continuity.alerts import alerts_run
from sidms.continuity.models import Alert, OrderStatus, RuleCode
from sidms.continuity.pdf import order_pdf
from sidms.continuity.rectification import (
    order_close,
    order_issue,
    order_respond,
    order_return,
    orders_visible,
)
from sidms.continuity.selectors import dashboard_notices
from sidms.core.errors import ChangeRefused, NotPermitted
from sidms.registry.models import Agency

pytestmark = [pytest.mark.django_db, pytest.mark.req("R4.1"), pytest.mark.req("R20")]


@pytest.fixture
def agencies(load):  # type: ignore[no-untyped-def]
    rows = [
        {"code": "AG371002", "name": "环翠区社会保险事业中心", "level": "district", "district_id": "371002"},
        {"code": "AG371083", "name": "乳山市社会保险事业中心", "level": "district", "district_id": "371083"},
    ]
    return [Agency.objects.get(pk=a.pk) for a in load("agency", rows)]


def test_an_order_from_an_alert_is_tracked_until_closed(
    agencies, huancui_clerk, make_staff, supervisor
) -> None:  # type: ignore[no-untyped-def]
    huancui, _rushan = agencies
    audit_record("export.person", actor=huancui_clerk, object_type="person", detail={"rows": 4000})
    alerts_run()
    alert = Alert.objects.get(rule=RuleCode.BULK_EXPORT)
    deadline = timezone.localdate() + timedelta(days=15)
    order = order_issue(
        actor=supervisor, agency=huancui, alert=alert, deadline=deadline,
        problems="窗口经办人员 clerk_hc 一次导出参保人员数据 4000 条，超过规定阈值且无审批。",
        requirements="一、立即停止违规导出；二、核查导出数据去向并收回；三、完善导出审批制度。",
    )  # fmt: skip
    assert order.number.startswith(f"ZG{timezone.localdate().year}-") and order.status == OrderStatus.ISSUED

    rushan_approver = make_staff("approver_rs", posts=("approver",), district="371083")
    huancui_approver = make_staff("approver_hc", posts=("approver",), district="371002")
    assert order not in orders_visible(rushan_approver) and order in orders_visible(huancui_approver)
    with pytest.raises(NotPermitted):
        order_respond(actor=rushan_approver, order_id=order.pk, response="不是我们的")
    with pytest.raises(NotPermitted):
        order_respond(actor=huancui_clerk, order_id=order.pk, response="已整改")
    with pytest.raises(ChangeRefused):
        order_close(actor=supervisor, order_id=order.pk, note="未报告不能办结")

    order_respond(actor=huancui_approver, order_id=order.pk, response="已收回导出文件，制定导出审批制度。")
    order_return(
        actor=supervisor, order_id=order.pk, note="请补充培训记录", deadline=deadline + timedelta(days=7)
    )
    order_respond(actor=huancui_approver, order_id=order.pk, response="已补充全员保密培训记录。")
    closed = order_close(actor=supervisor, order_id=order.pk, note="整改到位，予以办结")
    assert closed.status == OrderStatus.CLOSED and closed.deadline == deadline + timedelta(days=7)
    assert verify_store().ok


def test_an_order_on_the_departments_own_initiative_and_its_deadline(
    agencies, supervisor, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    _huancui, rushan = agencies
    with pytest.raises(ChangeRefused):
        order_issue(
            actor=supervisor, agency=rushan, problems="x", requirements="y", deadline=timezone.localdate()
        )
    with pytest.raises(NotPermitted):
        order_issue(actor=huancui_clerk, agency=rushan, problems="x", requirements="y",
                    deadline=timezone.localdate() + timedelta(days=3))  # fmt: skip
    order = order_issue(actor=supervisor, agency=rushan, problems="年度检查发现数据备份记录不全。",
                        requirements="补齐备份登记并开展恢复演练。", deadline=timezone.localdate() + timedelta(days=1))  # fmt: skip
    assert not order.overdue()
    assert order.overdue(today=timezone.localdate() + timedelta(days=2))
    assert dashboard_notices(supervisor).orders_overdue == 0


@pytest.mark.req("B4")
def test_an_order_prints_as_a_pdf_in_chinese(agencies, supervisor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    order = order_issue(actor=supervisor, agency=agencies[0], problems="未按规定签订保密协议的人员仍在岗。",
                        requirements="立即补签保密协议。", deadline=timezone.localdate() + timedelta(days=10))  # fmt: skip
    data = order_pdf(order)
    assert data.startswith(b"%PDF-")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "order.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for expected in (
        "责令改正通知书",
        order.number,
        "环翠区社会保险事业中心",
        "立即补签保密协议",
        "人社局监督 冯雪",
    ):
        assert expected in text, expected
