"""The transfer-in of a pension from another region (养老保险关系转移接续, 国办发〔2009〕66号; issue 8 §8, R2.2,
R6.2, R10, R20): the months contributed elsewhere shown ○ on the rights record and counted once, the account
balance moved in full and earning interest from the month it arrived, a run executed once, no month counted
twice, and a transfer entry altered in SQL named by ``sidms audit verify`` with its run."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from sidms.business.accounts import balance_as_of
from sidms.business.ledger import run_apply, run_decide, run_execute, run_through
from sidms.business.models import AssessmentRun, EntryKind, LedgerEntry
from sidms.business.parameters import value_at
from sidms.business.rights import issue_statement, rights_record_for, verify_number
from sidms.business.transfers import parse_months
from sidms.core.errors import ChangeRefused
from sidms.lib import statement as st
from tests.audit.test_tampering import _raw, _unguarded, broken_at
from tests.business.test_rights import pay

pytestmark = pytest.mark.django_db

CUT_OFF = date(2025, 3, 31)
RECEIVED = "2025-03-10"
BALANCE = Decimal("12345.67")
# 18 months in 济南市历下区: July–December 2023 at 5,000, the whole of 2024 at 5,500.
MONTHS = [{"period": f"2023-{m:02d}", "base": "5000.00"} for m in range(7, 13)] + [
    {"period": f"2024-{m:02d}", "base": "5500.00"} for m in range(1, 13)
]


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def transfer(person: Any, *, months: list[dict[str, str]] = MONTHS, region: str = "370102",
             received_on: str = RECEIVED, balance: Decimal = BALANCE, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"rows": [{"person_id": person.pk, "insurance": "110", "region": region, "received_on": received_on,
                      "balance": f"{balance:.2f}", "months": months, **extra}]}  # fmt: skip


@pytest.fixture
def mover(insured: dict[str, Any], make_person: Any, huancui_clerk: Any, approver: Any) -> Any:
    """孙迁入, born April 1988, who worked in Jinan until 2024 and joined the fixture's unit in January 2025
    (pension only, base 6,000): January to March assessed, January and February paid, March in arrears."""
    from sidms.business.bases import declare_base
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change
    from tests.changes.conftest import id_number

    unit = insured["unit"]
    person = make_person(id_number=id_number("37010219880410011"), name="孙迁入", birth_date="1988-04-10")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
                  values={"person_id": person.pk, "unit_id": unit.pk, "start_date": "2025-01-06"})  # fmt: skip
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment",
                  values={"person_id": person.pk, "insurance": "110", "kind": "employee", "unit_id": unit.pk,
                          "status": "paying", "start_date": "2025-01-01"})  # fmt: skip
    declare_base(actor=huancui_clerk, person=person, unit=unit, year=2025, wage=Decimal("6000"))
    for period in ("2025-01", "2025-02", "2025-03"):
        run_through(huancui_clerk, approver, "assessment", period)
    pay(unit, "2025-01", "2025-01-31", huancui_clerk, approver)
    pay(unit, "2025-02", "2025-02-28", huancui_clerk, approver)
    return person


@pytest.mark.req("R2.2")
@pytest.mark.req("R10")
def test_a_transfer_shows_its_months_counts_them_and_credits_the_balance(
    mover: Any, huancui_clerk: Any, approver: Any
) -> None:
    run = run_through(huancui_clerk, approver, "transfer_in", "2025-03", params=transfer(mover))
    # 66号 Art. 4(2): the pooled fund moves 12 % of each month's base from 1998 — 600.00 and 660.00 a month.
    rate = Decimal(value_at("transfer.pooled_rate", date(2025, 3, 10)))
    assert rate == Decimal("0.12")
    months = LedgerEntry.objects.filter(run=run, kind=EntryKind.TRANSFERRED).order_by("period")
    assert [(e.period, e.base, e.unit_amount) for e in months] == [
        *((f"2023-{m:02d}", Decimal("5000.00"), Decimal("600.00")) for m in range(7, 13)),
        *((f"2024-{m:02d}", Decimal("5500.00"), Decimal("660.00")) for m in range(1, 13)),
    ]
    account = LedgerEntry.objects.get(run=run, kind=EntryKind.TRANSFER_ACCOUNT)
    assert (account.period, account.account_credit, account.entry_date) == (
        "2025-03",
        BALANCE,
        date(2025, 3, 10),
    )

    data = rights_record_for(actor=huancui_clerk, person_key=mover.person_no, cut_off=CUT_OFF)
    grid = {y.year: [(m.base, m.mark) for m in y.row(st.Insurance.PENSION).months] for y in data.years}  # type: ignore[union-attr]
    transferred, paid, arrears, none = st.Mark.TRANSFERRED_IN, st.Mark.PAID, st.Mark.ARREARS, st.Mark.NONE
    base = Decimal("6000.00")
    assert grid[2025] == [(base, paid), (base, paid), (base, arrears)] + [(None, none)] * 9
    assert grid[2024] == [(Decimal("5500.00"), transferred)] * 12
    assert grid[2023] == [(None, none)] * 6 + [(Decimal("5000.00"), transferred)] * 6
    # Months of contribution: January and February paid here, 18 transferred in (March is in arrears).
    pension = next(s for s in data.summaries if s.insurance is st.Insurance.PENSION)
    assert pension.months_total == 2 + 18
    # The account: two paid months of 6,000 × 8 % and the balance transferred in, this year's principal.
    credit = fen(base * Decimal(value_at("rate.pension.account", date(2025, 1, 1))))
    assert credit == Decimal("480.00")
    assert data.account == st.PensionAccount(Decimal(0), 2 * credit + BALANCE, Decimal(0), 2 * credit + BALANCE,
                                             months=2)  # fmt: skip
    assert balance_as_of(mover.pk, CUT_OFF) == data.account.balance == Decimal("13305.67")
    assert balance_as_of(mover.pk, date(2025, 3, 9)) == 2 * credit  # before it arrived


@pytest.mark.req("R2.2")
def test_the_transferred_balance_earns_interest_from_the_month_it_arrived(
    mover: Any, huancui_clerk: Any, approver: Any
) -> None:
    run_through(huancui_clerk, approver, "transfer_in", "2025-03", params=transfer(mover))
    run_through(huancui_clerk, approver, "interest", "2025")
    interest = LedgerEntry.objects.get(person=mover, kind=EntryKind.INTEREST, period="2025-12").account_credit
    end = date(2025, 12, 31)
    rate = Decimal(value_at("account.interest_rate", end))
    assert rate == Decimal("0.0150")
    credit, principal = Decimal("480.00"), 2 * Decimal("480.00") + BALANCE
    if value_at("account.interest_method", end) == "annual":
        expected = fen(principal * rate * Decimal(value_at("account.annual_factor", end)) / 2)
    else:  # 月积数法: January's credit 12 months, February's 11, the balance from March 10 months
        product = credit * 12 + credit * 11 + BALANCE * 10
        assert product == Decimal("134496.70")
        expected = fen(product * rate / 12)
        assert expected == Decimal("168.12")
    assert interest == expected
    # The rights record at the year's end agrees with accounts.balance_as_of.
    data = rights_record_for(actor=huancui_clerk, person_key=mover.person_no, cut_off=end)
    assert data.account is not None and data.account.interest == expected
    assert data.account.balance == balance_as_of(mover.pk, end) == principal + expected
    # The next year the balance is brought forward.
    assert rights_record_for(actor=huancui_clerk, person_key=mover.person_no, cut_off=date(2026, 1, 31)).account == (
        st.PensionAccount(principal + expected, Decimal(0), Decimal(0), principal + expected)
    )  # fmt: skip


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.2")
def test_no_month_is_counted_twice_and_a_transfer_runs_once(
    mover: Any, huancui_clerk: Any, approver: Any
) -> None:
    # A month assessed here is refused (the national audit found double enrolment).
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="transfer_in", period="2025-03",
                  params=transfer(mover, months=[*MONTHS, {"period": "2025-01", "base": "5500.00"}]))  # fmt: skip
    assert refused.value.code == "transfer_overlap" and "2025-01" in str(refused.value)
    # Two applications for the same months, both approved: the second execution finds them counted.
    first = run_apply(actor=huancui_clerk, kind="transfer_in", period="2025-03", params=transfer(mover))
    second = run_apply(actor=huancui_clerk, kind="transfer_in", period="2025-03",
                       params=transfer(mover, months=MONTHS[-3:], balance=Decimal(0)))  # fmt: skip
    for run in (first, second):
        run_decide(actor=approver, run_id=run.pk, approve=True)
    run_execute(actor=huancui_clerk, run_id=first.pk)
    count = LedgerEntry.objects.count()
    with pytest.raises(ChangeRefused) as refused:
        run_execute(actor=huancui_clerk, run_id=first.pk)
    assert refused.value.code == "executed"
    with pytest.raises(ChangeRefused) as refused:
        run_execute(actor=huancui_clerk, run_id=second.pk)
    assert refused.value.code == "transfer_overlap" and "2024-10" in str(refused.value)
    assert AssessmentRun.objects.get(pk=second.pk).status == "approved"
    # A month transferred before is refused at the application too.
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="transfer_in", period="2025-03",
                  params=transfer(mover, months=[{"period": "2024-06", "base": "5500.00"}]))  # fmt: skip
    assert refused.value.code == "transfer_overlap" and "2024-06" in str(refused.value)
    assert LedgerEntry.objects.count() == count


@pytest.mark.req("R2.2")
def test_a_month_transferred_in_is_not_assessed_here_again(
    mover: Any, huancui_clerk: Any, approver: Any
) -> None:
    """A month not yet assessed here (April, before its run) transferred in: April's assessment leaves this
    person's pension out and assesses everyone else."""
    april = [{"period": "2025-04", "base": "5500.00"}]
    run_through(huancui_clerk, approver, "transfer_in", "2025-04",
                params=transfer(mover, months=april, received_on="2025-04-02", balance=Decimal(0)))  # fmt: skip
    run = run_through(huancui_clerk, approver, "assessment", "2025-04")
    assessed = LedgerEntry.objects.filter(run=run)
    assert not assessed.filter(person=mover).exists() and assessed.filter(insurance="110").count() == 2
    assert list(
        LedgerEntry.objects.filter(person=mover, period="2025-04").values_list("kind", flat=True)
    ) == ["transferred"]


