"""Attack on archive retention (issue 9) as a database administrator with raw SQL.

The sweep (`sidms archives orphans --sweep`, and the end of every approved purge) deleted the file of every
item whose status column said "purged". One UPDATE made a live item — within its retention period, never
proposed, never approved — a "tombstone", and the next sweep deleted its encrypted file for good; verify named
the row afterwards, but the scan was gone. The sweep now deletes only the files of tombstones that are items
of an approved purge whose row is intact and that match their own history; a forged tombstone is left (and
still counts as referencing its file) and raises an integrity alert.

Also checked: verify names a tombstone put back to life, a tombstone row deleted, and a purge row whose item
list was widened in SQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection

from sidms.archives import retention
from sidms.archives.models import ArchiveItem, ArchivePurge
from sidms.archives.services import archive_upload, file_store
from sidms.audit.models import AuditEvent
from sidms.changes.verify import verify_store
from sidms.core.caller import Caller
from tests.archives.conftest import noise
from tests.conftest import last_integrity_alert

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.4"), pytest.mark.req("R20")]
TODAY = date(2026, 3, 2)


def sql(statement: str, *params: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, list(params))


def _purged(stored: dict[str, Any], archivist: Any, second: Any) -> ArchivePurge:
    purge = retention.purge_propose(actor=archivist, item_ids=[stored["old"].pk], reason="到期", as_of=TODAY)
    return retention.purge_decide(actor=second, purge_id=purge.pk, approve=True)


def test_a_tombstone_forged_in_sql_does_not_get_its_file_deleted(
    stored: dict[str, Any], archivist: Any, second_archivist: Any, make_staff: Any
) -> None:
    _purged(stored, archivist, second_archivist)
    young = stored["young"]  # a labour contract kept 30 years, received in 2000
    table = ArchiveItem._meta.db_table
    sql(f"UPDATE {table} SET status = 'purged' WHERE id = %s", young.pk)  # noqa: S608
    centre = make_staff("centre_sweep", posts=("info_centre",), district=None)
    caller = Caller(actor=centre, address="cli", request_id="sweep", channel="cli")
    retention.purge_sweep(caller)  # sidms archives orphans --sweep
    assert file_store().exists(young.content_mac)  # the live scan survives the forged status
    assert AuditEvent.objects.filter(action="integrity.alert", object_id__contains=str(young.pk)).exists()
    event, payload = last_integrity_alert()
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        "centre_sweep", "archive_item", str(young.pk), "failed",
    )  # fmt: skip
    assert payload["detail"] == {"reason": "purged_without_purge", "record_id": young.pk}
    assert (payload["request"], payload["channel"]) == ("sweep", "")  # the sweep's own caller
    assert not verify_store().ok  # and verify names the row


def test_a_forged_tombstone_sharing_a_file_keeps_it(
    stored: dict[str, Any], archivist: Any, second_archivist: Any
) -> None:
    """A live item that shares its content with an item being purged: marked purged in SQL just before the
    approval, the purge's own sweep took the shared file."""
    purge = retention.purge_propose(actor=archivist, item_ids=[stored["old_shared"].pk], reason="到期",
                                    as_of=TODAY)  # fmt: skip
    table = ArchiveItem._meta.db_table
    sql(f"UPDATE {table} SET status = 'purged' WHERE id = %s", stored["live_shared"].pk)  # noqa: S608
    retention.purge_decide(actor=second_archivist, purge_id=purge.pk, approve=True)
    assert file_store().exists(stored["live_shared"].content_mac)


def test_a_tombstone_brought_back_or_deleted_in_sql_is_named(
    stored: dict[str, Any], archivist: Any, second_archivist: Any
) -> None:
    _purged(stored, archivist, second_archivist)
    assert verify_store().ok
    table = ArchiveItem._meta.db_table
    sql(f"UPDATE {table} SET status = 'accepted' WHERE id = %s", stored["old"].pk)  # noqa: S608
    assert not verify_store().ok
    sql(f"UPDATE {table} SET status = 'purged' WHERE id = %s", stored["old"].pk)  # noqa: S608
    assert verify_store().ok
    sql(f"DELETE FROM {table} WHERE id = %s", stored["old"].pk)  # noqa: S608
    assert not verify_store().ok


def test_a_purge_widened_in_sql_is_named(
    stored: dict[str, Any], archivist: Any, second_archivist: Any
) -> None:
    purge = _purged(stored, archivist, second_archivist)
    table = ArchivePurge._meta.db_table
    items = f"[{stored['old'].pk}, {stored['young'].pk}]"
    sql(f"UPDATE {table} SET items = %s WHERE id = %s", items, purge.pk)  # noqa: S608
    assert not verify_store().ok


def test_a_scan_uploaded_afresh_after_the_listing_keeps_its_file(
    data_dir: Any, archivist: Any, second_archivist: Any, huancui_clerk: Any, person: Any, unit: Any,
    make_staff: Any,
) -> None:  # fmt: skip
    """The sweep lists the files to delete, then deletes them: the same scan uploaded afresh in between
    (stored again, since its only item is a tombstone) must keep its new file."""
    data = noise("PNG")
    old = archive_upload(actor=huancui_clerk, target_kind="person", target=person, doc_type="authorisation",
                         data=data, received_on=date(2014, 5, 1))  # fmt: skip
    purge = retention.purge_propose(actor=archivist, item_ids=[old.pk], reason="到期", as_of=TODAY)
    retention.purge_decide(actor=second_archivist, purge_id=purge.pk, approve=True)
    centre = make_staff("centre_sweep2", posts=("info_centre",), district=None)
    caller = Caller(actor=centre, address="cli", request_id="sweep", channel="cli")
    genuine = retention._genuine_tombstones(caller, None)
    listed = [old.content_mac]  # what a sweep listed as unreferenced ...
    again = archive_upload(actor=huancui_clerk, target_kind="unit", target=unit, doc_type="other", data=data)
    assert again.content_mac == old.content_mac and file_store().exists(again.content_mac)
    assert retention._delete_unreferenced(listed, genuine) == []  # ... is checked again before deleting
    assert file_store().exists(again.content_mac)
