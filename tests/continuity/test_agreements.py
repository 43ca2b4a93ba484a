"""Confidentiality agreements for everyone (R16), vendor windows (R20(5)) and the dashboard's notices."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sidms.changes.verify import verify_store
from sidms.continuity.agreements import (
    agreement_notices,
    agreement_register,
    agreement_revoke,
    agreements_refresh,
    vendor_account_create,
    vendor_register,
    window_apply,
    window_decide,
    windows_sweep,
)
from sidms.continuity.models import Agreement, MaintenanceWindow, PartyKind, WindowStatus
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted
from sidms.registry.models import ServiceInstitution, Staff

pytestmark = [pytest.mark.django_db, pytest.mark.req("R16")]

TODAY = timezone.localdate()


def _staff_agreement(security_admin, staff, *, signed=TODAY - timedelta(days=30), expires=None):  # type: ignore[no-untyped-def]
    return agreement_register(
        actor=security_admin, party_kind=PartyKind.STAFF, staff=staff, scope="社会保险业务数据保密",
        signed_on=signed, expires_on=expires, scan_ref="DA-2026-000123",
    )  # fmt: skip


def test_the_register_is_the_source_of_a_staff_members_agreement(make_staff, security_admin) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_new", posts=("window_clerk",), agreement=False)
    assert not Staff.objects.get(pk=clerk.pk).has_valid_agreement()

    agreement = _staff_agreement(security_admin, clerk, expires=TODAY + timedelta(days=365))

    account = Staff.objects.get(pk=clerk.pk)
    assert (account.agreement_signed_on, account.agreement_expires_on) == (
        agreement.signed_on,
        agreement.expires_on,
    )
    assert account.has_valid_agreement()
    assert agreement.number.startswith(f"BM{TODAY.year}-") and agreement.scan_ref == "DA-2026-000123"

    agreement_revoke(actor=security_admin, agreement_id=agreement.pk, reason="调离岗位")
    account = Staff.objects.get(pk=clerk.pk)
    assert account.agreement_signed_on is None and not account.has_valid_agreement()
    assert verify_store().ok


def test_without_a_valid_agreement_the_staff_member_has_no_access(make_staff, security_admin, client) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import PASSWORD

    clerk = make_staff("clerk_lapsed", posts=("window_clerk",), agreement=False)
    _staff_agreement(
        security_admin, clerk, signed=TODAY - timedelta(days=400), expires=TODAY - timedelta(days=1)
    )
    response = client.post("/login/", {"username": "clerk_lapsed", "password": PASSWORD})
    assert response.status_code == 200 and "保密协议" in response.content.decode()


def test_a_renewal_registered_in_advance_takes_over_when_the_old_one_ends(make_staff, security_admin) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_renew", posts=("window_clerk",), agreement=False)
    old = _staff_agreement(
        security_admin, clerk, signed=TODAY - timedelta(days=300), expires=TODAY + timedelta(days=5)
    )
    new = _staff_agreement(security_admin, clerk, signed=TODAY + timedelta(days=6), expires=None)
    account = Staff.objects.get(pk=clerk.pk)
    assert account.agreement_expires_on == old.expires_on  # the one in force today
    assert agreements_refresh(today=TODAY + timedelta(days=6)) == 1
    account = Staff.objects.get(pk=clerk.pk)
    assert account.agreement_signed_on == new.signed_on and account.agreement_expires_on is None


def test_institutions_and_vendors_sign_too_and_a_vendors_agreement_expires(security_admin, load) -> None:  # type: ignore[no-untyped-def]
    (hospital,) = load(
        "service_institution",
        [
            {
                "code": "SI0001",
                "name": "威海市立医院",
                "kind": "medical",
                "district_id": "371002",
                "status": "active",
            }
        ],
    )
    agreement_register(
        actor=security_admin, party_kind=PartyKind.INSTITUTION, institution=ServiceInstitution.objects.get(pk=hospital.pk),
        scope="医保结算数据", signed_on=TODAY, expires_on=TODAY + timedelta(days=730),
    )  # fmt: skip
    vendor = vendor_register(
        actor=security_admin, name="浪潮软件股份有限公司", credit_code="91370000163102813X"
    )
    with pytest.raises(ChangeRefused) as refused:
        agreement_register(
            actor=security_admin, party_kind=PartyKind.VENDOR, vendor=vendor, scope="系统运维", signed_on=TODAY,
            expires_on=None,
        )  # fmt: skip
    assert "expires_on" in refused.value.errors
    with pytest.raises(ChangeRefused):
        agreement_register(
            actor=security_admin,
            party_kind=PartyKind.VENDOR,
            staff=None,
            scope="x",
            signed_on=TODAY,
            expires_on=None,
        )
    assert Agreement.objects.count() == 1


def test_only_the_security_administrator_keeps_the_register(make_staff, city_admin, audit_admin) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_x", posts=("window_clerk",))
    for who in (city_admin, audit_admin, clerk):
        with pytest.raises(NotPermitted):
            _staff_agreement(who, clerk)


def test_expiring_agreements_are_announced_on_the_dashboard(make_staff, security_admin, audit_admin) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_soon", posts=("window_clerk",), agreement=False)
    other = make_staff("clerk_later", posts=("window_clerk",), agreement=False)
    soon = _staff_agreement(security_admin, clerk, expires=TODAY + timedelta(days=10))
    _staff_agreement(security_admin, other, expires=TODAY + timedelta(days=200))

    own = agreement_notices(clerk)
    assert [(n.number, n.days_left, n.own) for n in own] == [(soon.number, 10, True)]
    assert agreement_notices(other) == []
    # The register's keepers and readers see every agreement that runs out soon.
    assert [n.number for n in agreement_notices(audit_admin)] == [soon.number]
    # Once a renewal is registered there is nothing to announce.
    _staff_agreement(
        security_admin, clerk, signed=TODAY + timedelta(days=11), expires=TODAY + timedelta(days=800)
    )
    assert agreement_notices(clerk) == [] and agreement_notices(security_admin) == []


# --- vendor maintenance accounts ----------------------------------------------------------------------


@pytest.fixture
def vendor_setup(security_admin):  # type: ignore[no-untyped-def]
    vendor = vendor_register(actor=security_admin, name="威海数据维护有限公司")
    agreement = agreement_register(
        actor=security_admin, party_kind=PartyKind.VENDOR, vendor=vendor, scope="数据库运维",
        signed_on=TODAY - timedelta(days=10), expires_on=TODAY + timedelta(days=90),
    )  # fmt: skip
    account = vendor_account_create(
        actor=security_admin,
        vendor=vendor,
        username="vendor_wang",
        password="Vendor-Passw0rd-2026",
        full_name="王工",
    )
    return vendor, agreement, account


@pytest.mark.req("R20")
def test_a_vendor_account_is_enabled_only_inside_an_approved_window(
    vendor_setup, info_centre, security_admin
) -> None:  # type: ignore[no-untyped-def]
    _vendor, _agreement, account = vendor_setup
    staff = Staff.objects.get(pk=account.staff_id)
    assert not staff.is_active and not staff.has_valid_agreement() and not staff.posts

    now = timezone.now()
    window = window_apply(
        actor=info_centre, account=account, starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=2),
        purpose="数据库补丁升级",
    )  # fmt: skip
    assert not Staff.objects.get(pk=staff.pk).is_active  # applied for, not yet approved
    with pytest.raises(NotPermitted):
        window_decide(actor=info_centre, window_id=window.pk, approve=True)  # the applicant's post may not
    window_decide(actor=security_admin, window_id=window.pk, approve=True)

    staff = Staff.objects.get(pk=staff.pk)
    assert MaintenanceWindow.objects.get(pk=window.pk).status == WindowStatus.OPEN
    assert staff.is_active and staff.has_valid_agreement()

    assert windows_sweep(now=now + timedelta(hours=3)) == {"opened": 0, "closed": 1}
    staff = Staff.objects.get(pk=staff.pk)
    assert not staff.is_active and not staff.has_valid_agreement()
    assert verify_store().ok


@pytest.mark.req("R20")
def test_revoking_the_vendors_agreement_closes_the_open_window(
    vendor_setup, info_centre, security_admin
) -> None:  # type: ignore[no-untyped-def]
    _vendor, agreement, account = vendor_setup
    now = timezone.now()
    window = window_apply(
        actor=info_centre, account=account, starts_at=now, ends_at=now + timedelta(hours=8), purpose="巡检"
    )
    window_decide(actor=security_admin, window_id=window.pk, approve=True)
    assert Staff.objects.get(pk=account.staff_id).is_active
    agreement_revoke(actor=security_admin, agreement_id=agreement.pk, reason="合同终止")
    assert MaintenanceWindow.objects.get(pk=window.pk).status == WindowStatus.CLOSED
    assert not Staff.objects.get(pk=account.staff_id).is_active


@pytest.mark.req("R20")
def test_no_window_beyond_the_vendors_agreement(vendor_setup, info_centre) -> None:  # type: ignore[no-untyped-def]
    _vendor, agreement, account = vendor_setup
    start = timezone.make_aware(timezone.datetime.combine(agreement.expires_on, timezone.datetime.min.time()))
    with pytest.raises(ChangeRefused) as refused:
        window_apply(
            actor=info_centre,
            account=account,
            starts_at=start,
            ends_at=start + timedelta(days=2),
            purpose="迁移",
        )
    assert refused.value.code == "no_agreement"


def test_an_agreement_changed_in_sql_is_named_and_refused(make_staff, security_admin) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_sql", posts=("window_clerk",), agreement=False)
    agreement = _staff_agreement(security_admin, clerk, expires=TODAY + timedelta(days=30))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE continuity_agreement SET expires_on = %s WHERE id = %s", [date(2099, 1, 1), agreement.pk]
        )
    report = verify_store()
    assert not report.ok and report.problem is not None and agreement.number in report.problem.where
    with pytest.raises(IntegrityAlert):
        agreement_revoke(actor=security_admin, agreement_id=agreement.pk, reason="核查")
