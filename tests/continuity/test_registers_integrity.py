"""Every register of the continuity app is tamper-evident (R20, principle 4): a row altered in SQL, an old copy
put back, a row inserted or deleted behind the system's back is named by `sidms audit verify`, and the
services refuse to act on it with an integrity alert for the supervising department."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import translation

from sidms.audit.models import AuditEvent
from sidms.changes.verify import verify_store
from sidms.continuity.media import disposal_open, medium_move, medium_register
from sidms.continuity.models import MediumKind, MediumStatus, StorageMedium
from sidms.core.errors import IntegrityAlert
from tests.conftest import last_integrity_alert

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20")]


@pytest.fixture
def tape(officer):  # type: ignore[no-untyped-def]
    return medium_register(actor=officer, asset_no="WH-LTO-0001", kind=MediumKind.TAPE, description="LTO-8",
                           location="机房 A 保险柜", status=MediumStatus.IN_STORE)  # fmt: skip


def _where() -> str:
    report = verify_store()
    assert not report.ok and report.problem is not None
    return f"{report.problem.where} {report.problem.message_en}"


def test_a_register_row_altered_in_sql_is_named_and_refused(tape, officer) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE continuity_storagemedium SET location = %s WHERE id = %s", ["家里", tape.pk])
    assert "WH-LTO-0001" in _where() and "seal" in _where()
    with pytest.raises(IntegrityAlert) as refused:
        disposal_open(actor=officer, medium_id=tape.pk, reason="scrap")
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="storage_medium").exists()
    event, payload = last_integrity_alert()
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        "backup_city", "storage_medium", str(tape.pk), "failed",
    )  # fmt: skip
    assert payload["detail"] == {"reason": "seal"}
    row = f"{StorageMedium._meta.verbose_name} {StorageMedium.objects.get(pk=tape.pk)}"  # in the refusal's language
    with translation.override("en"):
        assert str(refused.value) == (
            f"{row} does not match its seal or its audit record (changed outside the system); refused. "
            "Tell the information centre."
        )
    with translation.override("zh-hans"):
        assert (
            str(refused.value)
            == f"{row} 与其校验值或审计记录不符（疑似被绕过系统修改），已拒绝处理，请通知信息机构"
        )


def test_an_old_copy_put_back_is_named(tape, officer) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT location, status, step, seal FROM continuity_storagemedium WHERE id = %s", [tape.pk]
        )
        old = cursor.fetchone()
    medium_move(actor=officer, medium_id=tape.pk, location="荣成灾备中心", status=MediumStatus.OFFSITE)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE continuity_storagemedium SET location = %s, status = %s, step = %s, seal = %s WHERE id = %s",
            [*old, tape.pk],
        )
    assert "put back" in _where()
    with pytest.raises(IntegrityAlert):
        medium_move(actor=officer, medium_id=tape.pk, location="机房", status=MediumStatus.IN_STORE)


def test_a_row_inserted_or_deleted_behind_the_systems_back_is_named(tape) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO continuity_storagemedium (asset_no, kind, description, serial_no, holds_data, location, "
            "status, registered_at, step, seal) SELECT 'WH-FAKE', kind, description, serial_no, holds_data, location, "
            "status, registered_at, step, seal FROM continuity_storagemedium WHERE id = %s",
            [tape.pk],
        )
    assert "WH-FAKE" in _where()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM continuity_storagemedium")
    assert "deleted" in _where()
    assert not StorageMedium.objects.exists()
