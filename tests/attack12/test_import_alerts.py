"""Attack round 12: an import whose stored file or sealed rows are not the ones applied for is refused with an
integrity alert — recorded in the audit log exactly once, whether the execution is asked for on the batch
page, through the command or by the service, and though the execution's transaction rolls back."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sidms.audit.models import AuditEvent
from sidms.core.errors import IntegrityAlert
from sidms.exchange import imports
from sidms.registry.models import Person
from tests.exchange.test_sealed_rows import _flip, applied, people

pytestmark = [pytest.mark.django_db, pytest.mark.req("R20"), pytest.mark.req("B3")]


def alerts() -> int:
    return AuditEvent.objects.filter(action="integrity.alert").count()


def _swap_file(imported: Any) -> None:
    imports._store(imported.uid, people(61))


def _flip_rows(imported: Any) -> None:
    _flip(imports._rows_path(imported.uid))


@pytest.mark.parametrize("tamper", [_swap_file, _flip_rows], ids=["stored_file", "sealed_rows"])
def test_once_through_the_service(importers: tuple[Any, Any], tamper: Any) -> None:
    imported = applied(importers, people(31))
    tamper(imported)
    with pytest.raises(IntegrityAlert):
        imports.execute_import(actor=importers[0], batch_id=imported.batch_id)
    assert Person.objects.count() == 0 and alerts() == 1


@pytest.mark.parametrize("tamper", [_swap_file, _flip_rows], ids=["stored_file", "sealed_rows"])
def test_once_through_the_batch_page(importers: tuple[Any, Any], tamper: Any, signed_in: Any) -> None:
    imported = applied(importers, people(41))
    tamper(imported)
    page = signed_in(importers[0]).post(f"/batches/{imported.batch_id}/execute/")
    assert page.status_code in (403, 409)
    assert Person.objects.count() == 0 and alerts() == 1


@pytest.mark.parametrize("tamper", [_swap_file, _flip_rows], ids=["stored_file", "sealed_rows"])
def test_once_through_the_command(importers: tuple[Any, Any], tamper: Any) -> None:
    imported = applied(importers, people(51))
    tamper(imported)
    with pytest.raises((CommandError, IntegrityAlert)):
        call_command(
            "import_file", "--execute", f"BA{imported.batch_id}", "--operator", importers[0].username
        )
    assert Person.objects.count() == 0 and alerts() == 1
