"""Attack round 11 on the monthly benefit run as a database administrator, now that it reads the entitlements
and the unemployment-insurance enrolments through ``changes.inputs.RunInputs`` (the run pays nothing and
raises an integrity alert naming the record, or ``sidms audit verify`` names it).

Found and fixed: the run took a row as "its record's latest revision" when its digest equalled the latest
revision's digest, without comparing the version (the pipeline's own per-row check compares both). The
revision table refuses updates and deletes, not inserts: a suspended pension's row put back to its active
version, with one revision inserted in SQL at the next number carrying that version's digest and state, was
paid by the run (verify named the revision, after the money had gone). The run now compares the version too.

Closed since: the same inserted revision, with a state outside the run's selection, hid a row deleted in SQL
from the run's completeness check (a re-employed person's enrolment deleted: the benefit was paid beside the
wages). A record with revisions and no row is now missing whatever its latest revision says. Still open (the
known gap of docs/architecture.md): a row changed in SQL out of the selection under such an inserted
revision is not read by the run, and the run does not check the seals of revisions outside its selection.

Held, pinned here: an entitlement copied in SQL under a new id (with or without a copy of its revisions),
its amount, kind, first day or person changed, an active one moved to suspended (or a suspended one to
active), a registered death deleted; a ledger entry inserted in SQL that makes a one-time grant look paid
(the run then skips it, and verify names the entry).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from sidms.business.benefits import grant_pension
from sidms.business.ledger import run_through
from sidms.business.models import Death, Entitlement, LedgerEntry, PersonEnrolment
from sidms.changes.models import Channel, Revision
from sidms.changes.services import review_decide, submit_change
from sidms.changes.verify import verify_store
from tests.attack8.test_tampered_inputs import refused
from tests.audit.test_tampering import _raw
from tests.business.conftest import approved
from tests.changes.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R2.2")]

_REVISION_COLUMNS = [f.column for f in Revision._meta.concrete_fields if f.column != "id"]


def _refused(clerk: Any, approver: Any, period: str) -> dict[str, Any]:
    """The benefit run of PERIOD is refused with an integrity alert, pays nothing and stays approved; the
    alert's object type and detail (attack round 8's check, for the pension run)."""
    return refused(clerk, approver, kind="pension", period=period)


def _uid() -> str:
    return uuid.uuid4().hex if connection.vendor == "sqlite" else str(uuid.uuid4())


def _insert_revision(source: Revision, *, record_id: int, version: int, prev_digest: str) -> None:
    """A copy of revision SOURCE inserted in SQL as RECORD_ID's revision VERSION (no guard is dropped: the
    revision table refuses updates and deletes only)."""
    values = {"record_id": record_id, "version": version, "prev_digest": prev_digest}
    select = ", ".join("%s" if c in values else c for c in _REVISION_COLUMNS)
    params = [values[c] for c in _REVISION_COLUMNS if c in values]
    _raw(
        f"INSERT INTO changes_revision ({', '.join(_REVISION_COLUMNS)}) SELECT {select} "  # noqa: S608
        "FROM changes_revision WHERE id = %s",
        [*params, source.pk],
    )


@pytest.fixture
def pension(huancui_clerk: Any, city_reviewer: Any, make_person: Any) -> Entitlement:
    retiree = make_person(id_number=id_number("37100219650115001"), name="王退休", birth_date="1965-01-15")
    outcome = grant_pension(
        actor=huancui_clerk, person=retiree, category="male", index=Decimal("1"), months=300
    )
    return approved(outcome, city_reviewer)


def _period(entitlement: Entitlement) -> str:
    return f"{entitlement.start_date:%Y-%m}"


def _suspend(entitlement: Entitlement, clerk: Any, reviewer: Any) -> Entitlement:
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="entitlement", record=entitlement,
                         values={"status": "suspended"}).held  # fmt: skip
    assert held is not None
    review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    return Entitlement.objects.get(pk=entitlement.pk)


def test_a_suspended_pension_put_back_under_an_inserted_revision_is_refused(
    pension: Entitlement, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    active = Revision.objects.get(entity="entitlement", record_id=pension.pk, version=pension.version)
    suspended = _suspend(pension, huancui_clerk, city_reviewer)
    latest = Revision.objects.get(entity="entitlement", record_id=pension.pk, version=suspended.version)
    _raw("UPDATE business_entitlement SET status = 'active', version = %s, row_digest = %s WHERE id = %s",
         [active.version, active.digest, pension.pk])  # fmt: skip
    _insert_revision(active, record_id=pension.pk, version=suspended.version + 1, prev_digest=latest.digest)

    assert _refused(huancui_clerk, approver, _period(pension)) == {
        "object_type": "entitlement", "reason": "history", "record_id": pension.pk,
    }  # fmt: skip
    assert not LedgerEntry.objects.filter(person_id=pension.person_id, kind="benefit").exists()
    assert not verify_store().ok


def test_the_control_a_suspended_pension_is_not_paid(
    pension: Entitlement, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    _suspend(pension, huancui_clerk, city_reviewer)
    run_through(huancui_clerk, approver, "pension", _period(pension))
    assert not LedgerEntry.objects.filter(person_id=pension.person_id, kind="benefit").exists()


@pytest.mark.parametrize("with_revisions", [False, True])
def test_an_entitlement_copied_under_a_new_id_is_refused(
    pension: Entitlement, huancui_clerk: Any, approver: Any, with_revisions: bool
) -> None:
    """A second pension row for the same person (its digest the genuine one's): without history, or with the
    genuine record's revisions copied to the new id — the digest covers the record's identity (its uid)."""
    columns = [f.column for f in Entitlement._meta.concrete_fields if f.column not in ("id", "uid")]
    _raw(
        f"INSERT INTO business_entitlement (uid, {', '.join(columns)}) "  # noqa: S608
        f"SELECT %s, {', '.join(columns)} FROM business_entitlement WHERE id = %s",
        [_uid(), pension.pk],
    )
    copy = Entitlement.objects.exclude(pk=pension.pk).get(person_id=pension.person_id)
    if with_revisions:
        for revision in Revision.objects.filter(entity="entitlement", record_id=pension.pk).order_by(
            "version"
        ):
            _insert_revision(
                revision, record_id=copy.pk, version=revision.version, prev_digest=revision.prev_digest
            )
    alert = _refused(huancui_clerk, approver, _period(pension))
    assert alert["object_type"] == "entitlement" and alert["record_id"] == copy.pk
    assert alert["reason"] == ("digest" if with_revisions else "history")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("monthly_amount", "9999.00"),
        ("kind", "unemployment"),
        ("start_date", "2020-01-01"),
        ("person_id", None),
    ],
)
def test_an_entitlement_changed_in_sql_is_refused(
    pension: Entitlement, huancui_clerk: Any, approver: Any, make_person: Any, column: str, value: Any
) -> None:
    if column == "person_id":
        value = make_person(
            id_number=id_number("37100219600303003"), name="李他人", birth_date="1960-03-03"
        ).pk
    _raw(f"UPDATE business_entitlement SET {column} = %s WHERE id = %s", [value, pension.pk])  # noqa: S608
    assert _refused(huancui_clerk, approver, _period(pension)) == {
        "object_type": "entitlement", "reason": "digest", "record_id": pension.pk,
    }  # fmt: skip


@pytest.mark.parametrize("status", ["suspended", "ended"])
def test_an_active_entitlement_moved_out_of_the_run_in_sql_is_refused(
    pension: Entitlement, huancui_clerk: Any, approver: Any, status: str
) -> None:
    _raw("UPDATE business_entitlement SET status = %s WHERE id = %s", [status, pension.pk])
    assert _refused(huancui_clerk, approver, _period(pension)) == {
        "object_type": "entitlement", "reason": "missing", "record_id": pension.pk,
    }  # fmt: skip


def test_a_suspended_entitlement_made_active_in_sql_is_refused(
    pension: Entitlement, huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    _suspend(pension, huancui_clerk, city_reviewer)
    _raw("UPDATE business_entitlement SET status = 'active' WHERE id = %s", [pension.pk])
    assert _refused(huancui_clerk, approver, _period(pension)) == {
        "object_type": "entitlement", "reason": "digest", "record_id": pension.pk,
    }  # fmt: skip


def test_a_registered_death_deleted_in_sql_is_refused(
    pension: Entitlement, huancui_clerk: Any, approver: Any
) -> None:
    death = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                          values={"person_id": pension.person_id, "date_of_death": "2025-01-20",
                                  "source": "hospital"})  # fmt: skip
    record = death.record or Death.objects.filter(person_id=pension.person_id).first()
    if record is None:  # held for review: the run has nothing to miss yet
        pytest.skip("a death is held for review in this configuration")
    _raw("DELETE FROM business_death WHERE id = %s", [record.pk])
    assert _refused(huancui_clerk, approver, _period(pension)) == {
        "object_type": "death", "reason": "missing", "record_id": record.pk,
    }  # fmt: skip


def test_a_one_time_grant_made_to_look_paid_in_sql_is_named_by_verify(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, city_reviewer: Any
) -> None:
    """The ledger takes inserts: an entry inserted in SQL that looks like a disability grant's payment has the
    run skip the grant (a benefit withheld, not more paid); no run's Merkle root covers the entry, and verify
    names it."""
    from sidms.business.benefits import grant_disability_grant

    employee = insured["employee"]
    first = approved(grant_disability_grant(actor=huancui_clerk, person=employee, on=date(2025, 6, 10), grade=8,
                                            own_wage=Decimal("6500.00"), injured=date(2025, 3, 3)), city_reviewer)  # fmt: skip
    run_through(huancui_clerk, approver, "pension", "2025-06")
    paid = LedgerEntry.objects.get(kind="benefit_once", person=employee)
    assert paid.entry_date == first.start_date
    assert verify_store().ok
    later = approved(grant_disability_grant(actor=huancui_clerk, person=employee, on=date(2026, 2, 3), grade=9,
                                            own_wage=Decimal("6500.00"), injured=date(2025, 3, 3)), city_reviewer)  # fmt: skip
    columns = [f.column for f in LedgerEntry._meta.concrete_fields if f.column not in ("id", "uid")]
    values = {"entry_date": later.start_date.isoformat(), "period": f"{later.start_date:%Y-%m}"}
    select = ", ".join("%s" if c in values else c for c in columns)
    _raw(
        f"INSERT INTO business_ledgerentry (uid, {', '.join(columns)}) SELECT %s, {select} "  # noqa: S608
        "FROM business_ledgerentry WHERE id = %s",
        [_uid(), *[values[c] for c in columns if c in values], paid.pk],
    )
    run_through(huancui_clerk, approver, "pension", "2026-02")
    assert (
        LedgerEntry.objects.filter(kind="benefit_once", person=employee).count() == 2
    )  # the forged one only
    assert not verify_store().ok


def test_a_reemployment_deleted_and_hidden_by_an_inserted_revision_is_refused(
    reemployed: Any,
    huancui_clerk: Any,
    approver: Any,
) -> None:
    enrolment = PersonEnrolment.objects.get(person=reemployed, insurance="210")
    latest = Revision.objects.filter(entity="person_enrolment", record_id=enrolment.pk).order_by("-version")[
        0
    ]
    other = PersonEnrolment.objects.get(person=reemployed, insurance="110")
    elsewhere = Revision.objects.filter(entity="person_enrolment", record_id=other.pk).order_by("-version")[0]
    _raw("DELETE FROM business_personenrolment WHERE id = %s", [enrolment.pk])
    _insert_revision(elsewhere, record_id=enrolment.pk, version=latest.version + 1, prev_digest=latest.digest)
    assert not verify_store().ok  # evident to verify
    # A record with no row is missing, whatever its latest revision says (no pipeline deletes a record).
    assert _refused(huancui_clerk, approver, "2026-02") == {
        "object_type": "person_enrolment", "reason": "missing", "record_id": enrolment.pk,
    }  # fmt: skip
