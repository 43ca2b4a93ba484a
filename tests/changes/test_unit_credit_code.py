"""One unit per 统一社会信用代码 (GB 32100) at every door (R7.3, R6.1, B3): the window's new unit and its edit
(refused at submission, and at approval when another unit took the code meanwhile), a maintenance order,
an import's execution after a clean dry run, and the database's own unique key behind them all. The refusal
names the unit holding the code only to those who may see it; elsewhere it is the same whatever the district
(issue 7 item 9). A legacy migration keeps a duplicate as found, flagged (the demo's unit_name_variant)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.changes.batches import ImportRefused, batch_decide
from sidms.changes.maintenance import maintenance_apply, maintenance_approve, maintenance_modify
from sidms.changes.models import ChangeRequest, Channel, Method, Revision
from sidms.changes.services import apply_values, review_decide, submit_change
from sidms.core.errors import ChangeRefused
from sidms.core.kernel import spec_for
from sidms.exchange import imports
from sidms.registry.models import Unit
from tests.archives.conftest import provide_documents
from tests.conftest import credit_code_for
from tests.exchange.conftest import csv_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.req("R7.3"), pytest.mark.req("R6.1")]

HUANCUI = credit_code_for("环翠海韵")  # registered to a 环翠 unit in most tests
FREE = credit_code_for("无人使用")
OTHER = credit_code_for("另一家")
HEADER = ["单位名称", "统一社会信用代码", "单位类型", "行政区划代码"]


def new_unit(clerk: Any, code: str, district: str = "371002", name: str = "威海新设有限公司") -> Any:
    values = {
        "name": name,
        "credit_code": code,
        "unit_type": "enterprise",
        "district_id": district,
        "status": "active",
    }
    return submit_change(actor=clerk, channel=Channel.WINDOW, entity="unit", values=values)


def refusal(call: Any) -> ChangeRefused:
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        call()
    assert refused.value.code == "duplicate" and set(refused.value.errors) == {"credit_code"}, (
        refused.value.as_dict()
    )
    return refused.value


def message(refused: ChangeRefused) -> str:
    with translation.override("zh-hans"):
        return refused.errors["credit_code"].localized()


@pytest.fixture
def haiyun(make_unit: Any) -> Any:
    return make_unit(
        unit_no="U371002001", name="威海海韵食品有限公司", district="371002", credit_code=HUANCUI
    )


# --------------------------------------------------------------------------------------------------------
# The window


def test_a_new_unit_with_a_registered_credit_code_is_refused_naming_the_unit_in_scope(
    huancui_clerk: Any, haiyun: Any
) -> None:
    refused = refusal(lambda: new_unit(huancui_clerk, HUANCUI.lower()))  # 91…p is 91…P
    text = message(refused)
    assert "已登记" in text and haiyun.unit_no in text and "海韵" in text
    assert not ChangeRequest.objects.exists() and Unit.objects.count() == 1


@pytest.mark.req("R10.3")
def test_in_another_district_the_refusal_names_nothing_and_reads_as_for_any_code_taken(
    huancui_clerk: Any, rushan_clerk: Any, haiyun: Any
) -> None:
    elsewhere = message(refusal(lambda: new_unit(rushan_clerk, HUANCUI, district="371083")))
    assert "已登记" in elsewhere and "参保单位" in elsewhere
    assert haiyun.unit_no not in elsewhere and "海韵" not in elsewhere and "环翠" not in elsewhere
    # A code waiting in a 环翠 unit's review (named by no record) gets the very same answer in 乳山.
    waiting = new_unit(huancui_clerk, FREE)
    assert waiting.held is not None and waiting.record is None
    assert message(refusal(lambda: new_unit(rushan_clerk, FREE, district="371083"))) == elsewhere
    assert Unit.objects.count() == 1


def test_the_rule_cannot_let_a_duplicate_credit_code_through_review(
    make_staff: Any, huancui_clerk: Any, haiyun: Any
) -> None:
    from sidms.changes.rules import rule_propose

    admin, second = (make_staff(name, posts=("city_admin",), district="371000") for name in ("adm1", "adm2"))
    held = rule_propose(
        actor=admin, entity="unit", field="credit_code", required=True, validator="uscc", review_level="manual",
        crosschecks=["market_regulation", "tax"], on_duplicate="review", reason="试图放行重复",
    )  # fmt: skip
    review_decide(actor=second, change_request_id=held.pk, approve=True)
    refusal(lambda: new_unit(huancui_clerk, HUANCUI))  # still refused, not held as suspected
    assert not ChangeRequest.objects.filter(entity="unit").exists()


def test_an_edit_to_a_registered_code_is_refused_and_so_is_its_approval_once_the_code_is_taken(
    huancui_clerk: Any, huancui_reviewer: Any, make_unit: Any, haiyun: Any
) -> None:
    second = make_unit(unit_no="U371002002", name="威海第二有限公司", district="371002", credit_code=OTHER)
    change = {"credit_code": HUANCUI}
    refused = refusal(
        lambda: submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="unit", record=second, values=change
        )
    )
    assert haiyun.unit_no in message(refused)

    # A free code waits for review (R7.3); an import registers it to another unit meanwhile.
    outcome = submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="unit",
        record=second,
        values={"credit_code": FREE},
    )
    assert outcome.held is not None
    make_unit(unit_no="U371002003", name="威海后来有限公司", district="371002", credit_code=FREE)
    provide_documents(outcome.held)
    refusal(lambda: review_decide(actor=huancui_reviewer, change_request_id=outcome.held.pk, approve=True))
    assert Unit.objects.get(pk=second.pk).credit_code == OTHER
    assert Unit.objects.filter(credit_code=FREE).count() == 1


def test_two_window_registrations_of_one_code_the_second_is_refused_at_approval(
    huancui_clerk: Any, huancui_reviewer: Any, make_unit: Any
) -> None:
    first = new_unit(huancui_clerk, FREE)
    assert first.held is not None
    make_unit(unit_no="U371002009", name="威海抢先有限公司", district="371002", credit_code=FREE)  # an import
    provide_documents(first.held)
    refusal(lambda: review_decide(actor=huancui_reviewer, change_request_id=first.held.pk, approve=True))
    assert Unit.objects.filter(credit_code=FREE).count() == 1


def test_the_database_refuses_a_duplicate_that_raced_past_the_check(huancui_clerk: Any, haiyun: Any) -> None:
    """What two concurrent writers would meet: the second write comes after the first committed, with its
    check done before. The pipeline's writer meets the unique key and refuses as the check would have."""
    spec = spec_for("unit")
    values = {
        "name": "威海并发有限公司", "credit_code": HUANCUI, "unit_type": "enterprise", "district_id": "371083",
        "status": "active",
    }  # fmt: skip
    refused = refusal(
        lambda: apply_values(
            spec, None, values, actor=huancui_clerk, channel=Channel.WINDOW, method=Method.DIRECT
        )
    )
    assert haiyun.unit_no not in message(refused) and "已登记" in message(refused)
    assert Unit.objects.count() == 1


