"""The sealed rows of an import application are removed when it ends: refused or executed (once the step
commits), or approved with its window closed unused (`sidms import --sweep`). The stored file stays, the
record of what was applied for."""

from __future__ import annotations

import io
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.utils import timezone

from sidms.audit.models import AuditEvent
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

    assert imports.sweep_rows().stores == 1  # the refused application's; the orphan may still be committing
    assert present() == {f"{waiting.uid}.rows", f"{approved.uid}.rows", orphan.name, "notes.rows"}

    window_end = BatchApplication.objects.get(pk=approved.batch_id).window_end
    assert window_end is not None
    # An hour after it was written, the orphan goes; the approval's window closed less than an hour ago.
    assert imports.sweep_rows(now=window_end + imports.SWEEP_AFTER - timedelta(minutes=1)).stores == 1
    assert present() == {f"{waiting.uid}.rows", f"{approved.uid}.rows", "notes.rows"}
    assert imports.sweep_rows(now=window_end + imports.SWEEP_AFTER + timedelta(minutes=1)).stores == 1
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


def _events(action: str) -> list[tuple[str, dict[str, Any]]]:
    """(actor, detail) of each audit event of ACTION, in order."""
    return [
        (actor, orjson.loads(payload)["detail"])
        for actor, payload in AuditEvent.objects.filter(action=action).values_list("actor", "payload")
    ]


def _aged(path: Path, seconds: float) -> Path:
    """PATH, last written SECONDS ago."""
    moment = time.time() - seconds
    os.utime(path, (moment, moment))
    return path


@pytest.mark.req("R20")
def test_the_sweep_is_one_audit_event_naming_the_applications(importers: tuple[Any, Any]) -> None:
    refused = [applied_for(importers, people(first)) for first in (71, 81)]
    for (
        imported
    ) in refused:  # their removal lost: in this test's transaction the removal on commit never runs
        batch_decide(actor=importers[1], batch_id=imported.batch_id, approve=False, reason="资料不全")
    waiting = applied_for(importers, people(91))
    store = imports._rows_path(waiting.uid).parent
    orphan = store / f"{uuid.uuid4()}.rows"
    orphan.write_bytes(b"{}\n")
    _aged(orphan, 2 * 3600)  # sealed by an application that rolled back, two hours ago
    assert _events("import.sweep") == []

    swept = imports.sweep_rows()
    assert (swept.stores, swept.batches) == (3, sorted(i.batch_id for i in refused))
    ((actor, detail),) = _events("import.sweep")
    assert actor == "system:import-sweep"
    assert detail == {"stores": 3, "batches": swept.batches, "orphans": 1, "parts": 0, "progress": 0}
    assert imports._rows_path(waiting.uid).exists()

    assert imports.sweep_rows().stores == 0
    assert len(_events("import.sweep")) == 1  # a sweep that removed nothing records nothing


@pytest.mark.req("R20")
def test_the_sweep_removes_temporary_files_of_cut_short_writes_an_hour_old(
    importers: tuple[Any, Any],
) -> None:
    imported = applied_for(importers, people(101))
    store = imports._rows_path(imported.uid).parent
    assert not list(store.glob("*.part"))  # a write that finished leaves none
    # Writes a crash cut short (the file's, the rows'), one just over an hour ago, one two hours ago; and one
    # under way (written to a minute ago), which must stay.
    old = []
    for seconds in (3600 + 60, 7200):
        path = store / f"{uuid.uuid4()}.part"
        path.write_bytes(b"\x00" * 16)
        old.append(_aged(path, seconds))
    young = store / f"{uuid.uuid4()}.part"
    young.write_bytes(b"\x00" * 16)
    _aged(young, 60)

    swept = imports.sweep_rows()
    assert (swept.stores, swept.parts) == (0, 2)
    assert not any(path.exists() for path in old)
    assert young.exists() and imports._rows_path(imported.uid).exists()
    ((_actor, detail),) = _events("import.sweep")
    assert detail == {"stores": 0, "batches": [], "orphans": 0, "parts": 2, "progress": 0}
    imports.stored_file(imported)  # the stored file stays

    # An hour after it was last written, the write under way is taken as cut short too.
    assert imports.sweep_rows(now=timezone.now() + imports.PARTS_AFTER).parts == 1
    assert not young.exists()


@pytest.mark.req("R20")
def test_the_end_of_an_application_records_the_removal_of_its_rows(
    importers: tuple[Any, Any], django_capture_on_commit_callbacks: Any
) -> None:
    refused = applied_for(importers, people(111))
    with django_capture_on_commit_callbacks(execute=True):
        batch_decide(actor=importers[1], batch_id=refused.batch_id, approve=False, reason="资料不全")
    assert len(_events("import.rows_discard")) == 1
    executed = applied_for(importers, people(121))
    with django_capture_on_commit_callbacks(execute=True):
        batch_decide(actor=importers[1], batch_id=executed.batch_id, approve=True)
    assert len(_events("import.rows_discard")) == 1  # an approval leaves the rows for the execution
    with django_capture_on_commit_callbacks(execute=True):
        imports.execute_import(actor=importers[0], batch_id=executed.batch_id)
    assert [
        (actor, detail["batch"], detail["status"]) for actor, detail in _events("import.rows_discard")
    ] == [
        (importers[1].username, refused.batch_id, "refused"),
        (importers[0].username, executed.batch_id, "executed"),
    ]
    for imported in (refused, executed):
        assert not imports._rows_path(imported.uid).exists()


def test_sidms_import_sweep_names_its_operator(importers: tuple[Any, Any]) -> None:
    refused = applied_for(importers, people(131))
    batch_decide(actor=importers[1], batch_id=refused.batch_id, approve=False, reason="资料不全")
    part = imports._rows_path(refused.uid).with_name(f"{refused.uid}.rows.part")
    part.write_bytes(b"")
    _aged(part, 7200)
    out = io.StringIO()
    call_command("import_file", "--sweep", "--operator", importers[0].username, stdout=out)
    assert f"BA{refused.batch_id}" in out.getvalue() and "temporary files removed: 1" in out.getvalue()
    assert "progress files removed: 0" in out.getvalue()
    ((actor, detail),) = _events("import.sweep")
    assert actor == importers[0].username and detail["batches"] == [refused.batch_id]


@pytest.mark.req("R20")
def test_the_sweep_removes_import_pages_progress_files_a_day_old(settings: Any) -> None:
    """The import page's progress files (counts only) are of no use once its request ended: a day old, they go
    with the sweep, counted in its event; a younger one (a request may still be polling it) stays."""
    from sidms.exchange.progress import ProgressFile, progress_path

    paths = [progress_path(uuid.uuid4().hex) for _ in range(2)]
    for path in paths:
        assert path is not None
        ProgressFile(path)("check", 10, 10)
    old, young = paths
    assert old is not None and young is not None
    _aged(old, 86400 + 60)
    swept = imports.sweep_rows()
    assert swept.progress == 1 and not old.exists() and young.exists()
    ((_actor, detail),) = _events("import.sweep")
    assert detail["progress"] == 1
