"""Attack on the yearly certification (待遇领取资格认证) by one window clerk.

A certification is applied at once, without a second person (review level "system"): it grants no money.
But ``/business/benefits/certify/`` takes any date in its ``on`` field, and the entitlement's own edit page
takes any ``certified_on``: a clerk who dated a recipient's certification years back suspended the pension
from the next monthly run, alone — money withheld on one person's word. And the rule that a dead recipient is
not certified sat in ``certify`` only: the edit page recorded a certification after a registered death.

Fix: an entry rule (every door) refuses a certification dated before the one recorded, and any new
certification once the recipient's death is registered."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from sidms.business.benefits import grant_pension, uncertified
from sidms.business.models import Entitlement
from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.core.errors import ChangeRefused
from tests.business.conftest import approved
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db


@pytest.fixture
def pension(make_person: Any, huancui_clerk: Any, city_reviewer: Any) -> Entitlement:
    # Born January 1965: retires in February 2025, certified then (the grant's first day).
    retiree = make_person(id_number=id_number("37100219650115001"), name="刘退休", birth_date="1965-01-15")
    return approved(  # type: ignore[no-any-return]
        grant_pension(actor=huancui_clerk, person=retiree, category="male", index=Decimal("1.2"), months=366),
        city_reviewer,
    )


@pytest.mark.req("R7.2")
@pytest.mark.req("R2.2")
def test_a_certification_cannot_be_backdated_to_suspend_a_pension(
    pension: Entitlement, huancui_clerk: Any, signed_in: Any
) -> None:
    client = signed_in(huancui_clerk)
    today = timezone.localdate()
    client.post("/business/benefits/certify/", {"entitlement": pension.pk})
    assert Entitlement.objects.get(pk=pension.pk).certified_on == today
    # The same clerk, a crafted POST: certified "in 2020", so the pension would lapse at once.
    answer = client.post("/business/benefits/certify/", {"entitlement": pension.pk, "on": "2020-01-01"})
    assert answer.status_code == 302
    current = Entitlement.objects.get(pk=pension.pk)
    assert current.certified_on == today
    assert not uncertified(current, today.replace(day=1))
    # The entitlement's edit page (plain values) is held to the same rule.
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=current,
                      values={"certified_on": "2024-03-01"})  # fmt: skip
    assert refused.value.code == "certified_earlier"
    assert Entitlement.objects.get(pk=pension.pk).certified_on == today


@pytest.mark.req("R7.2")
@pytest.mark.req("R2.2")
def test_a_dead_recipient_is_not_certified_through_the_edit_page(
    pension: Entitlement, huancui_clerk: Any
) -> None:
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": pension.person_id, "date_of_death": "2025-03-10", "source": "民政殡葬信息"})  # fmt: skip
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=pension,
                      values={"certified_on": timezone.localdate().isoformat()})  # fmt: skip
    assert refused.value.code == "dead"
    assert Entitlement.objects.get(pk=pension.pk).certified_on == date(2025, 2, 1)