# --------------------------------------------------------------------------------------------------------
# Maintenance


@pytest.mark.req("R9.3")
def test_maintenance_cannot_give_a_unit_a_code_registered_to_another(
    make_staff: Any, make_unit: Any, haiyun: Any
) -> None:
    applicant = make_staff("mt_applicant", posts=("window_clerk",))
    approver = make_staff("mt_approver", posts=("approver",))
    modifier = make_staff("mt_modifier", posts=("window_clerk",))
    second = make_unit(unit_no="U371002002", name="威海第二有限公司", district="371002", credit_code=OTHER)

    def apply(code: str) -> Any:
        return maintenance_apply(
            actor=applicant, entity="unit", record=second, values={"credit_code": code}, reason="更正信用代码"
        )

    assert haiyun.unit_no in message(refusal(lambda: apply(HUANCUI)))
    order = apply(FREE)
    maintenance_approve(actor=approver, order_id=order.pk, approve=True)
    make_unit(unit_no="U371002003", name="威海后来有限公司", district="371002", credit_code=FREE)
    refusal(lambda: maintenance_modify(actor=modifier, order_id=order.pk))
    assert Unit.objects.get(pk=second.pk).credit_code == OTHER


# --------------------------------------------------------------------------------------------------------
# Imports


@pytest.mark.req("B3")
def test_two_imports_of_one_code_both_dry_runs_clean_the_second_is_refused_at_execution_naming_the_row(
    importers: Any,
) -> None:
    operator, approver = importers
    first = csv_bytes([HEADER, ["威海甲有限公司", FREE, "企业", "371002"]])
    second = csv_bytes(
        [
            HEADER,
            ["威海乙有限公司", OTHER, "企业", "371002"],
            ["威海丙有限公司", FREE.lower(), "企业", "371083"],
        ]
    )
    applied = []
    for data in (first, second):
        checked = imports.check_file(data, kind="units", filename="单位.csv", actor=operator)
        assert not checked.failing  # neither code is registered yet
        applied.append(imports.apply_import(actor=operator, data=data, checked=checked, reason="单位名单"))
        batch_decide(actor=approver, batch_id=applied[-1].batch_id, approve=True)
    assert imports.execute_import(actor=operator, batch_id=applied[0].batch_id).rows == 1

    with translation.override("zh-hans"), pytest.raises(ImportRefused) as refused:
        imports.execute_import(actor=operator, batch_id=applied[1].batch_id)
    assert list(refused.value.rows) == [2]  # the second row of the import, and only it
    assert refused.value.rows[2]["credit_code"].code == "duplicate"
    with translation.override("zh-hans"):
        report = str(refused.value)
    assert refused.value.file_rows == {2: 3}  # the spreadsheet's row 3, under the header
    assert "第 2 行（原表第 3 行" in report and "统一社会信用代码" in report and "已登记" in report
    assert "威海甲" not in report and "环翠" not in report  # the holder is not named, wherever it is
    # The batch's rules: all rows or none. Nothing of the second import is stored.
    assert Unit.objects.filter(credit_code=FREE).count() == 1 and not Unit.objects.filter(credit_code=OTHER)


