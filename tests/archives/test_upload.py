"""Uploading scans to the electronic archive (R2.4, R7.4): refused kinds leave nothing; accepted scans are
encrypted at rest, named by a keyed hash, and never stored in plain text anywhere."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.db import connection

from sidms.archives.models import ArchiveItem, ItemStatus
from sidms.archives.services import archive_open, archive_thumbnail, archive_upload, catalogue, content_mac
from sidms.archives.store import MAGIC, sealed_size
from sidms.audit.models import AuditEvent
from sidms.changes.models import Revision
from sidms.core.errors import ChangeRefused, NotPermitted
from tests.archives.conftest import noise
from tests.lib.test_files import JS_ACTION, one_page_pdf, png_claiming

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.4"), pytest.mark.req("R7.4")]

WINDOWS_PROGRAM = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
    + b"\x00" * 200
    + b"This program cannot be run in DOS mode"
)


def _files_under(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def _nothing_stored(data_dir: Path) -> None:
    assert ArchiveItem.objects.count() == 0
    assert not Revision.objects.filter(entity="archive_item").exists()
    assert _files_under(data_dir) == []


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        pytest.param(WINDOWS_PROGRAM, "file_unsupported_type", ("Windows 可执行程序",), id="renamed-exe"),
        pytest.param(png_claiming(50_000, 50_000), "file_too_many_pixels", ("像素", "超过上限"), id="bomb"),
        pytest.param(
            one_page_pdf(catalog="/OpenAction 4 0 R ", extra=(JS_ACTION,)), "file_pdf_javascript",
            ("JavaScript",), id="pdf-javascript",
        ),
        pytest.param(b"\xff\xd8\xff" + b"\x00" * 2_100_000, "file_too_large", ("超过上限", "MB"), id="oversized"),
    ],
)  # fmt: skip
def test_each_refused_kind_gets_a_clear_message_and_nothing_is_stored(
    data_dir, huancui_clerk, person, data: bytes, code: str, words: tuple[str, ...]
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChangeRefused) as refused:
        archive_upload(
            actor=huancui_clerk, target_kind="person", target=person, doc_type="id_copy", data=data
        )
    assert refused.value.code == code
    message = str(refused.value)
    assert all(word in message for word in words), message
    _nothing_stored(data_dir)
    event = AuditEvent.objects.filter(action="archive.refused").get()
    assert code.removeprefix("file_") in event.payload


def test_an_accepted_scan_is_encrypted_at_rest_and_named_by_its_keyed_hash(
    data_dir, huancui_clerk, person
) -> None:  # type: ignore[no-untyped-def]
    scan = noise("PNG")
    item = archive_upload(
        actor=huancui_clerk, target_kind="person", target=person, doc_type="id_copy", data=scan
    )
    assert item.status == ItemStatus.PENDING and item.kind == "png" and item.size == len(scan)
    assert item.retention_years == 0  # an ID copy is kept permanently
    (stored,) = _files_under(data_dir)
    assert (
        stored.name == item.content_mac == content_mac(scan) != __import__("hashlib").sha256(scan).hexdigest()
    )
    sealed = stored.read_bytes()
    assert sealed.startswith(MAGIC) and len(sealed) == sealed_size(len(scan)) and scan[64:96] not in sealed
    assert Revision.objects.filter(entity="archive_item", record_id=item.pk).count() == 1
    assert AuditEvent.objects.filter(action="write.archive_item").exists()


def test_a_large_scan_is_cut_into_chunks_bound_to_their_place(data_dir, huancui_clerk, person) -> None:  # type: ignore[no-untyped-def]
    scan = noise("PNG", (640, 480))  # ≈ 900 KB of random pixels: four chunks
    item = archive_upload(
        actor=huancui_clerk, target_kind="person", target=person, doc_type="id_copy", data=scan
    )
    _, data = archive_open(actor=huancui_clerk, item_id=item.pk, action="download")
    assert data == scan


def test_no_plaintext_is_in_the_data_directory_or_any_table(
    data_dir, huancui_clerk, person, unit, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    scans = [noise("PNG"), noise("JPEG", quality=95), noise("TIFF"), noise("PDF")]
    for i, scan in enumerate(scans):
        target, kind = (person, "person") if i % 2 else (unit, "unit")
        archive_upload(actor=huancui_clerk, target_kind=kind, target=target, doc_type="other", data=scan)
        archive_thumbnail(actor=huancui_clerk, item_id=ArchiveItem.objects.order_by("-pk").first().pk)
    assert ArchiveItem.objects.count() == 4
    # What would give a scan away: any 32 bytes from inside it, or the whole file hex- or base64-encoded.
    needles: list[bytes] = []
    for scan in scans:
        needles += [scan[k : k + 32] for k in range(len(scan) // 4, len(scan) - 32, max(1, len(scan) // 8))]
        needles += [scan.hex().encode()[200:264], base64.b64encode(scan)[200:264]]
    assert len(_files_under(data_dir)) == 4
    disk = _files_under(tmp_path)  # the archive store, the audit checkpoints, everything this test wrote
    assert disk
    for path in disk:
        content = path.read_bytes()
        assert not any(n in content for n in needles), path
    tables = connection.introspection.table_names()
    rows = 0
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                rows += 1
                for value in row:
                    if value is None:
                        continue
                    raw = (
                        bytes(value)
                        if isinstance(value, bytes | memoryview | bytearray)
                        else str(value).encode()
                    )
                    assert not any(n in raw for n in needles), table
    assert rows > 100  # the scan really read the store


def test_a_duplicate_is_found_by_its_keyed_hash(data_dir, huancui_clerk, person, unit) -> None:  # type: ignore[no-untyped-def]
    scan = noise("PNG")
    first = archive_upload(
        actor=huancui_clerk, target_kind="person", target=person, doc_type="id_copy", data=scan
    )
    with pytest.raises(ChangeRefused) as refused:
        archive_upload(actor=huancui_clerk, target_kind="person", target=person, doc_type="other", data=scan)
    assert refused.value.code == "duplicate_file" and str(first.pk) in str(refused.value)
    # The same scan for another record: a second item sharing the one encrypted file.
    second = archive_upload(actor=huancui_clerk, target_kind="unit", target=unit, doc_type="other", data=scan)
    assert second.content_mac == first.content_mac and second.blob_uid == first.blob_uid == str(first.uid)
    assert len(_files_under(data_dir)) == 1
    assert archive_open(actor=huancui_clerk, item_id=second.pk)[1] == scan


def test_views_downloads_and_previews_are_audit_events(data_dir, huancui_clerk, person) -> None:  # type: ignore[no-untyped-def]
    scan = noise("JPEG")
    item = archive_upload(
        actor=huancui_clerk, target_kind="person", target=person, doc_type="id_copy", data=scan
    )
    assert archive_open(actor=huancui_clerk, item_id=item.pk, action="view")[1] == scan
    archive_open(actor=huancui_clerk, item_id=item.pk, action="download")
    png = archive_thumbnail(actor=huancui_clerk, item_id=item.pk)
    assert png.startswith(b"\x89PNG")
    listed = catalogue(actor=huancui_clerk, target_kind="person", target=person)
    assert [i.pk for i in listed] == [item.pk]
    actions = list(
        AuditEvent.objects.filter(object_type__in=("archive_item", "person")).values_list("action", flat=True)
    )
    for action in ("archive.view", "archive.download", "archive.thumbnail", "archive.catalogue"):
        assert action in actions
    assert _files_under(data_dir) == [data_dir / "archives" / item.content_mac[:2] / item.content_mac]


def test_another_district_sees_nothing_and_its_attempt_is_recorded(id_copy, rushan_clerk, person) -> None:  # type: ignore[no-untyped-def]
    item, _scan = id_copy
    with pytest.raises(NotPermitted):
        archive_open(actor=rushan_clerk, item_id=item.pk)
    with pytest.raises(NotPermitted):
        archive_upload(
            actor=rushan_clerk, target_kind="person", target=person, doc_type="id_copy", data=noise("PNG")
        )
    assert AuditEvent.objects.filter(action="archive.view", outcome="denied").exists()
