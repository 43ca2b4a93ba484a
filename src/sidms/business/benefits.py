"""Benefits (issue 8 §7): the retirement entitlement with its basic pension, monthly payments as ledger
entries, the yearly eligibility certification, and deaths.

* :func:`grant_pension` — the statutory retirement month under the 2025 reform, the minimum contribution
  months of that year (reform Art. 2), and the basic pension of 国发〔2005〕38号 from the parameters in force,
  recorded as an :class:`~sidms.business.models.Entitlement` through the pipeline.
* The ``pension`` run pays each active entitlement for a month (one ``benefit`` ledger entry each), except
  after the recipient's date of death, and except when the recipient has not been certified for twelve
  months (待遇领取资格认证; 人社部发〔2018〕107号: certification once a year, payment suspended when it lapses).
* Unemployment, work-injury and maternity benefits (notes §5, arithmetic in :mod:`sidms.lib.benefits`):
  :func:`grant_unemployment` (monthly, for the months 失业保险条例 Art. 17 allows after the contributions
  *paid* in the ledger), :func:`grant_disability_grant` (一次性伤残补助金) and :func:`grant_maternity`
  (生育津贴) — both one-time — :func:`grant_disability_allowance` (伤残津贴, monthly for grades 1–4 until
  the statutory retirement month) and :func:`grant_injury_top_up` (伤残津贴差额 after retirement) are recorded as entitlements through the pipeline like the pension, every
  figure from the parameter table, with 示例值（待核对） in the basis when an uncertain parameter was used.
  The same monthly ``pension`` run pays them (一次性 ones once, in the first run from their start month),
  each under its insurance (210 / 410 / 510); none is paid for a month after the death.
* Four eyes: every grant is *submitted* by the window clerk and held for a second person's review (the
  entitlement's kind, dates, amount and status are "manual" in the collection rules); it is recorded, and
  paid by the run, only once a reviewer other than the submitter approves it
  (:func:`sidms.changes.services.review_decide`).
* :func:`overpayments` lists the payments made for months that began after a death registered later (the
  Shandong 2024 audit found pensions paid to 505 dead people).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from django.db import connection, models
from django.db.models import DateField, Exists, Expression, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.business import calc, payments
from sidms.business.accounts import balance_as_of
from sidms.business.ledger import month_bounds, register_writer
from sidms.business.models import (
    ONE_TIME_KINDS,
    AssessmentRun,
    BenefitKind,
    Death,
    EnrolmentStatus,
    Entitlement,
    EntitlementStatus,
    EntryKind,
    LedgerEntry,
    PersonEnrolment,
)
from sidms.business.parameters import EXAMPLE_MARK, is_example, value_at, version_at
from sidms.changes.inputs import Condition, RunInputs, positions
from sidms.changes.models import Channel
from sidms.changes.services import SubmitOutcome, submit_change, under_review
from sidms.core.errors import ChangeRefused
from sidms.lib import benefits as lb
from sidms.lib import pension as lp
from sidms.lib.money import yuan, yuan_exact
from sidms.registry.models import Person

CERTIFICATION_MONTHS = 12
# The insurance each benefit is paid from (AAE140); the one-time benefits are paid once, the others monthly.
INSURANCE = {BenefitKind.PENSION: "110", BenefitKind.UNEMPLOYMENT: "210", BenefitKind.WORK_INJURY: "410",
             BenefitKind.INJURY_ALLOWANCE: "410", BenefitKind.INJURY_TOP_UP: "410",
             BenefitKind.MATERNITY: "510"}  # fmt: skip
WORK_INJURY_INSURANCE = INSURANCE[BenefitKind.WORK_INJURY]
# The benefits on the work-injury fund, paid only for an injury while insured (工伤保险条例 Art. 62).
WORK_INJURY_KINDS = frozenset({BenefitKind.WORK_INJURY, BenefitKind.INJURY_ALLOWANCE})
ONE_TIME = frozenset(ONE_TIME_KINDS)
# The monthly benefits of which one at a time runs for a person (the pension: _check_one_pension).
_ONE_AT_A_TIME = frozenset(
    {BenefitKind.UNEMPLOYMENT, BenefitKind.INJURY_ALLOWANCE, BenefitKind.INJURY_TOP_UP}
)
# The benefits an entry rule compares with the person's others of the same kind.
_COMPARED = ONE_TIME | _ONE_AT_A_TIME
# The benefits whose entry rules take the person's lock: the compared ones, and the pension, which the
# disability allowance may not run beside.
_LOCKED = _COMPARED | {BenefitKind.PENSION}


def grant_pension(
    *,
    actor: Any,
    person: Person,
    category: str,
    index: Decimal,
    months: int,
    transitional: Decimal = Decimal(0),
) -> SubmitOutcome:
    """Submit PERSON's basic pension from the statutory retirement month (2025 reform, from birth date and
    CATEGORY), if the contribution MONTHS reach that year's minimum; the account balance is the ledger's on
    the retirement date.

    Returns the submission's outcome: ``outcome.held`` is the change request a second person approves
    (``review_decide``) before the entitlement exists (``outcome.record`` is None until then), as long as
    the collection rules hold entitlements for manual review, as declared."""
    return submit_grant(actor, pension_values(person=person, category=category, index=index, months=months,
                                        transitional=transitional))  # fmt: skip


def pension_values(
    *, person: Person, category: str, index: Decimal, months: int, transitional: Decimal = Decimal(0)
) -> dict[str, Any]:
    """The basic pension's entitlement values (see :func:`grant_pension`), computed and not submitted: the
    window shows them before the clerk submits."""
    if person.birth_date is None:
        raise ChangeRefused(_("The person's birth date is not registered."), code="no_birth_date")
    retirement = _retirement(person, category)
    if not lp.pension_entitled(months, retirement.retirement_year):
        raise ChangeRefused(
            _("%(months)s contribution months are fewer than the %(minimum)s required for a pension in %(year)s."),
            {"months": months, "minimum": lp.minimum_contribution_months(retirement.retirement_year),
             "year": retirement.retirement_year},
            code="minimum_years",
        )  # fmt: skip
    start = date(retirement.retirement_year, retirement.retirement_month, 1)
    _not_dead(person, start)  # as the other benefits: none from a date after the death
    balance = balance_as_of(person.pk, retirement.retirement_date)
    got = calc.pension(index=index, months=months, balance=balance, age=retirement.age_years, at=start,
                       transitional=transitional)  # fmt: skip
    basis = (
        f"基础养老金 {yuan_exact(got.basic_pension)} + 个人账户养老金 {yuan_exact(got.account_pension)}"
        f"（{yuan_exact(balance)}÷{got.payout_months}） + 过渡性养老金 {yuan_exact(got.transitional_pension)}；退休年龄 {retirement.age_years}岁{retirement.age_months}个月"
        # What the clerk typed, for the reviewer to hold against the contribution record (attack round 5: the
        # basis named only the results, so an inflated index or months reached the reviewer unseen).
        f"；录入：平均缴费指数 {index}，缴费月数 {months}，过渡性养老金 {yuan_exact(transitional)}"
    )
    return _values(person, BenefitKind.PENSION, start, None, got.total, basis)


class _Params:
    """The parameters one grant reads, in force on its start day for the person's district, remembering
    which were example values (示例值（待核对）) so the entitlement's basis says so."""

    def __init__(self, at: date, region: str) -> None:
        self.at, self.region = at, region
        self.examples: list[str] = []

    def __call__(self, key: str) -> Any:
        row = version_at(key, self.at, self.region)
        if row is not None and is_example(row) and key not in self.examples:
            self.examples.append(key)
        return value_at(key, self.at, self.region)

    def basis(self, text: str) -> str:
        if self.examples:
            text += f"；{EXAMPLE_MARK}：{'、'.join(self.examples)}"
        return text[:300]


