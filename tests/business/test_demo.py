"""`sidms demo` loads the business history from January 2023 to last month through the same runs production uses (issue 8 §9):
enrolments and bases through import batches, monthly assessments, payments with units in arrears, interest,
pensions, deaths that stop payments and one registered late (an overpayment) — and the store verifies."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date

import pytest
from django.utils import timezone

from sidms.business.accounts import arrears
from sidms.business.benefits import overpayments
from sidms.business.models import AssessmentRun, LedgerEntry
from sidms.business.payments import remainders
from sidms.business.rights import issue_statement, rights_record, verify_number
from sidms.changes.verify import verify_store
from sidms.demo.business import demo_periods, load_business
from sidms.demo.generate import generate
from sidms.demo.loader import ensure_accounts, load_demo
from sidms.lib import statement as st
from sidms.registry.models import Person, Staff

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.2")
def test_the_demo_history_goes_through_the_runs_and_verifies() -> None:
    ensure_accounts()
    load_demo(generate(persons=120), progress=lambda _line: None)
    counts = load_business(progress=lambda _line: None)
    assert counts["person_enrolment"] > 0 and counts["base_declaration"] > 0
    # Every month from January 2023 to the last complete month before today, assessed and paid; the interest
    # of every complete year.
    periods = demo_periods()
    today = timezone.localdate()
    assert periods[0] == "2023-01" and periods[-1] < f"{today.year}-{today.month:02d}"
    assert len(periods) == (today.year - 2023) * 12 + today.month - 1
    assert AssessmentRun.objects.filter(kind="assessment", status="executed").count() == len(periods)
    assert AssessmentRun.objects.filter(kind="interest", status="executed").count() == today.year - 2023
    assert LedgerEntry.objects.filter(kind="paid", period=periods[-1]).exists()
    # A unit paying part of each month from 2026 leaves the rest in arrears; the one-time benefits are paid.
    assert remainders() and {"410", "510"} <= set(
        LedgerEntry.objects.filter(kind="benefit_once").values_list("insurance", flat=True)
    )
    kinds = set(LedgerEntry.objects.values_list("kind", flat=True))
    assert {"assessed", "paid", "interest", "benefit", "benefit_once", "late_fee"} <= kinds
    assert any(a.unit_id is not None and a.principal > 0 for a in arrears(date(2026, 1, 31)))
    assert overpayments()  # the death registered late
    report = verify_store()
    assert report.ok, report.problem
    # Two pensions transferred in from other regions: 2022's months ○ on the statement of 2024.
    transferred = LedgerEntry.objects.filter(kind="transferred").values_list("person_id", flat=True)
    assert AssessmentRun.objects.filter(kind="transfer_in", status="executed").count() == 1
    mover = Person.objects.get(pk=transferred.order_by("pk").first())
    data = rights_record(mover, date(2024, 12, 31))
    marks = [m.mark for y in data.years if y.year == 2022 for m in y.row(st.Insurance.PENSION).months]  # type: ignore[union-attr]
    assert marks == [st.Mark.TRANSFERRED_IN] * 12 and len(set(transferred)) == 2

    # A demo person's statement: Chinese text in the PDF, its number verifies.
    person = Person.objects.get(
        pk=LedgerEntry.objects.filter(kind="paid", unit__isnull=False).first().person_id
    )
    issued = issue_statement(actor=Staff.objects.get(username="approver_city"), person_key=person.person_no,
                             cut_off=date(2025, 12, 31))  # fmt: skip
    assert verify_number(issued.number).unchanged
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=issued.pdf, capture_output=True, check=True
        ).stdout
        assert person.name in text.decode() and "缴费" in text.decode()
