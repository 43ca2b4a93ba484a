"""Key rotation (R17, B2) re-encrypts every archive file under the new key version, resumably, and the
archive still decrypts and verifies intact — also with the key ring wrapped by a master key in SoftHSM2."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.archives.models import ArchiveItem
from sidms.archives.services import archive_open, archive_upload, file_store, reencrypt_files
from sidms.archives.store import versions
from sidms.changes.verify import verify_store
from sidms.continuity.keys import keys_rotate
from sidms.core.caller import Caller
from sidms.core.keys import keyring
from sidms.lib.crypto import KeyRing
from tests.archives.conftest import noise

pytestmark = [pytest.mark.django_db, pytest.mark.req("R17"), pytest.mark.req("B2"), pytest.mark.req("R2.4")]


@pytest.fixture
def archive(data_dir, huancui_clerk, person, unit) -> dict[int, bytes]:  # type: ignore[no-untyped-def]
    scans = {}
    for i, (kind, target) in enumerate([("person", person), ("unit", unit), ("person", person)]):
        scan = noise("TIFF", (400, 300 + i))  # several chunks each
        item = archive_upload(
            actor=huancui_clerk, target_kind=kind, target=target, doc_type="other", data=scan
        )
        scans[item.pk] = scan
    # The same scan on a second record shares the file: it is re-encrypted once.
    first = next(iter(scans.values()))
    item = archive_upload(actor=huancui_clerk, target_kind="unit", target=unit, doc_type="other", data=first)
    scans[item.pk] = first
    return scans


def _file_versions() -> dict[str, set[int]]:
    store = file_store()
    return {
        name: versions(store.get(name))
        for name in set(ArchiveItem.objects.values_list("content_mac", flat=True))
    }


def _all_under(version: int, clerk: Any, scans: dict[int, bytes]) -> None:
    found = _file_versions()
    assert len(found) == 3 and all(v == {version} for v in found.values()), found
    for pk, scan in scans.items():
        assert archive_open(actor=clerk, item_id=pk)[1] == scan
    report = verify_store()
    assert report.ok, report.problem
    assert report.rows["archive_file"] == 3


def test_rotation_re_encrypts_every_archive_file(key_file, archive, security_admin, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    assert all(v == {1} for v in _file_versions().values())
    result = keys_rotate(actor=security_admin)
    assert result.version == 2 and result.per_kind["archive_files"] == 3
    _all_under(2, huancui_clerk, archive)


def test_an_interrupted_rotation_of_the_files_resumes(
    key_file, archive, security_admin, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    ring = KeyRing.load(key_file)
    ring.rotate()
    ring.save(key_file)
    keyring.cache_clear()
    # The process died after re-encrypting one file: put it under version 2 by hand, as the hook would.
    store = file_store()
    name, blob_uid = ArchiveItem.objects.order_by("pk").values_list("content_mac", "blob_uid").first()
    from sidms.archives.store import seal, unseal

    store.put(name, seal(keyring(), blob_uid, unseal(keyring(), blob_uid, store.get(name))))
    assert sorted(len(v) for v in _file_versions().values()) == [1, 1, 1]
    assert {frozenset(v) for v in _file_versions().values()} == {frozenset({1}), frozenset({2})}
    result = keys_rotate(actor=security_admin, resume=True)
    assert result.per_kind["archive_files"] == 2  # the one already done is skipped
    _all_under(2, huancui_clerk, archive)
    assert reencrypt_files(Caller("system:test"), lambda _: None) == 0  # nothing left


def test_rotation_with_the_key_ring_wrapped_in_softhsm2(
    wrapped_key_file, archive, security_admin, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    keys_rotate(actor=security_admin)
    assert keyring().current == 2
    _all_under(2, huancui_clerk, archive)
