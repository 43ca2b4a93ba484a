from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sidms.changes.seals import RevisionSealer, revision_seal


@pytest.mark.req("R9.2")
def test_the_batch_sealer_writes_exactly_what_revision_seal_verifies() -> None:
    at = datetime(2026, 11, 26, 8, 30, 1, 123456, tzinfo=UTC)
    common = {
        "entity": "person", "at": at, "actor": "info_城", "channel": "maintenance", "method": "batch",
        "request_id": "r1", "reference": "BA7", "notes": {"nonconforming": {"phone": "format"}},
    }  # fmt: skip
    sealer = RevisionSealer(**common)
    for record_id, version, changes in (
        (1, 2, {"address": ["旧", "新"]}),
        (99, 10, {"a": [None, {"enc": "x"}]}),
    ):
        fast = sealer(record_id=record_id, version=version, changes=changes, digest="ab" * 32)
        slow = revision_seal(
            **common, record_id=record_id, version=version, changes=changes, digest="ab" * 32
        )
        assert fast == slow