_MONEY = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")


def check_entitlement(values: Mapping[str, Any], record: models.Model | None) -> None:
    """Entry rule of an entitlement (any submission, the window's or an import's): the amount is yuan to the
    fen, not negative — a text such as "-1980.00" or "abc" took money back or stopped the month's run."""
    _one_writer_per_person(values, record)
    _check_certified_on(values, record)
    _check_certification_change(values, record)
    _check_event_not_ahead(values, record)
    _check_injury_insured(values, record)
    _check_same_birth(values, record)
    _check_same_appraisal(values, record)
    _check_running_overlap(values, record)
    _check_allowance_beside_pension(values, record)
    _check_one_pension(values, record)
    _check_top_up(values, record)
    amount = values.get("monthly_amount")
    if amount is None or str(amount) == "":
        return  # the collection rules report a missing value
    if not _MONEY.fullmatch(str(amount).strip()):
        raise ChangeRefused(
            _("The amount must be a sum in yuan with at most two decimals, not negative."), code="amount"
        )


def _check_certified_on(values: Mapping[str, Any], record: models.Model | None) -> None:
    """The certification date is applied without review: it may not lie after today (a clerk's date years
    ahead would exempt a pension from certification), except the start date of a grant made in advance."""
    certified = values.get("certified_on")
    if certified in (None, ""):
        return
    day, start = _day(certified), _day(values.get("start_date", getattr(record, "start_date", None)))
    if day is None:
        return  # the collection rules report a malformed date
    latest = max(timezone.localdate(), start) if start is not None else timezone.localdate()
    if day > latest:
        raise ChangeRefused(_("A certification cannot be dated after today."), code="certified_future")


# The transaction-level advisory lock that serialises the writes of one person's benefits on PostgreSQL: the
# two-key form (class "sben"), a key space apart from the one-key locks of the ledger runs and the archives.
# The second key is the person's id modulo PERSON_SLOTS, so a batch of many grants holds a bounded number of
# locks (PostgreSQL's lock table is shared); two persons with the same slot merely wait for each other.
PERSON_LOCK_CLASS = int.from_bytes(b"sben", "big")
PERSON_SLOTS = 4096


def _one_writer_per_person(values: Mapping[str, Any], record: models.Model | None) -> None:
    """The rules below that compare a benefit with the person's others (one birth, one appraisal, one
    unemployment benefit at a time) read what is committed: on PostgreSQL two reviewers approving two held
    grants of one person at once each read before the other committed, and both were recorded (attack round
    4). Inside the writing transaction the person's lock is taken first, so the second approval waits and
    then reads the first."""
    kind = values.get("kind", getattr(record, "kind", None))
    person = values.get("person_id", getattr(record, "person_id", None))
    if kind not in _LOCKED or person in (None, "") or not connection.in_atomic_block:
        return
    if connection.vendor == "postgresql":  # SQLite queues its writers already (sidms.core.sqlite)
        slot = int(getattr(person, "pk", person)) % PERSON_SLOTS
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PERSON_LOCK_CLASS, slot])


def _check_certification_change(values: Mapping[str, Any], record: models.Model | None) -> None:
    """A certification is applied without review (level "system"), so it may only say what it can: that the
    recipient was seen alive on a later day than the one recorded. Moved to an earlier day it suspended the
    pension from the next run, on one clerk's word (attack round 4: ``/business/benefits/certify/`` takes any
    date, and so does the entitlement's edit page); and once a death is registered no certification is
    recorded at all (``certify`` refused it, the edit page did not).

    An earlier day is a correction of a mistaken date (2026 typed for 2025): it is accepted only when a
    second person decides it (:func:`correct_certification`, held for review with its reason), and not for
    a day after a registered death."""
    if record is None:
        return
    day, recorded = _day(values.get("certified_on")), getattr(record, "certified_on", None)
    if day is None or day == recorded:
        return
    died = Death.objects.filter(person_id=record.person_id).values_list("date_of_death", flat=True).first()  # type: ignore[attr-defined]
    if recorded is not None and day < recorded:
        if not under_review():
            raise ChangeRefused(
                _("A certification cannot be dated before the one recorded (%(date)s); a mistaken date is "
                  "corrected with its reason, for a second person's review."),
                params={"date": recorded.isoformat()},
                code="certified_earlier",
            )  # fmt: skip
        if died is None or day <= died:
            return
    if died is not None:
        raise ChangeRefused(
            _("The recipient's death is registered: the benefit is stopped, not certified."), code="dead"
        )


def _check_event_not_ahead(values: Mapping[str, Any], record: models.Model | None) -> None:
    """A one-time benefit is dated by its event (the appraisal's conclusion, the birth), a fact of the past:
    one dated after today (2062 typed for 2026) would wait, recorded, and be paid by that month's run."""
    kind = values.get("kind", getattr(record, "kind", None))
    day = _day(values.get("start_date", getattr(record, "start_date", None)))
    if kind not in ONE_TIME or day is None or (record is not None and day == record.start_date):  # type: ignore[attr-defined]
        return
    if day > timezone.localdate():
        raise ChangeRefused(_("A one-time benefit's event cannot be dated after today."), code="event_ahead")


def _check_injury_insured(values: Mapping[str, Any], record: models.Model | None) -> None:
    """工伤保险条例 (国务院令第586号修订) Art. 62 as an entry rule, for every channel (the window's grant, the
    entitlement's own form, an import row) and again when a reviewer approves: a work-injury entitlement
    on the fund names the day of the injury, which precedes its first day, and the person's work-injury
    insurance (410) was being paid that day (:func:`_insured_against_injury`). Checked for a new one and for
    an edit of its kind, person or injury date; a status or amount change of one recorded before the injury
    date existed is not."""

    def current(name: str) -> Any:
        return values[name] if name in values else getattr(record, name, None)

    if current("kind") not in WORK_INJURY_KINDS:
        return
    if record is not None and all(
        str(current(name) or "")[:10] == str(getattr(record, name, None) or "")[:10]
        for name in ("kind", "person_id", "injury_date")
    ):
        return
    person, injured, start = current("person_id"), _day(current("injury_date")), _day(current("start_date"))
    if person in (None, ""):
        return  # the collection rules report a missing value
    if injured is None:
        raise ChangeRefused(
            _("A work-injury benefit needs the date of the injury (工伤保险条例 Art. 62: the fund pays only for "
              "an injury while insured)."),
            code="injury_date_required",
        )  # fmt: skip
    if start is not None and injured > start:
        raise ChangeRefused(
            _("The injury cannot be dated after the appraisal of working capacity."), code="injury_after"
        )
    _insured_against_injury(getattr(person, "pk", person), injured)


