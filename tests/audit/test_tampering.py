"""The store attacked the way a database administrator or an intruder with file access could (issue 7): raw
SQL, an old copy of a row put back, a cut tail, a replaced key file, transplanted credentials. Each attack
makes `sidms audit verify` exit 1 naming the record, or the pipeline refuse with an integrity alert."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import translation

from sidms.audit.models import AuditEvent, ChainHead
from sidms.changes.batches import batch_apply_update, batch_decide, batch_execute
from sidms.changes.models import BatchApplication, ChangeRequest, Channel, ReviewStatus
from sidms.changes.rules import rule_propose
from sidms.changes.services import review_decide, rules_in_force, submit_change
from sidms.changes.verify import verify_store
from sidms.core.errors import IntegrityAlert
from sidms.core.guards import append_only_sql
from sidms.core.keys import keyring
from sidms.lib.crypto import KeyRing
from sidms.parameters.models import CollectionRule
from sidms.registry.models import Person
from tests.archives.conftest import provide_documents
from tests.changes.conftest import WANG_NEW_ID, id_number
from tests.conftest import PASSWORD, current_code, last_integrity_alert, luhn_complete

pytestmark = [pytest.mark.django_db]


def _raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params) if params else cursor.execute(sql)


def _unguarded(table: str) -> Callable[[], None]:
    """Drop the append-only triggers of TABLE, as an attacker with the schema owner's rights could."""
    for statement in append_only_sql(connection.vendor, table, create=False):
        _raw(statement)

    def restore() -> None:
        for statement in append_only_sql(connection.vendor, table, create=True):
            _raw(statement)

    return restore


def broken_at() -> Any:
    report = verify_store()
    assert not report.ok, "verify said intact"
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_verify")
    assert exit_.value.code == 1
    return report.problem


@pytest.fixture
def two_people(make_person) -> tuple[Any, Any]:  # type: ignore[no-untyped-def]
    a = make_person(
        id_number="371002196001010011", name="王建国", bank_account=luhn_complete("621700000000000001")
    )
    b = make_person(
        id_number="371002197001010024", name="李红", sex="2", birth_date="1970-01-01",
        bank_account=luhn_complete("621700000000000002"),
    )  # fmt: skip
    return a, b


def alerts() -> int:
    return AuditEvent.objects.filter(action="integrity.alert").count()


# --- 1. laundering ----------------------------------------------------------------------------------------


@pytest.mark.req("R20")
@pytest.mark.req("R9.2")
def test_a_bank_account_copied_from_another_person_is_named_and_never_laundered_by_an_edit(
    two_people, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    a, b = two_people
    _raw(
        "UPDATE registry_person SET bank_account = (SELECT bank_account FROM registry_person WHERE id = %s), "
        "bank_account_index = (SELECT bank_account_index FROM registry_person WHERE id = %s) WHERE id = %s",
        [a.pk, a.pk, b.pk],
    )
    problem = broken_at()
    assert problem.kind == "live_row" and f"person #{b.pk}" in problem.where

    # An ordinary edit of B does not carry the forged value into a new revision: it is refused.
    before = alerts()
    with pytest.raises(IntegrityAlert):
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=Person.objects.get(pk=b.pk),
            values={"address": "威海市环翠区新威路9号"},
        )  # fmt: skip
    assert alerts() == before + 1
    event = AuditEvent.objects.filter(action="integrity.alert").last()
    assert event.object_id == b.person_no
    assert broken_at().where == problem.where  # still named: nothing was built on it


@pytest.mark.req("R20")
def test_a_ciphertext_alone_copied_from_another_row_does_not_decrypt_there(two_people, huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    a, b = two_people
    _raw(
        "UPDATE registry_person SET bank_account = (SELECT bank_account FROM registry_person WHERE id = %s) WHERE id = %s",
        [a.pk, b.pk],
    )
    problem = broken_at()
    assert f"person #{b.pk}" in problem.where and "ciphertext" in problem.where
    with pytest.raises(IntegrityAlert):
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=Person.objects.get(pk=b.pk),
            values={"address": "别处"},
        )  # fmt: skip


