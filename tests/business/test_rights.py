"""The rights record (个人权益记录, Order 14 Art. 2; issue 8 §8, R10): read through the access policy with every
view audited, printed as a PDF with CJK glyphs embedded, and verified by its number on a public page that
shows only the masked name, the cut-off and the agency."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.http import Http404
from django.test import Client
from django.utils import timezone

from sidms.audit.models import AuditEvent
from sidms.business.ledger import run_through
from sidms.business.models import LedgerEntry
from sidms.business.rights import issue_statement, rights_record_for, verify_number
from sidms.lib import statement as st
from tests.audit.test_tampering import _raw, _unguarded, broken_at

pytestmark = pytest.mark.django_db
CUT_OFF = date(2025, 3, 31)


def pay(unit: Any, period: str, paid_on: str, clerk: Any, approver: Any) -> None:
    rows = LedgerEntry.objects.filter(unit=unit, period=period, kind="assessed")
    amount = sum(e.unit_amount + e.individual_amount for e in rows)
    run_through(clerk, approver, "payment", period, params={"rows": [
        {"unit_id": unit.pk, "period": period, "amount": f"{amount:.2f}", "paid_on": paid_on}]})  # fmt: skip


@pytest.fixture
def history(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> dict[str, Any]:
    for month in ("2025-01", "2025-02", "2025-03"):
        run_through(huancui_clerk, approver, "assessment", month)
    pay(insured["unit"], "2025-01", "2025-01-31", huancui_clerk, approver)
    return insured


@pytest.mark.req("R10")
def test_the_rights_record_is_read_through_the_access_policy_and_audited(
    history: dict[str, Any], huancui_clerk: Any, rushan_clerk: Any
) -> None:
    employee = history["employee"]
    data = rights_record_for(actor=huancui_clerk, person_key=employee.person_no, cut_off=CUT_OFF)
    pension = data.years[0].row(st.Insurance.PENSION)
    assert pension is not None
    assert [m.mark for m in pension.months[:4]] == [
        st.Mark.PAID,
        st.Mark.ARREARS,
        st.Mark.ARREARS,
        st.Mark.NONE,
    ]
    assert data.identity.name == "王建国" and "*" in data.identity.id_number
    assert data.account is not None and data.account.principal == data.account.balance > 0
    assert AuditEvent.objects.filter(action="read.rights_record", object_id=employee.person_no).count() == 1
    with pytest.raises(Http404):  # another district's clerk: the person does not exist for them
        rights_record_for(actor=rushan_clerk, person_key=employee.person_no, cut_off=CUT_OFF)


@pytest.mark.req("R10")
def test_the_rights_record_reads_the_ledger_with_the_values_the_orm_gives(history: dict[str, Any]) -> None:
    """rights._ledger_rows reads the ledger with one plain SELECT: the same rows, values and types (Decimal
    to the field's places, date) as the ORM's values_list, on either engine."""
    from sidms.business.rights import _COUNTED, _LEDGER, _ledger_rows

    ids = sorted({history["employee"].pk, *LedgerEntry.objects.values_list("person_id", flat=True)})
    names = ["pk" if name == "id" else f"{name}_id" if name in ("person", "settles", "corrects") else name
             for name in _LEDGER]  # fmt: skip
    counted = LedgerEntry.objects.filter(person_id__in=ids, kind__in=_COUNTED)
    orm = list(counted.values_list(*names).order_by("person_id", "pk"))
    plain, forged = _ledger_rows(ids, actor=None)
    assert len(orm) > 6 and any(row[7] for row in orm)  # payments that settle assessed entries
    assert [tuple(map(repr, row)) for row in plain] == [tuple(map(repr, row)) for row in orm]
    assert forged == {} and _ledger_rows([], actor=None) == ([], {})


@pytest.mark.req("R10")
def test_the_record_reads_only_the_entries_it_counts(
    history: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """rights._ledger_rows leaves out late fees and benefits paid (_COUNTED), which change none of the record's
    figures: the record made from every entry of the person, a late fee among them, is the same."""
    from sidms.business import rights

    pay(history["unit"], "2025-02", "2025-05-20", huancui_clerk, approver)  # paid late: a late fee
    employee = history["employee"]
    assert LedgerEntry.objects.filter(person=employee, kind="late_fee").exists()
    names = ["pk" if name == "id" else f"{name}_id" if name in ("person", "settles", "corrects") else name
             for name in rights._LEDGER[1:]]  # fmt: skip
    every = list(LedgerEntry.objects.filter(person=employee).order_by("pk").values_list(*names))
    for day in (CUT_OFF, date(2025, 12, 31)):
        read = rights.rights_records([employee], day)[employee.pk]
        assert read == rights.rights_records([employee], day, ledgers={employee.pk: every})[employee.pk]
        assert len(rights._ledger_rows([employee.pk], actor=None)[0]) < len(every)


@pytest.mark.req("R10")
def test_the_rights_record_reads_enrolments_with_the_values_the_orm_gives(history: dict[str, Any]) -> None:
    """rights._enrolment_rows: the columns the record shows of the enrolments begun by the cut-off, with the
    unit's name, id and district (None without a unit), as the ORM's values_list gives them, on either
    engine."""
    from sidms.business.models import PersonEnrolment
    from sidms.business.rights import _enrolment_rows

    ids = sorted(set(PersonEnrolment.objects.values_list("person_id", flat=True)))
    for cut_off in (CUT_OFF, date(2000, 1, 1)):
        orm = list(
            PersonEnrolment.objects.filter(person_id__in=ids, start_date__lte=cut_off)
            .values_list(
                "person_id",
                "insurance",
                "kind",
                "status",
                "start_date",
                "unit__name",
                "unit_id",
                "unit__district_id",
            )
            .order_by("person_id", "start_date", "pk")
        )
        assert [tuple(map(repr, row)) for row in _enrolment_rows(ids, cut_off)] == [
            tuple(map(repr, row)) for row in orm
        ]
    rows = _enrolment_rows(ids, CUT_OFF)
    assert any(row[5] is None for row in rows) and any(row[5] for row in rows)  # flexible worker, employee
    assert _enrolment_rows(ids, date(2000, 1, 1)) == []  # cut off before any enrolment


def _png(pdf: bytes, tmp: Path, name: str) -> bytes:
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), str(tmp / name)], check=True
    )
    return next(tmp.glob(f"{name}*.png")).read_bytes()


@pytest.mark.req("R10")
@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) is needed")
def test_the_pdf_shows_chinese_glyphs_and_its_number_verifies(
    history: dict[str, Any], huancui_clerk: Any, approver: Any, tmp_path: Path
) -> None:
    employee = history["employee"]
    issued = issue_statement(actor=huancui_clerk, person_key=employee.person_no, cut_off=CUT_OFF)
    (tmp_path / "s.pdf").write_bytes(issued.pdf)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "s.pdf")], capture_output=True, text=True, check=True)
    assert "CID TrueType" in fonts.stdout and " yes " in fonts.stdout  # CJK fonts embedded (subset)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "s.pdf"), "-"], capture_output=True, text=True, check=True
    )
    assert "社会保险个人权益记录单" in text.stdout and "王建国" in text.stdout
    # The print time is Beijing time, as the cut-off beside it (a statement printed at 01:20 on 2 December
    # said it was printed at 17:20 on 1 December, UTC, under a cut-off of 2 December).
    printed = timezone.localtime(issued.row.issued_at).strftime("%Y-%m-%d %H:%M:%S")
    assert f"打印时间：{printed}" in text.stdout
    # Glyphs, not boxes: the same statement with another three-character name renders differently (missing
    # glyphs would all be the same empty box, and the two pages would be identical).
    data = rights_record_for(actor=huancui_clerk, person_key=employee.person_no, cut_off=CUT_OFF)
    other = dataclasses.replace(data, identity=dataclasses.replace(data.identity, name="李红梅"))
    fixed = {"number": issued.number, "qr_url": "/verify/statement/", "issued_at": datetime(2025, 4, 1, 9),
             "cut_off": CUT_OFF, "agency": issued.row.agency}  # fmt: skip
    first = _png(st.render_statement(data, **fixed), tmp_path, "a")
    again = _png(st.render_statement(data, **fixed), tmp_path, "b")
    renamed = _png(st.render_statement(other, **fixed), tmp_path, "c")
    assert first == again and first != renamed
    # The number verifies; a changed number does not.
    verdict = verify_number(issued.number)
    assert (verdict.found, verdict.genuine, verdict.unchanged) == (True, True, True)
    assert verdict.masked_name == "王**" and verdict.cut_off == CUT_OFF
    changed = issued.number[:5] + ("0" if issued.number[5] != "0" else "1") + issued.number[6:]
    assert not verify_number(changed).genuine
    # Data that change after printing (February paid on 20 March, before the cut-off): no longer unchanged.
    pay(history["unit"], "2025-02", "2025-03-20", huancui_clerk, approver)
    later = verify_number(issued.number)
    assert (later.genuine, later.unchanged) == (True, False)


@pytest.mark.req("R10")
def test_the_public_verification_page_shows_only_the_masked_name(
    history: dict[str, Any], huancui_clerk: Any
) -> None:
    issued = issue_statement(actor=huancui_clerk, person_key=history["employee"].person_no, cut_off=CUT_OFF)
    page = Client().get("/verify/statement/", {"number": issued.number})
    assert page.status_code == 200
    html = page.content.decode()
    assert "王**" in html and "王建国" not in html and "2025-03-31" in html and issued.row.agency in html
    unknown = Client().get("/verify/statement/", {"number": "0000000000"}).content.decode()
    assert 'class="error"' in unknown and "王**" not in unknown


@pytest.mark.req("R20")
def test_an_altered_issued_statement_is_named_by_verify(history: dict[str, Any], huancui_clerk: Any) -> None:
    issued = issue_statement(actor=huancui_clerk, person_key=history["employee"].person_no, cut_off=CUT_OFF)
    restore = _unguarded("business_issuedstatement")
    _raw("UPDATE business_issuedstatement SET cut_off = %s WHERE id = %s", ["2025-12-31", issued.row.pk])
    restore()
    assert broken_at().kind == "statement"
    assert not verify_number(issued.number).genuine


@pytest.mark.req("R10")
def test_the_yearly_statements_batch_issues_one_per_insured_person(
    history: dict[str, Any], tmp_path: Path
) -> None:
    from django.core.management import call_command

    call_command("statements", "2025", "--out", str(tmp_path / "out"))
    pdfs = list((tmp_path / "out").glob("*.pdf"))
    assert len(pdfs) == 2  # the employee and the flexible worker
    from sidms.business.models import IssuedStatement

    assert {s.cut_off for s in IssuedStatement.objects.all()} == {date(2025, 12, 31)}
    assert all(verify_number(s.number).unchanged for s in IssuedStatement.objects.all())


@pytest.mark.req("R20")
def test_a_statement_of_the_yearly_batch_is_vouched_for_by_its_chunks_event(
    history: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    from sidms.business.models import IssuedStatement
    from sidms.business.rights import yearly_statements

    issued = list(yearly_statements(2025, chunk=5))
    assert len(issued) == 2 and len({i.row.statement_id[:24] for i in issued}) == 1  # one chunk
    assert AuditEvent.objects.filter(action="statement.issue_batch").count() == 1
    assert not AuditEvent.objects.filter(action="statement.issue").exists()
    assert all(verify_number(i.number).unchanged for i in issued)
    # Data that change after printing: that person's statement is no longer unchanged.
    pay(history["unit"], "2025-02", "2025-03-20", huancui_clerk, approver)
    employee = next(i for i in issued if i.row.person_id == history["employee"].pk)
    assert (verify_number(employee.number).genuine, verify_number(employee.number).unchanged) == (True, False)
    # One row of the chunk altered in SQL: verify names it; the others still verify.
    restore = _unguarded("business_issuedstatement")
    _raw("UPDATE business_issuedstatement SET cut_off = %s WHERE id = %s", ["2025-06-30", employee.row.pk])
    restore()
    assert broken_at().kind == "statement"
    assert not verify_number(employee.number).genuine
    other = next(i for i in issued if i is not employee)
    assert verify_number(other.number).genuine
    # A row of the chunk deleted in SQL: its event still names it.
    restore = _unguarded("business_issuedstatement")
    _raw("DELETE FROM business_issuedstatement WHERE id = %s", [employee.row.pk])
    restore()
    assert broken_at().kind == "statement"  # the chunk's event names a statement that is missing
    assert IssuedStatement.objects.count() == 1


@pytest.fixture
def employed_elsewhere(
    make_unit: Any, make_person: Any, huancui_clerk: Any, rushan_clerk: Any
) -> dict[str, Any]:
    """A 环翠区 person employed by a 乳山市 unit (enrolled in pension there): the person is a 环翠区 clerk's to
    serve, the unit is not theirs to see."""
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change
    from tests.changes.conftest import id_number

    unit = make_unit(unit_no="U3710830001", name="乳山市银滩旅游有限公司", district="371083")
    person = make_person(id_number=id_number("37100219800101001"), name="王建国", birth_date="1980-01-01")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                  values={"person_id": person.pk, "unit_id": unit.pk, "start_date": "2021-01-01"})  # fmt: skip
    submit_change(actor=rushan_clerk, channel=Channel.WINDOW, entity="unit_enrolment",
                  values={"unit_id": unit.pk, "insurance": "110", "status": "paying", "start_date": "2020-01-01"})  # fmt: skip
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment",
                  values={"person_id": person.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
                          "status": "paying", "start_date": "2021-01-01"})  # fmt: skip
    return {"unit": unit, "person": person}


@pytest.mark.req("R10")
@pytest.mark.req("R10.3")
def test_the_rights_page_does_not_name_an_employer_outside_the_viewers_data_scope(
    employed_elsewhere: dict[str, Any], huancui_clerk: Any, make_staff: Any, signed_in: Any
) -> None:
    """The rule of the person's page (another district's unit stays anonymous, named only as a record outside
    the viewer's scope) holds on the rights-record page too; the city level, which sees every district, reads
    the unit's name."""
    unit, person = employed_elsewhere["unit"], employed_elsewhere["person"]
    clerk = signed_in(huancui_clerk)
    person_page = clerk.get(f"/persons/{person.person_no}/").content.decode()
    assert "银滩" not in person_page and "不在您数据范围内的记录" in person_page  # the rule being followed
    response = clerk.get(f"/persons/{person.person_no}/rights/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "银滩" not in page and unit.unit_no not in page
    assert "不在您数据范围内的记录" in page and "王建国" in page
    city = signed_in(make_staff("clerk_city", posts=("window_clerk",), district="371000"))
    assert "乳山市银滩旅游有限公司" in city.get(f"/persons/{person.person_no}/rights/").content.decode()


@pytest.mark.req("R10")
@pytest.mark.req("R10.1")
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) is needed")
def test_the_statement_printed_for_the_person_names_his_employer_whoever_prints_it(
    employed_elsewhere: dict[str, Any], huancui_clerk: Any, signed_in: Any, tmp_path: Path
) -> None:
    """The statement is the person's own record, handed to him (Order 14; R10.1): it names his employer even
    when the clerk printing it may not see that unit, and it is the one statement its number verifies."""
    person = employed_elsewhere["person"]
    response = signed_in(huancui_clerk).post(f"/persons/{person.person_no}/rights/statement/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    (tmp_path / "s.pdf").write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "s.pdf"), "-"], capture_output=True, text=True, check=True
    )
    assert "乳山市银滩旅游有限公司" in text.stdout and "不在您数据范围内" not in text.stdout
    from sidms.business.models import IssuedStatement

    verdict = verify_number(IssuedStatement.objects.get(person=person).number)
    assert (verdict.genuine, verdict.unchanged) == (True, True)


@pytest.mark.req("R10")
@pytest.mark.req("R20")
def test_the_page_reads_the_enrolments_it_checks_and_shows_by_one_query(
    history: dict[str, Any], huancui_clerk: Any
) -> None:
    """The rights page checks the enrolments it shows against their history and shows those same ones: one
    query gives them, their latest revisions and their units' names and districts (rights._intact_enrolments),
    as _enrolment_rows gives them to the yearly batch; no second read of the enrolments or of their history."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sidms.business.rights import _enrolment_rows, _intact_enrolments
    from sidms.core.caller import Caller

    caller = Caller.of(huancui_clerk)
    for person in (history["employee"], history["flexible"]):
        for cut_off in (CUT_OFF, date(2021, 6, 30), date(2000, 1, 1)):
            rows = [tuple(row[1:]) for row in _enrolment_rows([person.pk], cut_off)]
            assert [tuple(e) for e in _intact_enrolments(person, cut_off, caller)] == rows
    assert any(e.unit_name for e in _intact_enrolments(history["employee"], CUT_OFF, caller))
    assert [e.unit_name for e in _intact_enrolments(history["flexible"], CUT_OFF, caller)] == [None]

    employee = history["employee"]
    with CaptureQueriesContext(connection) as queries:
        rights_record_for(actor=huancui_clerk, person_key=employee.person_no, cut_off=CUT_OFF)
    enrolment_reads = [q["sql"] for q in queries.captured_queries if "business_personenrolment" in q["sql"]]
    assert len(enrolment_reads) == 1 and "changes_revision" in enrolment_reads[0]
    assert not [
        q
        for q in queries.captured_queries
        if "'person_enrolment'" in q["sql"] and q["sql"] not in enrolment_reads
    ]


@pytest.mark.req("R20")
def test_the_latest_revisions_read_with_the_records_are_those_read_apart(
    history: dict[str, Any], huancui_clerk: Any
) -> None:
    """changes.integrity.with_latest_revision and latest_of give the check what latest_revisions reads by a
    query of its own (and latest_revisions what the ORM finds: the highest version), for records of one and of
    several revisions; a record without revisions has none."""
    from sidms.business.models import PersonEnrolment
    from sidms.changes.integrity import (
        latest_of,
        latest_revision_rows,
        latest_revisions,
        with_latest_revision,
    )
    from sidms.changes.models import Channel, Revision
    from sidms.changes.services import submit_change
    from sidms.core.kernel import spec_for

    spec = spec_for("person_enrolment")
    changed = PersonEnrolment.objects.filter(person=history["flexible"]).get()
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment", record=changed,
                  values={"status": "suspended", "status_date": "2025-02-01"})  # fmt: skip
    records = list(with_latest_revision(spec, PersonEnrolment.objects.all()).order_by("pk"))
    ids = [int(r.pk) for r in records]
    orm = {
        pk: (r.version, r.digest)
        for pk in ids
        if (r := Revision.objects.filter(entity=spec.name, record_id=pk).order_by("-version").first())
    }
    assert len(orm) == len(ids) > 1 and orm[int(changed.pk)][0] >= 2
    assert latest_of(records) == latest_revisions(spec, ids) == orm
    # Ids given twice, and one with no revision: one row each of those that have one.
    rows = latest_revision_rows(spec, [*ids, ids[0], 987_654_321])
    assert sorted(row[0] for row in rows) == ids
    assert latest_revision_rows(spec, []) == []


@pytest.mark.req("R10")
@pytest.mark.req("R20")
def test_an_enrolments_old_version_put_back_in_sql_is_refused_by_the_history_read_with_it(
    history: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """The enrolment's row as it was before its last change (its version, digest and values: consistent in
    itself) is not its latest revision, which the page reads in the same statement as the row: refused, the
    alert naming the history."""
    from sidms.business.models import PersonEnrolment
    from sidms.changes.models import Channel, Revision
    from sidms.changes.services import submit_change
    from sidms.core.errors import IntegrityAlert
    from tests.audit.test_tampering import _raw

    flexible = history["flexible"]
    enrolment = PersonEnrolment.objects.get(person=flexible)
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment", record=enrolment,
                  values={"status": "suspended", "status_date": "2025-02-01"})  # fmt: skip
    enrolment.refresh_from_db()
    earlier = Revision.objects.get(
        entity="person_enrolment", record_id=enrolment.pk, version=enrolment.version - 1
    )
    assert rights_record_for(actor=huancui_clerk, person_key=flexible.person_no, cut_off=CUT_OFF).summaries
    _raw(
        "UPDATE business_personenrolment SET status = %s, status_date = %s, version = %s, row_digest = %s "
        "WHERE id = %s",
        [earlier.state["status"], earlier.state["status_date"], earlier.version, earlier.digest, enrolment.pk],
    )  # fmt: skip
    with pytest.raises(IntegrityAlert):
        rights_record_for(actor=huancui_clerk, person_key=flexible.person_no, cut_off=CUT_OFF)
    alert = AuditEvent.objects.filter(action="integrity.alert", object_type="person_enrolment").latest("seq")
    assert '"reason":"history"' in alert.payload
    assert signed_in(huancui_clerk).get(f"/persons/{flexible.person_no}/rights/").status_code == 409


@pytest.mark.req("R10")
@pytest.mark.req("R20")
def test_the_read_door_and_the_session_read_their_records_history_with_the_rows(
    history: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """record_get's look-up by key brings the record's latest revision for its check, and the request's account
    brings its own for the session's check: neither is read by a query of its own on the rights page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(huancui_clerk)
    path = f"/persons/{history['employee'].person_no}/rights/?cut_off={CUT_OFF.isoformat()}"
    assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    sqls = [q["sql"] for q in queries.captured_queries]
    rows = ("registry_staff", "registry_person", "business_personenrolment")
    alone = [sql for sql in sqls if "changes_revision" in sql and not any(table in sql for table in rows)]
    assert alone == [], alone  # every revision read rides on the row it vouches for
    assert any("registry_person" in sql and "'person'" in sql and "changes_revision" in sql for sql in sqls)
    assert any("registry_staff" in sql and "'staff'" in sql and "changes_revision" in sql for sql in sqls)
