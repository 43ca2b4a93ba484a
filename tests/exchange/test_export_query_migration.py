"""Migration exchange 0003 (attack round 17): the search texts of the exports stored before are encrypted, bound
to their requests, and each request keeps its seal and the step its latest audit event recorded (the seal
covers the text, not its ciphertext); reversed, the texts are decrypted back into a plain column.

Run on PostgreSQL, whose schema changes are transactional (the test's transaction undoes them): SQLite's
schema editor refuses to work inside the test's transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from sidms.audit.verify import Report
from sidms.continuity.base import verify_sealed
from sidms.exchange import exports
from sidms.exchange.models import ExportRequest
from tests.exchange.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10"), pytest.mark.req("R8")]

WANG = id_number(11)


def migrate_exchange_to(name: str) -> None:
    MigrationExecutor(connection).migrate([("exchange", name)])


def raw_queries() -> dict[int, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, query FROM exchange_exportrequest")
        return dict(cursor.fetchall())


def test_the_search_texts_stored_before_are_encrypted_and_every_request_still_verifies(
    make_person: Any, huancui_clerk: Any, make_staff: Any, set_parameter: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's schema editor does not run inside the test's transaction")
    wang = make_person(id_number=WANG, name="王建国")
    make_person(id_number=id_number(13), name="李红")
    approver = make_staff("export_approver", posts=("approver",), district="371000")
    set_parameter("export.approval_rows", 0)
    by_number = exports.request_export(
        actor=huancui_clerk, entity="person", purpose="核对", query=WANG, fmt="csv"
    )
    everyone = exports.request_export(actor=huancui_clerk, entity="person", purpose="全部", fmt="csv")
    exports.decide_export(actor=approver, export_id=by_number.request.pk, approve=True)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks on the table to be altered

    migrate_exchange_to("0002_withdrawn_status")  # as stored before: the text in plain
    assert raw_queries() == {by_number.request.pk: WANG, everyone.request.pk: ""}

    migrate_exchange_to("0003_export_query_encrypted")
    stored = raw_queries()
    assert stored[everyone.request.pk] is None
    assert WANG.encode() not in bytes(stored[by_number.request.pk])
    verify_sealed(Report(), {})  # every seal and step as its latest audit event recorded them
    assert ExportRequest.objects.get(pk=by_number.request.pk).query == WANG
    done = exports.download_export(actor=huancui_clerk, export_id=by_number.request.pk)
    assert done.data is not None and wang.person_no in done.data.decode("utf-8-sig")