@pytest.mark.req("R20")
def test_a_tampered_name_is_not_laundered_by_a_batch(two_people, huancui_clerk, importers) -> None:  # type: ignore[no-untyped-def]
    a, b = two_people
    batch = batch_apply_update(
        actor=huancui_clerk, entity="person", selection={"category": "employee"}, change={"postcode": "264200"},
        reason="邮编统一",
    )  # fmt: skip
    batch_decide(actor=importers[1], batch_id=batch.pk, approve=True)
    _raw("UPDATE registry_person SET name = %s WHERE id = %s", ["李鬼", b.pk])
    with pytest.raises(IntegrityAlert) as refused:
        batch_execute(actor=huancui_clerk, batch_id=batch.pk)
    assert Person.objects.get(pk=a.pk).postcode == ""  # the whole batch stopped
    # The alert names the row by its id and the batch (a refusal of the batch: outcome "denied").
    event, payload = last_integrity_alert()
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        "clerk_hc", "person", str(b.pk), "denied",
    )  # fmt: skip
    assert payload["detail"] == {"reason": "history", "batch": batch.pk}
    record = f"{Person._meta.verbose_name} #{b.pk}"  # named in the language of the refusal
    with translation.override("en"):
        assert str(refused.value) == (
            f"{record} does not match its history (changed outside the system); refused. "
            "Tell the information centre."
        )
    assert f"person #{b.pk}" in broken_at().where


# --- 2. a later rule version deleted -----------------------------------------------------------------------


@pytest.mark.req("R20")
@pytest.mark.req("R5")
def test_a_deleted_later_version_of_a_rule_is_named(make_staff) -> None:  # type: ignore[no-untyped-def]
    admins = [make_staff(f"adm{i}", posts=("city_admin",), district="371000") for i in (1, 2)]
    held = rule_propose(
        actor=admins[0], entity="person", field="phone", required=True, validator="phone", review_level="system",
        crosschecks=[], reason="联系电话必填",
    )  # fmt: skip
    review_decide(actor=admins[1], change_request_id=held.pk, approve=True)
    assert rules_in_force("person")["phone"].version == 2
    latest = CollectionRule.objects.get(entity="person", field="phone", version=2)
    with transaction.atomic():
        restore = _unguarded("parameters_collectionrule")
        _raw("DELETE FROM parameters_collectionrule WHERE id = %s", [latest.pk])
        restore()
    assert rules_in_force("person")["phone"].version == 1  # the earlier version silently applies again …
    problem = broken_at()  # … but not silently for verification
    assert problem.kind == "rule"


# --- 3. a workflow row put back ----------------------------------------------------------------------------


def _snapshot(table: str, pk: int) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608
        columns = [c[0] for c in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def _put_back(table: str, row: dict[str, Any]) -> None:
    columns = [c for c in row if c != "id"]
    _raw(
        f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)} WHERE id = %s",  # noqa: S608
        [*(row[c] for c in columns), row["id"]],
    )


@pytest.mark.req("R20")
@pytest.mark.req("R7.3")
def test_a_rejected_request_put_back_as_pending_cannot_be_approved_and_is_named(
    huancui_clerk, make_staff, make_person
) -> None:  # type: ignore[no-untyped-def]
    huancui_reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    wang = make_person(id_number="371002196001010011", name="王建国")
    held = submit_change(
        actor=huancui_clerk,
        channel=Channel.WINDOW,
        entity="person",
        record=wang,
        values={"id_number": WANG_NEW_ID},
    ).held
    saved = _snapshot("changes_changerequest", held.pk)
    review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=False, reason="证件不符")
    _put_back("changes_changerequest", saved)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING

    with pytest.raises(IntegrityAlert) as refused:
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    assert Person.objects.get(pk=wang.pk).id_number != WANG_NEW_ID
    event, payload = last_integrity_alert()
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        "reviewer_hc", "changerequest", str(held.pk), "failed",
    )  # fmt: skip
    assert payload["detail"] == {"reason": "put_back"}
    row = str(ChangeRequest.objects.get(pk=held.pk))
    with translation.override("en"):
        assert str(refused.value) == (
            f"{row} does not match its seal (changed outside the system); refused. Tell the information centre."
        )
    with translation.override("zh-hans"):
        assert (
            str(refused.value)
            == f"{row} 的内容与系统记录的校验值不符（疑似被绕过系统修改），已拒绝处理，请通知信息机构"
        )
    problem = broken_at()
    assert problem.kind == "workflow" and f"CR{held.pk}" in problem.where


