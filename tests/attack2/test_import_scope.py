"""Attack: a district clerk imports records into another district (or links another district's people)."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.changes.batches import batch_decide
from sidms.core.errors import NotPermitted
from sidms.exchange import imports
from sidms.registry.models import Person
from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]


def test_a_rushan_clerk_cannot_import_people_into_huancui(
    rushan_clerk: Any, importers: tuple[Any, Any]
) -> None:
    _operator, approver = importers
    data = csv_bytes([HEADER, ["张三", id_number(11), "男", "1960-01-01", "employee", "371002", ""]])
    checked = imports.check_file(data, kind="persons", filename="名单.csv")
    with pytest.raises(NotPermitted):
        imported = imports.apply_import(actor=rushan_clerk, data=data, checked=checked, reason="越区导入")
        batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
        imports.execute_import(actor=rushan_clerk, batch_id=imported.batch_id)
    assert not Person.objects.filter(district_id="371002").exists()
    assert AuditEvent.objects.filter(action="access.denied").exists()
    # Its own district's people it imports as before.
    own = csv_bytes(
        [HEADER, ["李四", id_number(11, district="371083"), "男", "1960-01-01", "employee", "371083", ""]]
    )
    imported = imports.apply_import(
        actor=rushan_clerk, data=own, checked=imports.check_file(own, kind="persons"), reason="本区导入"
    )
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    imports.execute_import(actor=rushan_clerk, batch_id=imported.batch_id)
    assert Person.objects.filter(district_id="371083").count() == 1