@pytest.mark.req("B3")
def test_an_import_row_refused_for_a_code_the_window_registered_since_its_dry_run(
    importers: Any, huancui_clerk: Any, huancui_reviewer: Any
) -> None:
    operator, approver = importers
    data = csv_bytes([HEADER, ["威海丁有限公司", FREE, "企业", "371002"]])
    checked = imports.check_file(data, kind="units", filename="单位.csv", actor=operator)
    assert not checked.failing
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="单位名单")
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    held = new_unit(huancui_clerk, FREE).held
    provide_documents(held)
    review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)

    with pytest.raises(ImportRefused) as refused:
        imports.execute_import(actor=operator, batch_id=imported.batch_id)
    assert list(refused.value.rows) == [1]
    assert Unit.objects.filter(credit_code=FREE).count() == 1


@pytest.mark.req("B3")
@pytest.mark.req("R14")
def test_a_legacy_migration_keeps_a_duplicate_flagged_and_noted_as_the_demo_anomaly_needs(
    load: Any, huancui_clerk: Any
) -> None:
    rows = [
        {"unit_no": "U371002101", "name": "威海海韵食品有限公司", "credit_code": HUANCUI, "unit_type": "enterprise",
         "district_id": "371002", "status": "active"},
        {"unit_no": "U371002102", "name": "威海海韵食品有限责任公司", "credit_code": HUANCUI, "unit_type": "enterprise",
         "district_id": "371002", "status": "active"},
    ]  # fmt: skip
    original, variant = load("unit", rows, legacy=True)
    assert (original.credit_code_duplicate, Unit.objects.get(pk=variant.pk).credit_code_duplicate) == (
        False,
        True,
    )
    notes = Revision.objects.get(entity="unit", record_id=variant.pk).notes
    assert notes == {"nonconforming": {"credit_code": "duplicate"}}
    assert Revision.objects.get(entity="unit", record_id=original.pk).notes == {}

    # The kept duplicate still works as a record: a field other than its code is changed at the window.
    done = submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="unit",
        record=variant,
        values={"address": "统一路1号"},
    )
    assert done.revision is not None and Unit.objects.get(pk=variant.pk).credit_code_duplicate
    # But a new unit under the code is refused, and so is a non-legacy import of it.
    refusal(lambda: new_unit(huancui_clerk, HUANCUI))
    with pytest.raises(ImportRefused):
        load("unit", [{**rows[0], "unit_no": "U371002103"}])


# --------------------------------------------------------------------------------------------------------
# A database loaded before the unique key


