"""The archive's staff pages (R2.4, R7.4): upload from a record's archive catalogue, in memory only; the
catalogue with type, date, status and retention; previews and files, each an audit event; the archive
reviewer's accept/reject page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sidms.archives.models import ArchiveItem, ItemStatus
from sidms.audit.models import AuditEvent
from tests.archives.conftest import noise
from tests.lib.test_files import JS_ACTION, one_page_pdf

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.4"), pytest.mark.req("R7.4")]


def _upload(client, url: str, data: bytes, doc_type: str = "id_copy", name: str = "scan.png"):  # type: ignore[no-untyped-def]
    return client.post(url, {"doc_type": doc_type, "scan": SimpleUploadedFile(name, data, "image/png")})


def test_upload_catalogue_preview_and_file_from_the_persons_page(
    data_dir, huancui_clerk, person, signed_in
) -> None:  # type: ignore[no-untyped-def]
    clerk = signed_in(huancui_clerk)
    page = clerk.get(f"/persons/{person.person_no}/").content.decode()
    url = f"/archives/person/{person.pk}/"
    assert url in page
    scan = noise("PNG")
    response = _upload(clerk, url, scan, name="身份证.exe")  # the name says nothing: the content decides
    assert response.status_code == 302
    item = ArchiveItem.objects.get()
    listing = clerk.get(url).content.decode()
    for text in (
        "档案目录",
        "居民身份证复印件",
        "待档案审核",
        "永久",
        'src="data:image/png;base64,',
    ):
        assert text in listing, text
    thumb = clerk.get(f"/archives/items/{item.pk}/thumbnail.png")
    assert thumb["Content-Type"] == "image/png" and thumb.content.startswith(b"\x89PNG")
    view = clerk.get(f"/archives/items/{item.pk}/view/")
    assert view.content == scan and view["Content-Disposition"].startswith("inline")
    assert view["Cache-Control"].startswith("no-store") or "no-store" in view["Cache-Control"]
    download = clerk.get(f"/archives/items/{item.pk}/download/")
    assert download["Content-Disposition"].startswith("attachment")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"archive.catalogue", "archive.thumbnail", "archive.view", "archive.download"} <= actions


def test_a_refused_file_is_explained_on_the_page_and_nothing_is_kept(
    data_dir, huancui_clerk, person, signed_in
) -> None:  # type: ignore[no-untyped-def]
    clerk = signed_in(huancui_clerk)
    url = f"/archives/person/{person.pk}/"
    response = _upload(
        clerk, url, one_page_pdf(catalog="/OpenAction 4 0 R ", extra=(JS_ACTION,)), name="a.pdf"
    )
    assert response.status_code == 400 and "JavaScript" in response.content.decode()
    assert ArchiveItem.objects.count() == 0 and not data_dir.exists()


def test_a_large_upload_never_touches_the_disk(
    data_dir, huancui_clerk, person, signed_in, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    spill = tmp_path / "upload-temp"
    spill.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spill)
    settings.SIDMS_ARCHIVE_MAX_BYTES = 4_000_000
    clerk = signed_in(huancui_clerk)
    url = f"/archives/person/{person.pk}/"
    scan = noise("TIFF", (1000, 1000))  # 3 MB: above Django's 2.5 MB in-memory threshold
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE < len(scan) < 4_000_000
    assert _upload(clerk, url, scan, name="big.tif").status_code == 302
    too_big = noise("TIFF", (1200, 1200))  # 4.3 MB: refused by the handler, never kept
    response = _upload(clerk, url, too_big, name="bigger.tif")
    assert response.status_code == 400 and "超过上限" in response.content.decode()
    assert list(spill.iterdir()) == []  # Django never spilled either upload to a temporary file
    assert ArchiveItem.objects.count() == 1
    assert AuditEvent.objects.filter(action="archive.refused", payload__contains="too_large").exists()


def test_the_archive_reviewer_accepts_and_rejects_on_the_review_page(
    data_dir, huancui_clerk, archivist, person, signed_in
) -> None:  # type: ignore[no-untyped-def]
    clerk = signed_in(huancui_clerk)
    url = f"/archives/person/{person.pk}/"
    _upload(clerk, url, noise("PNG"))
    _upload(clerk, url, noise("PNG"), doc_type="labour_contract")
    first, second = ArchiveItem.objects.order_by("pk")
    reviewer = signed_in(archivist)
    page = reviewer.get("/archives/review/").content.decode()
    assert f"#{first.pk}" in page and f"#{second.pk}" in page
    assert clerk.get("/archives/review/").status_code == 404  # not an archive reviewer
    reviewer.post(f"/archives/items/{first.pk}/review/", {"decision": "accept", "reason": ""})
    refused = reviewer.post(
        f"/archives/items/{second.pk}/review/", {"decision": "reject", "reason": ""}, follow=True
    )
    assert "理由" in refused.content.decode()
    reviewer.post(f"/archives/items/{second.pk}/review/", {"decision": "reject", "reason": "合同缺少签字页"})
    assert [i.status for i in ArchiveItem.objects.order_by("pk")] == [
        ItemStatus.ACCEPTED,
        ItemStatus.REJECTED,
    ]
    listing = clerk.get(url).content.decode()
    assert "合同缺少签字页" in listing and "已通过" in listing


def test_another_district_cannot_open_the_catalogue_or_the_file(
    data_dir, huancui_clerk, rushan_clerk, person, signed_in
) -> None:  # type: ignore[no-untyped-def]
    _upload(signed_in(huancui_clerk), f"/archives/person/{person.pk}/", noise("PNG"))
    item = ArchiveItem.objects.get()
    other = signed_in(rushan_clerk)
    assert other.get(f"/archives/person/{person.pk}/").status_code == 404
    assert other.get(f"/archives/items/{item.pk}/view/").status_code == 404
    assert other.get(f"/archives/items/{item.pk}/thumbnail.png").status_code == 404


def test_the_upload_still_demands_the_csrf_token(data_dir, huancui_clerk, person, signed_in) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    signed = signed_in(huancui_clerk)
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = signed.cookies
    url = f"/archives/person/{person.pk}/"
    response = _upload(strict, url, noise("PNG"))
    assert response.status_code == 403 and ArchiveItem.objects.count() == 0
    token = strict.get(url).cookies.get("csrftoken") or strict.cookies["csrftoken"]
    response = strict.post(url, {"doc_type": "id_copy", "csrfmiddlewaretoken": token.value,
                                 "scan": SimpleUploadedFile("a.png", noise("PNG"), "image/png")})  # fmt: skip
    assert response.status_code == 302 and ArchiveItem.objects.count() == 1