def _check_same_birth(values: Mapping[str, Any], record: models.Model | None) -> None:
    """A maternity allowance is paid once per birth: a second one for the same woman dated within
    ``maternity.same_event_days`` of one already recorded is the same birth entered again (attack round 3:
    the same birth granted under a date one day later was paid twice)."""
    kind = values.get("kind", getattr(record, "kind", None))
    day = _day(values.get("start_date", getattr(record, "start_date", None)))
    person = values.get("person_id", getattr(record, "person_id", None))
    if kind != BenefitKind.MATERNITY or day is None or person in (None, ""):
        return
    window = timedelta(days=int(value_at("maternity.same_event_days", day)))
    # Whatever its status: an ended one-time allowance was paid.
    others = Entitlement.objects.filter(
        person_id=person, kind=BenefitKind.MATERNITY, start_date__range=(day - window, day + window)
    )
    if record is not None:
        others = others.exclude(pk=record.pk)
    if others.exists():
        raise ChangeRefused(
            _("A maternity allowance for this birth is already recorded (within %(days)s days)."),
            params={"days": window.days},
            code="same_birth",
        )


def _check_same_appraisal(values: Mapping[str, Any], record: models.Model | None) -> None:
    """A one-time disability grant is paid once per appraisal of working capacity (劳动能力鉴定, 工伤保险条例
    Art. 35–37), whose conclusion date is the grant's date: a second grant for the same person on the same
    date is that appraisal entered again. A later re-appraisal (Art. 28) changes the recorded grant through
    review; it is not a second grant."""
    kind = values.get("kind", getattr(record, "kind", None))
    day = _day(values.get("start_date", getattr(record, "start_date", None)))
    person = values.get("person_id", getattr(record, "person_id", None))
    if kind != BenefitKind.WORK_INJURY or day is None or person in (None, ""):
        return
    others = Entitlement.objects.filter(person_id=person, kind=BenefitKind.WORK_INJURY, start_date=day)
    if record is not None:
        others = others.exclude(pk=record.pk)
    if others.exists():
        raise ChangeRefused(
            _("A disability grant for the appraisal of %(date)s is already recorded for this person."),
            params={"date": day.isoformat()},
            code="same_appraisal",
        )


def _running(
    person_id: Any, kind: str, start: date, end: date | None, record: models.Model | None
) -> QuerySet[Entitlement]:
    """PERSON_ID's active entitlements of KIND whose months meet START … END (open when None), other than
    RECORD: what the one-at-a-time rules below compare a benefit with."""
    others = Entitlement.objects.filter(
        person_id=person_id, kind=kind, status=EntitlementStatus.ACTIVE
    ).filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
    if end is not None:
        others = others.filter(start_date__lte=end)
    return others.exclude(pk=record.pk) if record is not None else others


def _check_running_overlap(values: Mapping[str, Any], record: models.Model | None) -> None:
    """One unemployment benefit at a time (失业保险条例 Art. 17: the months are counted once), and one
    disability allowance (a re-appraisal changes the recorded one, through review): an active one whose
    months overlap another active one of the same kind and person is refused. As an entry rule it runs
    again when a reviewer approves a held grant, so two grants submitted while neither was recorded cannot
    both be approved (the second is refused then); before, both were recorded and the run paid only the
    older."""

    def current(name: str) -> Any:
        return values[name] if name in values else getattr(record, name, None)

    kind = current("kind")
    if kind not in _ONE_AT_A_TIME or current("status") != EntitlementStatus.ACTIVE:
        return
    start, end, person = _day(current("start_date")), _day(current("end_date")), current("person_id")
    if start is None or person in (None, ""):
        return
    if kind == BenefitKind.UNEMPLOYMENT and (record is None or any(
        str(current(name) or "")[:10] != str(getattr(record, name, None) or "")[:10]
        for name in ("start_date", "status", "kind")
    )):  # fmt: skip
        # A new benefit, or one moved to another first day, reactivated or made an unemployment benefit by
        # an edit (attack round 4: a start moved back into the employment was paid for those months).
        _not_insured_then(person, start)
    if _running(person, kind, start, end, record).exists():
        raise ChangeRefused(
            _("The person already has an unemployment benefit running for these months.")
            if kind == BenefitKind.UNEMPLOYMENT
            else _("The person already has a disability allowance top-up running for these months.")
            if kind == BenefitKind.INJURY_TOP_UP
            else _("The person already has a disability allowance running for these months."),
            code="running",
        )


def _check_one_pension(values: Mapping[str, Any], record: models.Model | None) -> None:
    """One active basic pension per person (one pension relationship, 国发〔2005〕38号): the same grant
    submitted twice (a double click, a second try with another index) was approved by two reviewers and
    recorded twice (attack round 5). As an entry rule it runs again at each approval, under the person's
    lock. A change of the recorded pension that leaves it an active pension of the same person (its amount,
    its certification) is not compared."""

    def current(name: str) -> Any:
        return values[name] if name in values else getattr(record, name, None)

    if current("kind") != BenefitKind.PENSION or current("status") != EntitlementStatus.ACTIVE:
        return
    person = current("person_id")
    if person in (None, ""):
        return
    if record is not None and all(
        str(current(name) or "") == str(getattr(record, name, None) or "")
        for name in ("kind", "status", "person_id")
    ):
        return
    others = Entitlement.objects.filter(
        person_id=getattr(person, "pk", person), kind=BenefitKind.PENSION, status=EntitlementStatus.ACTIVE
    )
    if record is not None:
        others = others.exclude(pk=record.pk)
    if others.exists():
        raise ChangeRefused(_("The person already has an active basic pension."), code="pension_twice")


