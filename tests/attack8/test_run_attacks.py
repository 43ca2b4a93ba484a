"""Attack round 8 on the ledger runs (issue 8 §4–§6): as a clerk or an approver who bends a run's inputs, and
as a database administrator who deletes a run.

* A run applied for (or approved, or rejected) and then deleted in SQL left no trace verify could see: only
  executed runs were checked against their audit events, so a pending application vanished silently.
* The year of an interest run was read by ``int()``: ``02024``, `` 2024``, ``+2024`` and ``2_024`` were all
  2024 but four periods, so the once-per-period rule was passed round and a transfer's check for a settled
  year (which asks for the period ``2024``) missed a settlement filed as ``02024``.
* A correction took any base: 1,000,000 a month (credited 80,000 to the personal account, 300 times the
  floor) was written, and a base of 1e13 was a server error (decimal.InvalidOperation).
* A payment extract could be dated in 2099.
* An approver of 乳山市 approved a city-wide assessment (R9.3: a batch is approved at city level) and a
  correction of a 环翠区 person's entry (R10.3: outside the approver's data scope).
* The assessment charged a unit for an employee in the months after his registered death.
* An assessment of a period for which no parameter was in force (before the seeded rates of 2019) was a
  server error on the runs page, not a refusal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.business.ledger import run_apply, run_decide, run_through
from sidms.business.models import AssessmentRun, EntryKind, LedgerEntry, RunStatus
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.changes.verify import verify_store
from sidms.core.errors import ChangeRefused, NotPermitted
from tests.audit.test_tampering import _raw, broken_at

pytestmark = pytest.mark.django_db


@pytest.mark.req("R20")
@pytest.mark.req("R2.2")
@pytest.mark.parametrize("step", ["applied", "approved", "rejected"])
def test_a_run_deleted_in_sql_before_it_executed_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, step: str
) -> None:
    run = run_apply(actor=huancui_clerk, kind="assessment", period="2025-03")
    if step != "applied":
        run_decide(actor=approver, run_id=run.pk, approve=step == "approved")
    assert verify_store().ok
    _raw("DELETE FROM business_assessmentrun WHERE id = %s", [run.pk])
    problem = broken_at()
    assert problem.kind == "ledger" and f"#{run.pk}" in problem.where


@pytest.mark.req("R20")
@pytest.mark.req("R2.2")
def test_an_executed_run_without_entries_deleted_in_sql_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """A month before anyone's enrolment is assessed with no entry: its root is empty, and so is the root of
    no entries at all — the deleted run's period could then be assessed again."""
    run = run_through(huancui_clerk, approver, "assessment", "2019-06")
    assert run.entries == 0
    _raw("DELETE FROM business_assessmentrun WHERE id = %s", [run.pk])
    problem = broken_at()
    assert problem.kind == "ledger" and f"#{run.pk}" in problem.where