@pytest.mark.req("R14")
def test_the_migration_keeps_a_live_databases_duplicates_flagging_all_but_the_first(load: Any) -> None:
    """A database from before the key: units sharing a code, none flagged. The migration's step flags all
    but the first of each group, so that the unique key can be added over what is stored."""
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    row = {"credit_code": HUANCUI, "unit_type": "enterprise", "district_id": "371002", "status": "active"}
    stored = load(
        "unit",
        [{**row, "unit_no": f"U37100220{i}", "name": f"威海海韵{i}有限公司"} for i in range(3)]
        + [{**row, "unit_no": "U371002210", "name": "威海独家有限公司", "credit_code": OTHER}],
        legacy=True,
    )
    constraint = next(c for c in Unit._meta.constraints if c.name == "unit_credit_code_unique")
    editor = connection.schema_editor(atomic=False)
    with connection.cursor() as cursor:  # the state before migration 0008: no key, no flag set
        if connection.vendor == "postgresql":  # the rows were loaded in this test's transaction, unlike a
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # migration's: their deferred checks run now
        cursor.execute(f"DROP INDEX {constraint.name}")
        cursor.execute("UPDATE registry_unit SET credit_code_duplicate = %s", [False])
    step = importlib.import_module("sidms.registry.migrations.0008_unit_credit_code_unique")
    state = MigrationLoader(connection).project_state(("registry", "0008_unit_credit_code_unique"))
    step.flag_duplicates(state.apps, editor)
    with connection.cursor() as cursor:
        cursor.execute(str(constraint.create_sql(Unit, editor)))  # the key is added over the stored rows

    flags = dict(Unit.objects.values_list("pk", "credit_code_duplicate"))
    assert flags == {stored[0].pk: False, stored[1].pk: True, stored[2].pk: True, stored[3].pk: False}


# --------------------------------------------------------------------------------------------------------
# The flag in the row digest


def _intact() -> None:
    from sidms.changes.verify import verify_store

    report = verify_store()
    assert report.ok, report.problem


@pytest.mark.req("R20")
@pytest.mark.req("R9.3")
def test_a_kept_duplicate_edited_in_every_legitimate_way_stays_intact_and_holds_its_flag_in_its_history(
    load: Any, importers: Any, huancui_clerk: Any, huancui_reviewer: Any
) -> None:
    from sidms.changes.batches import batch_apply_update, batch_execute

    rows = [
        {"unit_no": "U371002121", "name": "威海海韵食品有限公司", "credit_code": HUANCUI, "unit_type": "enterprise",
         "district_id": "371002", "status": "active"},
        {"unit_no": "U371002122", "name": "威海海韵食品有限责任公司", "credit_code": HUANCUI, "unit_type": "enterprise",
         "district_id": "371002", "status": "active"},
    ]  # fmt: skip
    original, variant = load("unit", rows, legacy=True)
    first = Revision.objects.get(entity="unit", record_id=variant.pk)
    assert first.state["credit_code_duplicate"] is True  # in the state, hence in the digest
    assert "credit_code_duplicate" not in Revision.objects.get(entity="unit", record_id=original.pk).state
    _intact()

    # An ordinary edit at the window (a field that needs no review) keeps the flag and the record intact.
    done = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="unit", record=Unit.objects.get(pk=variant.pk),
        values={"address": "统一路1号"},
    )  # fmt: skip
    assert done.revision is not None and done.revision.state["credit_code_duplicate"] is True
    assert "credit_code_duplicate" not in done.revision.changes
    _intact()

    # A batch (the lean bulk path, from raw columns) carries the flag over.
    approver = importers[1]
    batch = batch_apply_update(
        actor=huancui_clerk, entity="unit", selection={"unit_type": "enterprise"},
        change={"contact_person": "王经理"}, reason="联系人统一变更",
    )  # fmt: skip
    batch_decide(actor=approver, batch_id=batch.pk, approve=True)
    assert batch_execute(actor=huancui_clerk, batch_id=batch.pk).rows == 2
    latest = Revision.objects.filter(entity="unit", record_id=variant.pk).latest("version")
    assert latest.method == Method.BATCH and latest.state["credit_code_duplicate"] is True
    _intact()

    # Given a code of its own through review, the unit leaves the flag: the revision says so.
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="unit", record=Unit.objects.get(pk=variant.pk),
        values={"credit_code": FREE},
    ).held  # fmt: skip
    assert held is not None
    provide_documents(held)
    review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    unit = Unit.objects.get(pk=variant.pk)
    assert (unit.credit_code, unit.credit_code_duplicate) == (FREE, False)
    latest = Revision.objects.filter(entity="unit", record_id=variant.pk).latest("version")
    assert latest.changes["credit_code_duplicate"] == [True, None]
    assert "credit_code_duplicate" not in latest.state
    _intact()