def _check_allowance_beside_pension(values: Mapping[str, Any], record: models.Model | None) -> None:
    """The disability allowance is paid until the statutory retirement month, when the basic pension takes
    over (工伤保险条例 Art. 35): the two are never paid for the same months. Attack round 6: a woman drawing
    a pension since 50 was granted an allowance "until 63" under the men's category, and the monthly run
    paid both. Checked for a new grant and for an edit of its person, kind, status or months, either way
    round (a pension whose months meet a running allowance is refused until the allowance is ended)."""

    def current(name: str) -> Any:
        return values[name] if name in values else getattr(record, name, None)

    kind = current("kind")
    if (
        kind not in (BenefitKind.PENSION, BenefitKind.INJURY_ALLOWANCE)
        or current("status") != EntitlementStatus.ACTIVE
    ):
        return
    if record is not None and all(
        str(current(name) or "")[:10] == str(getattr(record, name, None) or "")[:10]
        for name in ("kind", "status", "person_id", "start_date", "end_date")
    ):
        return
    start, end, person = _day(current("start_date")), _day(current("end_date")), current("person_id")
    if start is None or person in (None, ""):
        return
    other = BenefitKind.INJURY_ALLOWANCE if kind == BenefitKind.PENSION else BenefitKind.PENSION
    if _running(getattr(person, "pk", person), other, start, end, record).exists():
        raise ChangeRefused(
            _("The basic pension and the disability allowance are not paid for the same months: the allowance "
              "ends when the pension begins (工伤保险条例 Art. 35)."),
            code="pension_and_allowance",
        )  # fmt: skip


def _top_up_sources(person_id: Any, start: date) -> tuple[Entitlement, Entitlement] | None:
    """The active basic pension of PERSON_ID beginning on START and the disability allowance that ended the
    day before it (whatever its status now: ended at retirement, or still marked active with its last
    month past), which a top-up (Art. 35) makes up the difference between; None without either."""
    pension = Entitlement.objects.filter(
        person_id=person_id, kind=BenefitKind.PENSION, status=EntitlementStatus.ACTIVE, start_date=start
    ).first()
    allowance = (
        Entitlement.objects.filter(
            person_id=person_id, kind=BenefitKind.INJURY_ALLOWANCE, end_date=start - timedelta(days=1)
        )
        .exclude(status=EntitlementStatus.SUSPENDED)
        .order_by("-pk")
        .first()
    )
    return None if pension is None or allowance is None else (pension, allowance)


def _no_top_up_basis() -> ChangeRefused:
    return ChangeRefused(
        _("A disability allowance top-up begins with an active basic pension, the day after a disability "
          "allowance ended (工伤保险条例 Art. 35)."),
        code="top_up_basis",
    )  # fmt: skip


def _check_top_up(values: Mapping[str, Any], record: models.Model | None) -> None:
    """A disability allowance top-up (伤残津贴差额, 工伤保险条例 (国务院令第586号修订) Art. 35 ¶2) is the fund's
    difference between the allowance paid until retirement and the lower basic pension that replaced it:
    any channel's active top-up must start on the day an active basic pension of the same person began, the
    day after a disability allowance of that person ended, and be at most the allowance less the pension.
    Checked for a new one and for an edit of its kind, person, first day, amount or status."""

    def current(name: str) -> Any:
        return values[name] if name in values else getattr(record, name, None)

    if current("kind") != BenefitKind.INJURY_TOP_UP or current("status") != EntitlementStatus.ACTIVE:
        return
    if record is not None and all(
        str(current(name) or "")[:10] == str(getattr(record, name, None) or "")[:10]
        for name in ("kind", "person_id", "start_date", "monthly_amount", "status")
    ):
        return
    person, start = current("person_id"), _day(current("start_date"))
    if person in (None, "") or start is None:
        return  # the collection rules report a missing value
    sources = _top_up_sources(getattr(person, "pk", person), start)
    if sources is None:
        raise _no_top_up_basis()
    pension, allowance = sources
    most = Decimal(allowance.monthly_amount) - Decimal(pension.monthly_amount)
    amount = str(current("monthly_amount") or "").strip()
    if _MONEY.fullmatch(amount) and Decimal(amount) > most:
        raise ChangeRefused(
            _("The top-up is at most the disability allowance less the basic pension (%(most)s)."),
            {"most": yuan(max(most, Decimal(0)))}, code="top_up_amount",
        )  # fmt: skip


def _retirement(person: Person, category: str) -> lp.Retirement:
    """The statutory retirement of PERSON under CATEGORY, which must fit the registered sex: the men's
    category for a woman kept her disability allowance ten years past her pension (attack round 6), and a
    women's category for a man starts his pension years early."""
    male = lp.RetirementCategory(category) == lp.RetirementCategory.MALE
    if person.sex in ("1", "2") and (person.sex == "1") != male:
        raise ChangeRefused(
            _("The retirement category does not fit the person's registered sex."), code="category_sex"
        )
    return calc.retirement(person.birth_date, category)  # type: ignore[arg-type]


def _own_wage(own_wage: Decimal, on: date, region: str) -> tuple[Decimal, str]:
    """The own wage (本人工资) a work-injury benefit is computed from, 工伤保险条例 (国务院令第586号修订)
    Art. 64: the average monthly contribution wage of the twelve months before the injury, counted as 300 %
    of the area's average wage when above it and as 60 % when below it. Both bounds are the contribution
    base limits of ON's year (:func:`sidms.business.calc.limits_for`: the parameters
    ``wage.provincial_average_annual`` × ``base.floor_ratio`` / ``base.ceiling_ratio`` ÷ 12, rounded by
    ``rounding.base_limit``), so the floor and the ceiling move with the same versioned average wage.
    A typed 9,999,999.99 made an allowance of 8,999,999.99 a month (attack round 6); a wage below the floor
    gave grants and allowances below what Art. 64 guarantees. Returns the wage and a note for the basis."""
    limits = calc.limits_for(on.year, region)
    if own_wage > limits.ceiling:
        return (
            limits.ceiling,
            f"本人工资 {yuan_exact(own_wage)} 高于上限，按 {yuan_exact(limits.ceiling)} 计（条例第64条）；",
        )
    if own_wage < limits.floor:
        return (
            limits.floor,
            f"本人工资 {yuan_exact(own_wage)} 低于下限，按 {yuan_exact(limits.floor)} 计（条例第64条）；",
        )
    return own_wage, ""


def _paying_on(insurance: str, day: date | Expression | OuterRef) -> QuerySet[PersonEnrolment]:
    """The person enrolments in INSURANCE still being paid on DAY (paying then, not suspended or terminated
    by that day); DAY may be a query expression (a month's first day in an outer query)."""
    return PersonEnrolment.objects.filter(insurance=insurance, start_date__lte=day).filter(
        # paying since before DAY, or stopped only after it
        Q(status=EnrolmentStatus.PAYING, status_date__isnull=True)
        | Q(status=EnrolmentStatus.PAYING, status_date__lte=day)
        | (~Q(status=EnrolmentStatus.PAYING) & Q(status_date__gt=day))
    )


def _insured_against_injury(person_id: Any, injured: date) -> None:
    """工伤保险条例 (国务院令第586号修订) Art. 62 ¶2: an employee injured while the employer had not enrolled
    them in work-injury insurance is paid by that employer, by the items and standards of the 条例 — not by
    the fund. A work-injury benefit here is an entitlement on the fund (insurance 410, paid by the monthly
    run), so it is refused unless the person's work-injury enrolment (410) was being paid on the day of the
    injury (the accident, or the diagnosis of the occupational disease: Art. 14, 17). The employer's
    liability is not a fund entitlement and is not recorded."""
    if not _paying_on(WORK_INJURY_INSURANCE, injured).filter(person_id=person_id).exists():
        raise ChangeRefused(
            _("The person was not insured against work injury (410) on the day of the injury (%(date)s): the "
              "work-injury fund pays nothing, the employer pays the benefits (工伤保险条例 Art. 62)."),
            {"date": injured.isoformat()}, code="not_insured_410",
        )  # fmt: skip


