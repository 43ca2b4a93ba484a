"""The entry rules of a delegated query (委托查询, R10.2; see :class:`sidms.registry.models.DelegatedQuery`),
run at the window and again when a reviewer approves the held registration:

- the authorisation is still valid: its end date is not in the past, and not more than a year ahead. The
  year is sidms's own bound, not a published rule: a registration lets the window print the person's
  records to someone else, so it should not stand open-ended; the agency may set another bound;
- the delegate is someone else: a person asking for their own records shows their own ID (R10.2), and a
  registration naming the person as their own delegate would only hide that in the register;
- a registration stays what its authorisation says: once recorded, its person and its delegate are not
  changed and its end date is not moved later (attack round 6: the person, a "system" field, was moved to
  another person at once by one clerk's edit, and the end date moved years ahead by a maintenance order,
  with no authorisation for either). A new authorisation is registered anew, with its scan; an end date
  moved earlier (the person withdrew the authorisation) and a corrected name or purpose stay possible."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.core.errors import ChangeRefused
from sidms.lib import idcard
from sidms.registry.models import Person

LONGEST = timedelta(days=366)


def check_delegated_query(values: Mapping[str, Any], record: models.Model | None) -> None:
    raw, person_id, delegate = (
        values.get("valid_until"),
        values.get("person_id"),
        values.get("delegate_id_number"),
    )
    try:
        until = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        pk = int(str(person_id))
    except ValueError:
        return  # the collection rules report a missing or malformed value
    if record is not None:
        _check_unchanged(values, record, pk, until)
    today = timezone.localdate()
    if until < today:
        raise ChangeRefused(_("The authorisation has already expired."), code="delegation_expired")
    if until > today + LONGEST:
        raise ChangeRefused(
            _("An authorisation is registered for at most one year; ask for a new one after that."),
            code="delegation_too_long",
        )
    person = Person.objects.filter(pk=pk).first()
    if (
        person is not None
        and delegate
        and idcard.normalise(str(delegate)) == idcard.normalise(str(person.id_number))
    ):
        raise ChangeRefused(
            _(
                "The delegate is the person themself: a person asking for their own records shows their own ID."
            ),
            code="delegation_self",
        )


def _check_unchanged(values: Mapping[str, Any], record: models.Model, person_id: int, until: date) -> None:
    stored = record.delegate_id_number  # type: ignore[attr-defined]
    delegate = values.get("delegate_id_number")
    if person_id != record.person_id or (  # type: ignore[attr-defined]
        delegate is not None and idcard.normalise(str(delegate)) != idcard.normalise(str(stored))
    ):
        raise ChangeRefused(
            _("A delegated query stays with the person and the delegate its authorisation names; register a new "
              "authorisation, with its scan, instead."),
            code="delegation_rebound",
        )  # fmt: skip
    if until > record.valid_until:  # type: ignore[attr-defined]
        raise ChangeRefused(
            _("An authorisation is not extended: register the new authorisation, with its scan."),
            code="delegation_extended",
        )
