"""Attack round 12: asking the registries again on a change request whose row was changed in SQL (its seal no
longer matches) is refused with an integrity alert — which left no audit event at all: the recheck's check ran
outside audited_refusals and the page caught the refusal, so the alert was shown and never logged (R20)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from sidms.audit.models import AuditEvent
from sidms.changes.services import review_recheck_registries
from sidms.core.errors import IntegrityAlert
from tests.changes.test_review import hold_id_change

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R7.3")]


def _tampered(clerk: Any, person: Any) -> Any:
    held = hold_id_change(clerk, person)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE changes_changerequest SET note = 'x' WHERE id = %s", [held.pk])
    return held


def alerts() -> int:
    return AuditEvent.objects.filter(action="integrity.alert").count()


def test_the_service_records_the_alert_once(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any, public_security: Any
) -> None:
    held = _tampered(huancui_clerk, wang)
    before = alerts()
    with pytest.raises(IntegrityAlert):
        review_recheck_registries(actor=huancui_reviewer, change_request_id=held.pk)
    assert alerts() == before + 1


def test_the_page_records_the_alert_once(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any, public_security: Any, signed_in: Any
) -> None:
    held = _tampered(huancui_clerk, wang)
    before = alerts()
    page = signed_in(huancui_reviewer).post(f"/queues/review/{held.pk}/recheck/")
    assert page.status_code in (403, 409)
    assert alerts() == before + 1
