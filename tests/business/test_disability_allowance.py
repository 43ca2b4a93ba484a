"""The monthly disability allowance (伤残津贴, 工伤保险条例 Art. 35; issue 8 §7 "Payments", R2.2): grades 1–4
are paid monthly by the work-injury fund at 90 / 85 / 80 / 75 % of the own wage — a versioned policy
parameter with its source, shown as 示例值（待核对） — topped up to the minimum wage, from the month after the
appraisal until the statutory retirement month, never for a month after the death; grades 5–10 are refused.
Each worked example is computed by hand here from the parameter table."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.utils import translation

from sidms.business import calc
from sidms.business.benefits import (
    disability_allowance_values,
    disability_grant_values,
    grant_disability_allowance,
    grant_disability_grant,
    grant_injury_top_up,
    grant_pension,
    overpayments,
)
from sidms.business.ledger import run_through
from sidms.business.models import BenefitKind, Entitlement, LedgerEntry, PersonEnrolment
from sidms.business.parameters import DEFINITIONS, EXAMPLE_MARK, is_example, value_at, version_at
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused
from sidms.lib import benefits as lb
from tests.business.conftest import approved, injury_insured
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db

RATIOS = "work_injury.disability_allowance_ratios"
INJURED = date(2025, 3, 3)  # the accident, months before the appraisal; the fixture's employee is insured


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _paid(person: Any) -> list[tuple[str, Decimal]]:
    rows = LedgerEntry.objects.filter(
        kind__in=("benefit", "benefit_once"), person=person, insurance="410"
    ).order_by("period", "pk")
    return [(e.period, e.individual_amount) for e in rows]


@pytest.mark.req("R2.3")
@pytest.mark.req("R9.1")
def test_the_allowance_ratios_are_a_versioned_parameter_with_their_source_shown_as_examples(
    city_admin: Any, signed_in: Any
) -> None:
    version = version_at(RATIOS, date(2025, 6, 1))
    assert version is not None and DEFINITIONS[RATIOS].kind == "policy"
    assert value_at(RATIOS, date(2025, 6, 1)) == {
        1: Decimal("0.90"), 2: Decimal("0.85"), 3: Decimal("0.80"), 4: Decimal("0.75"),
    }  # fmt: skip
    assert "工伤保险条例" in version.source and "Art. 35" in version.source
    assert is_example(version) and not version.checked  # not checked against the official text
    with translation.override("zh-hans"):
        page = signed_in(city_admin).get(f"/business/parameters/{RATIOS}/").content.decode()
    assert "伤残津贴" in page and EXAMPLE_MARK in page


@pytest.mark.req("R2.2")
def test_a_grade_3_allowance_is_paid_monthly_with_the_one_time_grant_and_stops_at_death(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    employee = insured["employee"]  # born 1980-01-01
    appraisal, wage = date(2025, 6, 10), Decimal("6123.45")
    outcome = grant_disability_allowance(
        actor=huancui_clerk,
        person=employee,
        on=appraisal,
        grade=3,
        own_wage=wage,
        category="male",
        injured=INJURED,
    )
    assert not Entitlement.objects.exists()  # held for a second person's review, like every grant
    allowance = approved(outcome, city_reviewer)
    # Grade 3: 80 % of own wage: 6,123.45 × 0.80 = 4,898.76, above the minimum wage (2,200, example).
    ratio = value_at(RATIOS, date(2025, 7, 1))[3]
    monthly = fen(wage * ratio)
    assert ratio == Decimal("0.80") and monthly == Decimal("4898.76")
    assert monthly > value_at("wage.minimum_monthly", date(2025, 7, 1))
    assert allowance.kind == BenefitKind.INJURY_ALLOWANCE and Decimal(allowance.monthly_amount) == monthly
    # From the month after the appraisal; a man born January 1980 reaches 63 (the reform's full three years
    # of delay, parameter retirement.schedules) in January 2043: paid through December 2042.
    schedule = value_at("retirement.schedules", date(2025, 1, 1))["male"]
    assert schedule.original_age_years * 12 + schedule.max_delay_months == 63 * 12
    assert (allowance.start_date, allowance.end_date) == (date(2025, 7, 1), date(2042, 12, 31))
    assert EXAMPLE_MARK in allowance.basis and RATIOS in allowance.basis
    # The one-time grant of the same appraisal: 23 months of own wage = 140,839.35, paid once.
    grant = approved(grant_disability_grant(actor=huancui_clerk, person=employee, on=appraisal, grade=3,
                                            own_wage=wage, injured=INJURED), city_reviewer)  # fmt: skip
    assert Decimal(grant.monthly_amount) == fen(wage * 23) == Decimal("140839.35")
    for period in ("2025-06", "2025-07", "2025-08", "2025-09"):
        run_through(huancui_clerk, approver, "pension", period)
    # The grant in its own month's run, the allowance from the next month, each month once.
    assert _paid(employee) == [
        ("2025-06", Decimal("140839.35")), ("2025-07", Decimal("4898.76")),
        ("2025-08", Decimal("4898.76")), ("2025-09", Decimal("4898.76")),
    ]  # fmt: skip
    # A death on 20 August registered only after September's run: September's allowance is to recover,
    # and October's run pays nothing.
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": employee.pk, "date_of_death": "2025-08-20", "source": "公安户籍注销"})  # fmt: skip
    run_through(huancui_clerk, approver, "pension", "2025-10")
    assert len(_paid(employee)) == 4
    over = [(o.person_id, o.period, o.amount) for o in overpayments()]
    assert over == [(employee.pk, "2025-09", Decimal("4898.76"))]


def _floor(at: date) -> Decimal:
    """工伤保险条例 Art. 64's floor of the own wage, by hand from the parameter table: 60 % of the previous
    year's average wage (the annual figure ÷ 12), rounded as the base limits are (to the yuan)."""
    annual = value_at("wage.provincial_average_annual", date(at.year, 1, 1))
    ratio = value_at("base.floor_ratio", date(at.year, 1, 1))
    rule = value_at("rounding.base_limit", date(at.year, 1, 1))
    return rule.apply(annual * ratio / 12)


