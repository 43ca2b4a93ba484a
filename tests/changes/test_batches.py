"""Batch changes and imports (R9.3): a city-level approval authorises exactly one bounded execution —
these rows, this file, within this window, once — and execution outside it is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import translation
from freezegun import freeze_time

from sidms.audit.models import AuditEvent
from sidms.changes.batches import (
    ImportRefused,
    batch_apply_import,
    batch_apply_update,
    batch_decide,
    batch_execute,
)
from sidms.changes.models import BatchApplication, BatchStatus, Method, Revision
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from sidms.core.fields import blind_index
from sidms.registry.models import Person
from tests.changes.conftest import person_row
from tests.conftest import luhn_complete

pytestmark = pytest.mark.django_db

BEIJING = "+08:00"


@pytest.fixture
def city_approver(importers: tuple[Any, Any]) -> Any:
    return importers[1]


@pytest.fixture
def flexible_workers(load: Callable[..., list[Any]]) -> list[Any]:
    """Three flexible workers of 环翠区, plus an employee there and a flexible worker of 乳山市, whom a
    环翠区 batch on flexible workers must not touch."""
    return load(
        "person",
        [
            person_row(1, category="flexible"),
            person_row(2, category="flexible"),
            person_row(3, category="flexible"),
            person_row(4, category="employee"),
            person_row(5, category="flexible", district="371083"),
        ],
    )


def categories() -> dict[str, str]:
    return dict(Person.objects.values_list("person_no", "category"))


def apply_reclassification(applicant: Any) -> BatchApplication:
    return batch_apply_update(
        actor=applicant, entity="person", selection={"category": "flexible"}, change={"category": "resident"},
        reason="灵活就业人员转为城乡居民（市政策调整）",
    )  # fmt: skip


@pytest.mark.req("R9.3")
def test_an_update_batch_is_approved_at_city_level_and_changes_exactly_the_authorised_rows(  # type: ignore[no-untyped-def]
    huancui_clerk, city_approver, flexible_workers
) -> None:
    batch = apply_reclassification(huancui_clerk)
    assert batch.row_count == 3 and batch.selection == {"category": "flexible", "district_id": "371002"}
    before = categories()

    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    assert categories() == before  # approval alone changes nothing
    done = batch_execute(actor=huancui_clerk, batch_id=batch.pk)

    assert done.rows == 3
    after = categories()
    changed = {no for no in after if after[no] != before[no]}
    assert changed == {"R37100200001", "R37100200002", "R37100200003"}
    assert set(after[no] for no in changed) == {"resident"}
    revisions = Revision.objects.filter(reference=f"BA{batch.pk}")
    assert revisions.count() == 3 and set(revisions.values_list("method", flat=True)) == {Method.BATCH}
    assert all(r.changes == {"category": ["flexible", "resident"]} and r.version == 2 for r in revisions)
    event = AuditEvent.objects.get(action="batch.execute", object_id=str(batch.pk))
    assert json.loads(event.payload)["detail"]["rows"] == 3
    assert Person.objects.get(person_no="R37100200001").version == 2


@pytest.mark.req("R9.3")
def test_a_district_approver_may_not_approve_a_batch(huancui_clerk, make_staff, flexible_workers) -> None:  # type: ignore[no-untyped-def]
    batch = apply_reclassification(huancui_clerk)
    district_approver = make_staff("approver_hc", posts=("approver",), district="371002")

    with translation.override("zh-hans"), pytest.raises(NotPermitted, match="市级"):
        batch_decide(actor=district_approver, batch_id=batch.pk, approve=True)

    assert BatchApplication.objects.get(pk=batch.pk).status == BatchStatus.SUBMITTED
    with pytest.raises(NotPermitted):
        batch_execute(actor=huancui_clerk, batch_id=batch.pk)  # not approved: nothing may run
    assert set(categories().values()) == {"flexible", "employee"}


@pytest.mark.req("R9.3")
def test_the_applicant_may_not_approve_and_the_approver_may_not_execute(
    make_staff, city_approver, flexible_workers
) -> None:  # type: ignore[no-untyped-def]
    both = make_staff("info_and_approver", posts=("info_centre", "approver"), district="371000")
    own = apply_reclassification(both)
    with pytest.raises(SeparationOfDuties):
        batch_decide(actor=both, batch_id=own.pk, approve=True)
    assert BatchApplication.objects.get(pk=own.pk).status == BatchStatus.SUBMITTED

    other = make_staff("info_city", posts=("info_centre",), district="371000")
    batch_decide(actor=city_approver, batch_id=own.pk, approve=False, reason="重复申请")
    theirs = apply_reclassification(other)
    batch_decide(actor=both, batch_id=theirs.pk, approve=True)
    with pytest.raises(SeparationOfDuties):
        batch_execute(actor=both, batch_id=theirs.pk)

    assert BatchApplication.objects.get(pk=theirs.pk).status == BatchStatus.APPROVED
    assert "resident" not in categories().values()
    reasons = [
        json.loads(e.payload)["detail"]["reason"] for e in AuditEvent.objects.filter(action="batch.denied")
    ]
    assert sorted(reasons) == ["approver_executes", "own_application"]


@pytest.mark.req("R9.3")
def test_an_approved_batch_runs_only_once(huancui_clerk, city_approver, flexible_workers) -> None:  # type: ignore[no-untyped-def]
    batch = apply_reclassification(huancui_clerk)
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    batch_execute(actor=huancui_clerk, batch_id=batch.pk)

    with translation.override("zh-hans"), pytest.raises(NotPermitted, match="只允许执行一次"):
        batch_execute(actor=huancui_clerk, batch_id=batch.pk)

    assert Revision.objects.filter(reference=f"BA{batch.pk}").count() == 3
    assert AuditEvent.objects.filter(action="batch.execute", object_id=str(batch.pk)).count() == 1
    assert Person.objects.get(person_no="R37100200001").version == 2


@pytest.mark.req("R9.3")
def test_an_execution_after_the_approved_window_is_refused(huancui_clerk, city_approver, load) -> None:  # type: ignore[no-untyped-def]
    approved_at = datetime.fromisoformat(f"2026-03-02T09:00:00{BEIJING}")
    with freeze_time(approved_at) as clock:
        load("person", [person_row(1, category="flexible")])
        batch = apply_reclassification(huancui_clerk)
        batch_decide(actor=city_approver, batch_id=batch.pk, approve=True, window=timedelta(hours=8))
        clock.move_to(approved_at + timedelta(hours=8, minutes=1))

        with translation.override("zh-hans"), pytest.raises(NotPermitted, match="时间窗口"):
            batch_execute(actor=huancui_clerk, batch_id=batch.pk)

    assert categories() == {"R37100200001": "flexible"}
    assert BatchApplication.objects.get(pk=batch.pk).status == BatchStatus.APPROVED


@pytest.mark.req("R9.3")
def test_an_execution_is_refused_when_the_selection_no_longer_matches_the_authorised_count(  # type: ignore[no-untyped-def]
    huancui_clerk, city_approver, flexible_workers, load
) -> None:
    batch = apply_reclassification(huancui_clerk)
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    load("person", [person_row(6, category="flexible")])  # a fourth flexible worker arrives meanwhile
    before = categories()

    with translation.override("zh-hans"), pytest.raises(NotPermitted, match=r"4 条.*3 条"):
        batch_execute(actor=huancui_clerk, batch_id=batch.pk)

    assert categories() == before
    assert not Revision.objects.filter(reference=f"BA{batch.pk}").exists()


@pytest.mark.req("R9.3")
def test_a_batch_that_sets_an_encrypted_field_keeps_its_lookup_index_in_step(
    huancui_clerk, city_approver, flexible_workers
) -> None:  # type: ignore[no-untyped-def]
    # E.g. the agency's partner bank merges and every flexible worker gets the new collective account.
    account = luhn_complete("622848000000000000")
    batch = batch_apply_update(
        actor=huancui_clerk, entity="person", selection={"category": "flexible"},
        change={"bank_account": account}, reason="代发银行变更",
    )  # fmt: skip
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    batch_execute(actor=huancui_clerk, batch_id=batch.pk)

    found = Person.objects.filter(bank_account_index=blind_index("person.bank_account", account, "digits"))
    assert sorted(found.values_list("person_no", flat=True)) == [
        "R37100200001",
        "R37100200002",
        "R37100200003",
    ]
    assert {p.bank_account for p in found} == {account}


# --------------------------------------------------------------------------------------------------------
# Imports


@pytest.mark.req("R9.3")
def test_an_import_whose_rows_differ_from_the_approved_file_is_refused(importers) -> None:  # type: ignore[no-untyped-def]
    operator, approver = importers
    approved = [person_row(1), person_row(2)]
    batch = batch_apply_import(actor=operator, entity="person", rows=approved, reason="新参保人员")
    batch_decide(actor=approver, batch_id=batch.pk, approve=True)
    altered = [person_row(1), person_row(2, name="钱改名")]

    with translation.override("zh-hans"), pytest.raises(NotPermitted, match="不一致"):
        batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: altered)
    with pytest.raises(NotPermitted):  # one row more is no better
        batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: [*approved, person_row(3)])

    assert not Person.objects.exists()
    batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: approved)  # the approved file still runs
    assert Person.objects.count() == 2


@pytest.mark.req("R6.1")
@pytest.mark.req("R9.3")
def test_an_import_with_an_invalid_row_is_refused_whole_naming_the_row_and_reason(importers) -> None:  # type: ignore[no-untyped-def]
    operator, approver = importers
    rows = [person_row(1), person_row(2, phone="1234567"), person_row(3)]
    batch = batch_apply_import(actor=operator, entity="person", rows=rows, reason="新参保人员")
    batch_decide(actor=approver, batch_id=batch.pk, approve=True)

    with translation.override("zh-hans"), pytest.raises(ImportRefused) as refused:
        batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: rows)

    assert list(refused.value.rows) == [2] and list(refused.value.rows[2]) == ["phone"]
    with translation.override("zh-hans"):
        report = str(refused.value)
    assert "第 2 行" in report and "phone" in report and "电话号码无效" in report and "整批未导入" in report
    assert not Person.objects.exists()
    assert not Revision.objects.filter(reference=f"BA{batch.pk}").exists()
    assert BatchApplication.objects.get(pk=batch.pk).status == BatchStatus.APPROVED


@pytest.mark.req("R9.3")
@pytest.mark.req("R13")
def test_a_legacy_import_keeps_a_nonconforming_value_as_found_and_notes_it(importers) -> None:  # type: ignore[no-untyped-def]
    operator, approver = importers
    rows = [person_row(1, phone="1234567")]
    batch = batch_apply_import(
        actor=operator, entity="person", rows=rows, reason="旧系统数据迁移", legacy=True
    )
    batch_decide(actor=approver, batch_id=batch.pk, approve=True)

    batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: rows)

    person = Person.objects.get(person_no="R37100200001")
    assert person.phone == "1234567"
    revision = Revision.objects.get(entity="person", record_id=person.pk)
    assert revision.method == Method.IMPORT
    assert revision.notes == {"nonconforming": {"phone": "invalid"}}


@pytest.mark.req("R9.3")
def test_an_import_batch_needs_a_reason_and_a_post_that_may_apply(importers, huancui_reviewer) -> None:  # type: ignore[no-untyped-def]
    operator, _ = importers
    with pytest.raises(ChangeRefused):
        batch_apply_import(actor=operator, entity="person", rows=[person_row(1)], reason="")
    with pytest.raises(NotPermitted):
        batch_apply_import(actor=huancui_reviewer, entity="person", rows=[person_row(1)], reason="新参保人员")
    assert not BatchApplication.objects.exists()


@pytest.mark.req("R9.3")
def test_the_same_number_of_other_records_is_not_what_was_authorised(  # type: ignore[no-untyped-def]
    huancui_clerk, city_approver, flexible_workers
) -> None:
    from django.db import connection

    batch = apply_reclassification(huancui_clerk)
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    # One flexible worker leaves the selection and the employee joins it: still three, but other people.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_person SET category = 'employee' WHERE person_no = 'R37100200001'")
        cursor.execute("UPDATE registry_person SET category = 'flexible' WHERE person_no = 'R37100200004'")
    with pytest.raises(NotPermitted):
        batch_execute(actor=huancui_clerk, batch_id=batch.pk)
    assert not Revision.objects.filter(reference=f"BA{batch.pk}").exists()
    assert AuditEvent.objects.filter(action="batch.denied", object_id=str(batch.pk)).exists()


@pytest.mark.req("R20")
def test_a_batch_whose_change_is_rewritten_after_approval_is_not_executed(  # type: ignore[no-untyped-def]
    huancui_clerk, city_approver, flexible_workers
) -> None:
    from django.db import connection

    from sidms.changes.verify import verify_store

    batch = apply_reclassification(huancui_clerk)
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE changes_batchapplication SET change = %s WHERE id = %s",
            ['{"status": "closed"}', batch.pk],
        )
    with pytest.raises(NotPermitted):
        batch_execute(actor=huancui_clerk, batch_id=batch.pk)
    assert set(Person.objects.values_list("status", flat=True)) == {"active"}
    report = verify_store()
    assert report.problem is not None and report.problem.kind == "workflow"


# --------------------------------------------------------------------------------------------------------
# What a batch may select and change is the entity's declaration, enforced by the service itself


@pytest.mark.req("R9.3")
@pytest.mark.parametrize(
    ("selection", "change"),
    [
        ({"category": "flexible"}, {"id_number": "371002198001010019"}),  # an identity field
        ({"category": "flexible"}, {"name": "张三"}),  # an identity field
        ({"category": "flexible"}, {"birth_date": "1980-01-01"}),  # an identity field
        ({"bank_account": "6217000000000000001"}, {"category": "resident"}),  # select by an encrypted field
        ({"name": "赵测试"}, {"category": "resident"}),  # select by an undeclared field
        ({"category": "flexible"}, {"person_no": "3700000017"}),  # the record number
    ],
)
def test_the_service_refuses_a_batch_beyond_its_declaration(  # type: ignore[no-untyped-def]
    huancui_clerk, flexible_workers, selection, change
) -> None:
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        batch_apply_update(
            actor=huancui_clerk, entity="person", selection=selection, change=change, reason="越权试验"
        )
    assert "批量变更" in refused.value.localized()
    assert not BatchApplication.objects.filter(kind="update").exists()


def _plaintext_anywhere(text: str) -> list[str]:
    """Every table and column that holds TEXT (as text, or as UTF-8 bytes in a binary column)."""
    from django.db import connection

    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            for column in columns:
                if connection.vendor == "postgresql":
                    # bytea casts to its hex form (\x…): look for the plain text's hex too.
                    where = f'CAST("{column}" AS TEXT) LIKE %s OR CAST("{column}" AS TEXT) LIKE %s'
                    params = [f"%{text}%", f"%{text.encode().hex()}%"]
                else:
                    where = f'CAST("{column}" AS TEXT) LIKE %s'
                    params = [f"%{text}%"]
                cursor.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {where}', params)  # noqa: S608
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column}")
    return found


@pytest.mark.req("R9.3")
@pytest.mark.req("R17")
def test_after_a_batch_that_changes_a_bank_account_no_table_holds_it_in_plain_text(  # type: ignore[no-untyped-def]
    huancui_clerk, city_approver, flexible_workers
) -> None:
    account = luhn_complete("622588000012345678")
    batch = batch_apply_update(
        actor=huancui_clerk, entity="person", selection={"category": "flexible"}, change={"bank_account": account},
        reason="合作银行撤并，代发账户统一变更",
    )  # fmt: skip
    batch_decide(actor=city_approver, batch_id=batch.pk, approve=True)
    done = batch_execute(actor=huancui_clerk, batch_id=batch.pk)

    assert done.rows == 3
    changed = Person.objects.filter(bank_account_index=blind_index("person.bank_account", account, "digits"))
    assert changed.count() == 3 and all(person.bank_account == account for person in changed)
    assert _plaintext_anywhere(account) == []
    assert _plaintext_anywhere(account[-8:]) == []
    # The application holds the new value as ciphertext, bound to itself (the page shows it masked).
    stored = BatchApplication.objects.get(pk=batch.pk).change["bank_account"]
    assert set(stored) == {"enc", "idx"}
