"""The contribution ledger and the monthly assessment (issue 8 §4, R2.2, R9.1, R20): worked examples
computed by hand from the parameter table, a period assessed once, corrections that leave the original,
the ledger as of a past instant, and each run vouched for by one Merkle root that verification checks."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.utils import timezone

from sidms.business.ledger import ledger, run_apply, run_decide, run_execute, run_through
from sidms.business.models import EntryKind, LedgerEntry
from sidms.business.parameters import parameter_propose, value_at
from sidms.changes.services import review_decide
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from tests.audit.test_tampering import _raw, _unguarded, broken_at

pytestmark = pytest.mark.django_db

MARCH = date(2025, 3, 1)


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def entries(person: Any, period: str) -> dict[str, LedgerEntry]:
    return {e.insurance: e for e in LedgerEntry.objects.filter(person=person, period=period, kind="assessed")}


@pytest.mark.req("R2.2")
def test_an_employees_monthly_contributions_for_every_insurance(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    got = entries(insured["employee"], "2025-03")
    base = Decimal("6123.45")
    rate = lambda key: value_at(key, MARCH, "371002")  # noqa: E731
    # Pension: unit 16 %, individual 8 %, all of the individual's 8 % to the account.
    assert (got["110"].unit_amount, got["110"].individual_amount, got["110"].account_credit) == (
        fen(base * rate("rate.pension.unit")), fen(base * rate("rate.pension.individual")),
        fen(base * rate("rate.pension.account")),
    )  # fmt: skip
    assert got["110"].unit_amount == Decimal("979.75")  # 6,123.45 × 0.16 = 979.752
    assert got["110"].individual_amount == Decimal("489.88")  # × 0.08 = 489.876
    # Medical (maternity merged in): unit 8 % (example value), individual 2 %.
    assert (got["310"].unit_amount, got["310"].individual_amount) == (Decimal("489.88"), Decimal("122.47"))
    assert got["310"].individual_amount == fen(base * rate("rate.medical.individual"))
    # Unemployment: 0.7 % and 0.3 %.
    assert (got["210"].unit_amount, got["210"].individual_amount) == (
        fen(base * rate("rate.unemployment.unit")), fen(base * rate("rate.unemployment.individual")),
    )  # fmt: skip
    assert (got["210"].unit_amount, got["210"].individual_amount) == (Decimal("42.86"), Decimal("18.37"))
    # Work injury: class 3 base rate 0.7 % × the unit's floating tier 120 % = 0.84 %, the unit alone.
    wi_rate = rate("work_injury.base_rates")[3] * 120 / 100
    assert got["410"].unit_rate == wi_rate == Decimal("0.0084")
    assert (got["410"].unit_amount, got["410"].individual_amount) == (fen(base * wi_rate), Decimal("0.00"))
    assert got["410"].unit_amount == Decimal("51.44")  # 6,123.45 × 0.0084 = 51.43698


@pytest.mark.req("R2.2")
def test_a_flexible_workers_pension_contribution(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    got = entries(insured["flexible"], "2025-03")["110"]
    total, account = value_at("rate.flexible.pension", MARCH), value_at("rate.flexible.account", MARCH)
    assert (total, account) == (Decimal("0.20"), Decimal("0.08"))
    assert got.unit_amount == 0
    assert got.individual_amount == fen(Decimal(5000) * total) == Decimal("1000.00")
    assert got.account_credit == fen(Decimal(5000) * account) == Decimal("400.00")


@pytest.mark.req("R9.1")
def test_a_period_is_assessed_once(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, make_staff: Any
) -> None:
    both = make_staff("clerk_and_approver", posts=("window_clerk", "approver"), district="371000")
    mine = run_apply(actor=both, kind="assessment", period="2025-02")
    with pytest.raises(SeparationOfDuties):
        run_decide(actor=both, run_id=mine.pk, approve=True)
    run = run_apply(actor=huancui_clerk, kind="assessment", period="2025-03")
    with pytest.raises(NotPermitted):
        run_decide(actor=huancui_clerk, run_id=run.pk, approve=True)
    with pytest.raises(ChangeRefused) as refused:
        run_execute(actor=huancui_clerk, run_id=run.pk)
    assert refused.value.code == "not_approved"
    run_decide(actor=approver, run_id=run.pk, approve=True)
    run_execute(actor=huancui_clerk, run_id=run.pk)
    count = LedgerEntry.objects.count()
    assert count == 5  # four insurances of the employee, the flexible worker's pension
    with pytest.raises(ChangeRefused) as refused:
        run_execute(actor=huancui_clerk, run_id=run.pk)
    assert refused.value.code == "executed"
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="assessment", period="2025-03")
    assert refused.value.code == "once"
    assert LedgerEntry.objects.count() == count


@pytest.mark.req("R2.2")
def test_a_correction_leaves_the_original_and_the_past_ledger_as_it_was(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    employee = insured["employee"]
    original = entries(employee, "2025-03")["110"]
    then = timezone.now()
    shown_then = [(e.pk, e.kind, e.unit_amount) for e in ledger(employee.pk, insurance="110")]
    run_through(
        huancui_clerk, approver, "correction", "2025-03", params={"entry": original.pk, "base": "7000"}
    )
    now = list(ledger(employee.pk, insurance="110"))
    assert [e.kind for e in now] == ["assessed", "reversal", "supplementary"]
    assert now[0].pk == original.pk and now[0].unit_amount == original.unit_amount  # the original stays
    assert now[1].corrects_id == now[2].corrects_id == original.pk
    assert now[1].unit_amount == -original.unit_amount
    assert sum(e.unit_amount for e in now) == fen(Decimal(7000) * value_at("rate.pension.unit", MARCH))
    assert [
        (e.pk, e.kind, e.unit_amount) for e in ledger(employee.pk, as_of=then, insurance="110")
    ] == shown_then
    with pytest.raises(ChangeRefused) as refused:  # a correction must name an entry and a base
        run_through(huancui_clerk, approver, "correction", "2025-03", params={"entry": 999999, "base": "1"})
    assert refused.value.code == "correction"
    with pytest.raises(ChangeRefused):  # corrected once: the next correction names the newer entry
        run_through(
            huancui_clerk, approver, "correction", "2025-03", params={"entry": original.pk, "base": "8000"}
        )


@pytest.mark.req("R2.3")
def test_a_new_rounding_rule_applies_from_its_date_and_never_to_an_assessed_period(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_admin: Any, second_admin: Any
) -> None:
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    before = {e.pk: e.unit_amount for e in LedgerEntry.objects.all()}
    held = parameter_propose(
        actor=city_admin, key="rounding.amount", value={"precision": "1", "mode": "ROUND_HALF_UP", "discard_below": None},
        effective_from=date(2025, 4, 1), source="示例：威海市医保局通知", reason="按元计征", status="U",
    )  # fmt: skip
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
    run_through(huancui_clerk, approver, "assessment", "2025-04")
    april = entries(insured["employee"], "2025-04")
    assert april["110"].unit_amount == Decimal("980")  # 979.752 to the yuan
    assert {e.pk: e.unit_amount for e in LedgerEntry.objects.filter(period="2025-03")} == before


@pytest.mark.req("R20")
def test_a_tampered_ledger_entry_is_named_with_its_run(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    run = run_through(huancui_clerk, approver, "assessment", "2025-03")
    entry = LedgerEntry.objects.filter(run=run).first()
    assert entry is not None
    restore = _unguarded("business_ledgerentry")
    _raw("UPDATE business_ledgerentry SET unit_amount = %s WHERE id = %s", ["1.00", entry.pk])
    restore()
    problem = broken_at()
    assert problem.kind == "ledger" and f"账务批次 #{run.pk}" in problem.where


@pytest.mark.req("R20")
def test_a_deleted_ledger_entry_is_named_with_its_run(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    run = run_through(huancui_clerk, approver, "assessment", "2025-03")
    entry = LedgerEntry.objects.filter(run=run, kind=EntryKind.ASSESSED).last()
    assert entry is not None
    restore = _unguarded("business_ledgerentry")
    _raw("DELETE FROM business_ledgerentry WHERE id = %s", [entry.pk])
    restore()
    problem = broken_at()
    assert (
        problem.kind == "ledger" and f"账务批次 #{run.pk}" in problem.where and "默克尔根" in problem.message
    )


@pytest.mark.req("R9.1")
@pytest.mark.req("R2.2")
def test_a_run_is_not_applied_for_ahead_of_its_period(huancui_clerk: Any) -> None:
    """A pension run for next month would pay it in advance, and the period, once applied for, could not be
    assessed when it comes; the year's interest waits for the year's end."""
    today = timezone.localdate()
    this_month = f"{today.year}-{today.month:02d}"
    following = f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}"
    for kind in ("assessment", "pension"):
        with pytest.raises(ChangeRefused) as refused:
            run_apply(actor=huancui_clerk, kind=kind, period=following)
        assert refused.value.code == "period_ahead" and following in str(refused.value)
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="interest", period=str(today.year))
    assert refused.value.code == "period_ahead"
    assert run_apply(actor=huancui_clerk, kind="pension", period=this_month).period == this_month
    assert run_apply(actor=huancui_clerk, kind="interest", period=str(today.year - 1)).period == str(
        today.year - 1
    )
