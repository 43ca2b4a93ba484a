"""The monthly benefit run (pension, unemployment, work injury, maternity) reads the entitlements it pays and
the unemployment insurance enrolments that stop an unemployment benefit through ``changes.inputs.RunInputs``,
as the assessment reads what it assesses (attack round 8).

Before, the run checked each entitlement it found against its history (attack round 6) but not that it found
every one, and read the enrolments unchecked: a database administrator who deleted the enrolment of a person
drawing unemployment benefit and employed again (or put back its terminated version) had the benefit paid with
the wages (失业保险条例 Art. 15), and one who deleted a pensioner's entitlement had the pension silently not
paid, with nothing but the next full verification to say so. Now each is an integrity alert naming the record,
and the run pays nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sidms.business.benefits import grant_pension
from sidms.business.ledger import run_through
from sidms.business.models import Entitlement, LedgerEntry, PersonEnrolment
from sidms.changes.models import Revision
from tests.attack8.test_tampered_inputs import refused
from tests.audit.test_tampering import _raw
from tests.business.conftest import approved

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R2.2")]


def _refused(clerk: Any, approver: Any, period: str) -> dict[str, Any]:
    """The benefit run of PERIOD is refused with an integrity alert, pays nothing and stays approved; the
    alert's object type and detail (attack round 8's check, for the pension run)."""
    return refused(clerk, approver, kind="pension", period=period)


def _benefits_paid(person: Any) -> list[str]:
    rows = LedgerEntry.objects.filter(kind="benefit", person=person, insurance="210").order_by("period")
    return list(rows.values_list("period", flat=True))


def test_the_control_a_reemployed_person_is_not_paid(
    reemployed: Any, huancui_clerk: Any, approver: Any
) -> None:
    run_through(huancui_clerk, approver, "pension", "2026-02")
    assert _benefits_paid(reemployed) == ["2026-01"]


def test_the_reemployment_deleted_in_sql_is_named(reemployed: Any, huancui_clerk: Any, approver: Any) -> None:
    enrolment = PersonEnrolment.objects.get(person=reemployed, insurance="210")
    _raw("DELETE FROM business_personenrolment WHERE id = %s", [enrolment.pk])
    assert _refused(huancui_clerk, approver, "2026-02") == {
        "object_type": "person_enrolment", "reason": "missing", "record_id": enrolment.pk,
    }  # fmt: skip
    assert _benefits_paid(reemployed) == ["2026-01"]


def test_the_terminated_version_put_back_in_sql_is_named(
    reemployed: Any, huancui_clerk: Any, approver: Any
) -> None:
    """The enrolment's row as it was when terminated (its version, digest and values: a consistent old
    version) is not its latest revision."""
    enrolment = PersonEnrolment.objects.get(person=reemployed, insurance="210")
    terminated = Revision.objects.get(
        entity="person_enrolment", record_id=enrolment.pk, version=enrolment.version - 1
    )
    state = terminated.state
    _raw(
        "UPDATE business_personenrolment SET status = %s, status_date = %s, reason = %s, version = %s, "
        "row_digest = %s WHERE id = %s",
        [state["status"], state["status_date"], state["reason"], terminated.version, terminated.digest,
         enrolment.pk],
    )  # fmt: skip
    assert _refused(huancui_clerk, approver, "2026-02") == {
        "object_type": "person_enrolment", "reason": "history", "record_id": enrolment.pk,
    }  # fmt: skip


def test_a_pension_entitlement_deleted_in_sql_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any, make_person: Any
) -> None:
    """A pension no longer paid because its entitlement was deleted: before, the run paid everyone else and
    said nothing."""
    from tests.changes.conftest import id_number

    retiree = make_person(id_number=id_number("37100219650115001"), name="王退休", birth_date="1965-01-15")
    pension = approved(grant_pension(actor=huancui_clerk, person=retiree, category="male", index=Decimal("1"),
                                     months=300), city_reviewer)  # fmt: skip
    period = f"{pension.start_date:%Y-%m}"
    _raw("DELETE FROM business_entitlement WHERE id = %s", [pension.pk])
    assert not Entitlement.objects.filter(pk=pension.pk).exists()
    assert _refused(huancui_clerk, approver, period) == {
        "object_type": "entitlement", "reason": "missing", "record_id": pension.pk,
    }  # fmt: skip
