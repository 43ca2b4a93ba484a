"""A refusal inside a transaction carries its audit event, written by ``audited_refusals`` once the refused
step has rolled back (R20). Once: two of them nested outside a transaction wrote the same integrity alert
twice; and still once when the inner one wrote it inside a transaction that the refusal then rolled back."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from sidms.audit.models import AuditEvent
from sidms.changes.services import audited_refusals, review_decide, review_recheck_registries
from sidms.core.errors import IntegrityAlert
from tests.changes.test_review import hold_id_change

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20")]


def tampered(clerk: Any, person: Any) -> Any:
    """A held change whose row was changed in SQL: its seal no longer matches, so any step on it is refused
    with an integrity alert."""
    held = hold_id_change(clerk, person)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE changes_changerequest SET note = 'x' WHERE id = %s", [held.pk])
    return held


def alerts(held: Any) -> int:
    return AuditEvent.objects.filter(action="integrity.alert", object_id=str(held.pk)).count()


def test_a_refusal_passing_two_nested_audited_blocks_is_logged_once(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any
) -> None:
    held = tampered(huancui_clerk, wang)
    with pytest.raises(IntegrityAlert) as refused, audited_refusals():
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    assert alerts(held) == 1
    assert refused.value.audit_event is not None  # still there for its catcher to read


def test_a_check_nested_in_a_service_outside_a_transaction_is_logged_once(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any, public_security: Any
) -> None:
    held = tampered(huancui_clerk, wang)
    with pytest.raises(IntegrityAlert), audited_refusals():
        review_recheck_registries(actor=huancui_reviewer, change_request_id=held.pk)
    assert alerts(held) == 1


def test_an_event_written_inside_a_step_that_rolls_back_is_written_again_by_the_outer_block(
    huancui_clerk: Any, huancui_reviewer: Any, wang: Any, public_security: Any
) -> None:
    """The inner block writes the alert inside the outer block's transaction; the refusal rolls that back, and
    the outer block writes it again: one event stands, not none."""
    held = tampered(huancui_clerk, wang)
    with pytest.raises(IntegrityAlert), audited_refusals(), transaction.atomic():
        review_recheck_registries(actor=huancui_reviewer, change_request_id=held.pk)
    assert alerts(held) == 1
