"""Attack round 14: a unit's district written in SQL listed the unit, its name and its arrears, on the
arrears page (/business/arrears/) of the district it named.

The page read the units in the viewer's scope from the live rows, past the read door's guard (round 13 made
record pages and lists check a record against its history; this page is neither). Fixed: the units it lists
are the ones in scope that match their history (``policies.withhold``), and each left out is named by an
integrity alert."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.audit.models import AuditEvent
from sidms.business.ledger import run_through
from tests.audit.test_tampering import _raw

pytestmark = [pytest.mark.django_db, pytest.mark.req("R7.3"), pytest.mark.req("R20")]

RUSHAN = "371083"


@pytest.mark.req("R2.2")
def test_a_unit_moved_in_sql_is_not_listed_with_its_arrears_to_the_district_named(
    insured: dict[str, Any], huancui_clerk: Any, rushan_clerk: Any, approver: Any, signed_in: Any
) -> None:
    unit = insured["unit"]
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    with translation.override("zh-hans"):
        before = signed_in(huancui_clerk).get("/business/arrears/?cut_off=2025-05-15").content.decode()
    assert unit.name in before  # the page lists the unit to the district that holds it
    _raw("UPDATE registry_unit SET district_id = %s WHERE id = %s", [RUSHAN, unit.pk])
    page = signed_in(rushan_clerk).get("/business/arrears/?cut_off=2025-05-15")
    assert page.status_code == 200
    assert unit.name not in page.content.decode()
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="unit").count() == 1
