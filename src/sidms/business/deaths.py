"""The entry rule of a death registration (死亡登记), at the window and in a death list imported from the
civil-affairs or public-security registries alike: a date of death is not in the future and not before the
person's birth. No payment is made after it (sidms.business.benefits)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.core.errors import ChangeRefused
from sidms.registry.models import Person


def check_death(values: Mapping[str, Any], record: models.Model | None) -> None:
    raw, person_id = values.get("date_of_death"), values.get("person_id")
    try:
        day = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        pk = int(str(person_id))
    except ValueError:
        return  # the collection rules report a missing or malformed value
    if day > timezone.localdate():
        raise ChangeRefused(_("The date of death is in the future."), code="death_in_future")
    birth = Person.objects.filter(pk=pk).values_list("birth_date", flat=True).first()
    if birth is not None and day < birth:
        raise ChangeRefused(_("The date of death is before the person's birth."), code="death_before_birth")


def death_key(values: Mapping[str, Any]) -> tuple[Any, str, Any] | None:
    """One person's death twice in the rows of one import file (changes.services.register_entry_key)."""
    person_id = values.get("person_id")
    if person_id in (None, ""):
        return None
    return (
        str(person_id),
        "death_twice",
        _("Row %(row)s of this file already registers the person's death."),
    )
