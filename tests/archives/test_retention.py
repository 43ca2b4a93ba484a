"""Archive retention (issue 9; R2.4, R20 item 3): items past their retention period are listed, a purge is
proposed from the listing and approved by a second archive reviewer, the purge is audited, the encrypted
files are deleted, the catalogue keeps a tombstone and `sidms audit verify` still passes — while a file
still within its period, or shared with a live item, is kept. The information centre lists the store's
orphans (on the page and with `sidms archives orphans`)."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from sidms.archives import retention
from sidms.archives.models import ArchiveItem, ItemStatus
from sidms.archives.services import archive_open, archive_upload, catalogue, file_store
from sidms.audit.models import AuditEvent
from sidms.changes.verify import verify_store
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from tests.archives.conftest import noise

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.4"), pytest.mark.req("R20")]
TODAY = date(2026, 3, 2)


@pytest.fixture
def second_archivist(make_staff: Any) -> Any:
    return make_staff("archivist_hc2", posts=("archive_reviewer",), district="371002")


@pytest.fixture
def stored(data_dir: Any, huancui_clerk: Any, person: Any, unit: Any) -> dict[str, Any]:
    def up(target_kind: str, target: Any, doc_type: str, received: date, data: bytes | None = None) -> Any:
        return archive_upload(actor=huancui_clerk, target_kind=target_kind, target=target, doc_type=doc_type,
                              data=data or noise("PNG"), received_on=received)  # fmt: skip

    shared = noise("PNG")
    return {
        # authorisation: 10 years; labour contract: 30 years; ID copy: permanent.
        "old": up("person", person, "authorisation", date(2014, 5, 1)),
        "old_shared": up("person", person, "other", date(2010, 1, 1), shared),
        "live_shared": up("unit", unit, "other", date(2024, 1, 1), shared),
        "young": up("person", person, "labour_contract", date(2000, 1, 1)),
        "permanent": up("person", person, "id_copy", date(1990, 1, 1)),
    }


def test_expired_items_are_listed_and_purged_by_two_people(
    stored: dict[str, Any], archivist: Any, second_archivist: Any, huancui_clerk: Any, person: Any
) -> None:
    listed = {i.pk for i in retention.expired(actor=archivist, as_of=TODAY)}
    assert listed == {stored["old"].pk, stored["old_shared"].pk}
    with pytest.raises(NotPermitted):
        retention.expired(actor=huancui_clerk, as_of=TODAY)
    with pytest.raises(ChangeRefused) as early:
        retention.purge_propose(actor=archivist, item_ids=[stored["young"].pk], reason="到期", as_of=TODAY)
    assert early.value.code == "not_expired"
    purge = retention.purge_propose(actor=archivist, item_ids=listed, reason="保管期满销毁", as_of=TODAY)
    with pytest.raises(SeparationOfDuties):
        retention.purge_decide(actor=archivist, purge_id=purge.pk, approve=True)
    store = file_store()
    assert store.exists(stored["old"].content_mac)

    done = retention.purge_decide(actor=second_archivist, purge_id=purge.pk, approve=True)
    assert done.status == "done" and done.files_deleted == 1
    assert not store.exists(stored["old"].content_mac)  # the encrypted file is deleted
    assert store.exists(stored["live_shared"].content_mac)  # shared with a live item: kept
    for key in ("old", "old_shared"):
        assert ArchiveItem.objects.get(pk=stored[key].pk).status == ItemStatus.PURGED
    # The catalogue keeps the tombstones; the file can no longer be opened.
    entries = {i.pk: i.status for i in catalogue(actor=huancui_clerk, target_kind="person", target=person)}
    assert entries[stored["old"].pk] == "purged" and entries[stored["young"].pk] == "pending"
    with pytest.raises(ChangeRefused) as gone:
        archive_open(actor=huancui_clerk, item_id=stored["old"].pk)
    assert gone.value.code == "purged"
    archive_open(actor=huancui_clerk, item_id=stored["live_shared"].pk)  # the shared content still opens
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "archive.retention_list",
        "archive.purge_propose",
        "archive.purge_approve",
        "archive.purge_files",
    } <= actions
    report = verify_store()
    assert report.ok, report.problem
    assert report.rows["archive_tombstone"] == 2
    # The same scan uploaded again after the purge is stored afresh.
    again = archive_upload(actor=huancui_clerk, target_kind="unit", target=stored["live_shared"].unit,
                           doc_type="other", data=noise("PNG"))  # fmt: skip
    assert store.exists(again.content_mac)


def test_a_refusal_needs_a_reason_and_keeps_everything(
    stored: dict[str, Any], archivist: Any, second_archivist: Any
) -> None:
    purge = retention.purge_propose(actor=archivist, item_ids=[stored["old"].pk], reason="到期", as_of=TODAY)
    with pytest.raises(ChangeRefused):
        retention.purge_decide(actor=second_archivist, purge_id=purge.pk, approve=False)
    refused = retention.purge_decide(
        actor=second_archivist, purge_id=purge.pk, approve=False, reason="尚在诉讼中"
    )
    assert refused.status == "refused"
    assert file_store().exists(stored["old"].content_mac)
    assert ArchiveItem.objects.get(pk=stored["old"].pk).status != ItemStatus.PURGED


def test_an_item_marked_purged_in_sql_is_named_by_verify(stored: dict[str, Any]) -> None:
    table = ArchiveItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET status = 'purged' WHERE id = %s", [stored["old"].pk])  # noqa: S608
    report = verify_store()
    assert not report.ok


def test_a_district_reviewer_cannot_decide_another_districts_purge(
    stored: dict[str, Any], archivist: Any, make_staff: Any
) -> None:
    purge = retention.purge_propose(actor=archivist, item_ids=[stored["old"].pk], reason="到期", as_of=TODAY)
    rushan = make_staff("archivist_rs", posts=("archive_reviewer",), district="371083")
    with pytest.raises(NotPermitted):
        retention.purge_decide(actor=rushan, purge_id=purge.pk, approve=True)
    assert retention.expired(actor=rushan, as_of=TODAY) == []


@pytest.fixture
def info_centre(make_staff: Any) -> Any:
    return make_staff("info_centre_1", posts=("info_centre",), district="371000")


def test_orphans_are_listed_on_the_command_line_and_the_page(
    stored: dict[str, Any], info_centre: Any, signed_in: Any, capsys: Any
) -> None:
    store = file_store()
    assert retention.orphans(actor=info_centre) == retention.Orphans(files=[], missing=[])
    # A file no item names, and an item whose file is gone.
    stray = "ab" + "0" * 62
    store.put(stray, store.get(stored["young"].content_mac))
    store.delete(stored["permanent"].content_mac)
    found = retention.orphans(actor=info_centre)
    assert found.files == [stray] and found.missing == [stored["permanent"].pk]
    with pytest.raises(SystemExit) as status:
        call_command("archives_orphans", operator="info_centre_1")
    assert status.value.code == 1
    out = capsys.readouterr().out
    assert stray in out and f"#{stored['permanent'].pk}" in out
    html = signed_in(info_centre).get("/archives/retention/").content.decode()
    assert stray in html and f"#{stored['permanent'].pk}" in html


def test_the_sweep_removes_temporary_files_of_writes_a_crash_cut_short(
    stored: dict[str, Any], info_centre: Any, capsys: Any
) -> None:
    """A write killed between its temporary file and the rename (``put`` removes its own on any error it lives
    through, not on kill -9) leaves a ``.put-*`` file for ever: ``sidms archives orphans --sweep`` removes
    those an hour old, never a younger one (a write may be under way), and names how many in an event."""
    store = file_store()
    folder = store.path(stored["young"].content_mac).parent
    old, young = folder / ".put-cutshort", folder / ".put-underway"
    for path, age in ((old, 7200), (young, 60)):
        path.write_bytes(b"SIDMSARC" + b"\x00" * 32)
        moment = time.time() - age
        os.utime(path, (moment, moment))
    call_command("archives_orphans", operator="info_centre_1", sweep=True)  # no orphan: exit status 0
    assert "temporary files of cut-short writes deleted: 1" in capsys.readouterr().out
    assert not old.exists() and young.exists()
    event = AuditEvent.objects.get(action="archive.temporary_sweep")
    assert json.loads(event.payload)["detail"] == {"files": 1}
    assert young.name not in set(store.names())  # the listing never names a temporary file


@pytest.mark.req("R7.4")
def test_the_page_lists_proposes_and_approves(
    stored: dict[str, Any], archivist: Any, second_archivist: Any, signed_in: Any, settings: Any
) -> None:
    first = signed_in(archivist)
    page = first.get("/archives/retention/").content.decode()
    assert f'value="{stored["old"].pk}"' in page and f'value="{stored["young"].pk}"' not in page
    first.post(
        "/archives/retention/", {"action": "propose", "item": [stored["old"].pk], "reason": "保管期满"}
    )
    purge = retention.visible_purges(actor=archivist)[0]
    assert purge.status == "pending"
    signed_in(second_archivist).post("/archives/retention/", {"action": "approve", "purge": purge.pk})
    assert ArchiveItem.objects.get(pk=stored["old"].pk).status == ItemStatus.PURGED
    assert not file_store().exists(stored["old"].content_mac)
