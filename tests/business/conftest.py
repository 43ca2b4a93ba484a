"""Fixtures of the business tests: the two city-level system administrators who change parameters, an
approver, an insured unit and its people, and a person drawing unemployment benefit and insured again."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def city_admin(make_staff) -> Any:  # type: ignore[no-untyped-def]
    return make_staff("admin_city", posts=("city_admin",), district="371000")


@pytest.fixture
def second_admin(make_staff) -> Any:  # type: ignore[no-untyped-def]
    return make_staff("admin2_city", posts=("city_admin",), district="371000")


@pytest.fixture
def retiree(make_person: Any) -> Any:
    """A man born in January 1965: he retires at 60 years 1 month, in February 2025."""
    from tests.changes.conftest import id_number

    return make_person(id_number=id_number("37100219650115001"), name="刘退休", birth_date="1965-01-15")


def approved(outcome: Any, reviewer: Any) -> Any:
    """The entitlement a grant submitted, once REVIEWER (a second person) approved the held request: a
    grant is never recorded on its submitter's word alone."""
    from sidms.business.models import Entitlement
    from sidms.changes.services import review_decide

    assert outcome.held is not None and outcome.record is None  # nothing recorded before the review
    decided = review_decide(actor=reviewer, change_request_id=outcome.held.pk, approve=True)
    return Entitlement.objects.get(pk=decided.record_id)


def pay_months(
    insured: dict[str, Any], clerk: Any, approver: Any, months: int = 12, *, individual_only: bool = False
) -> None:
    """The first MONTHS months of 2025 assessed for the fixture's unit and paid on the 20th, in full (or
    only the individual parts, INDIVIDUAL_ONLY), through ledger runs."""
    from decimal import Decimal

    from sidms.business.ledger import run_through
    from sidms.business.models import LedgerEntry

    unit = insured["unit"]
    for month in range(1, months + 1):
        period = f"2025-{month:02d}"
        run_through(clerk, approver, "assessment", period)
        rows = LedgerEntry.objects.filter(kind="assessed", unit=unit, period=period)
        total = sum(
            (e.individual_amount + (Decimal(0) if individual_only else e.unit_amount) for e in rows),
            Decimal(0),
        )
        paid = [{"unit_id": unit.pk, "period": period, "amount": f"{total:.2f}", "paid_on": f"{period}-20"}]
        run_through(clerk, approver, "payment", period, params={"rows": paid})


def other_session() -> Any:
    """A second session of the test's PostgreSQL server, outside the test's transaction (autocommit)."""
    import psycopg
    from django.db import connection

    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], user=s["USER"] or None, password=s["PASSWORD"] or None, host=s["HOST"] or None,
        port=s["PORT"] or None, autocommit=True,
    )  # fmt: skip


def laid_off(clerk: Any, person: Any, day: str) -> None:
    """PERSON's employment ends on DAY: the unemployment insurance enrolment is terminated (终止缴费), as the
    window records it before an unemployment benefit is determined."""
    from sidms.business.models import PersonEnrolment
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change

    enrolment = PersonEnrolment.objects.get(person=person, insurance="210")
    submit_change(actor=clerk, channel=Channel.WINDOW, entity="person_enrolment", record=enrolment,
                  values={"status": "terminated", "status_date": day, "reason": "劳动合同期满终止"})  # fmt: skip


def unemployed(insured: dict[str, Any], clerk: Any, approver: Any, reviewer: Any) -> Any:
    """The fixture's employee after twelve paid months of 2025, laid off at the end of 2025 and granted
    unemployment benefit from January 2026 (CLERK submits, REVIEWER approves): the entitlement."""
    from datetime import date

    from sidms.business.benefits import grant_unemployment

    employee = insured["employee"]
    pay_months(insured, clerk, approver)
    laid_off(clerk, employee, "2025-12-31")
    return approved(grant_unemployment(actor=clerk, person=employee, start=date(2026, 1, 15)), reviewer)


