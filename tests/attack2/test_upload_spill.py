"""Attack: a large spreadsheet of people (ID numbers, phones) uploaded to the import page must not be written
in plain text to the server's temporary directory on its way in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R2.4")]


def test_an_import_larger_than_the_memory_threshold_never_touches_the_temporary_directory(
    make_staff: Any, signed_in: Any, importers: tuple[Any, Any], settings: Any, tmp_path: Path
) -> None:
    """Django's default handlers spill an upload above FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) to a plaintext
    temporary file. Pointing the temporary directory at nowhere makes such a spill fail the request."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "no-such-dir")
    clerk = make_staff("spill_clerk", posts=("window_clerk",), district="371002")
    client = signed_in(clerk)
    page = client.get("/exchange/imports/")
    token = re.search(rb'name="token" value="([0-9a-f]{32})"', page.content)[1].decode()  # type: ignore[index]
    rows: list[list[Any]] = [HEADER]
    rows += [
        ["张三", id_number(n), "男", "1960-01-01", "employee", "371002", "13963100001"] for n in range(400)
    ]
    data = csv_bytes(rows)
    assert len(data) > 10_000
    checked = client.post(
        "/exchange/imports/",
        {"token": token, "kind": "persons", "file": SimpleUploadedFile("名单.csv", data, "text/csv")},
    )
    assert checked.status_code == 200
    assert not (tmp_path / "no-such-dir").exists()


def test_the_import_upload_still_demands_the_csrf_token(
    make_staff: Any, signed_in: Any, importers: tuple[Any, Any]
) -> None:
    from django.test import Client

    clerk = make_staff("csrf_clerk", posts=("window_clerk",), district="371002")
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = signed_in(clerk).cookies
    data = csv_bytes([HEADER, ["张三", id_number(1), "男", "1960-01-01", "employee", "371002", ""]])
    refused = strict.post(
        "/exchange/imports/", {"kind": "persons", "file": SimpleUploadedFile("a.csv", data)}
    )
    assert refused.status_code == 403
    token = strict.get("/exchange/imports/").cookies.get("csrftoken") or strict.cookies["csrftoken"]
    accepted = strict.post(
        "/exchange/imports/",
        {"kind": "persons", "csrfmiddlewaretoken": token.value, "file": SimpleUploadedFile("a.csv", data)},
    )
    assert accepted.status_code == 200