@pytest.mark.req("R6.2")
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"region": "371002"}, "transfer_region"),  # 环翠区: Weihai's own
        ({"region": "371000"}, "transfer_region"),
        ({"region": "999999"}, "transfer_region"),
        ({"region": "37010"}, "transfer_region"),
        ({"insurance": "310"}, "transfer_insurance"),
        ({"months": [{"period": "2025-04", "base": "5500.00"}]}, "transfer_future"),
        ({"months": [{"period": "2024-13", "base": "5500.00"}]}, "transfer_period"),
        ({"months": [{"period": "2024-01", "base": "-1"}]}, "transfer_base"),
        ({"months": [{"period": "2024-01", "base": "1.001"}]}, "transfer_base"),
        ({"months": []}, "transfer_months"),
        ({"months": [{"period": "2004-03", "base": "900.00"}]}, "transfer_age"),  # he was 15
        ({"months": MONTHS + MONTHS[:1]}, "transfer_overlap"),
        ({"balance": "-0.01"}, "transfer_balance"),
        ({"balance": "NaN"}, "transfer_balance"),
        ({"received_on": "2025-04-01"}, "transfer_received"),  # not a day of the run's month
        ({"person_id": 0}, "transfer_person"),
    ],
)
def test_a_faulty_transfer_is_refused_with_its_reason(
    mover: Any, huancui_clerk: Any, change: dict[str, Any], code: str
) -> None:
    params = transfer(mover)
    params["rows"][0].update(change)
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="transfer_in", period="2025-03", params=params)
    assert refused.value.code == code
    assert not AssessmentRun.objects.filter(kind="transfer_in").exists()


