"""Attack round 8 as a database administrator on what the runs read: a base declaration lowered (or raised) in
SQL before the month is assessed.

``sidms audit verify`` named the declaration (its live row no longer matched its latest revision), so the act
was evident (R20); but the assessment read the declarations as they stood and vouched for the entries it
computed from the altered base with its Merkle root. The pension run already refused an entitlement altered
the same way (attack round 6).

Now every run reads the registry rows it computes from through ``changes.inputs.RunInputs``: each row's keyed
digest must match its content and be its record's latest revision's, and no record whose latest revision is
in the run's selection may be missing from it. The run is refused with an integrity alert naming the record,
writes nothing, and the alert is an audit event. The tests below go through what a database administrator
can do to each input (a value altered, a row inserted without history, deleted, moved out of the selection,
a revision rewritten to match the row, a record rolled back with its latest revision deleted: the latest
write event about the record names the later version)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from sidms.audit.models import AuditEvent
from sidms.business.benefits import grant_disability_allowance
from sidms.business.ledger import run_through
from sidms.business.models import (
    AssessmentRun,
    BaseDeclaration,
    EntryKind,
    LedgerEntry,
    PersonEnrolment,
    RunStatus,
    UnitEnrolment,
)
from sidms.business.parameters import parameter_propose
from sidms.changes.models import Channel, Revision
from sidms.changes.services import review_decide, submit_change
from sidms.changes.verify import verify_store
from sidms.core.errors import IntegrityAlert
from sidms.registry.models import Person
from tests.audit.test_tampering import _raw, _unguarded
from tests.business.conftest import approved

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("R2.2")]


def refused(
    clerk: Any, approver: Any, *, kind: str = "assessment", period: str = "2025-03"
) -> dict[str, Any]:
    """The run is refused with an integrity alert, writes no entry and stays approved; returns the detail of
    the alert's audit event (written after the rollback)."""
    entries = LedgerEntry.objects.count()
    with pytest.raises(IntegrityAlert):
        run_through(clerk, approver, kind, period)
    assert LedgerEntry.objects.count() == entries
    assert AssessmentRun.objects.get(kind=kind, period=period).status == RunStatus.APPROVED
    alert = AuditEvent.objects.filter(action="integrity.alert").order_by("-seq").first()
    assert alert is not None
    payload = json.loads(alert.payload)
    return {"object_type": payload["object_type"], **payload["detail"]}


