"""`sidms audit verify` over the archive files (registered with ``sidms.audit.verify.register_check``).

The item rows themselves are governed records: the kernel's verification checks each row's digest against
its history and the audit chain. This check adds the files the rows name:

* every item's file exists in the store and has exactly the size a sealed file of the item's plaintext size
  has (``store.sealed_size``; independent of the key version, so rotation changes nothing): a file cut,
  extended or replaced by one of another size is named without a key;
* the full run decrypts every file bound to its identity and compares the keyed hash of the plaintext with
  the item's ``content_mac`` (a file swapped for another item's, chunks reordered, content altered);
  the nightly run (``--since-checkpoint``) decrypts the files of items written since the last verified run
  and a random sample of ``SIDMS_ARCHIVE_VERIFY_SAMPLE`` others (20 by default) — the weekly full run
  decrypts all.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from sidms.archives.models import ArchiveItem, ItemStatus
from sidms.archives.services import content_mac, file_store, sample
from sidms.archives.store import StoreDamaged, sealed_size, unseal
from sidms.audit.verify import Report, broken
from sidms.core.keys import keyring


def _where(item_id: int, name: str) -> str:
    return f"档案条目 #{item_id} 的文件 {name[:12]}… / archive item #{item_id}, file {name[:12]}…"


def verify_files(report: Report, latest: dict[str, Any]) -> None:
    store = file_store()
    ring = keyring()
    # A tombstone (purged after its retention period, sidms.archives.retention) has no file any more.
    rows = list(
        ArchiveItem.objects.exclude(status=ItemStatus.PURGED)
        .order_by("pk")
        .values_list("pk", "content_mac", "blob_uid", "size")
    )
    for pk, name, _blob, size in rows:
        stored = store.size(name)
        if stored is None:
            raise broken("archive", _where(pk, name), "档案文件缺失：文件被删除或移走",
                         "the archive file is missing: deleted or moved")  # fmt: skip
        if stored != sealed_size(size):
            raise broken("archive", _where(pk, name), "档案文件的大小与其条目不符：文件被改动或替换",
                         "the archive file's size does not match its item: altered or replaced")  # fmt: skip
    if report.incremental:
        from sidms.audit.checkpoints import read_verified

        point = read_verified()
        since = point.rows.get("archive_item", 0) if point is not None else 0
        fresh = [row for row in rows if row[0] > since]
        others = [row for row in rows if row[0] <= since]
        k = int(getattr(settings, "SIDMS_ARCHIVE_VERIFY_SAMPLE", 20))
        chosen = fresh + sample(others, k)
    else:
        chosen = rows
    seen: set[tuple[str, str]] = set()
    for pk, name, blob_uid, size in chosen:
        if (name, blob_uid) in seen:
            continue
        seen.add((name, blob_uid))
        try:
            data = unseal(ring, blob_uid, store.get(name))
        except StoreDamaged:
            raise broken("archive", _where(pk, name), "档案文件无法按其条目解密：文件被替换、改动或块被调换",
                         "the archive file does not decrypt as its item's: replaced, altered or chunks swapped") from None  # fmt: skip
        if len(data) != size or content_mac(data) != name:
            raise broken("archive", _where(pk, name), "档案文件的内容与其条目记载的哈希不符",
                         "the archive file's content does not match the hash its item records")  # fmt: skip
    report.rows["archive_file"] = len(seen)
