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
    # The reads that check each entry as they sum it: the rights record, its statement, the arrears.
    for person in (insured["employee"], insured["flexible"]):
        assert clerk.get(f"/persons/{person.person_no}/rights/").status_code == 200
        statement = clerk.post(f"/persons/{person.person_no}/rights/statement/")
        assert statement.status_code == 200 and statement.content.startswith(b"%PDF")
    assert insured["unit"].name in clerk.get("/business/arrears/?cut_off=2025-12-31").content.decode()
    assert not AuditEvent.objects.filter(action="integrity.alert").exists()


@pytest.mark.req("R10.1")
def test_a_contribution_inserted_in_sql_is_not_on_the_rights_record(
    forged: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    page = signed_in(huancui_clerk).get(f"/persons/{forged['flexible'].person_no}/rights/")
    assert page.status_code == 409
    assert named_alerts() == [str(forged["forged"])]


def named_alerts() -> list[str]:
    """The ledger entries the integrity alerts recorded so far name."""
    alerts = AuditEvent.objects.filter(action="integrity.alert", object_type="ledger_entry").order_by("seq")
    return list(alerts.values_list("object_id", flat=True))


@pytest.mark.req("R10.1")
def test_nor_on_a_statement_issued_at_the_window(
    forged: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """The statement handed over the counter (社会保险个人权益记录单) counted the copy as 赵自由's January."""
    from sidms.business.models import IssuedStatement

    clerk = signed_in(huancui_clerk)
    assert clerk.post(f"/persons/{forged['flexible'].person_no}/rights/statement/").status_code == 409
    assert not IssuedStatement.objects.exists()
    assert named_alerts() == [str(forged["forged"])]
    # The person it was copied from is untouched: their record and statement are issued, without an alert.
    assert clerk.post(f"/persons/{forged['employee'].person_no}/rights/statement/").status_code == 200
    assert clerk.get(f"/persons/{forged['employee'].person_no}/rights/").status_code == 200
    assert named_alerts() == [str(forged["forged"])]


@pytest.mark.req("R10.1")
def test_the_yearly_batch_withholds_the_statement_that_would_count_it(forged: dict[str, Any]) -> None:
    from sidms.business.rights import yearly_statements

    batch = yearly_statements(2025, chunk=5)
    issued = list(batch)
    assert [one.row.person_id for one in issued] == [forged["employee"].pk]
    assert batch.withheld == [(forged["flexible"].person_no, f"ledger_entry {forged['forged']}")]
    assert named_alerts() == [str(forged["forged"])]


@pytest.mark.req("R10.1")
def test_a_statement_verified_after_a_contribution_was_inserted_compares_without_it(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """The public verification of a printed number recomputes the record: an entry inserted in SQL since is
    left out of it (the statement's figures are still the person's), and an alert names it."""
    from sidms.business.rights import issue_statement, verify_number

    run_through(huancui_clerk, approver, "assessment", "2025-01")
    employee = insured["employee"]
    issued = issue_statement(actor=huancui_clerk, person_key=employee.person_no)
    copy = forge(LedgerEntry.objects.filter(person=employee).order_by("pk").first(), employee.pk)
    verdict = verify_number(issued.number)
    assert verdict.genuine and verdict.unchanged
    assert named_alerts() == [str(copy)]


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
    assert named_alerts() == [str(forged["forged"])]


@pytest.mark.req("R6.2")
def test_a_payment_inserted_in_sql_does_not_lower_what_is_left_of_a_part_paid_month(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """What is left of a month paid in part (payments.remainders) summed the payments in SQL: a copy of one of
    them halved the arrears of the unit's pension."""
    from datetime import date
    from decimal import Decimal

    from sidms.business import accounts
    from sidms.business.payments import remainders

    unit = insured["unit"]
    run_through(huancui_clerk, approver, "assessment", "2025-01")
    rows = [{"unit_id": unit.pk, "period": "2025-01", "amount": "1000.00", "paid_on": "2025-03-17"}]
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows})
    left = {d.entry.insurance: d.total for d in remainders(unit.pk)}
    [before] = [a.principal for a in accounts.arrears(date(2025, 12, 31)) if a.unit_id == unit.pk]
    assert left["110"] == Decimal("610.47") and before == Decimal("1194.65")
    pension = LedgerEntry.objects.get(kind="paid", unit=unit, insurance="110")
    copy = forge(pension, insured["employee"].pk)
    assert {d.entry.insurance: d.total for d in remainders(unit.pk)} == left
    [after] = [a.principal for a in accounts.arrears(date(2025, 12, 31)) if a.unit_id == unit.pk]
    assert after == before
    assert named_alerts() == [str(copy)] * 2  # each read names it: remainders, then the arrears


@pytest.mark.parametrize("engine_values", [False, True], ids=["orm", "driver"])
def test_every_column_an_entry_digest_covers_is_checked(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, engine_values: bool
) -> None:
    """ledger.forged_rows, the one check behind these reads, vouches for every genuine entry, whether read as
    the ORM's values or as the database driver gives them; and an entry with any one of the columns its digest
    covers changed fails, by itself."""
    import datetime as dt
    import uuid as uuid_module
    from decimal import Decimal

    from sidms.business.ledger import DIGEST_COLUMNS, forged_rows

    run_through(huancui_clerk, approver, "assessment", "2025-01")
    rows = [
        {"unit_id": insured["unit"].pk, "period": "2025-01", "amount": "1000.00", "paid_on": "2025-03-17"}
    ]
    run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows})  # settles_id set
    if engine_values:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(LedgerEntry._meta.get_field(name).column) for name in DIGEST_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM business_ledgerentry ORDER BY id")  # noqa: S608
            read = cursor.fetchall()
    else:
        read = list(LedgerEntry.objects.order_by("pk").values_list(*DIGEST_COLUMNS))
    assert len(read) > 8 and forged_rows(read, DIGEST_COLUMNS, actor=None) == {}

    def changed(value: Any) -> Any:
        if value is None:
            return 1
        if isinstance(value, bool):
            raise AssertionError(value)
        if isinstance(value, int):
            return value + 1
        if isinstance(value, float | Decimal):
            return value + type(value)("0.01")
        if isinstance(value, dt.datetime):
            return value + dt.timedelta(microseconds=1)
        if isinstance(value, dt.date):
            return value + dt.timedelta(days=1)
        if isinstance(value, uuid_module.UUID):
            return uuid_module.uuid4()
        return f"{value[:-1]}{'0' if value[-1] != '0' else '1'}"  # str: same length (a uid's hex too)

    paid = next(row for row in read if row[DIGEST_COLUMNS.index("settles")] is not None)
    for i, name in enumerate(DIGEST_COLUMNS):
        if name == "id":
            continue  # not covered: an entry's row id is the database's (a copy gets a new one)
        tampered = (*paid[:i], changed(paid[i]), *paid[i + 1 :])
        assert list(forged_rows([tampered], DIGEST_COLUMNS, actor=None)) == [paid[0]], name