@pytest.mark.req("R10.3")
@pytest.mark.req("R6.2")
def test_a_person_not_enrolled_or_outside_the_district_is_refused(
    mover: Any, insured: dict[str, Any], make_person: Any, huancui_clerk: Any, rushan_clerk: Any
) -> None:
    from tests.changes.conftest import id_number

    stranger = make_person(id_number=id_number("37100219900101003"), name="钱未保", birth_date="1990-01-01")
    with pytest.raises(ChangeRefused) as refused:
        run_apply(actor=huancui_clerk, kind="transfer_in", period="2025-03", params=transfer(stranger))
    assert refused.value.code == "transfer_not_enrolled"
    with pytest.raises(ChangeRefused) as refused:  # a Rushan clerk: the Huancui person does not exist for him
        run_apply(actor=rushan_clerk, kind="transfer_in", period="2025-03", params=transfer(mover))
    assert refused.value.code == "transfer_person"


@pytest.mark.req("R20")
def test_a_tampered_transfer_entry_is_named_with_its_run(
    mover: Any, huancui_clerk: Any, approver: Any
) -> None:
    run = run_through(huancui_clerk, approver, "transfer_in", "2025-03", params=transfer(mover))
    entry = LedgerEntry.objects.filter(run=run, kind=EntryKind.TRANSFERRED).first()
    assert entry is not None
    restore = _unguarded("business_ledgerentry")
    # One more month of contribution years bought by hand: 2023-07's base raised.
    _raw("UPDATE business_ledgerentry SET base = %s WHERE id = %s", ["9999.00", entry.pk])
    restore()
    problem = broken_at()
    assert problem.kind == "ledger" and f"账务批次 #{run.pk}" in problem.where


