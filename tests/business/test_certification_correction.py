"""Correcting a certification date to an earlier day (issue 8 §7 "Eligibility certification", R2.2, R7.3): a
plain certification may only move the date later (attack round 4), so a clerk's typo — 2026 for 2025 —
is corrected with a stated reason and held for a second person's review, like a grant; the recorded date
stays until then, and the approved correction suspends the pension the run no longer pays."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from sidms.business.benefits import certify, correct_certification, grant_pension, suspended, uncertified
from sidms.business.models import Entitlement
from sidms.changes.models import ChangeRequest, Channel, Method, ReviewStatus, Revision
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused, NotPermitted, StaleChange
from tests.business.conftest import approved
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db

REASON = "录入错误：认证日期应为2025年，误录为2026年"


@pytest.fixture
def mistyped(make_person: Any, huancui_clerk: Any, city_reviewer: Any) -> Entitlement:
    """A pension from February 2025 (a man born January 1965), certified on 10 March 2025 but recorded as
    10 March 2026."""
    retiree = make_person(id_number=id_number("37100219650115001"), name="刘退休", birth_date="1965-01-15")
    pension = approved(grant_pension(actor=huancui_clerk, person=retiree, category="male",
                                     index=Decimal("1.2"), months=366), city_reviewer)  # fmt: skip
    certify(actor=huancui_clerk, entitlement=pension, on=date(2026, 3, 10))
    return Entitlement.objects.get(pk=pension.pk)  # type: ignore[no-any-return]


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.3")
def test_an_earlier_date_is_a_correction_a_second_person_approves(
    mistyped: Entitlement, huancui_clerk: Any, city_reviewer: Any
) -> None:
    assert mistyped.certified_on == date(2026, 3, 10)
    assert not uncertified(mistyped, date(2026, 4, 1))  # the typo keeps the pension paid a year too long
    # As a plain certification an earlier date is still refused (attack round 4).
    with pytest.raises(ChangeRefused) as plain:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="entitlement", record=mistyped,
                      values={"certified_on": "2025-03-10"})  # fmt: skip
    assert plain.value.code == "certified_earlier"
    outcome = correct_certification(actor=huancui_clerk, entitlement=mistyped, on=date(2025, 3, 10),
                                    reason=REASON)  # fmt: skip
    held = outcome.held
    assert held is not None and outcome.revision is None and held.note == REASON
    assert held.proposed == {"certified_on": ["2026-03-10", "2025-03-10"]}
    assert Entitlement.objects.get(pk=mistyped.pk).certified_on == date(2026, 3, 10)  # until approved
    with pytest.raises(NotPermitted):  # a window clerk decides no review request
        review_decide(actor=huancui_clerk, change_request_id=held.pk, approve=True)
    review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)
    corrected = Entitlement.objects.get(pk=mistyped.pk)
    assert corrected.certified_on == date(2025, 3, 10)
    latest = Revision.objects.filter(entity="entitlement", record_id=mistyped.pk).order_by("-version").first()
    assert (
        latest is not None and latest.method == Method.REVIEW and latest.reference.startswith(f"CR{held.pk}/")
    )
    # Certified in March 2025: April 2026 is the thirteenth month after, so the pension is suspended then.
    assert not uncertified(corrected, date(2026, 3, 1)) and uncertified(corrected, date(2026, 4, 1))
    assert [e.pk for e in suspended("2026-04")] == [mistyped.pk]


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.3")
def test_a_correction_needs_a_reason_an_earlier_day_and_no_day_after_the_death(
    mistyped: Entitlement, huancui_clerk: Any, city_reviewer: Any
) -> None:
    with pytest.raises(ChangeRefused) as no_reason:
        correct_certification(actor=huancui_clerk, entitlement=mistyped, on=date(2025, 3, 10), reason=" ")
    assert no_reason.value.code == "reason_required"
    for day in (date(2026, 3, 10), date(2026, 5, 1)):
        with pytest.raises(ChangeRefused) as later:
            correct_certification(actor=huancui_clerk, entitlement=mistyped, on=day, reason=REASON)
        assert later.value.code == "not_earlier"
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": mistyped.person_id, "date_of_death": "2025-06-30", "source": "民政殡葬信息"})  # fmt: skip
    with pytest.raises(ChangeRefused) as after_death:
        correct_certification(actor=huancui_clerk, entitlement=mistyped, on=date(2025, 9, 1), reason=REASON)
    assert after_death.value.code == "dead"
    # Before the death the record may still be put right.
    outcome = correct_certification(actor=huancui_clerk, entitlement=mistyped, on=date(2025, 3, 10),
                                    reason=REASON)  # fmt: skip
    review_decide(actor=city_reviewer, change_request_id=outcome.held.pk, approve=True)  # type: ignore[union-attr]
    assert Entitlement.objects.get(pk=mistyped.pk).certified_on == date(2025, 3, 10)
    assert not ChangeRequest.objects.filter(status=ReviewStatus.PENDING).exists()


@pytest.mark.req("R7.3")
def test_a_certification_recorded_meanwhile_makes_the_correction_stale(
    mistyped: Entitlement, huancui_clerk: Any, city_reviewer: Any
) -> None:
    outcome = correct_certification(actor=huancui_clerk, entitlement=mistyped, on=date(2025, 3, 10),
                                    reason=REASON)  # fmt: skip
    certify(actor=huancui_clerk, entitlement=mistyped, on=date(2026, 6, 1))  # seen alive again meanwhile
    with pytest.raises(StaleChange):
        review_decide(actor=city_reviewer, change_request_id=outcome.held.pk, approve=True)  # type: ignore[union-attr]
    assert Entitlement.objects.get(pk=mistyped.pk).certified_on == date(2026, 6, 1)


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.3")
def test_the_correction_page_submits_for_review_and_the_reviewer_sees_the_reason(
    mistyped: Entitlement, huancui_clerk: Any, rushan_clerk: Any, city_reviewer: Any, signed_in: Any
) -> None:
    client = signed_in(huancui_clerk)
    url = f"/business/benefits/{mistyped.pk}/certification/"
    with translation.override("zh-hans"):
        detail = client.get(f"/entitlements/{mistyped.pk}/").content.decode()
        assert url in detail and "更正认证日期" in detail
        page = client.get(url).content.decode()
        assert "刘**" in page and "刘退休" not in page and "2026-03-10" in page
        missing = client.post(url, {"on": "2025-03-10", "reason": ""}).content.decode()
        assert "更正理由" in missing and 'class="error"' in missing
        later = client.post(url, {"on": "2026-04-01", "reason": REASON}).content.decode()
        assert "更正只能将认证日期改早" in later
    assert not ChangeRequest.objects.filter(status=ReviewStatus.PENDING).exists()
    done = client.post(url, {"on": "2025-03-10", "reason": REASON})
    assert done.status_code == 302 and done["Location"] == f"/entitlements/{mistyped.pk}/"
    held = ChangeRequest.objects.get(entity="entitlement", status=ReviewStatus.PENDING)
    assert held.note == REASON and Entitlement.objects.get(pk=mistyped.pk).certified_on == date(2026, 3, 10)
    assert signed_in(rushan_clerk).get(url).status_code == 404  # another district's entitlement
    with translation.override("zh-hans"):
        review = signed_in(city_reviewer).get(f"/queues/review/{held.pk}/").content.decode()
    assert "更正理由" in review and REASON in review and "疑似重复" not in review