@pytest.mark.req("R2.2")
@pytest.mark.req("R2.3")
def test_a_low_own_wage_counts_as_60_percent_of_the_average_and_the_allowance_stops_at_retirement(
    make_person: Any, make_unit: Any, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    # A man born January 1966: 1 month of delay per 4 months of birth after December 1964 — 12 months
    # after January 1965 (1 month) is 4 months: he retires at 60 years 4 months, in May 2026.
    worker = make_person(id_number=id_number("37100219660115001"), name="周工伤", birth_date="1966-01-15")
    unit = make_unit(unit_no="U3710020007", name="威海渔具制造有限公司", district="371002")
    injury_insured(huancui_clerk, worker, unit, since="2019-04-01")
    outcome = grant_disability_allowance(
        actor=huancui_clerk, person=worker, on=date(2025, 11, 3), grade=1, own_wage=Decimal("2400"),
        category="male", injured=date(2025, 5, 6),
    )  # fmt: skip
    allowance = approved(outcome, city_reviewer)
    # 工伤保险条例 Art. 64: an own wage below 60 % of the average wage counts as 60 %. The seeded average is
    # Shandong's 2018 figure, 65,383 a year: 65,383 × 0.6 ÷ 12 = 3,269.15 → 3,269 (whole yuan). Grade 1
    # (Art. 35): 3,269 × 0.90 = 2,942.10 a month — above the minimum wage (2,200, example), so no top-up;
    # on the typed 2,400 it would have been 2,160.00, topped up to 2,200.
    floor = _floor(date(2025, 11, 3))
    assert floor == calc.limits_for(2025).floor == Decimal("3269")
    monthly = fen(floor * value_at(RATIOS, date(2025, 12, 1))[1])
    assert monthly == Decimal("2942.10") > value_at("wage.minimum_monthly", date(2025, 12, 1))
    assert Decimal(allowance.monthly_amount) == monthly
    assert (
        "低于下限，按 ¥3,269.00 计（条例第64条）" in allowance.basis
        and "补足" not in allowance.basis.split("；")[2]
    )
    assert "受伤 2025-05-06" in allowance.basis
    assert (allowance.start_date, allowance.end_date) == (date(2025, 12, 1), date(2026, 4, 30))
    for period in ("2025-11", "2025-12", "2026-04", "2026-05"):
        run_through(huancui_clerk, approver, "pension", period)
    # Nothing for the appraisal's own month, nothing from the retirement month (the basic pension then).
    assert _paid(worker) == [("2025-12", monthly), ("2026-04", monthly)]
    # The one-time grant reads the same floor: grade 5, 18 months (Art. 36) × 3,269 = 58,842.00.
    grant = disability_grant_values(person=worker, on=date(2025, 11, 3), grade=5, own_wage=Decimal("2400"),
                                    injured=date(2025, 5, 6))  # fmt: skip
    months = value_at("work_injury.disability_grant_months", date(2025, 11, 3))[5]
    assert months == 18 and Decimal(grant["monthly_amount"]) == fen(floor * months) == Decimal("58842.00")
    # At the floor exactly, or between the bounds, the typed wage stands and the basis says nothing of them.
    exact = disability_grant_values(person=worker, on=date(2025, 11, 3), grade=5, own_wage=floor,
                                    injured=date(2025, 5, 6))  # fmt: skip
    assert Decimal(exact["monthly_amount"]) == Decimal("58842.00") and "条例第64条" not in exact["basis"]


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.2")
def test_the_fund_pays_only_for_an_injury_while_insured_against_work_injury(
    make_person: Any, make_unit: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    """工伤保险条例 Art. 62: an injury while the employer had not enrolled the employee in work-injury
    insurance is the employer's to pay; the fund (410) records no entitlement for it."""
    worker = make_person(id_number=id_number("37100219800303001"), name="郑未保", birth_date="1980-03-03")
    unit = make_unit(unit_no="U3710020008", name="威海建材有限公司", district="371002")
    grant = {"person": worker, "on": date(2025, 9, 10), "grade": 7, "own_wage": Decimal("6000")}
    allowance = {**grant, "grade": 2, "category": "male"}

    def refused(injured: date) -> ChangeRefused:
        for values in (disability_grant_values, disability_allowance_values):
            with pytest.raises(ChangeRefused) as caught:
                values(**(grant if values is disability_grant_values else allowance), injured=injured)  # type: ignore[operator]
        return caught.value

    # Never enrolled in 410.
    never = refused(date(2025, 4, 1))
    assert never.code == "not_insured_410"
    with translation.override("zh-hans"):
        assert "工伤保险基金不予支付，由用人单位" in str(never) and "第六十二条" in str(never)
        assert "2025-04-01" in str(never)
    # Enrolled only after the injury (from 1 May): the enrolment does not reach back.
    enrolment = injury_insured(huancui_clerk, worker, unit, since="2025-05-01")
    assert refused(date(2025, 4, 30)).code == "not_insured_410"
    # Insured on the day of the injury: the grant is computed (13 months of own wage for grade 7, Art. 37).
    ok = disability_grant_values(**grant, injured=date(2025, 5, 1))  # type: ignore[arg-type]
    assert Decimal(ok["monthly_amount"]) == fen(Decimal("6000") * 13)
    # The enrolment terminated (终止缴费) as of 1 August: an injury that day is the employer's again, one on
    # 31 July the fund's.
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment", record=enrolment,
                  values={"status": "terminated", "status_date": "2025-08-01", "reason": "劳动合同解除"})  # fmt: skip
    assert refused(date(2025, 8, 1)).code == "not_insured_410"
    insured_last_day = disability_grant_values(**grant, injured=date(2025, 7, 31))  # type: ignore[arg-type]
    assert insured_last_day["monthly_amount"] == ok["monthly_amount"]
    # An injury dated after the appraisal is a typing error.
    with pytest.raises(ChangeRefused) as later:
        disability_grant_values(**grant, injured=date(2025, 9, 11))  # type: ignore[arg-type]
    assert later.value.code == "injury_after"
    # At the window the refusal is shown, in Chinese, and nothing is submitted.
    form = {
        "kind": "work_injury",
        "injured": "2025-08-01",
        "on": "2025-09-10",
        "grade": "7",
        "own_wage": "6000",
    }
    with translation.override("zh-hans"):
        page = (
            signed_in(huancui_clerk)
            .post(f"/persons/{worker.person_no}/benefits/new/", {**form, "action": "submit"})
            .content.decode()
        )
    assert "由用人单位按工伤保险待遇项目和标准支付" in page and "<strong>" not in page
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.1")
def test_every_channel_and_the_approval_check_the_410_enrolment_on_the_injury_date(
    insured: dict[str, Any], huancui_clerk: Any, city_reviewer: Any
) -> None:
    """工伤保险条例 Art. 62 as an entry rule: plain values (the entitlement's own form, an import row) name
    the day of the injury and meet the same check, and a held grant is checked again when approved."""
    employee = insured["employee"]  # insured against work injury (410) since 2021-01-01
    plain = {"person_id": employee.pk, "kind": "work_injury", "start_date": "2025-06-10", "end_date": "2025-06-10",
             "monthly_amount": "140839.35", "status": "active"}  # fmt: skip

    def submit(**values: Any) -> Any:
        return submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement",
                             values={**plain, **values})  # fmt: skip

    for values, code in (
        ({}, "injury_date_required"),
        ({"injury_date": "2020-12-31"}, "not_insured_410"),  # the day before the enrolment began
        ({"injury_date": "2025-06-11"}, "injury_after"),  # after the appraisal (the grant's date)
        ({"kind": "injury_allowance", "start_date": "2025-07-01", "end_date": "2042-12-31",
          "monthly_amount": "4898.76"}, "injury_date_required"),
    ):  # fmt: skip
        with pytest.raises(ChangeRefused) as refused:
            submit(**values)
        assert refused.value.code == code, values
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as missing:
        submit()
    assert "须填写受伤日期" in str(missing.value)
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()
    # The window's grant carries the injury date on the entitlement; it is held for review, and meanwhile
    # the employee's 410 enrolment turns out to have begun only in April 2025 (a corrected start): the
    # approval, which runs the entry rules again, refuses it.
    held = grant_disability_grant(
        actor=huancui_clerk, person=employee, on=date(2025, 6, 10), grade=3, own_wage=Decimal("6123.45"),
        injured=INJURED,
    )  # fmt: skip
    assert held.held.proposed["injury_date"][1] == INJURED.isoformat()
    enrolment = PersonEnrolment.objects.get(person=employee, insurance="410")
    corrected = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment",
                              record=enrolment, values={"start_date": "2025-04-01"})  # fmt: skip
    if corrected.held is not None:
        review_decide(actor=city_reviewer, change_request_id=corrected.held.pk, approve=True)
    assert PersonEnrolment.objects.get(pk=enrolment.pk).start_date == date(2025, 4, 1)
    with pytest.raises(ChangeRefused) as at_approval:
        review_decide(actor=city_reviewer, change_request_id=held.held.pk, approve=True)
    assert at_approval.value.code == "not_insured_410"
    assert not Entitlement.objects.exists()
    # An injury on a day the enrolment covers is recorded, with its date.
    grant = approved(grant_disability_grant(actor=huancui_clerk, person=employee, on=date(2025, 6, 10), grade=3,
                                            own_wage=Decimal("6123.45"), injured=date(2025, 4, 1)), city_reviewer)  # fmt: skip
    assert grant.injury_date == date(2025, 4, 1)
    # Moving the injury date out of the insured time is refused like a new grant.
    with pytest.raises(ChangeRefused) as moved:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=grant,
                      values={"injury_date": "2025-03-31"})  # fmt: skip
    assert moved.value.code == "not_insured_410"


