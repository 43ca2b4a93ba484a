"""Attack on 待遇核定's pension by a careless clerk: the unemployment benefit, the disability grant and the
maternity allowance refuse a first day after the person's registered death, the pension did not — the page
computed and submitted a pension from a retirement month after the death (a reviewer in a hurry recorded a
pension for a dead person). Fix: the pension is refused from a date after the death, as the others."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.services import submit_change
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.2")
@pytest.mark.req("R6.1")
def test_no_pension_from_a_retirement_month_after_the_death(
    make_person: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    # Born January 1965: retires in February 2025; died in 2024.
    person = make_person(id_number=id_number("37100219650115001"), name="刘退休", birth_date="1965-01-15")
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": person.pk, "date_of_death": "2024-08-10", "source": "民政殡葬信息"})  # fmt: skip
    form = {"kind": "pension", "category": "male", "index": "1.2", "months": "366", "action": "submit"}
    with translation.override("zh-hans"):
        page = signed_in(huancui_clerk).post(f"/persons/{person.person_no}/benefits/new/", form)
    assert page.status_code == 200 and "死亡" in page.content.decode()
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()