@pytest.fixture
def reemployed(insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any) -> Any:
    """The employee drawing unemployment benefit from January 2026 (``unemployed``), paid by January's run,
    then insured again from February: the 环翠区 clerk alone re-opens the unemployment insurance enrolment
    through the pipeline, with no one reviewing it (attack round 4). February's run pays no benefit."""
    from sidms.business.ledger import run_through
    from sidms.business.models import PersonEnrolment
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change

    employee = insured["employee"]
    unemployed(insured, huancui_clerk, approver, city_reviewer)
    run_through(huancui_clerk, approver, "pension", "2026-01")
    enrolment = PersonEnrolment.objects.get(person=employee, insurance="210")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person_enrolment", record=enrolment,
                  values={"status": "paying", "status_date": "2026-02-01", "reason": "恢复缴费"})  # fmt: skip
    return employee


@pytest.fixture
def approver(make_staff) -> Any:  # type: ignore[no-untyped-def]
    return make_staff("approver_city", posts=("approver",), district="371000")


@pytest.fixture
def insured(make_unit, make_person, huancui_clerk) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A unit of 环翠区 enrolled in pension, medical, unemployment and work injury (class 3 at 120 %), an
    employee of it enrolled in all four with a 2025 base of 6,123.45, and a flexible worker with a base of
    5,000 — all through the pipeline."""
    from decimal import Decimal

    from sidms.business.bases import declare_base
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change
    from tests.changes.conftest import id_number

    def submit(entity: str, values: dict[str, Any]) -> Any:
        return submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity=entity, values=values).record

    unit = make_unit(unit_no="U3710020001", name="威海港务有限公司", district="371002")
    employee = make_person(id_number=id_number("37100219800101001"), name="王建国", birth_date="1980-01-01")
    flexible = make_person(id_number=id_number("37100219850505003"), name="赵自由", birth_date="1985-05-05")
    submit("employment", {"person_id": employee.pk, "unit_id": unit.pk, "start_date": "2015-04-01"})
    for insurance in ("110", "310", "210", "410"):
        extra = {"industry_class": "3", "tier": "120"} if insurance == "410" else {}
        submit("unit_enrolment", {"unit_id": unit.pk, "insurance": insurance, "status": "paying",
                                  "start_date": "2020-01-01", **extra})  # fmt: skip
        submit("person_enrolment", {"person_id": employee.pk, "insurance": insurance, "kind": "employee",
                                    "unit_id": unit.pk, "status": "paying", "start_date": "2021-01-01"})  # fmt: skip
    submit("person_enrolment", {"person_id": flexible.pk, "insurance": "110", "kind": "flexible",
                                "status": "paying", "start_date": "2022-01-01"})  # fmt: skip
    declare_base(actor=huancui_clerk, person=employee, unit=unit, year=2025, wage=Decimal("6123.45"))
    declare_base(actor=huancui_clerk, person=flexible, year=2025, wage=Decimal("5000"))
    return {"unit": unit, "employee": employee, "flexible": flexible}


def injury_insured(clerk: Any, person: Any, unit: Any, since: str = "2020-01-01", **values: Any) -> Any:
    """PERSON enrolled in work-injury insurance (410) at UNIT from SINCE, through the pipeline (the unit's own
    410 enrolment first, class 3 at the base rate, if it has none): what 工伤保险条例 Art. 62 asks before
    the fund pays a work-injury benefit. VALUES override the person's enrolment (a status, its date)."""
    from sidms.business.models import UnitEnrolment
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change
    from sidms.registry.models import Employment

    if not Employment.objects.filter(person=person, unit=unit).exists():  # an employee of the unit (Art. 58)
        submit_change(actor=clerk, channel=Channel.WINDOW, entity="employment",
                      values={"person_id": person.pk, "unit_id": unit.pk, "start_date": since})  # fmt: skip
    if not UnitEnrolment.objects.filter(unit=unit, insurance="410").exists():
        submit_change(actor=clerk, channel=Channel.WINDOW, entity="unit_enrolment",
                      values={"unit_id": unit.pk, "insurance": "410", "status": "paying", "start_date": "2000-01-01",
                              "industry_class": "3", "tier": "100"})  # fmt: skip
    return submit_change(actor=clerk, channel=Channel.WINDOW, entity="person_enrolment",
                         values={"person_id": person.pk, "insurance": "410", "kind": "employee", "unit_id": unit.pk,
                                 "status": "paying", "start_date": since, **values}).record  # fmt: skip