@pytest.mark.req("R2.2")
def test_grades_5_to_10_retired_persons_and_a_second_running_allowance_are_refused(
    insured: dict[str, Any], make_person: Any, huancui_clerk: Any, city_reviewer: Any
) -> None:
    employee = insured["employee"]
    args = {
        "person": employee,
        "on": date(2025, 6, 10),
        "own_wage": Decimal("6123.45"),
        "category": "male",
        "injured": INJURED,
    }
    for grade in (5, 6, 7, 10):
        with pytest.raises(ChangeRefused) as employer_paid, translation.override("zh-hans"):
            grant_disability_allowance(actor=huancui_clerk, grade=grade, **args)
        assert employer_paid.value.code == "grade_not_fund"
        with translation.override("zh-hans"):
            text = str(employer_paid.value)
        assert f"{grade}级伤残不由工伤保险基金按月支付伤残津贴" in text and "用人单位" in text
    with pytest.raises(lb.InvalidCalculationInput):  # no such grade
        grant_disability_allowance(actor=huancui_clerk, grade=11, **args)
    with pytest.raises(ChangeRefused) as ahead:
        grant_disability_allowance(actor=huancui_clerk, grade=2, **{**args, "on": date(2099, 1, 1)})
    assert ahead.value.code == "event_ahead"
    # Born June 1964, before the reform's first cohort: retired at 60 in June 2024.
    retired = make_person(id_number=id_number("37100219640615001"), name="吴已退", birth_date="1964-06-15")
    with pytest.raises(ChangeRefused) as pension_instead:
        grant_disability_allowance(actor=huancui_clerk, grade=2, **{**args, "person": retired})
    assert pension_instead.value.code == "retired"
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()
    # Two grants submitted before either is recorded: the second is refused when its reviewer approves it.
    first = grant_disability_allowance(actor=huancui_clerk, grade=4, **args)
    second = grant_disability_allowance(actor=huancui_clerk, grade=3, **{**args, "on": date(2025, 9, 1)})
    # Grade 4: 6,123.45 × 0.75 = 4,592.5875 → 4,592.59.
    assert Decimal(approved(first, city_reviewer).monthly_amount) == Decimal("4592.59")
    with pytest.raises(ChangeRefused) as running:
        review_decide(actor=city_reviewer, change_request_id=second.held.pk, approve=True)
    assert running.value.code == "running"
    assert ChangeRequest.objects.get(pk=second.held.pk).status == ReviewStatus.PENDING
    assert Entitlement.objects.filter(kind=BenefitKind.INJURY_ALLOWANCE).count() == 1


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.2")
def test_the_window_computes_an_allowance_refuses_grade_5_and_submits_for_review(
    insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    employee = insured["employee"]
    client = signed_in(huancui_clerk)
    url = f"/persons/{employee.person_no}/benefits/new/"
    form = {"kind": "injury_allowance", "injured": "2025-03-03", "on": "2025-06-10", "grade": "2", "own_wage": "6123.45",
            "category": "male"}  # fmt: skip
    with translation.override("zh-hans"):
        page = client.get(url, {"kind": "injury_allowance"}).content.decode()
        assert "伤残津贴" in page and "伤残等级" in page and "退休" in page
        shown = client.post(url, {**form, "action": "compute"}).content.decode()
        # Grade 2: 6,123.45 × 0.85 = 5,204.9325 → 5,204.93 a month, from July 2025.
        assert "<strong>¥5,204.93</strong>" in shown and "2025-07-01" in shown and EXAMPLE_MARK in shown
        refused = client.post(url, {**form, "grade": "5", "action": "compute"}).content.decode()
        assert "5级伤残不由工伤保险基金按月支付伤残津贴" in refused and "<strong>" not in refused
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()
    done = client.post(url, {**form, "action": "submit"})
    assert done.status_code == 302 and done["Location"] == f"/persons/{employee.person_no}/"
    held = ChangeRequest.objects.get(entity="entitlement", status=ReviewStatus.PENDING)
    assert held.submitted_by_id == huancui_clerk.pk and not Entitlement.objects.exists()
    assert held.proposed["kind"][1] == "injury_allowance" and held.proposed["monthly_amount"][1] == "5204.93"


@pytest.mark.req("R2.2")
def test_the_allowance_as_a_pure_function_of_its_table() -> None:
    ratios, cent = lb.SEED_DISABILITY_ALLOWANCE_RATIOS.value, lb.Rounding(Decimal("0.01"))
    # 5,000 × 0.90 / 0.85 / 0.80 / 0.75 = 4,500 / 4,250 / 4,000 / 3,750; 2,000 × 0.75 = 1,500 → 2,200.
    assert [lb.disability_allowance(g, Decimal(5000), ratios, Decimal(2200), cent).amount for g in (1, 2, 3, 4)] == [
        Decimal("4500.00"), Decimal("4250.00"), Decimal("4000.00"), Decimal("3750.00"),
    ]  # fmt: skip
    assert lb.disability_allowance(4, Decimal(2000), ratios, Decimal(2200), cent).amount == Decimal("2200.00")
    for grade in (0, 5, 10, 11):
        with pytest.raises(lb.InvalidCalculationInput):
            lb.disability_allowance(grade, Decimal(5000), ratios, Decimal(2200), cent)


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.2")
def test_after_retirement_the_fund_makes_up_a_pension_below_the_allowance(
    make_person: Any, make_unit: Any, huancui_clerk: Any, approver: Any, city_reviewer: Any, signed_in: Any
) -> None:
    """工伤保险条例 Art. 35 ¶2: grades 1–4 stop drawing the allowance at retirement and draw the basic
    pension; when it is lower, the work-injury fund pays the difference, beside the pension."""
    # Born January 1965: retires at 60 years 1 month, in February 2025 (the reform's first cohort).
    man = make_person(id_number=id_number("37100219650115001"), name="刘工伤", birth_date="1965-01-15")
    injury_insured(
        huancui_clerk, man, make_unit(unit_no="U3710020006", name="威海重工有限公司", district="371002")
    )
    with pytest.raises(ChangeRefused) as nothing_yet:
        grant_injury_top_up(actor=huancui_clerk, person=man)
    assert nothing_yet.value.code == "top_up_basis"
    # Grade 2 (Art. 35): 8,000 × 0.85 = 6,800.00 a month, July 2024 to January 2025.
    allowance = approved(grant_disability_allowance(actor=huancui_clerk, person=man, on=date(2024, 6, 10), grade=2,
                                                    own_wage=Decimal("8000"), category="male",
                                                    injured=date(2024, 3, 3)), city_reviewer)  # fmt: skip
    assert Decimal(allowance.monthly_amount) == fen(Decimal("8000") * value_at(RATIOS, date(2024, 7, 1))[2])
    assert Decimal(allowance.monthly_amount) == Decimal("6800.00") and allowance.end_date == date(2025, 1, 31)
    # The basic pension from February 2025 (国发〔2005〕38号), by hand from the parameter table: 30 years at
    # index 1.0, no account balance — (7,000 + 7,000) / 2 × 360 months × 1 % / 12 = 2,100.00.
    pension = approved(grant_pension(actor=huancui_clerk, person=man, category="male", index=Decimal("1"),
                                     months=360), city_reviewer)  # fmt: skip
    wage = value_at("pension.average_monthly_wage", date(2025, 2, 1))
    accrual = value_at("pension.accrual_rate", date(2025, 2, 1))
    assert Decimal(pension.monthly_amount) == fen((wage + wage) * 360 * accrual / 24) == Decimal("2100.00")
    assert pension.start_date == date(2025, 2, 1)
    # The window computes it from the records, with nothing to enter.
    with translation.override("zh-hans"):
        shown = (
            signed_in(huancui_clerk)
            .post(f"/persons/{man.person_no}/benefits/new/", {"kind": "injury_top_up", "action": "compute"})
            .content.decode()
        )
    assert "伤残津贴差额" in shown and "<strong>¥4,700.00</strong>" in shown and "2025-02-01" in shown
    # The top-up: 6,800.00 − 2,100.00 = 4,700.00 a month from the pension's first month, held for review.
    top_up = approved(grant_injury_top_up(actor=huancui_clerk, person=man), city_reviewer)
    assert top_up.kind == BenefitKind.INJURY_TOP_UP and Decimal(top_up.monthly_amount) == Decimal("4700.00")
    assert (top_up.start_date, top_up.end_date, top_up.injury_date) == (
        date(2025, 2, 1),
        None,
        date(2024, 3, 3),
    )
    assert "条例第35条" in top_up.basis
    # Another one, or plain values asking more than the difference, are refused.
    with pytest.raises(ChangeRefused) as twice:
        grant_injury_top_up(actor=huancui_clerk, person=man)
    assert twice.value.code == "running"
    with pytest.raises(ChangeRefused) as more:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=top_up,
                      values={"monthly_amount": "4700.01"})  # fmt: skip
    assert more.value.code == "top_up_amount"
    for period in ("2025-01", "2025-02", "2025-03"):
        run_through(huancui_clerk, approver, "pension", period)
    pensions = LedgerEntry.objects.filter(person=man, insurance="110", kind="benefit").values_list(
        "period", "individual_amount"
    )
    assert list(pensions) == [("2025-02", Decimal("2100.00")), ("2025-03", Decimal("2100.00"))]
    # The allowance until January, then the top-up beside the pension: 2,100 + 4,700 = the 6,800 of before.
    assert _paid(man) == [("2025-01", Decimal("6800.00")), ("2025-02", Decimal("4700.00")),
                          ("2025-03", Decimal("4700.00"))]  # fmt: skip
    # March 2026: the pension, last certified at its start, lapsed (twelve months): the top-up waits with it.
    run_through(huancui_clerk, approver, "pension", "2026-03")
    assert not LedgerEntry.objects.filter(person=man, period="2026-03").exists()


@pytest.mark.req("R2.2")
def test_the_top_up_as_a_pure_function() -> None:
    cent = lb.Rounding(Decimal("0.01"))
    # 6,800.00 − 2,100.005 = 4,699.995, rounded once at the end (half up, to the fen): 4,700.00.
    got = lb.disability_top_up(Decimal("6800.00"), Decimal("2100.005"), cent)
    assert (
        cent.mode == ROUND_HALF_UP
        and got.amount == Decimal("4700.00")
        and "伤残津贴 ¥6,800.00 − 基本养老金 ¥2,100.005 = ¥4,700.00" in got.basis
    )
    for pension in (Decimal("6800.00"), Decimal("7000")):  # a pension not below the allowance: nothing
        with pytest.raises(lb.InvalidCalculationInput):
            lb.disability_top_up(Decimal("6800.00"), pension, cent)
