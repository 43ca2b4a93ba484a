"""Benefits (issue 8 §7): the retirement entitlement with its basic pension, monthly payments as ledger
entries, the yearly eligibility certification, and deaths.

* :func:`grant_pension` — the statutory retirement month under the 2025 reform, the minimum contribution
  months of that year (reform Art. 2), and the basic pension of 国发〔2005〕38号 from the parameters in force,
  recorded as an :class:`~sidms.business.models.Entitlement` through the pipeline.
* The ``pension`` run pays each active entitlement for a month (one ``benefit`` ledger entry each), except
  after the recipient's date of death, and except when the recipient has not been certified for twelve
  months (待遇领取资格认证; 人社部发〔2018〕107号: certification once a year, payment suspended when it lapses).
* :func:`overpayments` lists the payments made for months that began after a death registered later (the
  Shandong 2024 audit found pensions paid to 505 dead people).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.business import calc
from sidms.business.accounts import balance_as_of
from sidms.business.ledger import month_bounds, register_writer
from sidms.business.models import (
    AssessmentRun,
    BenefitKind,
    Death,
    Entitlement,
    EntitlementStatus,
    EntryKind,
    LedgerEntry,
)
from sidms.changes.models import Channel
from sidms.changes.services import SubmitOutcome, submit_change
from sidms.core.errors import ChangeRefused
from sidms.lib import pension as lp
from sidms.registry.models import Person

CERTIFICATION_MONTHS = 12


def grant_pension(
    *,
    actor: Any,
    person: Person,
    category: str,
    index: Decimal,
    months: int,
    transitional: Decimal = Decimal(0),
) -> SubmitOutcome:
    """Record PERSON's basic pension from the statutory retirement month (2025 reform, from birth date and
    CATEGORY), if the contribution MONTHS reach that year's minimum; the account balance is the ledger's on
    the retirement date."""
    if person.birth_date is None:
        raise ChangeRefused(_("The person's birth date is not registered."), code="no_birth_date")
    retirement = calc.retirement(person.birth_date, category)
    if not lp.pension_entitled(months, retirement.retirement_year):
        raise ChangeRefused(
            _("%(months)s contribution months are fewer than the %(minimum)s required for a pension in %(year)s."),
            {"months": months, "minimum": lp.minimum_contribution_months(retirement.retirement_year),
             "year": retirement.retirement_year},
            code="minimum_years",
        )  # fmt: skip
    start = date(retirement.retirement_year, retirement.retirement_month, 1)
    balance = balance_as_of(person.pk, retirement.retirement_date)
    got = calc.pension(index=index, months=months, balance=balance, age=retirement.age_years, at=start,
                       transitional=transitional)  # fmt: skip
    basis = (
        f"基础养老金 {got.basic_pension} + 个人账户养老金 {got.account_pension}（{balance}÷{got.payout_months}）"
        f" + 过渡性养老金 {got.transitional_pension}；退休年龄 {retirement.age_years}岁{retirement.age_months}个月"
    )
    return submit_change(
        actor=actor, channel=Channel.WINDOW, entity="entitlement",
        values={"person_id": person.pk, "kind": BenefitKind.PENSION, "start_date": start.isoformat(),
                "monthly_amount": f"{got.total:.2f}", "basis": basis, "status": EntitlementStatus.ACTIVE,
                "certified_on": start.isoformat()},
    )  # fmt: skip


def certify(*, actor: Any, entitlement: Entitlement, on: date | None = None) -> SubmitOutcome:
    """Record an eligibility certification (a suspended payment resumes with it)."""
    day = on or timezone.localdate()
    values: dict[str, Any] = {"certified_on": day.isoformat()}
    if entitlement.status == EntitlementStatus.SUSPENDED:
        values["status"] = EntitlementStatus.ACTIVE
    return submit_change(actor=actor, channel=Channel.WINDOW, entity="entitlement", record=entitlement,
                         values=values)  # fmt: skip


def _months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + (later.month - earlier.month)


def uncertified(entitlement: Entitlement, first_of_month: date) -> bool:
    """No certification for twelve months before the month paid: the payment is suspended."""
    since = entitlement.certified_on or entitlement.start_date
    return _months_between(since, first_of_month) > CERTIFICATION_MONTHS


def _pay_pensions(run: AssessmentRun) -> Iterable[LedgerEntry]:
    first, last = month_bounds(run.period)
    deaths = dict(Death.objects.values_list("person_id", "date_of_death"))
    active = (
        Entitlement.objects.filter(
            kind=BenefitKind.PENSION, status=EntitlementStatus.ACTIVE, start_date__lte=last
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=first))
        .order_by("pk")
    )
    for e in active.iterator():
        died = deaths.get(e.person_id)
        if died is not None and died < first:
            continue  # no payment for a month that begins after the death
        if uncertified(e, first):
            continue  # suspended until certified
        yield LedgerEntry(
            period=run.period, person_id=e.person_id, unit_id=None, insurance="110", kind=EntryKind.BENEFIT,
            individual_amount=Decimal(e.monthly_amount), entry_date=first,
        )  # fmt: skip


register_writer("pension", _pay_pensions)


@dataclass(frozen=True)
class Overpayment:
    person_id: int
    period: str
    amount: Decimal
    date_of_death: date


def overpayments() -> list[Overpayment]:
    """Benefit payments for months that began after the recipient's registered date of death."""
    deaths = dict(Death.objects.values_list("person_id", "date_of_death"))
    out = []
    rows = LedgerEntry.objects.filter(kind=EntryKind.BENEFIT, person_id__in=list(deaths)).order_by(
        "person_id", "period"
    )
    for e in rows:
        if month_bounds(e.period)[0] > deaths[e.person_id]:
            out.append(Overpayment(e.person_id, e.period, e.individual_amount, deaths[e.person_id]))
    return out


def suspended(period: str) -> list[Entitlement]:
    """Active pensions not paid for PERIOD because their certification lapsed."""
    first = month_bounds(period)[0]
    rows = Entitlement.objects.filter(
        kind=BenefitKind.PENSION, status=EntitlementStatus.ACTIVE, start_date__lte=first
    )
    return [e for e in rows if uncertified(e, first)]