@pytest.mark.req("R20")
@pytest.mark.req("R9.3")
def test_an_executed_batch_put_back_as_approved_cannot_run_again(
    huancui_clerk, importers, make_person
) -> None:  # type: ignore[no-untyped-def]
    make_person(id_number=id_number("37100219800101001"), name="赵一", birth_date="1980-01-01", sex="1")
    batch = batch_apply_update(
        actor=huancui_clerk, entity="person", selection={"category": "employee"}, change={"postcode": "264200"},
        reason="邮编统一",
    )  # fmt: skip
    batch_decide(actor=importers[1], batch_id=batch.pk, approve=True)
    saved = _snapshot("changes_batchapplication", batch.pk)
    batch_execute(actor=huancui_clerk, batch_id=batch.pk)
    _put_back("changes_batchapplication", saved)
    assert BatchApplication.objects.get(pk=batch.pk).status == "approved"

    with pytest.raises(IntegrityAlert):
        batch_execute(actor=huancui_clerk, batch_id=batch.pk)
    assert broken_at().kind == "workflow"


# --- 4. the tail of the chain cut off ----------------------------------------------------------------------


@pytest.mark.req("R20")
def test_a_tail_cut_with_an_earlier_head_written_back_is_caught_by_the_checkpoints(
    two_people, huancui_clerk, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    head = ChainHead.objects.values_list("seq", "hash", "mac").get(pk=1)
    with django_capture_on_commit_callbacks(execute=True):  # the test's transaction commits nothing itself
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=two_people[0],
            values={"address": "威海市环翠区新威路9号"},
        )  # fmt: skip
    # The attacker deletes the events written since and puts the head they read earlier back (its MAC is
    # genuine); the chain is consistent again up to that head.
    with transaction.atomic():
        restore = _unguarded("audit_auditevent")
        _raw("DELETE FROM audit_auditevent WHERE seq > %s", [head[0]])
        restore()
    _raw("UPDATE audit_chainhead SET seq = %s, hash = %s, mac = %s WHERE id = 1", list(head))
    problem = broken_at()
    assert problem.kind == "checkpoint"


@pytest.mark.req("R20")
def test_a_deleted_chain_head_is_a_break(two_people) -> None:  # type: ignore[no-untyped-def]
    _raw("DELETE FROM audit_chainhead")
    assert broken_at().kind == "audit_tail"


@pytest.mark.req("R20")
def test_every_commit_reaches_the_checkpoint_file(
    two_people, huancui_clerk, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from sidms.audit.checkpoints import read_checkpoints

    with django_capture_on_commit_callbacks(execute=True):
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=two_people[0],
            values={"address": "威海市环翠区新威路9号"},
        )  # fmt: skip
    points = read_checkpoints()
    assert points and points[-1].seq == ChainHead.objects.get(pk=1).seq


# --- 5. blind indexes rewritten ---------------------------------------------------------------------------


@pytest.mark.req("R20")
def test_a_blind_index_pointed_at_another_person_is_named(two_people) -> None:  # type: ignore[no-untyped-def]
    a, b = two_people
    _raw(
        "UPDATE registry_person SET id_number_index = (SELECT id_number_index FROM registry_person WHERE id = %s) "
        "WHERE id = %s",
        [a.pk, b.pk],
    )
    problem = broken_at()
    assert problem.kind == "live_row" and f"person #{b.pk}" in problem.where


# --- 6. the key file changed ------------------------------------------------------------------------------