@pytest.mark.req("R10")
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) is needed")
def test_the_statement_shows_the_transferred_months_and_verifies(
    mover: Any, huancui_clerk: Any, approver: Any, tmp_path: Path
) -> None:
    def circles(pdf: bytes, name: str) -> int:
        (tmp_path / name).write_bytes(pdf)
        text = subprocess.run(
            ["pdftotext", str(tmp_path / name), "-"], capture_output=True, text=True, check=True
        )
        return text.stdout.count(st.Mark.TRANSFERRED_IN.value)

    # Issued before the transfer, cut off before it arrived: the transfer does not change it afterwards.
    before = issue_statement(actor=huancui_clerk, person_key=mover.person_no, cut_off=date(2025, 3, 9))
    run_through(huancui_clerk, approver, "transfer_in", "2025-03", params=transfer(mover))
    after = issue_statement(actor=huancui_clerk, person_key=mover.person_no, cut_off=CUT_OFF)
    legend = circles(before.pdf, "before.pdf")  # the legend's ○ 外地转入 only
    assert circles(after.pdf, "after.pdf") - legend == 18
    for issued in (before, after):
        verdict = verify_number(issued.number)
        assert (verdict.found, verdict.genuine, verdict.unchanged) == (True, True, True)
    assert before.row.digest != after.row.digest


@pytest.mark.req("R6.2")
def test_the_window_applies_for_a_transfer(
    mover: Any, huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    assert parse_months("2023-07..2023-12 5000.00\n2024-01～2024-12 5500.00\n") == MONTHS
    clerk = signed_in(huancui_clerk)
    form = {"action": "transfer", "person": mover.person_no, "insurance": "110", "region": "370102",
            "received_on": RECEIVED, "balance": "12345.67", "months": "2023-07..2023-12 5000\n2024-01..2024-12 5500",
            "reason": "济南转入"}  # fmt: skip
    assert clerk.post("/business/runs/", form).status_code == 302
    run = AssessmentRun.objects.get(kind="transfer_in")
    assert run.period == "2025-03" and run.params["rows"][0]["region"] == "370102"
    signed_in(approver).post("/business/runs/", {"action": "approve", "run": run.pk})
    clerk.post("/business/runs/", {"action": "execute", "run": run.pk})
    assert LedgerEntry.objects.filter(run=run, kind=EntryKind.TRANSFERRED).count() == 18
    # A Weihai region is refused with its reason on the page, and nothing is applied for.
    page = clerk.post("/business/runs/", {**form, "region": "371083"}, follow=True).content.decode()
    assert "371083 属于威海市" in page and AssessmentRun.objects.filter(kind="transfer_in").count() == 1
