"""Attack round 8 on the rights record, its statements and the public verification page, as a clerk of
another district, an anonymous visitor and a database administrator. These held; the tests pin them.

* A clerk of 乳山市 asks for a 环翠区 person's rights record or PDF statement by URL, with a cut-off in the
  query string or the form: no page, no statement issued, the refusal audited.
* The public page answers a malformed, mistyped or forged number alike, and shows the masked name, the
  cut-off and the agency only for a genuine statement.
* In SQL: a statement moved to another person, a ledger entry copied to another person, and a parameter
  version backdated are each named by ``sidms audit verify``."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from sidms.audit.models import AuditEvent
from sidms.business.ledger import run_through
from sidms.business.models import IssuedStatement, LedgerEntry, ParameterVersion
from sidms.business.rights import issue_statement
from sidms.core.errors import ChangeRefused
from tests.audit.test_tampering import _raw, _unguarded, broken_at

pytestmark = pytest.mark.django_db
CUT_OFF = date(2025, 3, 31)


@pytest.fixture
def assessed(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> dict[str, Any]:
    for month in ("2025-01", "2025-02", "2025-03"):
        run_through(huancui_clerk, approver, "assessment", month)
    return insured


@pytest.mark.req("R10.3")
@pytest.mark.req("B5")
def test_another_districts_clerk_gets_no_rights_record_and_no_statement(
    assessed: dict[str, Any], rushan_clerk: Any, signed_in: Any
) -> None:
    key = assessed["employee"].person_no
    client = signed_in(rushan_clerk)
    assert client.get(f"/persons/{key}/rights/", {"cut_off": "2025-03-31"}).status_code == 404
    assert client.get(f"/persons/{key}/rights/").status_code == 404
    response = client.post(f"/persons/{key}/rights/statement/", {"cut_off": "2025-03-31"})
    assert response.status_code == 404 and b"%PDF" not in response.content
    response = client.post(f"/persons/{key}/rights/statement/?cut_off=2025-03-31", {"delegated_query": "1"})
    assert response.status_code == 404
    assert not IssuedStatement.objects.exists()
    assert not AuditEvent.objects.filter(action="read.rights_record").exists()
    assert AuditEvent.objects.filter(actor=rushan_clerk.username, outcome="denied").count() >= 4


@pytest.mark.req("B5")
@pytest.mark.req("R10")
def test_the_verification_page_answers_every_wrong_number_alike(
    assessed: dict[str, Any], huancui_clerk: Any
) -> None:
    issued = issue_statement(actor=huancui_clerk, person_key=assessed["employee"].person_no, cut_off=CUT_OFF)
    number = issued.number
    forged = number[:5] + ("0" if number[5] != "0" else "1") + number[6:]  # the check character now fails
    wrong = [forged, number[:-1], number + "0", "' OR 1=1 --", "０" * 20, "ǅ" * 20, "-" * 200, number[::-1]]
    pages = []
    for i, text in enumerate(wrong):
        response = Client(REMOTE_ADDR=f"198.51.100.{i + 1}").get("/verify/statement/", {"number": text})
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="verdict"' in html and 'class="error"' in html
        assert "王" not in html and issued.row.agency not in html and "2025-03-31" not in html
        pages.append(html.replace(escape(text), ""))
    assert len(set(pages)) == 1  # nothing but the echoed text tells two wrong numbers apart
    genuine = Client(REMOTE_ADDR="198.51.100.99").get("/verify/statement/", {"number": number.lower()})
    genuine = genuine.content.decode()
    assert "王**" in genuine and "王建国" not in genuine and "2025-03-31" in genuine


@pytest.mark.req("R20")
@pytest.mark.req("B5")
def test_a_statement_moved_to_another_person_in_sql_is_named(
    assessed: dict[str, Any], huancui_clerk: Any
) -> None:
    issued = issue_statement(actor=huancui_clerk, person_key=assessed["employee"].person_no, cut_off=CUT_OFF)
    restore = _unguarded("business_issuedstatement")
    _raw(
        "UPDATE business_issuedstatement SET person_id = %s WHERE id = %s",
        [assessed["flexible"].pk, issued.row.pk],
    )
    restore()
    problem = broken_at()
    assert problem.kind == "statement" and issued.row.statement_id in problem.where


@pytest.mark.req("R20")
@pytest.mark.req("R2.2")
def test_a_ledger_entry_copied_to_another_person_in_sql_is_named(assessed: dict[str, Any]) -> None:
    entry = LedgerEntry.objects.filter(person=assessed["employee"], insurance="110", period="2025-03").get()
    columns = [
        f.column for f in LedgerEntry._meta.concrete_fields if f.column not in ("id", "uid", "person_id")
    ]
    listed = ", ".join(columns)
    _raw(
        f"INSERT INTO business_ledgerentry (uid, person_id, {listed}) "  # noqa: S608
        f"SELECT %s, %s, {listed} FROM business_ledgerentry WHERE id = %s",
        ["0f0e0d0c-0b0a-4908-8706-050403020100", assessed["flexible"].pk, entry.pk],
    )
    problem = broken_at()
    assert problem.kind == "ledger" and f"#{entry.run_id}" in problem.where


@pytest.mark.req("R20")
@pytest.mark.req("R2.3")
def test_a_parameter_version_backdated_in_sql_is_named() -> None:
    row = ParameterVersion.objects.filter(key="rate.pension.unit").order_by("-version").first()
    assert row is not None
    restore = _unguarded("business_parameterversion")
    _raw("UPDATE business_parameterversion SET effective_from = %s WHERE id = %s", ["2000-01-01", row.pk])
    restore()
    problem = broken_at()
    assert problem.kind == "parameter" and "rate.pension.unit" in problem.where


@pytest.mark.req("R9.3")
@pytest.mark.req("R10.3")
def test_runs_are_applied_approved_and_executed_only_by_their_posts_and_never_approved_by_the_applicant(
    insured: dict[str, Any], huancui_clerk: Any, make_staff: Any, signed_in: Any
) -> None:
    from sidms.business.ledger import run_apply, run_decide, run_execute
    from sidms.business.models import AssessmentRun
    from sidms.core.errors import NotPermitted, SeparationOfDuties

    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    client = signed_in(reviewer)
    assert client.get("/business/runs/").status_code == 403
    post = {"action": "apply", "kind": "assessment", "period": "2025-03"}
    assert client.post("/business/runs/", post).status_code == 403
    with pytest.raises(NotPermitted):
        run_apply(actor=reviewer, kind="assessment", period="2025-03")
    both = make_staff("clerk_and_approver", posts=("info_centre", "approver"), district="371000")
    run = run_apply(actor=both, kind="assessment", period="2025-03")
    with pytest.raises(SeparationOfDuties):
        run_decide(actor=both, run_id=run.pk, approve=True)
    with pytest.raises(NotPermitted):
        run_decide(actor=huancui_clerk, run_id=run.pk, approve=True)  # a window clerk approves nothing
    with pytest.raises(ChangeRefused):
        run_execute(actor=huancui_clerk, run_id=run.pk)  # not approved
    assert AssessmentRun.objects.get(pk=run.pk).status == "applied" and not LedgerEntry.objects.exists()