def _injured(person: Person, injured: date, on: date) -> str:
    """The computation's own check of the injury date INJURED against the appraisal ON (Art. 21–23: the
    appraisal follows the treatment) and the 410 enrolment (:func:`_insured_against_injury`), so that the
    window shows the refusal before anything is submitted; the entry rule :func:`_check_injury_insured`
    checks the same again for any channel. Returns the note for the basis."""
    if injured > on:
        raise ChangeRefused(
            _("The injury cannot be dated after the appraisal of working capacity."), code="injury_after"
        )
    _insured_against_injury(person.pk, injured)
    return f"受伤 {injured.isoformat()}，工伤保险参保缴费中（条例第62条）；"


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _not_dead(person: Person, start: date) -> None:
    death = Death.objects.filter(person_id=person.pk).values_list("date_of_death", flat=True).first()
    if death is not None and death < start:
        raise ChangeRefused(_("No benefit is granted from a date after the person's death."), code="dead")


def _values(
    person: Person, kind: str, start: date, end: date | None, amount: Decimal, basis: str,
    injured: date | None = None,
) -> dict[str, Any]:  # fmt: skip
    """An entitlement's values as the pipeline takes them (at the window, or as rows of an import batch);
    a work-injury benefit's carry the day of the injury (INJURED)."""
    values = {"person_id": str(person.pk), "kind": kind, "start_date": start.isoformat(),
              "end_date": end.isoformat() if end else "", "monthly_amount": f"{amount:.2f}",
              "basis": basis, "status": EntitlementStatus.ACTIVE, "certified_on": start.isoformat()}  # fmt: skip
    if injured is not None:
        values["injury_date"] = injured.isoformat()
    return values


def submit_grant(actor: Any, values: dict[str, Any]) -> SubmitOutcome:
    """Submit a grant's entitlement VALUES (from one of the ``*_values`` functions) through the pipeline."""
    values = {**values, "end_date": values["end_date"] or None}
    return submit_change(actor=actor, channel=Channel.WINDOW, entity="entitlement", values=values)


def paid_months(person_id: int, insurance: str, before: date) -> int:
    """The months of PERSON's contributions to INSURANCE paid (a ``paid`` ledger entry) for periods before
    BEFORE — what 失业保险条例 Art. 14/17 count."""
    last = f"{before.year:04d}-{before.month:02d}"
    paid = set(
        LedgerEntry.objects.filter(
            person_id=person_id, insurance=insurance, kind=EntryKind.PAID, period__lt=last
        )
        .values_list("period", flat=True)
        .distinct()
    )
    # A part payment writes a paid entry for every assessed entry it touches, however little it paid: a
    # month with something still owing on it (the unit's part, say) is not a month paid.
    owing = {
        d.entry.period
        for d in payments.part_paid(Q(person_id=person_id, insurance=insurance, period__lt=last))
    }
    return len(paid - owing)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def grant_unemployment(*, actor: Any, person: Person, start: date) -> SubmitOutcome:
    """Submit the unemployment benefit of :func:`unemployment_values`; ``outcome.held`` is the change
    request a second person approves before it is recorded (see :func:`grant_pension`)."""
    return submit_grant(actor, unemployment_values(person=person, start=start))


def _paying_210_on(day: date | Expression | OuterRef) -> QuerySet[PersonEnrolment]:
    """The unemployment insurance enrolments still being paid on DAY (see :func:`_paying_on`)."""
    return _paying_on("210", day)


def _not_insured_then(person_id: Any, start: date) -> None:
    """失业保险条例 Art. 14–15: the benefit is for a person whose employment ended; one whose unemployment
    insurance is still being paid on START (an enrolment paying then, not suspended or terminated by
    that day) is employed and is refused."""
    if _paying_210_on(start).filter(person_id=person_id).exists():
        raise ChangeRefused(
            _("The person's unemployment insurance is still being paid on that day: stop the enrolment "
              "(终止或暂停缴费) when the employment ends, then determine the benefit."),
            code="still_insured",
        )  # fmt: skip


def unemployment_values(*, person: Person, start: date) -> dict[str, Any]:
    """Unemployment benefit from START's month (失业保险条例 Art. 14, 17, 18): refused below the minimum
    contribution months; paid monthly for the months the paid contributions allow, at the parameter ratio
    of the minimum wage."""
    _not_dead(person, start)
    _not_insured_then(person.pk, start)
    p = _Params(start, person.district_id)
    months = paid_months(person.pk, "210", start)
    minimum = p("unemployment.min_contribution_months")
    if months < minimum:
        raise ChangeRefused(
            _("%(months)s months of unemployment contributions are fewer than the %(minimum)s required."),
            {"months": months, "minimum": minimum}, code="minimum_months",
        )  # fmt: skip
    duration = lb.unemployment_months(months, p("unemployment.duration_months"))
    got = lb.unemployment_benefit(p("wage.minimum_monthly"), p("unemployment.benefit_ratio"),
                                  calc.rounding(start, person.district_id))  # fmt: skip
    # Paid by whole months from the first of START's month, or of the next one when the employment ended
    # only during the month: the entitlement's first day is the one the entry rule checks (attack round 4:
    # a layoff on the 10th and a benefit from the 15th were refused, the month counted from the 1st).
    first = start.replace(day=1)
    if _paying_210_on(first).filter(person_id=person.pk).exists():
        first = _add_months(first, 1)
    end = date.fromordinal(_add_months(first, duration).toordinal() - 1)
    basis = p.basis(f"累计缴费 {months} 个月，最长领取 {duration} 个月；{got.basis}")
    return _values(person, BenefitKind.UNEMPLOYMENT, first, end, got.amount, basis)


def grant_disability_grant(*, actor: Any, **kw: Any) -> SubmitOutcome:
    """Submit the one-time disability grant of :func:`disability_grant_values`; ``outcome.held`` is the
    change request a second person approves before it is recorded (see :func:`grant_pension`)."""
    return submit_grant(actor, disability_grant_values(**kw))


