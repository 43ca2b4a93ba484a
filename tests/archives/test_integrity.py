"""Tamper evidence of the electronic archive (R2.4, R20): a stored file swapped, altered, cut or deleted, or
an item row altered in SQL, makes `sidms audit verify` exit 1 naming the item; a swapped file is also refused
when opened, with an integrity alert."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from sidms.archives.services import archive_open, archive_upload, file_store
from sidms.archives.store import CHUNK
from sidms.audit.models import AuditEvent
from sidms.changes.verify import verify_since_checkpoint, verify_store
from sidms.core.errors import IntegrityAlert
from sidms.registry.models import Staff
from tests.archives.conftest import noise
from tests.conftest import last_integrity_alert

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.4"), pytest.mark.req("R20")]


@pytest.fixture
def two(data_dir, huancui_clerk, person, unit) -> tuple[Any, Any]:  # type: ignore[no-untyped-def]
    # Uncompressed TIFFs of one size: two files of exactly the same length, so a swap passes the size check.
    a = archive_upload(actor=huancui_clerk, target_kind="person", target=person, doc_type="id_copy",
                       data=noise("TIFF", (600, 600)))  # fmt: skip
    b = archive_upload(actor=huancui_clerk, target_kind="unit", target=unit, doc_type="business_licence",
                       data=noise("TIFF", (600, 600)))  # fmt: skip
    assert a.size == b.size and a.size > CHUNK  # several chunks each
    report = verify_store()
    assert report.ok, report.problem
    assert report.rows["archive_file"] == 2
    return a, b


def _path(item: Any) -> Path:
    return file_store().path(item.content_mac)  # type: ignore[attr-defined, no-any-return]


def _broken(item: Any, kind: str = "archive") -> None:
    report = verify_store()
    assert not report.ok, "verify said intact"
    assert report.problem.kind == kind, report.problem
    assert f"#{item.pk}" in report.problem.where
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_verify")
    assert exit_.value.code == 1


def test_a_file_swapped_for_another_items_is_named(two) -> None:  # type: ignore[no-untyped-def]
    a, b = two
    shutil.copyfile(_path(b), _path(a))
    _broken(a)
    with pytest.raises(IntegrityAlert) as refused:
        archive_open(actor=Staff.objects.get(username="clerk_hc"), item_id=a.pk)
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="archive_item").exists()
    event, payload = last_integrity_alert()
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        "clerk_hc", "archive_item", str(a.pk), "failed",
    )  # fmt: skip
    assert payload["detail"] == {
        "during": "view", "reason": f"chunk 0 does not decrypt as {a.blob_uid}: authentication",
    }  # fmt: skip
    with translation.override("en"):
        assert str(refused.value) == (
            f"Archive item {a.pk}: its stored file is missing or altered; refused. Tell the information centre."
        )
    with translation.override("zh-hans"):
        assert str(refused.value) == f"档案条目 {a.pk} 的存储文件缺失或被改动，已拒绝操作。请通知信息中心。"


def test_one_altered_byte_is_named(two) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    data = bytearray(_path(a).read_bytes())
    data[CHUNK + 100] ^= 0x01
    _path(a).write_bytes(bytes(data))
    _broken(a)


def test_chunks_swapped_within_a_file_are_named(two) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    data = _path(a).read_bytes()
    head, rest = data[:12], data[12:]
    first = 4 + int.from_bytes(rest[:4], "big")
    second = 4 + int.from_bytes(rest[first : first + 4], "big")
    assert first == second  # two full chunks of the same length
    _path(a).write_bytes(head + rest[first : first + second] + rest[:first] + rest[first + second :])
    _broken(a)


def test_a_cut_or_deleted_file_is_named_without_decrypting(two) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    _path(a).write_bytes(_path(a).read_bytes()[:-100])
    _broken(a)
    _path(a).unlink()
    _broken(a)


def test_an_item_row_altered_in_sql_is_named(two) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    with connection.cursor() as cursor:
        cursor.execute("UPDATE archives_archiveitem SET status = 'accepted' WHERE id = %s", [a.pk])
    _broken(a, "live_row")


def test_a_row_pointed_at_another_file_is_named(two) -> None:  # type: ignore[no-untyped-def]
    a, b = two
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE archives_archiveitem SET content_mac = %s WHERE id = %s", [b.content_mac, a.pk]
        )
    _broken(a, "live_row")


def test_the_nightly_run_checks_every_size_and_decrypts_new_files(two, settings) -> None:  # type: ignore[no-untyped-def]
    a, b = two
    call_command("audit_verify")  # the verified point
    settings.SIDMS_ARCHIVE_VERIFY_SAMPLE = 0
    report = verify_since_checkpoint(sample=0)
    assert report.ok and report.rows["archive_file"] == 0  # nothing new, no sample: sizes only
    shutil.copyfile(_path(b), _path(a))  # same size: only decrypting finds it
    assert verify_since_checkpoint(sample=0).ok
    settings.SIDMS_ARCHIVE_VERIFY_SAMPLE = 5
    report = verify_since_checkpoint(sample=0)
    assert not report.ok and f"#{a.pk}" in report.problem.where