def test_a_declaration_lowered_in_sql_is_not_assessed(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    employee = insured["employee"]
    declaration = BaseDeclaration.objects.get(person=employee, year="2025")
    _raw("UPDATE business_basedeclaration SET base = %s WHERE id = %s", ["4000.00", declaration.pk])
    assert not verify_store().ok  # evident to verify
    alert = refused(huancui_clerk, approver)
    assert alert == {"object_type": "base_declaration", "reason": "digest", "record_id": declaration.pk}
    assert not LedgerEntry.objects.filter(person=employee, kind=EntryKind.ASSESSED).exists()


def test_an_untouched_store_is_assessed_as_before(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    run = run_through(huancui_clerk, approver, "assessment", "2025-03")
    employee = LedgerEntry.objects.get(run=run, person=insured["employee"], insurance="110")
    assert employee.base == Decimal("6123.45")
    assert (
        run.entries == LedgerEntry.objects.filter(run=run).count() == 5
    )  # four for the employee, one flexible
    assert verify_store().ok


def test_an_enrolment_altered_in_sql_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    # Moved to another unit (whose declaration would not apply, so the floor would): still selected, altered.
    enrolment = PersonEnrolment.objects.get(person=insured["employee"], insurance="310")
    _raw("UPDATE business_personenrolment SET start_date = %s WHERE id = %s", ["2020-06-01", enrolment.pk])
    assert refused(huancui_clerk, approver) == {
        "object_type": "person_enrolment", "reason": "digest", "record_id": enrolment.pk,
    }  # fmt: skip


def test_an_enrolment_terminated_in_sql_is_named_though_the_run_no_longer_selects_it(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    enrolment = PersonEnrolment.objects.get(person=insured["employee"], insurance="110")
    _raw("UPDATE business_personenrolment SET status = 'terminated' WHERE id = %s", [enrolment.pk])
    assert refused(huancui_clerk, approver) == {
        "object_type": "person_enrolment", "reason": "missing", "record_id": enrolment.pk,
    }  # fmt: skip


def test_a_declaration_deleted_in_sql_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    # Without it the employee would be assessed at the year's floor.
    declaration = BaseDeclaration.objects.get(person=insured["employee"], year="2025")
    _raw("DELETE FROM business_basedeclaration WHERE id = %s", [declaration.pk])
    assert refused(huancui_clerk, approver) == {
        "object_type": "base_declaration", "reason": "missing", "record_id": declaration.pk,
    }  # fmt: skip


def test_a_declaration_moved_to_another_year_in_sql_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    declaration = BaseDeclaration.objects.get(person=insured["employee"], year="2025")
    _raw("UPDATE business_basedeclaration SET year = '2024' WHERE id = %s", [declaration.pk])
    assert refused(huancui_clerk, approver) == {
        "object_type": "base_declaration", "reason": "missing", "record_id": declaration.pk,
    }  # fmt: skip


def test_a_declaration_inserted_in_sql_without_history_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    # A second 2025 declaration of the flexible worker (no unit: the key does not hold two NULLs apart), with
    # a lower base and the digest of the genuine one copied: a later row, so the one the run would use.
    genuine = BaseDeclaration.objects.get(person=insured["flexible"], year="2025")
    _raw(
        "INSERT INTO business_basedeclaration (uid, version, row_digest, cipher_mac, created_at, updated_at, "
        "person_id, unit_id, year, declared_wage, base) SELECT %s, version, row_digest, cipher_mac, created_at, "
        "updated_at, person_id, unit_id, year, '4000.00', '4000.00' FROM business_basedeclaration WHERE id = %s",
        [uuid.uuid4().hex if connection.vendor == "sqlite" else str(uuid.uuid4()), genuine.pk],
    )
    forged = (
        BaseDeclaration.objects.filter(person=insured["flexible"], year="2025").exclude(pk=genuine.pk).get()
    )
    assert refused(huancui_clerk, approver) == {
        "object_type": "base_declaration", "reason": "history", "record_id": forged.pk,
    }  # fmt: skip


def test_a_declaration_and_its_revision_rewritten_to_match_are_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """With the revisions' guard dropped, the latest revision's state says the lowered base too; the row's
    digest, a MAC over what the pipeline wrote, is unchanged (nobody without the key can compute another)."""
    declaration = BaseDeclaration.objects.get(person=insured["employee"], year="2025")
    restore = _unguarded("changes_revision")
    if connection.vendor == "postgresql":
        rewrite = "UPDATE changes_revision SET state = jsonb_set(state, '{base}', '\"4000.00\"')"
    else:
        rewrite = "UPDATE changes_revision SET state = json_set(state, '$.base', '4000.00')"
    _raw(f"{rewrite} WHERE entity = 'base_declaration' AND record_id = %s", [declaration.pk])
    restore()
    _raw("UPDATE business_basedeclaration SET base = '4000.00' WHERE id = %s", [declaration.pk])
    assert (
        Revision.objects.get(entity="base_declaration", record_id=declaration.pk).state["base"] == "4000.00"
    )
    assert refused(huancui_clerk, approver) == {
        "object_type": "base_declaration", "reason": "digest", "record_id": declaration.pk,
    }  # fmt: skip


def test_an_old_version_of_a_declaration_put_back_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """The row of version 1 (its digest genuine) put back over a correction: not the latest revision."""
    declaration = BaseDeclaration.objects.get(person=insured["employee"], year="2025")
    first = {name: getattr(declaration, name) for name in ("version", "row_digest", "declared_wage", "base")}
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="base_declaration", record=declaration,
                  values={"declared_wage": "7000.00", "base": "7000.00"})  # fmt: skip
    assert BaseDeclaration.objects.get(pk=declaration.pk).version == 2
    _raw(
        "UPDATE business_basedeclaration SET version = %s, row_digest = %s, declared_wage = %s, base = %s "
        "WHERE id = %s",
        [*first.values(), declaration.pk],
    )
    assert refused(huancui_clerk, approver) == {
        "object_type": "base_declaration", "reason": "history", "record_id": declaration.pk,
    }  # fmt: skip


def test_a_declaration_rolled_back_with_its_latest_revision_deleted_is_refused(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    declaration = BaseDeclaration.objects.get(person=insured["employee"], year="2025")
    first = {name: getattr(declaration, name) for name in ("version", "row_digest", "declared_wage", "base")}
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="base_declaration", record=declaration,
                  values={"declared_wage": "7000.00", "base": "7000.00"})  # fmt: skip
    restore = _unguarded("changes_revision")
    _raw("DELETE FROM changes_revision WHERE entity = 'base_declaration' AND record_id = %s AND version = 2",
         [declaration.pk])  # fmt: skip
    restore()
    _raw(
        "UPDATE business_basedeclaration SET version = %s, row_digest = %s, declared_wage = %s, base = %s "
        "WHERE id = %s",
        [*first.values(), declaration.pk],
    )
    assert not verify_store().ok
    # The latest write event about the declaration names version 2: the row at version 1 was rolled back.
    assert refused(huancui_clerk, approver) == {
        "object_type": "base_declaration", "reason": "rolled_back", "record_id": declaration.pk,
    }  # fmt: skip
    # So is a change of it (the pipeline's per-row check reads the same event).
    with pytest.raises(IntegrityAlert):
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="base_declaration",
                      record=BaseDeclaration.objects.get(pk=declaration.pk), values={"declared_wage": "6500.00", "base": "6500.00"})  # fmt: skip


def test_a_work_injury_tier_lowered_in_sql_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    enrolment = UnitEnrolment.objects.get(unit=insured["unit"], insurance="410")
    _raw("UPDATE business_unitenrolment SET tier = '80' WHERE id = %s", [enrolment.pk])
    assert refused(huancui_clerk, approver) == {
        "object_type": "unit_enrolment", "reason": "digest", "record_id": enrolment.pk,
    }  # fmt: skip


def test_a_death_inserted_in_sql_is_named(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> None:
    # A registered death ends the assessment: one written in SQL would spare the unit its contributions.
    _raw(
        "INSERT INTO business_death (uid, version, row_digest, cipher_mac, created_at, updated_at, person_id, "
        "date_of_death, source) VALUES (%s, 1, %s, '', %s, %s, %s, '2025-01-15', 'x')",
        [uuid.uuid4().hex if connection.vendor == "sqlite" else str(uuid.uuid4()), "0" * 64,
         "2025-01-16 00:00:00", "2025-01-16 00:00:00", insured["employee"].pk],
    )  # fmt: skip
    alert = refused(huancui_clerk, approver)
    assert alert["object_type"] == "death" and alert["reason"] == "history"


def test_a_transferred_month_forged_in_sql_is_named(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    """A month 'transferred in from another region' is not assessed here: a copy of an entry turned into
    one, in SQL, would spare the employee's pension of March."""
    run_through(huancui_clerk, approver, "assessment", "2025-02")
    entry = LedgerEntry.objects.get(person=insured["employee"], insurance="110", period="2025-02")
    columns = [
        f.column for f in LedgerEntry._meta.concrete_fields if f.column not in ("id", "uid", "period", "kind")
    ]
    listed = ", ".join(columns)
    _raw(
        f"INSERT INTO business_ledgerentry (uid, period, kind, {listed}) "  # noqa: S608
        f"SELECT %s, '2025-03', 'transferred', {listed} FROM business_ledgerentry WHERE id = %s",
        [uuid.uuid4().hex if connection.vendor == "sqlite" else str(uuid.uuid4()), entry.pk],
    )
    alert = refused(huancui_clerk, approver)
    assert alert["object_type"] == "ledger_entry" and alert["reason"] == "digest"


def test_a_rate_altered_in_sql_is_named(insured: dict[str, Any], huancui_clerk: Any, approver: Any) -> None:
    restore = _unguarded("business_parameterversion")
    _raw("UPDATE business_parameterversion SET value = %s WHERE key = 'rate.pension.unit'", ['"0.10"'])
    restore()
    alert = refused(huancui_clerk, approver)
    assert alert["object_type"] == "parameter" and alert["reason"] == "parameter"


def test_a_death_deleted_in_sql_is_named_by_the_benefit_run(
    insured: dict[str, Any], huancui_clerk: Any, city_reviewer: Any, approver: Any
) -> None:
    """Deleted, the death would let the monthly run pay the allowance on after it."""
    employee = insured["employee"]
    approved(grant_disability_allowance(actor=huancui_clerk, person=employee, on=date(2025, 6, 10), grade=3,
                                        own_wage=Decimal("6000"), category="male", injured=date(2024, 3, 3)),
             city_reviewer)  # fmt: skip
    death = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                          values={"person_id": employee.pk, "date_of_death": "2025-07-10", "source": "公安户籍注销"}).record  # fmt: skip
    _raw("DELETE FROM business_death WHERE id = %s", [death.pk])
    assert refused(huancui_clerk, approver, kind="pension", period="2025-08") == {
        "object_type": "death", "reason": "missing", "record_id": death.pk,
    }  # fmt: skip


@pytest.fixture
def regional(city_admin: Any, second_admin: Any) -> None:
    """乳山 with a pension rate of its own: a person's district now decides the rates."""
    held = parameter_propose(
        actor=city_admin, key="rate.pension.unit", region="371083", value="0.15", effective_from=date(2020, 1, 1),
        source="乳山市通知（示例）", reason="乳山费率", status="U",
    )  # fmt: skip
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)


@pytest.mark.usefixtures("regional")
def test_with_districts_of_their_own_the_districts_are_read_against_history(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any
) -> None:
    run = run_through(huancui_clerk, approver, "assessment", "2025-03")
    assert LedgerEntry.objects.get(run=run, person=insured["employee"], insurance="110").unit_rate == Decimal(
        "0.16"
    )
    employee: Person = insured["employee"]
    _raw("UPDATE registry_person SET district_id = '371083' WHERE id = %s", [employee.pk])
    alert = refused(huancui_clerk, approver, period="2025-04")
    assert alert == {"object_type": "person", "reason": "digest", "record_id": employee.pk}
    assert AuditEvent.objects.filter(action="integrity.alert", object_id=employee.person_no).exists()
    # The year-end interest reads every person's district too.
    alert = refused(huancui_clerk, approver, kind="interest", period="2025")
    assert alert == {"object_type": "person", "reason": "digest", "record_id": employee.pk}