@pytest.mark.req("R9.1")
@pytest.mark.req("R2.2")
def test_a_year_is_written_one_way_only(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> None:
    for text in ("02024", " 2024", "2024 ", "+2024", "2_024", "٢٠٢٤", "24"):
        with pytest.raises(ChangeRefused) as refused:
            run_apply(actor=huancui_clerk, kind="interest", period=text)
        assert refused.value.code == "period", text
    assert not AssessmentRun.objects.exists()
    assert run_apply(actor=huancui_clerk, kind="interest", period="2024").period == "2024"


def _march_pension_entry(insured: dict[str, Any], clerk: Any, approver: Any) -> LedgerEntry:
    run_through(clerk, approver, "assessment", "2025-03")
    return LedgerEntry.objects.get(person=insured["employee"], insurance="110", kind=EntryKind.ASSESSED)


@pytest.mark.req("R2.2")
@pytest.mark.parametrize("base", ["1000000", "1e13", "0", "-0", "100.00"])
def test_a_correction_takes_a_base_within_the_years_limits(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, base: str
) -> None:
    """The assessment clamps every base to the year's floor and ceiling (60 % and 300 % of the provincial
    average wage, 国办发〔2019〕13号); a correction names "the right base", and a base outside them is not
    one (a base of a million credited 80,000 a month to the personal account)."""
    entry = _march_pension_entry(insured, huancui_clerk, approver)
    with pytest.raises(ChangeRefused) as refused:
        run_apply(
            actor=huancui_clerk, kind="correction", period="2025-03", params={"entry": entry.pk, "base": base}
        )
    assert refused.value.code == "correction"
    assert not AssessmentRun.objects.filter(kind="correction").exists()


@pytest.mark.req("R2.2")
def test_a_correction_within_the_limits_and_at_the_ceiling_is_written(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    from sidms.business.calc import limits_for

    entry = _march_pension_entry(insured, huancui_clerk, approver)
    ceiling = limits_for(2025, insured["employee"].district_id).ceiling
    run = run_through(huancui_clerk, approver, "correction", "2025-03",
                      params={"entry": entry.pk, "base": f"{ceiling:.2f}"})  # fmt: skip
    new = LedgerEntry.objects.get(run=run, kind=EntryKind.SUPPLEMENTARY)
    assert new.base == ceiling and new.individual_amount == (ceiling * Decimal("0.08")).quantize(
        Decimal("0.01")
    )


def _owed(unit: Any, period: str) -> Decimal:
    rows = LedgerEntry.objects.filter(kind=EntryKind.ASSESSED, unit=unit, period=period)
    return sum((e.unit_amount + e.individual_amount for e in rows), Decimal(0))


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.2")
def test_a_payment_is_not_dated_after_today(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    unit = insured["unit"]
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    owed = _owed(unit, "2025-03")
    rows = [{"unit_id": unit.pk, "period": "2025-03", "amount": f"{owed:.2f}", "paid_on": "2099-01-01"}]
    with pytest.raises(ChangeRefused) as refused:
        run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows})
    assert refused.value.code == "payment_date"
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAID).exists()
    rows[0]["paid_on"] = "2025-03-20"
    assert run_through(huancui_clerk, approver, "payment", "2025-03", params={"rows": rows}).entries


@pytest.mark.req("R9.3")
@pytest.mark.req("R10.3")
def test_a_district_approver_decides_no_city_wide_run_and_no_other_districts_correction(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, make_staff: Any
) -> None:
    rushan = make_staff("approver_rs", posts=("approver",), district="371083")
    huancui = make_staff("approver_hc", posts=("approver",), district="371002")
    city_wide = run_apply(actor=huancui_clerk, kind="assessment", period="2025-03")
    for district_approver in (rushan, huancui):
        for approve in (True, False):
            with pytest.raises(NotPermitted):
                run_decide(actor=district_approver, run_id=city_wide.pk, approve=approve)
    assert AssessmentRun.objects.get(pk=city_wide.pk).status == RunStatus.APPLIED
    run_decide(actor=approver, run_id=city_wide.pk, approve=True)
    from sidms.business.ledger import run_execute

    run_execute(actor=huancui_clerk, run_id=city_wide.pk)
    entry = LedgerEntry.objects.get(person=insured["employee"], insurance="110", kind=EntryKind.ASSESSED)
    correction = run_apply(actor=huancui_clerk, kind="correction", period="2025-03",
                           params={"entry": entry.pk, "base": "7000"})  # fmt: skip
    with pytest.raises(NotPermitted):
        run_decide(actor=rushan, run_id=correction.pk, approve=True)
    assert AssessmentRun.objects.get(pk=correction.pk).status == RunStatus.APPLIED
    assert AuditEvent.objects.filter(action="access.denied", actor=rushan.username).exists()
    # The person's own district decides it.
    assert run_decide(actor=huancui, run_id=correction.pk, approve=True).status == RunStatus.APPROVED


