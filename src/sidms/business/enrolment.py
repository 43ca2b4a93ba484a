"""Entry rules of enrolments (参保登记, issue 8 §2), held as data and checked by the change pipeline on every
submission (registered with ``changes.services.register_entry_check``):

* one active enrolment per person in each group of mutually exclusive schemes (parameter
  ``enrolment.exclusive_groups``: 110/120/170 pension, 310/390 medical; 社会保险法 Art. 10 and 23; the
  National Audit Office found 1.1 million people enrolled twice in 2012);
* no employee enrolment before the minimum age (parameter ``enrolment.min_employee_age``, 16 by 劳动法
  Art. 15), and no enrolment starting after the date of death;
* a unit's enrolment in an insurance before its employees';
* an employee is enrolled at a unit that employs them: the enrolment starts in a month in which the person's
  employment at that unit (a registry record) runs (社会保险法 Art. 58: the employer registers its employee
  within thirty days of the start of employment, so the enrolment follows the employment; contributions are
  by the month, so the first of the month the employment starts in is accepted); and the employment is not
  changed afterwards from under it: a change of an employment (its start, its end, its person or unit) that
  leaves an employee enrolment at that unit which it covered with no employment in its first month is
  refused (attack round 15: moved past the enrolment's start at the window, the job no longer vouched for the
  months assessed); nor the employment a unit's base declaration for the person stands on (business.bases:
  a unit declares its own employees' bases): a change that leaves a declared year at that unit, which it
  covered, with no day of employment there is refused;
* a unit's work-injury enrolment names its industry risk class and a floating tier that class has
  (parameter ``work_injury.tiers``, 人社部发〔2015〕71号).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import connection, models
from django.utils.translation import gettext_lazy as _

from sidms.business.models import (
    BaseDeclaration,
    Death,
    EnrolmentKind,
    EnrolmentStatus,
    ParameterVersion,
    PersonEnrolment,
    UnitEnrolment,
)
from sidms.business.parameters import MissingParameter, value_at
from sidms.core.errors import ChangeRefused
from sidms.registry.models import Employment, Person

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


def _rule(key: str, day: date) -> Any:
    """The entry rule KEY in force on DAY, or for a day before its first version, that first version: an
    enrolment that began in 1993 or 2005 (before 劳动法's and 社会保险法's seeded versions) is checked by the
    earliest rule, not refused as a server error (attack round 8)."""
    try:
        return value_at(key, day)
    except MissingParameter:
        first = (
            ParameterVersion.objects.filter(key=key, region="")
            .order_by("effective_from")
            .values_list("effective_from", flat=True)
            .first()
        )
        if first is None or first <= day:
            raise
        return value_at(key, first)


def entered_or_changed(
    values: Mapping[str, Any], record: models.Model | None, names: tuple[str, ...]
) -> bool:
    """Whether the submission makes a new record or changes one of NAMES: a rule introduced after a record
    was stored (the employment rules of enrolments and base declarations) judges what is being entered, not a
    later change of the status of an enrolment, or of a declared wage, entered before it."""
    if record is None:
        return True
    return any(str(values.get(name) or "") != str(getattr(record, name) or "") for name in names)


def _exclusive_group(insurance: str, start: date) -> list[str]:
    """The schemes of which a person holds one active enrolment at a time, INSURANCE's group on START."""
    groups = _rule("enrolment.exclusive_groups", start)
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


