"""Attack round 9 on the audit log's pages and payloads (R20, R10; the security checklist's "no plaintext ID
number in logs"): what an auditor reads, and who else can.

* A reason typed by a person is kept in the event: a clerk correcting a record wrote the person's ID number into
  the reason ("身份证 … 姓名有误"), and it went into the chain in full — shown on the event's page and in its
  payload to every auditor, and never removable from an append-only, hash-chained log. The free texts of an
  event (reason, note, purpose …) now keep an ID number with its birth date starred out, as the logs do; the
  request itself keeps what was typed for its reviewer.

What held, pinned here: the payload is a download (an attachment, JSON, not a page a browser renders), never
cached; a staff member's name holding markup is shown as text on the audit pages; the payload and the pages are
the auditor's only."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.services import submit_change
from sidms.security import accounts

pytestmark = pytest.mark.django_db


@pytest.mark.req("R10")
@pytest.mark.req("R20")
def test_an_id_number_typed_into_a_reason_is_starred_in_the_audit_log(
    insured: dict[str, Any], huancui_clerk: Any, auditor: Any, security: Any, signed_in: Any
) -> None:
    person = insured["employee"]
    number = str(person.id_number)
    starred = number[:6] + "********" + number[14:]
    held = submit_change(actor=huancui_clerk, entity="person", record=person, values={"name": "王建军"},
                         channel=Channel.WINDOW, review_reason=f"身份证{number}姓名有误").held  # fmt: skip
    assert held is not None and number in ChangeRequest.objects.get(pk=held.pk).note  # the reviewer's copy
    accounts.staff_post_revoke(
        actor=security, staff=huancui_clerk, post="window_clerk", reason=f"{number[:15]} 调离"
    )
    events = [
        AuditEvent.objects.get(action="submit.person"),
        AuditEvent.objects.get(action="staff.post_revoke"),
    ]
    assert number not in events[0].payload and starred in events[0].payload
    assert number[:15] not in events[1].payload and number[:6] + "******" in events[1].payload
    client = signed_in(auditor)
    for event in events:
        for path in (f"/audit/{event.seq}/", f"/audit/{event.seq}/payload/", "/audit/"):
            page = client.get(path).content.decode()
            assert number not in page and number[:15] not in page, path
    assert starred in client.get(f"/audit/{events[0].seq}/").content.decode()
    from sidms.changes.verify import verify_store

    assert verify_store().ok  # the event hashes what it holds


@pytest.mark.req("R20")
def test_a_payload_is_a_download_never_cached_and_a_name_with_markup_is_text(
    make_staff: Any, auditor: Any, security: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    mallory = make_staff("mallory", posts=("window_clerk",), district="371002",
                         full_name='<img src=x onerror=alert(1)>张"三')  # fmt: skip
    accounts.staff_post_revoke(
        actor=security, staff=mallory, post="window_clerk", reason="<script>alert(1)</script>"
    )
    event = AuditEvent.objects.get(action="staff.post_revoke")
    client = signed_in(auditor)
    payload = client.get(f"/audit/{event.seq}/payload/")
    assert payload["Content-Type"].startswith("application/json")
    assert payload["Content-Disposition"] == f'attachment; filename="audit-event-{event.seq}.json"'
    assert payload["Cache-Control"] == "no-store" and payload["X-Content-Type-Options"] == "nosniff"
    for path in ("/audit/", f"/audit/{event.seq}/", "/audit/?actor=mallory", "/continuity/administrators/"):
        page = client.get(path).content.decode()
        assert "<img src=x" not in page and "<script>alert" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/audit/{event.seq}/").content.decode()
    for outsider in (security, huancui_clerk):
        assert signed_in(outsider).get(f"/audit/{event.seq}/payload/").status_code == 403
