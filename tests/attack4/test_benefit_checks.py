"""Attack on the audit of 待遇发放核查 (/business/benefits/) by a reader who wants to see more than is recorded.

The page lists, unbounded, every pension in the viewer's scope suspended for a lapsed certification (and
every payment after a death), each with the recipient's person number and masked name, but its audit event
named only the first 200 persons of each list: a district with more than 200 lapsed certifications showed
the rest unrecorded. Fix: each list shows at most 200 rows (as a record's related lists do), the page says
so, and the audit event names every person shown."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.utils import timezone, translation

from sidms.audit.models import AuditEvent
from tests.changes.conftest import id_number
from tests.conftest import luhn_complete

pytestmark = pytest.mark.django_db

MANY = 201


@pytest.mark.req("R10.3")
@pytest.mark.req("R9.2")
def test_every_recipient_the_checks_page_shows_is_named_in_its_audit_event(
    load: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    people = load("person", [
        {"person_no": f"P{i:09d}", "id_number": id_number(f"37100219650115{2 * i - 1:03d}"), "name": "刘退休",
         "sex": "1", "birth_date": "1965-01-15", "category": "retiree", "district_id": "371002",
         "phone": "13963100000", "bank_account": luhn_complete("621700000000000000"), "status": "active"}
        for i in range(1, MANY + 1)
    ])  # fmt: skip
    load("entitlement", [
        {"person_id": str(p.pk), "kind": "pension", "start_date": "2023-01-01", "monthly_amount": "2300.00",
         "basis": "测试", "status": "active", "certified_on": "2023-01-01"}
        for p in people
    ])  # fmt: skip
    with translation.override("zh-hans"):
        page = signed_in(huancui_clerk).get("/business/benefits/").content.decode()
    shown = set(re.findall(r">(P\d{9})</a>", page))
    assert shown, page[-2000:]
    event = AuditEvent.objects.get(action="read.benefit_checks")
    detail = json.loads(event.payload)["detail"]
    audited = set(detail["suspended"])
    assert shown <= audited  # nobody shown unrecorded
    assert len(shown) < MANY and "仅显示前 200 行" in page  # and the page says that it shows a part
    assert timezone.localdate().strftime("%Y-%m") in page