def _swap_key_file(settings: Any, tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(keyring().to_json())
    change(data)
    path = tmp_path / "other.keys"
    KeyRing.from_json(json.dumps(data)).save(path)
    settings.SIDMS_KEY_FILE = path
    keyring.cache_clear()


@pytest.mark.req("R20")
@pytest.mark.req("R17")
@pytest.mark.parametrize(
    ("part", "words"),
    [("keys", "加密密钥"), ("index", "检索索引密钥")],
)
def test_a_replaced_key_is_named_as_the_wrong_key(two_people, settings, tmp_path, part, words) -> None:  # type: ignore[no-untyped-def]
    fresh = json.loads(KeyRing.generate(suite="sm").to_json())
    original = settings.SIDMS_KEY_FILE
    try:
        _swap_key_file(settings, tmp_path, lambda data: data.__setitem__(part, fresh[part]))
        report = verify_store()
        assert not report.ok and report.problem.kind == "keys" and words in report.problem.message
    finally:
        settings.SIDMS_KEY_FILE = original
        keyring.cache_clear()


# --- 7. credentials transplanted --------------------------------------------------------------------------


@pytest.mark.req("R17")
@pytest.mark.req("R16")
def test_transplanted_credentials_do_not_sign_in_and_are_named(make_staff, client) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import enrol

    clerk = make_staff("clerk_rs", posts=("window_clerk",), district="371083")
    admin = make_staff("admin_city", posts=("city_admin",), district="371000")
    clerk_device = enrol(clerk)
    enrol(admin)
    _raw(
        "UPDATE registry_staff SET password = (SELECT password FROM registry_staff WHERE id = %s) WHERE id = %s",
        [clerk.pk, admin.pk],
    )
    _raw(
        "UPDATE otp_totp_totpdevice SET key = (SELECT key FROM otp_totp_totpdevice WHERE user_id = %s) "
        "WHERE user_id = %s",
        [clerk.pk, admin.pk],
    )
    # The clerk's password no longer opens even the administrator's first step: the account does not match
    # its history, so the sign-in is refused and the supervisors alerted at once (attack round 9). Behind it,
    # the authenticator would not have served either: the sealed secret is bound to the clerk's account and
    # does not decrypt for the administrator's.
    response = client.post("/login/", {"username": "admin_city", "password": PASSWORD})
    assert response.status_code == 200 and "与其变更记录不符" in response.content.decode()
    response = client.post("/login/otp/", {"token": current_code(clerk_device)})
    assert client.get("/").status_code == 302  # not signed in
    alert = AuditEvent.objects.get(action="integrity.alert", object_type="staff")
    assert alert.object_id == "admin_city" and "sign_in" in alert.payload
    problem = broken_at()
    assert problem.kind == "staff" and "admin_city" in problem.where


@pytest.mark.req("R16")
def test_a_post_added_in_sql_is_named(make_staff) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_hc2", posts=("window_clerk",))
    _raw("INSERT INTO registry_staffpost (staff_id, post) VALUES (%s, 'city_admin')", [clerk.pk])
    problem = broken_at()
    assert problem.kind == "staff" and "clerk_hc2" in problem.where


@pytest.mark.req("R16")
@pytest.mark.parametrize(
    ("column", "value"),
    [("digits", 1), ("tolerance", 30_000), ("step", 32_000)],  # any guess, a week's codes, a code per 9 hours
)
def test_an_authenticator_weakened_in_sql_is_named(make_staff, column, value) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import enrol

    clerk = make_staff("clerk_rs", posts=("window_clerk",), district="371083")
    enrol(clerk)
    assert verify_store().ok
    _raw(f"UPDATE otp_totp_totpdevice SET {column} = %s WHERE user_id = %s", [value, clerk.pk])  # noqa: S608
    problem = broken_at()
    assert problem.kind == "staff" and "clerk_rs" in problem.where


# --- reference data ----------------------------------------------------------------------------------------


@pytest.mark.req("R2.3")
@pytest.mark.req("R20")
@pytest.mark.parametrize(
    "attack",
    [
        "UPDATE parameters_region SET is_district = %s WHERE code = '371083'",  # 乳山市 no longer a district
        'INSERT INTO parameters_codeitem ("table", code, name_zh, name_en, sort) '
        "VALUES ('person_category', 'ghost', '幽灵', 'ghost', 99) -- %s",
    ],
)
def test_reference_data_changed_in_sql_is_named_even_after_a_migrate(two_people, attack) -> None:  # type: ignore[no-untyped-def]
    _raw(attack, [False] if "is_district" in attack else [])
    problem = broken_at()
    assert problem.kind == "reference"
    call_command("migrate", verbosity=0)  # a run with nothing to migrate vouches for nothing
    assert broken_at().kind == "reference"


@pytest.mark.req("R20")
def test_a_number_sequence_wound_back_is_named(huancui_clerk, make_staff) -> None:  # type: ignore[no-untyped-def]
    from tests.changes.conftest import person_row

    huancui_reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    row = {k: v for k, v in person_row(1).items() if k != "person_no"}
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", values=row).held
    provide_documents(held)
    review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    assert verify_store().ok
    _raw("UPDATE core_numbersequence SET last = 0 WHERE entity = 'person'")
    problem = broken_at()
    assert problem.kind == "reference" and "person" in problem.where