def disability_grant_values(
    *, person: Person, on: date, grade: int, own_wage: Decimal, injured: date
) -> dict[str, Any]:
    """The one-time disability grant (一次性伤残补助金, 工伤保险条例 (国务院令第586号修订) Art. 35–37) for
    GRADE of the appraisal concluded ON, from the person's own monthly wage bounded by Art. 64; paid once by
    the fund, so only for an injury on a day (INJURED) the person's work-injury insurance was being paid
    (Art. 62: otherwise the employer pays)."""
    _not_dead(person, on)
    insured = _injured(person, injured, on)
    p = _Params(on, person.district_id)
    wage, bounded = _own_wage(own_wage, on, person.district_id)
    got = lb.disability_grant(grade, wage, p("work_injury.disability_grant_months"),
                              calc.rounding(on, person.district_id))  # fmt: skip
    return _values(
        person, BenefitKind.WORK_INJURY, on, on, got.amount,
        p.basis(f"一次性：{insured}{bounded}{got.basis}"), injured,
    )  # fmt: skip


def grant_disability_allowance(*, actor: Any, **kw: Any) -> SubmitOutcome:
    """Submit the monthly disability allowance of :func:`disability_allowance_values`; ``outcome.held`` is
    the change request a second person approves before it is recorded (see :func:`grant_pension`)."""
    return submit_grant(actor, disability_allowance_values(**kw))


def disability_allowance_values(
    *, person: Person, on: date, grade: int, own_wage: Decimal, category: str, injured: date
) -> dict[str, Any]:
    """The monthly disability allowance (伤残津贴, 工伤保险条例 (国务院令第586号修订) Art. 35) of an
    appraisal concluded ON at GRADE 1–4, for an injury on INJURED while the person's work-injury insurance
    was being paid (Art. 62: otherwise the employer pays, and nothing is recorded on the fund): the
    parameter ratio of the person's own monthly wage (bounded by Art. 64), topped up to the minimum wage, paid by
    the work-injury fund from the month after the appraisal until the month before the statutory
    retirement month (2025 reform, from the birth date and CATEGORY), when the basic pension takes over.
    Grades 5–10 draw nothing from the fund (Art. 36–37) and are refused."""
    if on > timezone.localdate():
        raise ChangeRefused(_("The appraisal cannot be dated after today."), code="event_ahead")
    if person.birth_date is None:
        raise ChangeRefused(_("The person's birth date is not registered."), code="no_birth_date")
    first = _add_months(on.replace(day=1), 1)
    _not_dead(person, first)
    p = _Params(first, person.district_id)
    ratios = p("work_injury.disability_allowance_ratios")
    if grade in range(1, 11) and grade not in ratios:
        raise ChangeRefused(
            _("Disability grade %(grade)s draws no monthly allowance from the work-injury fund (工伤保险条例 "
              "Art. 35–37: grades 1 to 4 only; for grades 5 and 6 the employer pays one when it cannot "
              "arrange work, grades 7 to 10 draw none)."),
            {"grade": grade}, code="grade_not_fund",
        )  # fmt: skip
    wage, bounded = _own_wage(own_wage, on, person.district_id)
    got = lb.disability_allowance(grade, wage, ratios, p("wage.minimum_monthly"),
                                  calc.rounding(first, person.district_id))  # fmt: skip
    retirement = _retirement(person, category)
    retires = date(retirement.retirement_year, retirement.retirement_month, 1)
    if retires <= first:
        raise ChangeRefused(
            _("The person reaches the statutory retirement age (%(month)s) before the allowance would begin: "
              "the basic pension is paid instead."),
            {"month": retires.strftime("%Y-%m")}, code="retired",
        )  # fmt: skip
    end = retires - timedelta(days=1)
    insured = _injured(person, injured, on)
    basis = p.basis(f"按月：{insured}鉴定 {on.isoformat()}，{bounded}{got.basis}；{retires:%Y-%m} 法定退休起停发，改领基本养老金"
                    "（低于伤残津贴的由工伤保险基金补足差额）")  # fmt: skip
    return _values(person, BenefitKind.INJURY_ALLOWANCE, first, end, got.amount, basis, injured)


def grant_injury_top_up(*, actor: Any, person: Person) -> SubmitOutcome:
    """Submit the disability allowance top-up of :func:`injury_top_up_values`; ``outcome.held`` is the change
    request a second person approves before it is recorded (see :func:`grant_pension`)."""
    return submit_grant(actor, injury_top_up_values(person=person))


def injury_top_up_values(*, person: Person) -> dict[str, Any]:
    """The top-up (伤残津贴差额) of 工伤保险条例 (国务院令第586号修订) Art. 35 ¶2: a grade 1–4 disability
    allowance stops when the person retires and draws the basic pension; a pension below the allowance is
    made up by the work-injury fund. Computed from what is recorded — the person's active basic pension and
    the allowance that ended the day before it began — and paid monthly under 410 from the pension's first
    month, in the months the pension itself is paid (a pension suspended for want of certification, or
    after a death, takes its top-up with it). The amount is fixed at the grant: a later pension adjustment
    changes it through review (pension adjustments are not modelled)."""
    pension = Entitlement.objects.filter(
        person_id=person.pk, kind=BenefitKind.PENSION, status=EntitlementStatus.ACTIVE
    ).first()
    sources = _top_up_sources(person.pk, pension.start_date) if pension is not None else None
    if sources is None:
        raise _no_top_up_basis()
    pension, allowance = sources
    _not_dead(person, pension.start_date)
    got = lb.disability_top_up(Decimal(allowance.monthly_amount), Decimal(pension.monthly_amount),
                               calc.rounding(pension.start_date, person.district_id))  # fmt: skip
    basis = (f"按月：{got.basis}（条例第35条：基本养老金低于伤残津贴的，由工伤保险基金补足差额）；"
             f"伤残津贴至 {allowance.end_date}，基本养老金自 {pension.start_date}")  # fmt: skip
    return _values(person, BenefitKind.INJURY_TOP_UP, pension.start_date, None, got.amount, basis,
                   allowance.injury_date)  # fmt: skip


def grant_maternity(*, actor: Any, **kw: Any) -> SubmitOutcome:
    """Submit the maternity allowance of :func:`maternity_values`; ``outcome.held`` is the change request a
    second person approves before it is recorded (see :func:`grant_pension`)."""
    return submit_grant(actor, maternity_values(**kw))


