"""Yearly contribution-base declarations (issue 8 §3): a unit declares each employee's monthly base once a
year from last year's wages; the base is clamped to that year's limits (国办发〔2019〕13号), and the record
keeps both the declared wage and the clamped base. Written through the pipeline; the entry check refuses a
base that is not the clamp of the declared wage, and a unit's declaration for a person it did not employ in
that year (a registry employment at the unit that runs on some day of the year: the unit declares for its
own employees, new hires of the year among them)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from sidms.business.calc import clamp
from sidms.business.enrolment import entered_or_changed
from sidms.business.models import BaseDeclaration
from sidms.business.parameters import MissingParameter
from sidms.changes.models import Channel
from sidms.changes.services import SubmitOutcome, submit_change
from sidms.core.errors import ChangeRefused
from sidms.lib.money import yuan
from sidms.registry.models import Employment, Person, Unit

BAD_AMOUNT = _("The declared wage must be an amount in yuan with two decimals (e.g. 6123.45).")


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ChangeRefused(BAD_AMOUNT, code="amount") from None
    if not amount.is_finite() or amount < 0 or str(value).strip() != f"{amount:.2f}":
        raise ChangeRefused(BAD_AMOUNT, code="amount")
    return amount


def check_declaration(values: Mapping[str, Any], record: models.Model | None) -> None:
    # Four ASCII digits, with the year's limits in force: int() read "0", "99" and "+202", and a year
    # without limits (before the seeded average wages) was a server error at the window (attack round 8).
    text = str(values.get("year"))
    try:
        if not (len(text) == 4 and text.isascii() and text.isdigit()):
            raise ValueError(text)
        year = int(text)
        wage = _amount(values.get("declared_wage"))
        expected = clamp(wage, year).base
    except (ValueError, MissingParameter):
        raise ChangeRefused(
            _("The year must be a four-digit year whose base limits are set."), code="year"
        ) from None
    person, unit = values.get("person_id"), values.get("unit_id") or None
    if person in (None, ""):
        return  # the collection rules report it
    twice = BaseDeclaration.objects.filter(person_id=person, year=text).filter(
        **({"unit__isnull": True} if unit is None else {"unit_id": unit})
    )
    if record is not None:
        twice = twice.exclude(pk=record.pk)
    if twice.exists():
        # The database's unique key would refuse it as a server error.
        raise ChangeRefused(
            _("The person's base for this unit and year is declared already; correct that declaration."),
            code="declaration_twice",
        )
    if _amount(values.get("base")) != expected:
        raise ChangeRefused(
            _("The base must be the declared wage within the year's limits: %(base)s."),
            {"base": yuan(expected)},
            code="base_not_clamped",
        )
    # A later correction of the wage is not judged again by the employment.
    moved = entered_or_changed(values, record, ("person_id", "unit_id", "year"))
    if unit is not None and moved and not _employed_in(person, unit, year):
        raise ChangeRefused(
            _(
                "A unit declares the bases of its own employees: the person has no employment at this unit in "
                "%(year)s. Register the employment first."
            ),
            {"year": text},
            code="not_employed",
        )


def _employed_in(person: Any, unit: Any, year: int) -> bool:
    """Whether PERSON has an employment at UNIT that runs on some day of YEAR."""
    return (
        Employment.objects.filter(person_id=person, unit_id=unit, start_date__lte=f"{year}-12-31")
        .filter(models.Q(end_date__isnull=True) | models.Q(end_date__gte=f"{year}-01-01"))
        .exists()
    )


def declaration_key(values: Mapping[str, Any]) -> tuple[Any, str, Any] | None:
    """One person's declaration for the same unit and year twice in the rows of one import file
    (changes.services.register_entry_key; the model's unique constraint, refused as a rule, not met as a
    database error)."""
    person_id = values.get("person_id")
    if person_id in (None, ""):
        return None
    key = (str(person_id), str(values.get("unit_id") or ""), str(values.get("year") or ""))
    return (
        key,
        "declaration_twice",
        _("Row %(row)s of this file already declares the person's base for this unit and year."),
    )


def declare_base(
    *, actor: Any, person: Person, year: int, wage: Decimal, unit: Unit | None = None,
    channel: str = Channel.WINDOW,
) -> SubmitOutcome:  # fmt: skip
    """Record the year's declaration for PERSON (at UNIT): the wage as declared and the clamped base."""
    clamped = clamp(_amount(f"{Decimal(wage):.2f}"), year)
    values = {
        "person_id": person.pk, "unit_id": unit.pk if unit is not None else None, "year": str(year),
        "declared_wage": f"{clamped.declared:.2f}", "base": f"{clamped.base:.2f}",
    }  # fmt: skip
    return submit_change(actor=actor, channel=channel, entity="base_declaration", values=values)
