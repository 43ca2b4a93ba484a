"""Fixtures of the electronic archive: a data directory per test, the window clerk, the archive reviewer,
a person and a unit of 环翠区, the person's ID copy uploaded, a new person's registration waiting for its ID
copy, and scans generated here (random pixels, so no two are alike and the plaintext can be searched for byte
by byte)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.changes.conftest import person_row
from tests.continuity.conftest import key_file, security_admin  # noqa: F401  (fixtures of key rotation)
from tests.continuity.test_keys import wrapped_key_file  # noqa: F401


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    settings.SIDMS_ARCHIVE_DIR = directory / "archives"
    settings.SIDMS_ARCHIVE_MAX_BYTES = 2_000_000
    settings.SIDMS_ARCHIVE_MAX_PIXELS = 40_000_000
    return directory


def noise(fmt: str, size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    """An image of random pixels in FMT: high entropy, so its bytes are found only where it was copied."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


@pytest.fixture
def archivist(make_staff: Callable[..., Any]) -> Any:
    return make_staff(
        "archivist_hc", posts=("archive_reviewer",), district="371002", full_name="档案审核员 孙丽"
    )


@pytest.fixture
def person(load: Callable[..., list[Any]]) -> Any:
    return load("person", [person_row(1)])[0]


@pytest.fixture
def unit(make_unit: Callable[..., Any]) -> Any:
    return make_unit(unit_no="U0001", name="威海海韵食品有限公司", district="371002")


@pytest.fixture
def id_copy(data_dir: Path, huancui_clerk: Any, person: Any) -> tuple[Any, bytes]:
    """The 环翠区 window clerk's scan of ``person``'s ID copy, uploaded to the person's archive (pending
    review): the archive item and the scan's plaintext."""
    from sidms.archives.services import archive_upload

    scan = noise("PNG")
    item = archive_upload(
        actor=huancui_clerk, target_kind="person", target=person, doc_type="id_copy", data=scan
    )
    return item, scan


def new_person_request(clerk: Any) -> Any:
    """A new person's registration (孙新来, no person number yet) submitted by CLERK and held for review: it
    waits for an accepted ID copy (R7.4)."""
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change

    row = person_row(11, name="孙新来")
    del row["person_no"]
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", values=row).held
    assert held is not None
    return held


def provide_documents(held: Any) -> list[Any]:
    """What the window and the archive department do before a review request may be approved (R7.4): the
    clerk who submitted HELD attaches a scan of each document its business needs, and an archive reviewer of
    the city accepts each — through the real services. Other tests that approve requests call this."""
    from datetime import date

    from sidms.archives.services import _business_of, archive_review, archive_upload, required_documents
    from sidms.registry.models import Staff
    from sidms.security.accounts import staff_create

    reviewer = Staff.objects.filter(username="archivist_city").first() or staff_create(
        actor="system:test", username="archivist_city", password="Correct-Horse-Battery-9", district="371000",
        posts=("archive_reviewer",), full_name="档案审核员 周敏", agreement_signed_on=date(2026, 1, 1),
    )  # fmt: skip
    items = []
    for doc_type in required_documents(_business_of(held)):
        item = archive_upload(actor=held.submitted_by, target_kind="change_request", target=held,
                              doc_type=doc_type, data=noise("PNG"))  # fmt: skip
        items.append(archive_review(actor=reviewer, item_id=item.pk, accept=True, reason=""))
    return items
