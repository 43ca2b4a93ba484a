"""Entry rules of enrolments (参保登记, issue 8 §2), held as data and checked by the change pipeline on every
submission (registered with ``changes.services.register_entry_check``):

* one active enrolment per person in each group of mutually exclusive schemes (parameter
  ``enrolment.exclusive_groups``: 110/120/170 pension, 310/390 medical; 社会保险法 Art. 10 and 23; the
  National Audit Office found 1.1 million people enrolled twice in 2012);
* no employee enrolment before the minimum age (parameter ``enrolment.min_employee_age``, 16 by 劳动法
  Art. 15), and no enrolment starting after the date of death;
* a unit's enrolment in an insurance before its employees';
* a unit's work-injury enrolment names its industry risk class and a floating tier that class has
  (parameter ``work_injury.tiers``, 人社部发〔2015〕71号).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.business.models import Death, EnrolmentKind, EnrolmentStatus, PersonEnrolment, UnitEnrolment
from sidms.business.parameters import MissingParameter, value_at
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Person

WORK_INJURY = "410"


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _pk(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value.pk if isinstance(value, models.Model) else value)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # born on 29 February
        return day.replace(year=day.year + years, day=28)


def _exclusive_group(insurance: str, start: date) -> list[str]:
    """The schemes of which a person holds one active enrolment at a time, INSURANCE's group on START."""
    groups = value_at("enrolment.exclusive_groups", start)
    return list(next((g for g in groups if insurance in g), [insurance]))


def person_enrolment_key(values: Mapping[str, Any]) -> tuple[Any, str, Any] | None:
    """Two active enrolments of one person in one exclusive group, in the rows of one import file
    (changes.services.register_entry_key): the later is refused as the stored one would refuse it."""
    person_id = _pk(values.get("person_id"))
    insurance = str(values.get("insurance") or "")
    start = _day(values.get("start_date"))
    if (
        person_id is None
        or not insurance
        or start is None
        or values.get("status") == EnrolmentStatus.TERMINATED
    ):
        return None
    return (
        (person_id, tuple(sorted(_exclusive_group(insurance, start)))),
        "exclusive_scheme",
        _("Row %(row)s of this file already enrols the person in a mutually exclusive scheme."),
    )


def check_person_enrolment(values: Mapping[str, Any], record: models.Model | None) -> None:
    person_id = _pk(values.get("person_id"))
    insurance = str(values.get("insurance") or "")
    start = _day(values.get("start_date"))
    if person_id is None or not insurance or start is None:
        return  # the collection rules report what is missing
    if values.get("status") != EnrolmentStatus.TERMINATED:
        group = _exclusive_group(insurance, start)
        others = PersonEnrolment.objects.filter(person_id=person_id, insurance__in=group).exclude(
            status=EnrolmentStatus.TERMINATED
        )
        if record is not None:
            others = others.exclude(pk=record.pk)
        other = others.first()
        if other is not None:
            raise ChangeRefused(
                _(
                    "The person already has an active enrolment in a mutually exclusive scheme "
                    "(%(insurance)s); end it before enrolling in another."
                ),
                {"insurance": other.insurance},
                code="exclusive_scheme",
            )
    death = Death.objects.filter(person_id=person_id).first()
    if death is not None and start > death.date_of_death:
        raise ChangeRefused(_("No enrolment can begin after the person's date of death."), code="after_death")
    if values.get("kind") != EnrolmentKind.EMPLOYEE:
        return
    birth = Person.objects.filter(pk=person_id).values_list("birth_date", flat=True).first()
    minimum = value_at("enrolment.min_employee_age", start)
    if birth is not None and start < _add_years(birth, minimum):
        raise ChangeRefused(
            _("No one can be enrolled as an employee before the age of %(age)s."),
            {"age": minimum},
            code="under_age",
        )
    unit_id = _pk(values.get("unit_id"))
    if unit_id is None:
        raise ChangeRefused(_("An employee's enrolment names the unit."), code="unit_required")
    enrolled = (
        UnitEnrolment.objects.filter(unit_id=unit_id, insurance=insurance, start_date__lte=start)
        .exclude(status=EnrolmentStatus.TERMINATED)
        .exists()
    )
    if not enrolled:
        raise ChangeRefused(
            _("The unit must be enrolled in this insurance before its employees."), code="unit_not_enrolled"
        )


def check_unit_enrolment(values: Mapping[str, Any], record: models.Model | None) -> None:
    if str(values.get("insurance") or "") != WORK_INJURY:
        return
    start = _day(values.get("start_date"))
    klass, tier = str(values.get("industry_class") or ""), str(values.get("tier") or "")
    try:
        tiers = value_at("work_injury.tiers", start)
    except MissingParameter:
        # Enrolled before the floating tiers existed (人社部发〔2015〕71号, from 2015-10-01): the tier recorded
        # is the one assessed now, so it is checked against today's table.
        tiers = value_at("work_injury.tiers")
    if not klass or not tier or int(tier) not in tiers.get(int(klass), frozenset()):
        raise ChangeRefused(
            _("A work-injury enrolment needs the industry risk class and a floating tier that class has."),
            code="work_injury_tier",
        )