@pytest.mark.req("R2.2")
@pytest.mark.req("B6")
def test_no_contribution_is_assessed_for_a_month_after_the_death(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    employee, flexible = insured["employee"], insured["flexible"]
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": employee.pk, "date_of_death": "2025-02-10", "source": "window"})  # fmt: skip
    run_through(huancui_clerk, approver, "assessment", "2025-02")  # the month of the death: worked in part
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    assert LedgerEntry.objects.filter(person=employee, period="2025-02").count() == 4
    assert not LedgerEntry.objects.filter(person=employee, period="2025-03").exists()
    assert LedgerEntry.objects.filter(person=flexible, period="2025-03").count() == 1


@pytest.mark.req("R2.3")
@pytest.mark.req("R2.2")
def test_a_period_without_parameters_is_refused_not_a_server_error(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any, make_person: Any
) -> None:
    """The seeded unit rates are in force from May 2019: a flexible worker enrolled in 2012, assessed for
    2012-03."""
    from tests.changes.conftest import id_number

    early = make_person(id_number=id_number("37100219700303003"), name="钱早", birth_date="1970-03-03")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment",
                  values={"person_id": early.pk, "insurance": "110", "kind": "flexible", "status": "paying",
                          "start_date": "2012-01-01"})  # fmt: skip
    run = run_apply(actor=huancui_clerk, kind="assessment", period="2012-03")
    run_decide(actor=approver, run_id=run.pk, approve=True)
    response = signed_in(huancui_clerk).post(
        "/business/runs/", {"action": "execute", "run": run.pk}, follow=True
    )
    assert response.status_code == 200
    assert AssessmentRun.objects.get(pk=run.pk).status == RunStatus.APPROVED
    assert not LedgerEntry.objects.exists()


@pytest.mark.req("R6.2")
@pytest.mark.req("R6.1")
@pytest.mark.parametrize(
    "row",
    [
        {"amount": "NaN"},
        {"amount": "abc"},
        {"amount": "-5.00"},
        {"amount": "1.001"},
        {"paid_on": "2025-02-30"},
        {"paid_on": "2099-01-01"},
        {"paid_on": None},
        {"period": "2025-13"},
        {"unit_id": "x"},
        {"unit_id": None, "person_id": None},
    ],
    ids=[
        "nan",
        "text",
        "negative",
        "tenth-of-a-fen",
        "feb-30",
        "ahead",
        "no-day",
        "month-13",
        "unit-x",
        "no-payer",
    ],
)
def test_a_malformed_payment_row_is_refused_when_applied_for(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any, row: dict[str, Any]
) -> None:
    """The rows of a tax-bureau extract were read only when the run executed: an amount of NaN was then a
    server error on the runs page (decimal.InvalidOperation), after a second person had approved it."""
    unit = insured["unit"]
    good = {"unit_id": unit.pk, "period": "2025-03", "amount": "100.00", "paid_on": "2025-03-20"}
    with pytest.raises(ChangeRefused) as refused:
        run_apply(
            actor=huancui_clerk, kind="payment", period="2025-03", params={"rows": [good, {**good, **row}]}
        )
    assert refused.value.code in ("payment_row", "payment_date") and "2" in str(refused.value)
    assert not AssessmentRun.objects.filter(kind="payment").exists()


@pytest.mark.req("R2.2")
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"industry_class": "99", "tier": "100"},
        {"industry_class": "3", "tier": "77"},
        {"industry_class": "x"},
    ],
    ids=["none", "class-99", "tier-77", "class-x"],
)
def test_a_work_injury_correction_names_a_class_and_tier_when_applied_for(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, extra: dict[str, str]
) -> None:
    """Checked only at the execution, after the approval: a missing class was refused with the message
    "'industry_class'"."""
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    entry = LedgerEntry.objects.get(person=insured["employee"], insurance="410", kind=EntryKind.ASSESSED)
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="correction", period="2025-03",
                  params={"entry": entry.pk, "base": "7000", **extra})  # fmt: skip
    assert refused.value.code == "correction" and "industry_class" not in str(refused.value)
    run = run_through(huancui_clerk, approver, "correction", "2025-03",
                      params={"entry": entry.pk, "base": "7000", "industry_class": "3", "tier": "120"})  # fmt: skip
    assert LedgerEntry.objects.get(run=run, kind=EntryKind.SUPPLEMENTARY).unit_rate == Decimal("0.0084")


@pytest.mark.req("R9.3")
def test_a_reason_longer_than_the_run_holds_is_refused_not_a_database_error(
    insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """The runs page's reason is free text and the run holds 200 characters: on PostgreSQL a longer one was
    a server error (value too long for type character varying(200))."""
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="assessment", period="2025-03", reason="因" * 201)
    assert refused.value.code == "reason"
    response = signed_in(huancui_clerk).post(
        "/business/runs/",
        {"action": "apply", "kind": "assessment", "period": "2025-03", "reason": "因" * 300},
    )
    assert response.status_code == 302 and not AssessmentRun.objects.exists()
    assert run_apply(actor=huancui_clerk, kind="assessment", period="2025-03", reason="因" * 200).pk
