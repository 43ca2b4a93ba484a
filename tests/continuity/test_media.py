"""The register of storage media and computers that hold data, and their wiping before repair or scrapping
(R19); the register as a PDF with CJK fonts (B4)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from sidms.changes.verify import verify_store
from sidms.continuity.media import disposal_close, disposal_open, medium_move, medium_register
from sidms.continuity.models import (
    DisposalStatus,
    MediaDisposal,
    MediumKind,
    MediumStatus,
    StorageMedium,
    WipeMethod,
)
from sidms.continuity.pdf import media_register_pdf
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties

pytestmark = [pytest.mark.django_db, pytest.mark.req("R19")]


@pytest.fixture
def laptop(info_centre):  # type: ignore[no-untyped-def]
    return medium_register(
        actor=info_centre, asset_no="WH-PC-0173", kind=MediumKind.LAPTOP, description="联想 ThinkPad，环翠窗口",
        location="环翠区社保中心 3 号窗口", serial_no="PF3X9K2", holds_data=True, custodian=info_centre,
    )  # fmt: skip


def test_a_computer_sent_for_repair_is_closed_only_with_the_complete_wipe_record(
    laptop, info_centre, officer
) -> None:  # type: ignore[no-untyped-def]
    disposal = disposal_open(actor=info_centre, medium_id=laptop.pk, reason="repair", note="屏幕故障送修")
    assert StorageMedium.objects.get(pk=laptop.pk).status == MediumStatus.DISPOSAL
    today = timezone.localdate()
    complete = {
        "wipe_method": WipeMethod.OVERWRITE, "operator": info_centre, "witness": officer, "wiped_on": today,
        "certificate_ref": "DA-2026-000777",
    }  # fmt: skip
    for missing in complete:
        values = {**complete, missing: None if missing in ("operator", "witness", "wiped_on") else ""}
        with pytest.raises(ChangeRefused) as refused:
            disposal_close(actor=info_centre, disposal_id=disposal.pk, **values)
        assert missing in refused.value.errors, missing
    with pytest.raises(SeparationOfDuties):
        disposal_close(actor=info_centre, disposal_id=disposal.pk, **{**complete, "witness": info_centre})
    with pytest.raises(ChangeRefused):
        disposal_close(
            actor=info_centre, disposal_id=disposal.pk, **{**complete, "wiped_on": today + timedelta(days=1)}
        )
    assert MediaDisposal.objects.get(pk=disposal.pk).status == DisposalStatus.OPEN

    closed = disposal_close(actor=info_centre, disposal_id=disposal.pk, **complete)
    assert closed.status == DisposalStatus.CLOSED and closed.witness_id == officer.pk
    assert StorageMedium.objects.get(pk=laptop.pk).status == MediumStatus.REPAIR
    with pytest.raises(ChangeRefused):
        disposal_close(actor=info_centre, disposal_id=disposal.pk, **complete)
    assert verify_store().ok


def test_a_scrapped_disk_cannot_be_moved_or_disposed_of_again(info_centre, officer) -> None:  # type: ignore[no-untyped-def]
    disk = medium_register(actor=officer, asset_no="WH-HD-0042", kind=MediumKind.DISK, description="备份服务器硬盘",
                           location="机房 A 机柜 3")  # fmt: skip
    disposal = disposal_open(actor=officer, medium_id=disk.pk, reason="scrap")
    disposal_close(
        actor=officer, disposal_id=disposal.pk, wipe_method=WipeMethod.DESTROYED, operator=officer, witness=info_centre,
        wiped_on=timezone.localdate(), certificate_ref="DA-2026-000778",
    )  # fmt: skip
    assert StorageMedium.objects.get(pk=disk.pk).status == MediumStatus.SCRAPPED
    with pytest.raises(ChangeRefused):
        disposal_open(actor=officer, medium_id=disk.pk, reason="scrap")
    with pytest.raises(ChangeRefused):
        medium_move(actor=officer, medium_id=disk.pk, location="仓库", status=MediumStatus.IN_STORE)


def test_a_backup_tape_goes_off_site_and_back(officer) -> None:  # type: ignore[no-untyped-def]
    tape = medium_register(actor=officer, asset_no="WH-LTO-0007", kind=MediumKind.TAPE, description="LTO-8 周备份",
                           location="机房 A 保险柜", status=MediumStatus.IN_STORE)  # fmt: skip
    medium_move(actor=officer, medium_id=tape.pk, location="荣成灾备中心保险柜", status=MediumStatus.OFFSITE)
    assert StorageMedium.objects.get(pk=tape.pk).location == "荣成灾备中心保险柜"
    assert verify_store().ok


def test_only_the_information_centre_and_the_backup_officer_keep_the_register(
    huancui_clerk, supervisor
) -> None:  # type: ignore[no-untyped-def]
    for who in (huancui_clerk, supervisor):
        with pytest.raises(NotPermitted):
            medium_register(actor=who, asset_no="X", kind=MediumKind.DISK, description="x", location="x")


@pytest.mark.req("B4")
def test_the_register_prints_as_a_pdf_in_chinese(laptop, info_centre, officer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    disposal = disposal_open(actor=info_centre, medium_id=laptop.pk, reason="scrap")
    disposal_close(
        actor=info_centre, disposal_id=disposal.pk, wipe_method=WipeMethod.SECURE_ERASE, operator=info_centre,
        witness=officer, wiped_on=timezone.localdate(), certificate_ref="DA-2026-000779",
    )  # fmt: skip
    data = media_register_pdf()
    assert data.startswith(b"%PDF-") and b"/FontFile" in data  # the font is embedded
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "register.pdf"
    path.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "存储介质",
        "WH-PC-0173",
        "环翠区社保中心",
        "送修与报废",
        "DA-2026-000779",
        "郭强",
        "郑伟",
    ):
        assert expected in text, expected