def _stored_facts(
    person_id: int,
    group: list[str] | None,
    exclude_pk: int | None,
    unit_id: int | None,
    insurance: str,
    start: date,
) -> tuple[str | None, date | None, date | None, bool, bool]:
    """What the rules read of the stored records, by one plain SELECT (an import checks every row of its
    file, so four ORM queries a row were most of an enrolment import's time): the insurance of another
    active enrolment of PERSON_ID in GROUP (None: not asked), the date of death, the birth date, whether
    UNIT_ID is enrolled in INSURANCE on START (not terminated), and whether PERSON_ID's employment at UNIT_ID
    runs in START's month."""
    terminated = str(EnrolmentStatus.TERMINATED)
    params: list[Any] = []
    if group:
        marks = ", ".join(["%s"] * len(group))
        table = PersonEnrolment._meta.db_table
        other = f"SELECT insurance FROM {table} WHERE person_id = %s AND insurance IN ({marks}) AND status <> %s AND id <> %s ORDER BY id LIMIT 1"  # noqa: S608  (the model's table)
        params += [person_id, *group, terminated, exclude_pk if exclude_pk is not None else -1]
    else:
        other = "SELECT NULL"
    month_first = start.replace(day=1)
    month_last = date(start.year + start.month // 12, start.month % 12 + 1, 1)  # the next month's first day
    params += [person_id, person_id, unit_id, insurance, start, terminated, person_id, unit_id, month_last,
               month_first]  # fmt: skip
    sql = f"""
        SELECT ({other}),
            (SELECT date_of_death FROM {Death._meta.db_table} WHERE person_id = %s ORDER BY id LIMIT 1),
            (SELECT birth_date FROM {Person._meta.db_table} WHERE id = %s),
            EXISTS (SELECT 1 FROM {UnitEnrolment._meta.db_table} WHERE unit_id = %s AND insurance = %s
                    AND start_date <= %s AND status <> %s),
            EXISTS (SELECT 1 FROM {Employment._meta.db_table} WHERE person_id = %s AND unit_id = %s
                    AND start_date < %s AND (end_date IS NULL OR end_date >= %s))
    """  # noqa: S608  (the table names are the models')
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found_other, died, born, unit_enrolled, employed = cursor.fetchone()
    return found_other, _day(died), _day(born), bool(unit_enrolled), bool(employed)


def check_person_enrolment(values: Mapping[str, Any], record: models.Model | None) -> None:
    person_id = _pk(values.get("person_id"))
    insurance = str(values.get("insurance") or "")
    start = _day(values.get("start_date"))
    if person_id is None or not insurance or start is None:
        return  # the collection rules report what is missing
    active = values.get("status") != EnrolmentStatus.TERMINATED
    unit_id = _pk(values.get("unit_id"))
    group = _exclusive_group(insurance, start) if active else None
    other, death, birth, unit_enrolled, employed = _stored_facts(
        person_id, group, record.pk if record is not None else None, unit_id, insurance, start
    )
    if other is not None:
        raise ChangeRefused(
            _(
                "The person already has an active enrolment in a mutually exclusive scheme "
                "(%(insurance)s); end it before enrolling in another."
            ),
            {"insurance": other},
            code="exclusive_scheme",
        )
    if death is not None and start > death:
        raise ChangeRefused(_("No enrolment can begin after the person's date of death."), code="after_death")
    if values.get("kind") != EnrolmentKind.EMPLOYEE:
        return
    minimum = _rule("enrolment.min_employee_age", start)
    if birth is not None and start < _add_years(birth, minimum):
        raise ChangeRefused(
            _("No one can be enrolled as an employee before the age of %(age)s."),
            {"age": minimum},
            code="under_age",
        )
    if unit_id is None:
        raise ChangeRefused(_("An employee's enrolment names the unit."), code="unit_required")
    if not unit_enrolled:
        raise ChangeRefused(
            _("The unit must be enrolled in this insurance before its employees."), code="unit_not_enrolled"
        )
    if not employed and entered_or_changed(values, record, ("person_id", "unit_id", "kind", "start_date")):
        raise ChangeRefused(
            _(
                "An employee is enrolled at a unit that employs them: register the employment at this unit "
                "first; the enrolment starts no earlier than the month the employment starts."
            ),
            code="not_employed",
        )


def _month_covered(start: date, spans: list[tuple[date, date | None]]) -> bool:
    """Whether one of SPANS (an employment's start and end) runs in START's month."""
    first = start.replace(day=1)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return any(begin < following and (end is None or end >= first) for begin, end in spans)


def _year_covered(year: int, spans: list[tuple[date, date | None]]) -> bool:
    """Whether one of SPANS (an employment's start and end) runs on some day of YEAR."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return any(begin <= last and (end is None or end >= first) for begin, end in spans)


def _held_at_unit(
    person_id: int, unit_id: int, exclude_pk: int
) -> tuple[list[date], list[int], list[tuple[date, date | None]]]:
    """What stands on PERSON_ID's employments at UNIT_ID, by one plain SELECT: the first days of the person's
    employee enrolments there, the years the unit declared the person's base for, and the person's other
    employments there (all but EXCLUDE_PK) with their ends."""
    sql = f"""
        SELECT 'job', start_date, end_date, NULL FROM {Employment._meta.db_table}
            WHERE person_id = %s AND unit_id = %s AND id <> %s
        UNION ALL SELECT 'enrolment', start_date, NULL, NULL FROM {PersonEnrolment._meta.db_table}
            WHERE person_id = %s AND unit_id = %s AND kind = %s
        UNION ALL SELECT 'declaration', NULL, NULL, year FROM {BaseDeclaration._meta.db_table}
            WHERE person_id = %s AND unit_id = %s
    """  # noqa: S608  (the table names are the models')
    employee = str(EnrolmentKind.EMPLOYEE)
    params: list[int | str] = [
        person_id,
        unit_id,
        exclude_pk,
        person_id,
        unit_id,
        employee,
        person_id,
        unit_id,
    ]
    starts: list[date] = []
    years: set[int] = set()
    others: list[tuple[date, date | None]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for what, begin, end, year in cursor.fetchall():
            if what == "job" and (day := _day(begin)) is not None:
                others.append((day, _day(end)))
            elif what == "enrolment" and (day := _day(begin)) is not None:
                starts.append(day)
            elif what == "declaration" and str(year or "").isascii() and str(year or "").isdigit():
                years.add(int(year))
    return sorted(starts), sorted(years), others


def check_employment(values: Mapping[str, Any], record: models.Model | None) -> None:
    """A change of a stored employment that takes away the employment something at its unit stands on is
    refused: an employee enrolment there whose first month would no longer be covered by any employment of
    the person at the unit (it would be assessed for months the person did not work there), or a base the
    unit declared for the person for a year in which the person would no longer have any employment there
    (business.bases: a unit declares its own employees' bases). What was not covered before the change
    (entered before the rule, or kept by a migration) does not hold the employment back. One query a change."""
    if record is None:
        return  # a new employment covers more, never less
    old = (_pk(record.person_id), _pk(record.unit_id), _day(record.start_date), _day(record.end_date))  # type: ignore[attr-defined]
    new = (_pk(values.get("person_id")), _pk(values.get("unit_id")), _day(values.get("start_date")),
           _day(values.get("end_date")))  # fmt: skip
    person_id, unit_id = old[0], old[1]
    if new == old or old[2] is None or person_id is None or unit_id is None:
        return
    starts, years, others = _held_at_unit(person_id, unit_id, int(record.pk))
    before = [*others, (old[2], old[3])]
    after = others + ([(new[2], new[3])] if new[:2] == old[:2] and new[2] is not None else [])
    for start in starts:
        if _month_covered(start, before) and not _month_covered(start, after):
            raise ChangeRefused(
                _(
                    "The person is enrolled at this unit as an employee from %(date)s on this employment: the "
                    "change would leave that enrolment without an employment in its first month. Correct or "
                    "end the enrolment first."
                ),
                {"date": start.isoformat()},
                code="employment_enrolled",
            )
    for year in years:
        if _year_covered(year, before) and not _year_covered(year, after):
            raise ChangeRefused(
                _(
                    "The unit declared the person's contribution base for %(year)s on this employment: the change "
                    "would leave the person without an employment at the unit in that year. Correct the "
                    "declaration first."
                ),
                {"year": str(year)},
                code="employment_declared",
            )


def _lock_persons(*pks: int | None) -> None:
    """Lock the rows of the persons PKS (FOR NO KEY UPDATE, in key order; nothing on SQLite, whose writers
    queue): the one row every change that reads or moves a person's employments against their enrolments and
    declarations takes, on every path after the changed record's own row (changes.services.ENTRY_LOCKS).
    NO KEY: the rows that name the person (an enrolment, a declaration) are still inserted meanwhile by others,
    whose rules then wait here for the lock."""
    wanted = sorted({pk for pk in pks if pk is not None})
    if wanted:
        list(
            Person._base_manager.select_for_update(no_key=True)
            .filter(pk__in=wanted)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def lock_person(values: Mapping[str, Any], record: models.Model | None) -> None:
    """The entry lock of an enrolment and a base declaration: the person whose employments the rules read."""
    _lock_persons(_pk(values.get("person_id")))


def lock_employed_person(values: Mapping[str, Any], record: models.Model | None) -> None:
    """The entry lock of an employment's change: the person whose enrolments and declarations at the unit
    :func:`check_employment` reads (a new employment takes nothing away and reads nothing)."""
    if record is not None:
        _lock_persons(_pk(record.person_id))  # type: ignore[attr-defined]


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