def maternity_values(
    *, person: Person, birth: date, unit_average_wage: Decimal, babies: int = 1,
    difficult: bool = False, miscarriage_months: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The maternity allowance (生育津贴, 女职工劳动保护特别规定 Art. 7–8) for the leave days of a birth
    (or a miscarriage) at the employer's previous-year average monthly wage; paid once."""
    _not_dead(person, birth)
    p = _Params(birth, person.district_id)
    days = lb.maternity_days(p("maternity.leave_days"), babies=babies, difficult=difficult,
                             miscarriage_months=miscarriage_months)  # fmt: skip
    got = lb.maternity_allowance(unit_average_wage, days, p("maternity.month_days"),
                                 calc.rounding(birth, person.district_id))  # fmt: skip
    return _values(person, BenefitKind.MATERNITY, birth, birth, got.amount,
                   p.basis(f"一次性：产假 {days} 天；{got.basis}"))  # fmt: skip


def certify(*, actor: Any, entitlement: Entitlement, on: date | None = None) -> SubmitOutcome:
    """Record an eligibility certification, at once (review level "system": it grants no money, it cannot
    be dated after today, and a registered death stops payment whatever it says). The monthly run's
    suspension is not written to the entitlement — the run skips a pension whose certification lapsed,
    so the certification alone resumes it. An entitlement whose *status* was set to suspended is resumed
    only by a second person: that status change is held for review like any other."""
    day = on or timezone.localdate()
    if Death.objects.filter(person_id=entitlement.person_id).exists():
        raise ChangeRefused(
            _("The recipient's death is registered: the benefit is stopped, not certified."), code="dead"
        )
    values: dict[str, Any] = {"certified_on": day.isoformat()}
    if entitlement.status == EntitlementStatus.SUSPENDED:
        values["status"] = EntitlementStatus.ACTIVE
    return submit_change(actor=actor, channel=Channel.WINDOW, entity="entitlement", record=entitlement,
                         values=values)  # fmt: skip


def correct_certification(*, actor: Any, entitlement: Entitlement, on: date, reason: str) -> SubmitOutcome:
    """Correct a certification recorded with a wrong, later date (a clerk's 2026 for 2025) to the earlier
    day ON, for the stated REASON: held for a second person's review (``review_decide``), since an earlier
    date can suspend a pension. A later date is a new certification (:func:`certify`), not a correction."""
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the correction."), code="reason_required")
    recorded = entitlement.certified_on
    if recorded is None or on >= recorded:
        raise ChangeRefused(
            _("A correction moves the certification to a day before the one recorded; record a later one as "
              "a certification."),
            code="not_earlier",
        )  # fmt: skip
    return submit_change(actor=actor, channel=Channel.WINDOW, entity="entitlement", record=entitlement,
                         values={"certified_on": on.isoformat()}, review_reason=reason)  # fmt: skip


def _months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + (later.month - earlier.month)


def uncertified(entitlement: Entitlement | _Active, first_of_month: date) -> bool:
    """No certification for twelve months before the month paid: the payment is suspended."""
    since = entitlement.certified_on or entitlement.start_date
    return _months_between(since, first_of_month) > CERTIFICATION_MONTHS


def _pay_benefits(run: AssessmentRun) -> Iterable[LedgerEntry]:
    """The month's benefit payments: every active monthly entitlement running in the month, and every
    one-time entitlement started by the month's end and not paid yet; none for a month that begins after
    the recipient's death, no pension whose certification lapsed."""
    with RunInputs(f"run:{run.pk}") as inputs:
        yield from _payments(run, inputs)
        inputs.finish()


class _Active(NamedTuple):
    """An entitlement the month's run may pay, as its checked row says (changes.inputs)."""

    pk: int
    person_id: int
    kind: str
    start_date: date
    end_date: date | None
    certified_on: date | None
    monthly_amount: str


def _active(inputs: RunInputs, first: date, last: date) -> list[_Active]:
    """The active entitlements started by LAST that run into the month from FIRST (or are one-time), in id
    order, each row checked against its history and none missing (changes.inputs): an amount raised in SQL, a
    row inserted without history, an old version put back (attack round 6), and an entitlement deleted or set
    aside in SQL are each refused with an integrity alert naming it, before anything is paid."""
    at = positions("entitlement")
    pick = itemgetter(0, at["person_id"], at["kind"], at["start_date"], at["end_date"], at["certified_on"],
                      at["monthly_amount"])  # fmt: skip
    conditions = [Condition("status", "=", EntitlementStatus.ACTIVE.value),
                  Condition("start_date", "<=", last.isoformat())]  # fmt: skip
    out = []
    for pk, person_id, kind, start, end, certified, amount in map(
        pick, inputs.read("entitlement", conditions)
    ):
        # (A date that does not parse is one changed in SQL: the read's check refuses the run at its end.)
        start_date, end_date = _day(start), _day(end)
        if start_date is None or not (end_date is None or end_date >= first or kind in ONE_TIME):
            continue
        out.append(_Active(pk, person_id, kind, start_date, end_date, _day(certified), amount))
    return out


def _employed(inputs: RunInputs, first: date) -> set[int]:
    """The recipients of an unemployment benefit whose unemployment insurance (210) is being paid on FIRST
    (as :func:`_paying_210_on`), from their enrolments checked against their history (changes.inputs): an
    enrolment deleted, terminated or back-dated in SQL would otherwise have paid the benefit beside the wages.
    Only the recipients' enrolments are read (the join, by constant values); the check that none is missing
    covers every 210 enrolment."""
    at = positions("person_enrolment")
    pick = itemgetter(at["person_id"], at["status"], at["status_date"])
    table, quote = Entitlement._meta.db_table, connection.ops.quote_name
    drawers = (
        f"JOIN (SELECT DISTINCT person_id AS drawer FROM {quote(table)} WHERE kind = "  # noqa: S608  (constants)
        f"'{BenefitKind.UNEMPLOYMENT.value}' AND status = '{EntitlementStatus.ACTIVE.value}') d "
        "ON d.drawer = t.person_id"
    )
    rows = inputs.read("person_enrolment", [Condition("insurance", "=", "210"),
                                            Condition("start_date", "<=", first.isoformat())], join=drawers)  # fmt: skip
    employed = set()
    for person_id, status, status_date in map(pick, rows):
        stopped = _day(status_date)
        paying = status == EnrolmentStatus.PAYING
        if (paying and (stopped is None or stopped <= first)) or (
            not paying and stopped is not None and stopped > first
        ):
            employed.add(person_id)
    return employed


def _payments(run: AssessmentRun, inputs: RunInputs) -> Iterable[LedgerEntry]:
    first, last = month_bounds(run.period)
    # Every registered death, each against its history (changes.inputs): a death deleted in SQL paid the
    # pension on after it, one inserted stopped a living pensioner's (attack round 8).
    at = positions("death")
    person, died_on = at["person_id"], at["date_of_death"]
    # (A date that does not parse is one changed in SQL: the read's check refuses the run at its end.)
    deaths = {row[person]: _day(row[died_on]) for row in inputs.read("death")}
    active = _active(inputs, first, last)
    once_paid = _one_time_paid()
    # 失业保险条例 Art. 15: a person employed again (an unemployment insurance enrolment paying on the month's
    # first day) draws no unemployment benefit for that month, whatever the entitlement says (attack round 4:
    # an enrolment re-opened after the grant, or a new employer's, left the benefit paid with the wages).
    drawing = {e.person_id for e in active if e.kind == BenefitKind.UNEMPLOYMENT}
    employed = _employed(inputs, first) & drawing if drawing else set()
    monthly_paid: set[tuple[int, str]] = set()  # a monthly benefit is paid once a month, however many grants
    # The persons whose pension this run pays: a top-up (Art. 35) is paid only beside it. A top-up is
    # recorded only after its pension (entry rule _check_top_up), so in pk order the pension comes first.
    pensions_paid: set[int] = set()
    for e in active:
        died = deaths.get(e.person_id)
        if died is not None and died < first:
            continue  # no payment for a month that begins after the death
        if e.kind == BenefitKind.PENSION and uncertified(e, first):
            continue  # suspended until certified
        if e.kind == BenefitKind.UNEMPLOYMENT and e.person_id in employed:
            continue  # employed again
        if e.kind == BenefitKind.INJURY_TOP_UP and e.person_id not in pensions_paid:
            continue  # no pension paid this month, nothing to make up
        insurance = INSURANCE[BenefitKind(e.kind)]
        if e.kind in ONE_TIME:
            if (e.person_id, insurance, e.start_date) in once_paid:
                continue
            once_paid.add((e.person_id, insurance, e.start_date))
        elif (e.person_id, insurance) in monthly_paid:
            continue  # a second entitlement of the same benefit for the same months (the oldest is paid)
        else:
            monthly_paid.add((e.person_id, insurance))
            if e.kind == BenefitKind.PENSION:
                pensions_paid.add(e.person_id)
        yield LedgerEntry(
            period=run.period, person_id=e.person_id, unit_id=None, insurance=insurance,
            kind=EntryKind.BENEFIT_ONCE if e.kind in ONE_TIME else EntryKind.BENEFIT, individual_amount=Decimal(e.monthly_amount), entry_date=e.start_date if e.kind in ONE_TIME else first,
        )  # fmt: skip


def _one_time_paid() -> set[tuple[int, str, date]]:
    """(person, insurance, start date) of the one-time benefits paid already (a one-time payment's entry date
    is its entitlement's start date, whichever month's run paid it). A one-time payment is its own entry
    kind; an entry of the plain kind written before it existed counts as one-time unless it is dated the
    first of its own month, as a monthly payment is (so no legacy grant is paid twice)."""
    insurances = [INSURANCE[k] for k in ONE_TIME]
    once = LedgerEntry.objects.filter(kind=EntryKind.BENEFIT_ONCE, insurance__in=insurances)
    paid = set(once.values_list("person_id", "insurance", "entry_date"))
    legacy = LedgerEntry.objects.filter(kind=EntryKind.BENEFIT, insurance__in=insurances)
    for person_id, insurance, day, period in legacy.values_list(
        "person_id", "insurance", "entry_date", "period"
    ):
        if insurance != INSURANCE[BenefitKind.INJURY_ALLOWANCE] or day.day != 1 or f"{day:%Y-%m}" != period:
            paid.add((person_id, insurance, day))
    return paid


register_writer("pension", _pay_benefits)


@dataclass(frozen=True)
class Overpayment:
    person_id: int
    period: str
    amount: Decimal
    date_of_death: date


def overpayments(persons: QuerySet[Person] | None = None) -> list[Overpayment]:
    """Benefit payments for months that began after the recipient's registered date of death, of PERSONS
    (every person when None). The database filters: a page passes its viewer's scope, so a district's list
    reads only that district's deaths and their payments, not the city's."""
    dead = Death.objects.all() if persons is None else Death.objects.filter(person__in=persons)
    deaths = dict(dead.values_list("person_id", "date_of_death"))
    if not deaths:
        return []
    out = []
    # A month that begins after the death is a period after the death's own month ('YYYY-MM' sorts as text).
    first_after = min(deaths.values()).strftime("%Y-%m")
    rows = (
        LedgerEntry.objects.filter(
            kind__in=(EntryKind.BENEFIT, EntryKind.BENEFIT_ONCE),
            person_id__in=list(deaths),
            period__gt=first_after,
        )
        .order_by("person_id", "period")
        .values_list("person_id", "period", "individual_amount")
    )
    for person_id, period, amount in rows:
        if month_bounds(period)[0] > deaths[person_id]:
            out.append(Overpayment(person_id, period, amount, deaths[person_id]))
    return out


@dataclass(frozen=True)
class ReemployedOverpayment:
    person_id: int
    period: str
    amount: Decimal
    insured_since: date  # the day the enrolment paying on the month's first day started (or resumed)


def reemployed_overpayments(persons: QuerySet[Person] | None = None) -> list[ReemployedOverpayment]:
    """Unemployment benefit payments for months on whose first day the recipient's unemployment insurance
    turns out to have been paid (失业保险条例 Art. 15: re-employment stops the benefit): an enrolment
    recorded, or re-opened, only after the run paid the month, and dated back. The run pays none for such a
    month once the enrolment is known, so each of these is money to recover. Of PERSONS (every person when
    None), filtered in the database like :func:`overpayments`; a month that began after a registered death
    is listed there, not here."""
    month_first = Cast(Concat(F("period"), Value("-01")), output_field=DateField())
    paying = _paying_210_on(OuterRef("month_first")).filter(person_id=OuterRef("person_id"))
    since = paying.annotate(
        since=models.Case(
            models.When(status=EnrolmentStatus.PAYING, status_date__isnull=False, then=F("status_date")),
            default=F("start_date"),
        )
    ).order_by("-since")
    died = Death.objects.filter(person_id=OuterRef("person_id"), date_of_death__lt=OuterRef("month_first"))
    rows = LedgerEntry.objects.filter(kind=EntryKind.BENEFIT, insurance=INSURANCE[BenefitKind.UNEMPLOYMENT])
    if persons is not None:
        rows = rows.filter(person__in=persons)
    rows = (
        rows.annotate(month_first=month_first)
        .filter(Exists(paying))
        .exclude(Exists(died))
        .annotate(insured_since=Subquery(since.values("since")[:1]))
        .order_by("person_id", "period", "pk")
    )
    return [
        ReemployedOverpayment(person_id, period, amount, _day(insured))  # type: ignore[arg-type]
        for person_id, period, amount, insured in rows.values_list(
            "person_id", "period", "individual_amount", "insured_since"
        )
    ]


def suspended(period: str, persons: QuerySet[Person] | None = None) -> list[Entitlement]:
    """Active pensions not paid for PERIOD because their certification lapsed (a recipient whose death is
    registered is not suspended but stopped, and is not listed), of PERSONS (every person when None).

    The lapse is the database's filter, the same test as :func:`uncertified`: the last certification (or
    the start) falls in a month more than twelve before PERIOD's, i.e. before the first day of the month
    twelve months earlier."""
    first = month_bounds(period)[0]
    lapsed_before = date(first.year - 1, first.month, 1)
    assert CERTIFICATION_MONTHS == 12, "lapsed_before assumes twelve months"
    rows = Entitlement.objects.filter(
        kind=BenefitKind.PENSION, status=EntitlementStatus.ACTIVE, start_date__lte=first
    ).exclude(person_id__in=Death.objects.values("person_id"))
    if persons is not None:
        rows = rows.filter(person__in=persons)
    rows = rows.filter(
        Q(certified_on__lt=lapsed_before) | Q(certified_on__isnull=True, start_date__lt=lapsed_before)
    )
    return [e for e in rows.order_by("pk") if uncertified(e, first)]
