"""The continuity and supervision pages, driven through the real sign-in (password and TOTP): the
information centre's backup register, the supervising department's inbox and orders, the media register, the
agreement register and the administrators' acts, each behind its post."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sidms.audit.services import audit_record
from sidms.changes.rules import rule_propose
from sidms.continuity.alerts import alerts_run
from sidms.continuity.backups import failover_drill_record
from sidms.continuity.base import create
from sidms.continuity.models import (
    Agreement,
    Alert,
    AlertStatus,
    Backup,
    BackupEngine,
    DisposalStatus,
    MediaDisposal,
    OrderStatus,
    RectificationOrder,
    RuleCode,
    StorageMedium,
)
from sidms.registry.models import Agency

pytestmark = [pytest.mark.django_db]


@pytest.mark.req("R18.3")
def test_the_information_centre_sees_backups_and_drills(
    signed_in, info_centre, officer, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    # A register row as `sidms backup` writes it (the backup itself is taken by the operator command).
    create(
        Backup(label="20261130T020000Z", engine=BackupEngine.SQLITE, kind="snapshot", operator=officer,
               started_at=now, finished_at=now, path="/srv/backup/sidms-20261130T020000Z.sidmsbak", size=1_667_366,
               digest="ab" * 32, cipher="SM4-GCM", key_version=1, chain_seq=107, chain_hash="cd" * 32,
               counts={"person": 60}, location="机房 A 备份柜"),
        "backup.register", actor=officer,
    )  # fmt: skip

    class Measured:
        started_at, seconds, rpo_transactions, rto_seconds = now, 12.5, 0, 0.24

    failover_drill_record(
        actor=officer, result=Measured(), passed=True, message="备库提升演练通过", message_en="passed"
    )
    page = signed_in(info_centre).get("/continuity/backups/").content.decode()
    for expected in ("20261130T020000Z", "备份管理员 郭强", "机房 A 备份柜", "#107", "备库提升演练通过"):
        assert expected in page, expected
    assert signed_in(huancui_clerk).get("/continuity/backups/").status_code == 403


@pytest.mark.req("R20")
@pytest.mark.req("R4.1")
def test_the_supervisor_takes_an_alert_to_closure_and_issues_an_order(
    signed_in, supervisor, huancui_clerk, load, make_staff
) -> None:  # type: ignore[no-untyped-def]
    (agency,) = load(
        "agency",
        [
            {
                "code": "AG371002",
                "name": "环翠区社会保险事业中心",
                "level": "district",
                "district_id": "371002",
            }
        ],
    )
    audit_record("export.person", actor=huancui_clerk, object_type="person", detail={"rows": 3000})
    alerts_run()
    alert = Alert.objects.get(rule=RuleCode.BULK_EXPORT)
    client = signed_in(supervisor)
    inbox = client.get("/continuity/alerts/").content.decode()
    assert f"AL{alert.pk}" in inbox and "clerk_hc" in inbox
    url = f"/continuity/alerts/{alert.pk}/"
    assert client.get(url).status_code == 200
    client.post(f"{url}step/", {"action": "acknowledge"})
    client.post(f"{url}step/", {"action": "investigate", "text": "约谈当事人"})
    refused = client.post(f"{url}step/", {"action": "close", "text": ""}, follow=True).content.decode()
    assert "结论" in refused or "conclusion" in refused
    client.post(f"{url}step/", {"action": "close", "text": "属实，责令改正"})
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.CLOSED

    response = client.post(
        f"/continuity/orders/new/?alert={alert.pk}",
        {"agency": agency.pk, "problems": "超阈值导出", "requirements": "建立导出审批", "deadline": (timezone.localdate() + timedelta(days=10)).isoformat()},
    )  # fmt: skip
    order = RectificationOrder.objects.get()
    assert response.status_code == 302 and order.alert_id == alert.pk
    pdf = client.get(f"/continuity/orders/{order.pk}/pdf/")
    assert (
        pdf.status_code == 200
        and pdf["Content-Type"] == "application/pdf"
        and pdf.content.startswith(b"%PDF")
    )

    approver = make_staff("approver_hc", posts=("approver",), district="371002")
    agency_side = signed_in(approver)
    assert order.number in agency_side.get("/continuity/orders/").content.decode()
    agency_side.post(
        f"/continuity/orders/{order.pk}/step/", {"action": "respond", "text": "已建立导出审批制度"}
    )
    client.post(f"/continuity/orders/{order.pk}/step/", {"action": "close", "text": "整改到位"})
    assert RectificationOrder.objects.get(pk=order.pk).status == OrderStatus.CLOSED
    assert Agency.objects.filter(pk=agency.pk).exists()


@pytest.mark.req("R19")
def test_media_are_registered_wiped_and_printed_through_the_pages(signed_in, info_centre, officer) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(info_centre)
    client.post(
        "/continuity/media/",
        {"asset_no": "WH-PC-0001", "kind": "workstation", "description": "审核工作站", "location": "环翠区中心",
         "status": "in_use", "holds_data": "on"},
    )  # fmt: skip
    medium = StorageMedium.objects.get(asset_no="WH-PC-0001")
    url = f"/continuity/media/{medium.pk}/"
    client.post(url, {"action": "dispose", "reason": "repair"})
    incomplete = client.post(url, {"action": "close", "wipe_method": "overwrite", "operator": "info_city"})
    assert incomplete.status_code == 400 and MediaDisposal.objects.get().status == DisposalStatus.OPEN
    client.post(
        url,
        {"action": "close", "wipe_method": "overwrite", "operator": "info_city", "witness": "backup_city",
         "wiped_on": timezone.localdate().isoformat(), "certificate_ref": "DA-2026-001000"},
    )  # fmt: skip
    assert MediaDisposal.objects.get().status == DisposalStatus.CLOSED
    pdf = client.get("/continuity/media/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


@pytest.mark.req("R16")
def test_the_security_administrator_registers_an_agreement_through_the_page(
    signed_in, security_admin, make_staff
) -> None:  # type: ignore[no-untyped-def]
    make_staff("clerk_new", posts=("window_clerk",), agreement=False)
    client = signed_in(security_admin)
    client.post(
        "/continuity/agreements/",
        {"party_kind": "staff", "party": "clerk_new", "scope": "社会保险业务数据保密", "signed_on": timezone.localdate().isoformat(),
         "expires_on": (timezone.localdate() + timedelta(days=20)).isoformat(), "scan_ref": "DA-2026-002000"},
    )  # fmt: skip
    agreement = Agreement.objects.get()
    page = client.get("/continuity/agreements/").content.decode()
    assert agreement.number in page and "DA-2026-002000" in page


@pytest.mark.req("B7")
def test_the_audit_administrator_sees_the_administrators_acts_and_no_one_else_does(
    signed_in, audit_admin, city_admin
) -> None:  # type: ignore[no-untyped-def]
    rule_propose(actor=city_admin, entity="person", field="phone", required=True, validator="phone",
                 review_level="system", crosschecks=(), reason="电话必填")  # fmt: skip
    page = signed_in(audit_admin).get("/continuity/administrators/?post=city_admin").content.decode()
    assert "admin_city" in page
    assert signed_in(city_admin).get("/continuity/administrators/").status_code == 403


@pytest.mark.req("R20")
@pytest.mark.req("R16")
def test_a_vendor_window_is_applied_for_and_approved_through_the_page(
    signed_in, security_admin, info_centre
) -> None:  # type: ignore[no-untyped-def]
    from sidms.continuity.models import MaintenanceWindow, Vendor, VendorAccount, WindowStatus
    from sidms.registry.models import Staff

    admin = signed_in(security_admin)
    admin.post("/continuity/vendors/", {"form": "vendor", "name": "威海数据维护有限公司"})
    vendor = Vendor.objects.get()
    admin.post(
        "/continuity/agreements/",
        {"party_kind": "vendor", "party": vendor.name, "scope": "数据库运维", "signed_on": timezone.localdate().isoformat(),
         "expires_on": (timezone.localdate() + timedelta(days=60)).isoformat()},
    )  # fmt: skip
    admin.post(
        "/continuity/vendors/",
        {"form": "account", "vendor": vendor.pk, "username": "vendor_li", "full_name": "李工", "password": "Vendor-Passw0rd-26"},
    )  # fmt: skip
    account = VendorAccount.objects.get()
    now = timezone.localtime()
    # Open now, and not before today: just after midnight five minutes back is yesterday, before the agreement
    # signed today, and the window is rightly refused.
    start = max(now - timedelta(minutes=5), now.replace(hour=0, minute=0, second=0, microsecond=0))
    signed_in(info_centre).post(
        "/continuity/vendors/",
        {"form": "window", "account": account.pk, "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
         "ends_at": (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"), "purpose": "数据库补丁"},
    )  # fmt: skip
    window = MaintenanceWindow.objects.get()
    assert not Staff.objects.get(pk=account.staff_id).is_active
    admin.post("/continuity/vendors/", {"form": "decide", "window": window.pk, "decision": "approve"})
    assert MaintenanceWindow.objects.get(pk=window.pk).status == WindowStatus.OPEN
    assert Staff.objects.get(pk=account.staff_id).is_active
    assert "vendor_li" in admin.get("/continuity/vendors/").content.decode()


@pytest.mark.req("R18.3")
@pytest.mark.req("R20")
def test_the_continuity_hub_shows_each_post_its_own_registers_and_refuses_a_window_clerk(
    signed_in, info_centre, supervisor, security_admin, audit_admin, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    own = (
        (info_centre, "/continuity/backups/", "备份与恢复演练"),
        (supervisor, "/continuity/alerts/", "告警"),
        (security_admin, "/continuity/agreements/", "保密协议"),
        (audit_admin, "/continuity/administrators/", "管理员操作记录"),
    )
    pages = {}
    for staff, href, text in own:
        response = signed_in(staff).get("/continuity/")
        assert response.status_code == 200, staff.username
        pages[staff.username] = page = response.content.decode()
        assert f'href="{href}"' in page and text in page, (staff.username, href)
    # The administrators' acts are the audit administrator's alone.
    assert 'href="/continuity/administrators/"' not in pages[info_centre.username]
    assert signed_in(huancui_clerk).get("/continuity/").status_code == 403