def _flag_as_migration_0008_did(*units: Any) -> None:
    """What migration 0008 did to a live database's duplicates (and what a legacy import of an earlier
    version left in history): the flag set on the row, no revision holding it."""
    from django.db import connection

    with connection.cursor() as cursor:
        for unit in units:
            cursor.execute(
                "UPDATE registry_unit SET credit_code_duplicate = %s WHERE id = %s", [True, unit.pk]
            )


@pytest.mark.req("R20")
@pytest.mark.req("R14")
def test_migration_0009_gives_units_flagged_before_the_rule_a_revision_vouched_for_once(
    make_unit: Any, huancui_clerk: Any
) -> None:
    import importlib
    import json

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from sidms.audit.models import AuditEvent
    from sidms.changes.upgrade import ACTION

    kept = make_unit(unit_no="U371002131", name="威海保留有限公司", district="371002", credit_code=HUANCUI)
    tampered = make_unit(unit_no="U371002132", name="威海篡改有限公司", district="371002", credit_code=OTHER)
    plain = make_unit(unit_no="U371002133", name="威海普通有限公司", district="371002", credit_code=FREE)
    _flag_as_migration_0008_did(kept, tampered)
    with connection.cursor() as cursor:  # and one of them changed in SQL besides
        cursor.execute("UPDATE registry_unit SET name = %s WHERE id = %s", ["威海冒名有限公司", tampered.pk])
    from sidms.changes.verify import verify_store

    assert not verify_store().ok  # the flag outside their history: what the upgrade must put right

    step = importlib.import_module("sidms.registry.migrations.0009_unit_flag_digest")
    state = MigrationLoader(connection).project_state(("registry", "0009_unit_flag_digest"))
    step.cover_flags(state.apps, connection.schema_editor(atomic=False))

    revision = Revision.objects.filter(entity="unit", record_id=kept.pk).latest("version")
    assert (revision.version, revision.method, revision.reference) == (2, Method.UPGRADE, "registry.0009")
    assert revision.changes == {"credit_code_duplicate": [None, True]}
    assert revision.state["credit_code_duplicate"] is True and revision.state["name"] == "威海保留有限公司"
    # Built from history, not from the row: the name changed in SQL is not taken in, and is still named.
    assert (
        Revision.objects.get(entity="unit", record_id=tampered.pk, version=2).state["name"]
        == "威海篡改有限公司"
    )
    assert not Revision.objects.filter(entity="unit", record_id=plain.pk, version=2).exists()
    (event,) = AuditEvent.objects.filter(action=ACTION)
    detail = json.loads(event.payload)["detail"]
    assert (detail["rows"], detail["skipped"], detail["reference"]) == (2, 0, "registry.0009")
    report = verify_store()
    assert not report.ok and str(tampered.pk) in report.problem.where, report.problem

    with connection.cursor() as cursor:  # the name put back: everything is intact, the flags included
        cursor.execute("UPDATE registry_unit SET name = %s WHERE id = %s", ["威海篡改有限公司", tampered.pk])
    _intact()
    # The kept duplicate goes on as any record (its flag in its digest from now on).
    done = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="unit", record=Unit.objects.get(pk=kept.pk),
        values={"address": "统一路2号"},
    )  # fmt: skip
    assert done.revision is not None and done.revision.version == 3
    _intact()

    # Once only: a flag set in SQL afterwards is evidence, even if the step were run again.
    _flag_as_migration_0008_did(plain)
    step.cover_flags(state.apps, connection.schema_editor(atomic=False))
    assert AuditEvent.objects.filter(action=ACTION).count() == 1
    assert Revision.objects.filter(method=Method.UPGRADE).count() == 2
    report = verify_store()
    assert not report.ok and str(plain.pk) in report.problem.where, report.problem
