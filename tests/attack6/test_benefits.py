"""Attacks on 伤残津贴 (the monthly disability allowance), the one-time grants that share its fund (410), and
certification corrections, merged an hour before round 6.

* A woman drawing a pension since 50 was granted the allowance under the men's retirement category, so it
  ran "until 63", and the monthly run paid pension and allowance together: nothing compared the two, and
  the category was not held against the registered sex.
* An own wage typed as 9,999,999.99 made an allowance of 8,999,999.99 a month (工伤保险条例 Art. 64 counts
  a wage above three times the average wage as that).
* A one-time grant dated the first of a month whose allowance was paid already was taken as paid (the two
  entries looked alike: person, 410, that day) and never paid — the ambiguity the architecture left open.
* A maintenance order ran no entry rule: it recorded a certification after the registered death, which the
  window, the correction page and an import refuse.

Fix: an entry rule keeps the allowance and the pension apart (either way round), the category must fit the
sex, the own wage is capped at the year's base ceiling, a one-time payment is its own ledger entry kind, and
maintenance orders run the entry rules (as a reviewed change) when applied for and when carried out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from sidms.audit.models import AuditEvent
from sidms.business import calc
from sidms.business.benefits import (
    disability_allowance_values,
    grant_disability_allowance,
    grant_disability_grant,
    grant_pension,
)
from sidms.business.ledger import run_through
from sidms.business.models import Entitlement, LedgerEntry
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import ChangeRequest, Channel, MaintenanceOrder, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused, IntegrityAlert
from sidms.lib.money import yuan
from tests.business.conftest import approved, injury_insured
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R2.2")]


@pytest.fixture
def unit(make_unit: Any) -> Any:
    return make_unit(unit_no="U3710020009", name="威海船舶修造有限公司", district="371002")


@pytest.fixture
def woman(make_person: Any, unit: Any, huancui_clerk: Any) -> Any:
    # Born January 1975, originally retiring at 50: her pension begins in February 2025. Insured against
    # work injury since 2020, so a disability allowance is the fund's (工伤保险条例 Art. 62).
    woman = make_person(
        id_number=id_number("37100219750115002"), name="李女工", birth_date="1975-01-15", sex="2"
    )
    injury_insured(huancui_clerk, woman, unit)
    return woman


def test_the_allowance_is_not_paid_beside_a_pension(
    woman: Any, huancui_clerk: Any, city_reviewer: Any, approver: Any
) -> None:
    pension = approved(grant_pension(actor=huancui_clerk, person=woman, category="female_50", index=Decimal("1"),
                                     months=240), city_reviewer)  # fmt: skip
    assert pension.start_date == date(2025, 2, 1)
    # The men's category ("until 63") does not fit a woman.
    with pytest.raises(ChangeRefused) as wrong:
        grant_disability_allowance(actor=huancui_clerk, person=woman, on=date(2025, 6, 10), grade=1,
                                   own_wage=Decimal("6000"), category="male", injured=date(2024, 3, 3))  # fmt: skip
    assert wrong.value.code == "category_sex"
    # Her own category would end the allowance before it begins; an allowance submitted with the women's 55
    # category, which outlasts her pension's start, meets the pension.
    with pytest.raises(ChangeRefused) as beside:
        grant_disability_allowance(actor=huancui_clerk, person=woman, on=date(2025, 6, 10), grade=1,
                                   own_wage=Decimal("6000"), category="female_55", injured=date(2024, 3, 3))  # fmt: skip
    assert beside.value.code == "pension_and_allowance"
    assert not Entitlement.objects.filter(kind="injury_allowance").exists()
    run_through(huancui_clerk, approver, "pension", "2025-07")
    assert list(LedgerEntry.objects.filter(person=woman).values_list("insurance", flat=True)) == ["110"]


def test_a_pension_is_not_granted_over_a_running_allowance(
    make_person: Any, unit: Any, huancui_clerk: Any, city_reviewer: Any
) -> None:
    man = make_person(id_number=id_number("37100219650115001"), name="刘工伤", birth_date="1965-01-15")
    injury_insured(huancui_clerk, man, unit)
    # The allowance would run to the month before his retirement (February 2025 for January 1965): granted
    # on an appraisal of 2024, it is recorded for the months before it.
    allowance = approved(grant_disability_allowance(actor=huancui_clerk, person=man, on=date(2024, 6, 10),
                                                    grade=2, own_wage=Decimal("6000"), category="male", injured=date(2024, 3, 3)),
                         city_reviewer)  # fmt: skip
    assert allowance.end_date == date(2025, 1, 31)
    # Its end moved past the retirement (an edit held for review): the pension is refused while it runs.
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=allowance,
                  values={"end_date": "2030-12-31"})  # fmt: skip
    outcome = grant_pension(actor=huancui_clerk, person=man, category="male", index=Decimal("1"), months=400)
    assert outcome.held is not None  # the pension, submitted while the edit waits, passes...
    held_edit = ChangeRequest.objects.filter(status=ReviewStatus.PENDING).exclude(pk=outcome.held.pk).get()
    review_decide(actor=city_reviewer, change_request_id=held_edit.pk, approve=True)
    with pytest.raises(ChangeRefused) as refused:  # ...and is refused at approval, the allowance now running
        review_decide(actor=city_reviewer, change_request_id=outcome.held.pk, approve=True)
    assert refused.value.code == "pension_and_allowance"


def test_an_own_wage_above_the_ceiling_counts_as_the_ceiling(insured: dict[str, Any]) -> None:
    employee = insured["employee"]
    ceiling = calc.limits_for(2025).ceiling
    values = disability_allowance_values(person=employee, on=date(2025, 6, 10), grade=1,
                                         own_wage=Decimal("9999999.99"), category="male",
                                         injured=date(2025, 3, 3))  # fmt: skip
    assert Decimal(values["monthly_amount"]) == (ceiling * Decimal("0.90")).quantize(Decimal("0.01"))
    assert Decimal(values["monthly_amount"]) < 3 * ceiling
    assert f"高于上限，按 {yuan(ceiling)} 计" in values["basis"]


def test_a_one_time_grant_dated_the_first_of_an_allowance_month_is_paid(
    insured: dict[str, Any], huancui_clerk: Any, city_reviewer: Any, approver: Any
) -> None:
    employee = insured["employee"]
    approved(grant_disability_allowance(actor=huancui_clerk, person=employee, on=date(2025, 6, 10), grade=3,
                                        own_wage=Decimal("6000"), category="male", injured=date(2024, 3, 3)), city_reviewer)  # fmt: skip
    run_through(huancui_clerk, approver, "pension", "2025-07")
    run_through(huancui_clerk, approver, "pension", "2025-08")
    # A second injury's appraisal concluded on 1 August, its one-time grant recorded after August's run.
    grant = approved(grant_disability_grant(actor=huancui_clerk, person=employee, on=date(2025, 8, 1), grade=9,
                                            own_wage=Decimal("6000"), injured=date(2025, 7, 7)), city_reviewer)  # fmt: skip
    run_through(huancui_clerk, approver, "pension", "2025-09")
    run_through(huancui_clerk, approver, "pension", "2025-10")
    paid = list(
        LedgerEntry.objects.filter(person=employee, insurance="410").order_by("period", "pk")
        .values_list("period", "individual_amount")
    )  # fmt: skip
    allowance = Decimal("4800.00")  # 6,000 × 80 %
    assert paid == [("2025-07", allowance), ("2025-08", allowance), ("2025-09", allowance),
                    ("2025-09", Decimal(grant.monthly_amount)), ("2025-10", allowance)]  # fmt: skip


@pytest.mark.req("R9.3")
def test_a_maintenance_order_does_not_certify_after_the_death(
    make_person: Any, huancui_clerk: Any, city_reviewer: Any
) -> None:
    retiree = make_person(id_number=id_number("37100219650115001"), name="刘退休", birth_date="1965-01-15")
    pension = approved(grant_pension(actor=huancui_clerk, person=retiree, category="male", index=Decimal("1.2"),
                                     months=366), city_reviewer)  # fmt: skip
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": retiree.pk, "date_of_death": "2025-03-10", "source": "民政殡葬信息"})  # fmt: skip
    with pytest.raises(ChangeRefused) as refused:
        maintenance_apply(actor=huancui_clerk, entity="entitlement", record=pension, reason="补录认证",
                          values={"certified_on": "2025-09-01"})  # fmt: skip
    assert refused.value.code == "dead"
    assert not MaintenanceOrder.objects.exists()
    assert Entitlement.objects.get(pk=pension.pk).certified_on == date(2025, 2, 1)


@pytest.mark.req("R20")
@pytest.mark.req("R9.2")
def test_an_allowance_raised_by_raw_sql_is_not_paid(
    insured: dict[str, Any], huancui_clerk: Any, city_reviewer: Any, approver: Any
) -> None:
    employee = insured["employee"]
    allowance = approved(grant_disability_allowance(actor=huancui_clerk, person=employee, on=date(2025, 6, 10),
                                                    grade=3, own_wage=Decimal("6000"), category="male", injured=date(2024, 3, 3)),
                         city_reviewer)  # fmt: skip
    run_through(huancui_clerk, approver, "pension", "2025-07")
    with connection.cursor() as cursor:  # an intruder with database access raises the monthly amount
        cursor.execute(
            "UPDATE business_entitlement SET monthly_amount = '48000.00' WHERE id = %s", [allowance.pk]
        )
    with pytest.raises(IntegrityAlert):
        run_through(huancui_clerk, approver, "pension", "2025-08")
    paid = LedgerEntry.objects.filter(person=employee, insurance="410").values_list(
        "period", "individual_amount"
    )
    assert list(paid) == [("2025-07", Decimal("4800.00"))]
    alert = AuditEvent.objects.filter(action="integrity.alert", object_type="entitlement").get()
    assert f'"record_id":{allowance.pk}' in alert.payload.replace(" ", "")
