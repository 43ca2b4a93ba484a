"""Attack round 15: a contribution inserted in SQL is shown as the person's.

The ledger is append-only (triggers refuse UPDATE and DELETE), but INSERT is what it is for, and a database
administrator can insert. Each entry carries a keyed digest (``ledger.entry_digest``) that a forged row cannot
match, yet the read door checks a ledger entry's person only (``changes.integrity._unintact`` checks a
record's own digest for registry records alone): a copy of 王建国's January assessment with person_id set to
赵自由 was listed among 赵自由's contributions on his page, until the nightly verification of the runs."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import connection

from sidms.audit.models import AuditEvent
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R9.2")]


def forge(entry: LedgerEntry, person_id: int) -> int:
    """Insert a copy of ENTRY for PERSON_ID (a new uid, its digest copied), as raw SQL can."""
    fields = [f for f in LedgerEntry._meta.concrete_fields if f.attname != "id"]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = []
    for f in fields:
        value = getattr(entry, f.attname)
        if f.attname == "person_id":
            value = person_id
        elif f.attname == "uid":
            value = uuid.uuid4().hex
        values.append(f.get_db_prep_value(value, connection) if f.attname != "uid" else value)
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO business_ledgerentry ({columns}) VALUES ({marks})", values)  # noqa: S608
    return LedgerEntry.objects.filter(person_id=person_id).order_by("-pk").values_list("pk", flat=True)[0]


@pytest.fixture
def forged(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> dict[str, Any]:
    run_through(huancui_clerk, approver, "assessment", "2025-01")
    genuine = LedgerEntry.objects.get(person=insured["employee"], insurance="110", period="2025-01")
    return {**insured, "forged": forge(genuine, insured["flexible"].pk), "genuine": genuine}


def test_a_contribution_inserted_in_sql_is_not_listed_on_the_persons_page(
    forged: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    clerk = signed_in(huancui_clerk)
    page = clerk.get(f"/persons/{forged['flexible'].person_no}/")
    assert page.status_code == 200
    listed = AuditEvent.objects.filter(action="read.ledger_entry_list").order_by("-seq").first()
    assert listed is not None
    detail = json.loads(listed.payload)["detail"]
    assert str(forged["forged"]) not in detail["shown"]
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="ledger_entry").exists()


def test_nor_on_the_units_page(forged: dict[str, Any], huancui_clerk: Any, signed_in: Any) -> None:
    """The unit's contributions list names the person of each entry: 赵自由 appeared as assessed there."""
    body = signed_in(huancui_clerk).get(f"/units/{forged['unit'].unit_no}/").content.decode()
    assert forged["flexible"].person_no not in body
    assert AuditEvent.objects.filter(action="integrity.alert", object_type="ledger_entry").exists()


def test_a_genuine_ledger_is_listed_without_alerts(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    run_through(huancui_clerk, approver, "assessment", "2025-01")
    clerk = signed_in(huancui_clerk)
    assert clerk.get(f"/persons/{insured['employee'].person_no}/").status_code == 200
    assert insured["employee"].person_no in clerk.get(f"/units/{insured['unit'].unit_no}/").content.decode()
    assert not AuditEvent.objects.filter(action="integrity.alert").exists()


@pytest.mark.req("R10.1")
@pytest.mark.xfail(
    strict=True,
    reason="the rights record, its statement and the yearly batch read the ledger by one plain SELECT and check "
    "no entry's digest (the rights page's queries are feat/rightspg's; reported, not fixed here)",
)
def test_a_contribution_inserted_in_sql_is_not_on_the_rights_record(
    forged: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    page = signed_in(huancui_clerk).get(f"/persons/{forged['flexible'].person_no}/rights/")
    assert page.status_code == 409


@pytest.mark.xfail(
    strict=True,
    reason="the arrears page sums the ledger in SQL (accounts.arrears) and checks no entry's digest: a forged "
    "assessment raises the unit's arrears on the page until the nightly verification",
)
def test_a_contribution_inserted_in_sql_does_not_raise_the_arrears(forged: dict[str, Any]) -> None:
    from datetime import date
    from decimal import Decimal

    from sidms.business import accounts

    genuine = sum(
        (e.unit_amount + e.individual_amount
         for e in LedgerEntry.objects.filter(unit=forged["unit"], kind="assessed").exclude(pk=forged["forged"])),
        Decimal(0),
    )  # fmt: skip
    owing = {a.unit_id: a for a in accounts.arrears(date(2025, 12, 31))}
    assert owing[forged["unit"].pk].principal == genuine
