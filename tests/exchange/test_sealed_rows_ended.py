"""The sealed rows of an import application are removed when it ends: refused or executed (once the step
commits), or approved with its window closed unused (`sidms import --sweep`). The stored file stays, the
record of what was applied for."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from sidms.changes.batches import batch_decide
from sidms.changes.models import BatchApplication
from sidms.core.errors import ChangeRefused
from sidms.exchange import imports
from tests.exchange.test_sealed_rows import applied_for, people

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]


@pytest.fixture(autouse=True)
def _own_data_dir(settings: Any, tmp_path: Path) -> None:
    """The import store of this test alone, so that a sweep finds only what the test put there."""
    settings.DATA_DIR = tmp_path / "data"


def test_a_refusal_removes_the_sealed_rows_once_it_commits_and_keeps_the_file(
    importers: tuple[Any, Any], django_capture_on_commit_callbacks: Any
) -> None:
    data = people(11)
    imported = applied_for(importers, data)
    rows = imports._rows_path(imported.uid)
    # A refusal without a reason is itself refused: nothing changes.
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ChangeRefused):
        batch_decide(actor=importers[1], batch_id=imported.batch_id, approve=False)
    assert not callbacks and rows.exists()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch_decide(actor=importers[1], batch_id=imported.batch_id, approve=False, reason="资料不全")
    assert rows.exists()  # not before the refusal has committed
    for callback in callbacks:
        callback()
    assert not rows.exists()
    assert imports.stored_file(imported) == data  # the file applied for stays as the record


def test_an_approval_leaves_the_sealed_rows_for_the_execution(
    importers: tuple[Any, Any], django_capture_on_commit_callbacks: Any
) -> None:
    imported = applied_for(importers, people(21))
    with django_capture_on_commit_callbacks(execute=True):
        batch_decide(actor=importers[1], batch_id=imported.batch_id, approve=True)
    assert imports._rows_path(imported.uid).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert imports.execute_import(actor=importers[0], batch_id=imported.batch_id).rows == 3
    assert not imports._rows_path(imported.uid).exists()


def test_the_sweep_removes_the_rows_of_ended_applications_only(importers: tuple[Any, Any]) -> None:
    waiting = applied_for(importers, people(31))
    approved = applied_for(importers, people(41))
    refused = applied_for(importers, people(51))
    batch_decide(actor=importers[1], batch_id=approved.batch_id, approve=True, window=timedelta(hours=2))
    # A refusal whose removal was lost (the process ended between the commit and the removal): in this
    # test's transaction the removal on commit never runs.
    batch_decide(actor=importers[1], batch_id=refused.batch_id, approve=False, reason="资料不全")
    store = imports._rows_path(waiting.uid).parent
    orphan = store / f"{uuid.uuid4()}.rows"  # sealed by an application that rolled back
    orphan.write_bytes(b"{}\n")
    (store / "notes.rows").write_bytes(b"")  # not a store: not ours to remove

    def present() -> set[str]:
        return {p.name for p in store.glob("*.rows")}

    assert imports.sweep_rows() == 1  # the refused application's; the orphan may still be committing
    assert present() == {f"{waiting.uid}.rows", f"{approved.uid}.rows", orphan.name, "notes.rows"}

    window_end = BatchApplication.objects.get(pk=approved.batch_id).window_end
    assert window_end is not None
    # An hour after it was written, the orphan goes; the approval's window closed less than an hour ago.
    assert imports.sweep_rows(now=window_end + imports.SWEEP_AFTER - timedelta(minutes=1)) == 1
    assert present() == {f"{waiting.uid}.rows", f"{approved.uid}.rows", "notes.rows"}
    assert imports.sweep_rows(now=window_end + imports.SWEEP_AFTER + timedelta(minutes=1)) == 1
    assert present() == {f"{waiting.uid}.rows", "notes.rows"}  # an open application keeps its rows
    for imported in (waiting, approved, refused):
        imports.stored_file(imported)  # every file stays


def test_sidms_import_sweep(importers: tuple[Any, Any]) -> None:
    refused = applied_for(importers, people(61))
    batch_decide(actor=importers[1], batch_id=refused.batch_id, approve=False, reason="资料不全")
    out = io.StringIO()
    call_command("import_file", "--sweep", stdout=out)
    assert "sealed rows removed: 1" in out.getvalue()
    assert not imports._rows_path(refused.uid).exists()
