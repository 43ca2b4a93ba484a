"""Key rotation (R17, B2): `sidms keys rotate` re-encrypts every encrypted value under the new key version in
resumable batches while the system runs; `--index` re-indexes every record under a new blind-index key with a
revision each; both keep the store verifiable and the search by ID number working, also with the key ring
wrapped by a master key in SoftHSM2."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from sidms.access.policies import record_list
from sidms.changes.models import Channel, Method, Revision
from sidms.changes.rekey import reencrypt_chunk
from sidms.changes.services import submit_change
from sidms.changes.verify import verify_store
from sidms.continuity.agreements import staff_identity_record
from sidms.continuity.alerts import alerts_run
from sidms.continuity.keys import key_census, keys_rotate, keys_rotate_index
from sidms.continuity.models import Alert, RuleCode, StaffIdentity
from sidms.core.errors import ChangeRefused, IntegrityAlert
from sidms.core.kernel import ENTITIES, raw_state
from sidms.core.keys import keyring
from sidms.lib import hsm
from sidms.lib.crypto import KeyRing, token_version
from sidms.registry.models import Person
from sidms.security.models import SealedTOTPDevice
from tests.changes.conftest import person_row
from tests.conftest import enrol, last_integrity_alert

pytestmark = [pytest.mark.django_db, pytest.mark.req("R17"), pytest.mark.req("B2")]


def _versions() -> dict[str, set[int]]:
    """The key versions of every encrypted value in the live records, per entity."""
    found: dict[str, set[int]] = {}
    for spec in ENTITIES.values():
        if not spec.encrypted_fields:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(spec.raw_columns)} FROM {spec.model._meta.db_table}")  # noqa: S608
            for raw in cursor.fetchall():
                state = raw_state(spec, raw)
                for name in spec.encrypted_fields:
                    if state[name]:
                        found.setdefault(spec.name, set()).add(
                            token_version(base64.b64decode(state[name]["enc"]))
                        )
    return found


def _without(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in names}


def _found_by_id(clerk: Any, id_number: str) -> list[str]:
    listing = record_list(actor=clerk, spec=ENTITIES["person"], query=id_number)
    return [p.person_no for p in listing.page]


@pytest.fixture
def store(load, make_unit, huancui_clerk, security_admin):  # type: ignore[no-untyped-def]
    people = load("person", [person_row(i) for i in range(1, 31)])
    make_unit(unit_no="U0001", name="威海海韵食品有限公司", district="371002")
    enrol(huancui_clerk)  # an authenticator whose secret is encrypted too
    staff_identity_record(actor=security_admin, staff=huancui_clerk, id_number=str(people[0].id_number))
    return people


def _check_all_under(version: int, clerk: Any, people: list[Any]) -> None:
    assert _versions() == {"person": {version}, "unit": {version}}
    assert {token_version(v.token) for v in StaffIdentity.objects.values_list("id_number", flat=True)} == {
        version
    }
    for device in SealedTOTPDevice.objects.all():
        assert token_version(base64.b85decode(device.key[1:])) == version
        assert len(device.bin_key) == 20  # still the same secret, still this account's
    report = verify_store()
    assert report.ok, report.problem
    assert _found_by_id(clerk, str(people[7].id_number)) == [people[7].person_no]


def test_rotation_puts_every_encrypted_value_under_the_new_version(
    key_file, store, security_admin, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    assert keyring().current == 1
    lines: list[str] = []
    result = keys_rotate(actor=security_admin, chunk=7, progress=lines.append)
    assert result.version == keyring().current == 2 and KeyRing.load(key_file).current == 2
    assert (
        result.per_kind["person"] == 30 * 3 and result.per_kind["unit"] == 1
    )  # ID number, phone, bank account
    assert any("person: 28/30 rows read" in line for line in lines), lines
    print(f"\nrotation: {result.values} values in {result.seconds:.2f} s ({result.rate:,.0f} values/s)")
    _check_all_under(2, huancui_clerk, store)
    census = key_census()
    assert census["live"] == {2: 91} and census["authenticators"] == {2: 1}
    # History keeps the version it was written with: version 1 stays in the ring to read it.
    assert census["history"].get(1, 0) > 0 and 1 in keyring().versions


def test_an_interrupted_rotation_resumes_without_a_new_key(
    key_file, store, security_admin, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    ring = KeyRing.load(key_file)
    ring.rotate()
    ring.save(key_file)
    keyring.cache_clear()
    person = ENTITIES["person"]
    done = reencrypt_chunk(person, after=0, limit=10, actor=security_admin)  # then the process died
    assert done.rows == 10 and _versions()["person"] == {1, 2}
    result = keys_rotate(actor=security_admin, resume=True)
    assert result.version == 2 and result.per_kind["person"] == 20 * 3
    _check_all_under(2, huancui_clerk, store)


def test_a_change_made_between_rotation_and_re_encryption_is_kept(
    key_file, store, security_admin, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    ring = KeyRing.load(key_file)
    ring.rotate()
    ring.save(key_file)
    keyring.cache_clear()
    person = Person.objects.get(pk=store[3].pk)
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
                  values={"phone": "13906310001"})  # fmt: skip
    keys_rotate(actor=security_admin, resume=True)
    assert Person.objects.get(pk=person.pk).phone == "13906310001"
    _check_all_under(2, huancui_clerk, store)


def test_a_ciphertext_copied_from_another_row_stops_the_rotation(key_file, store, security_admin) -> None:  # type: ignore[no-untyped-def]
    a, b = store[1], store[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT bank_account FROM registry_person WHERE id = %s", [a.pk])
        (token,) = cursor.fetchone()
        cursor.execute("UPDATE registry_person SET bank_account = %s WHERE id = %s", [token, b.pk])
    with pytest.raises(IntegrityAlert) as refused:
        keys_rotate(actor=security_admin)
    assert Person.objects.filter(pk=b.pk).exists()
    event, payload = last_integrity_alert()
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        "security_city", "person", str(b.pk), "failed",
    )  # fmt: skip
    assert payload["detail"] == {"reason": "ciphertext", "record_id": b.pk, "during": "reencrypt"}
    with translation.override("en"):
        assert str(refused.value) == (
            f"person #{b.pk} does not match its history (changed outside the system); refused. "
            "Tell the information centre."
        )


def test_rotating_the_index_key_re_indexes_with_a_revision_per_record(
    key_file, store, security_admin, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    before = dict(Person.objects.values_list("pk", "id_number_index"))
    index_before = KeyRing.load(key_file).blind_index("x", domain="d")
    result = keys_rotate_index(actor=security_admin)
    assert KeyRing.load(key_file).blind_index("x", domain="d") != index_before
    after = dict(Person.objects.values_list("pk", "id_number_index"))
    assert all(after[pk] != before[pk] for pk in before)
    assert result.per_kind["person"] == 30 and result.per_kind["staff_identity"] == 1
    assert Revision.objects.filter(entity="person", method=Method.REKEY).count() == 30
    _check_all_under(1, huancui_clerk, store)
    # The staff member's own record is still recognised under the new index key.
    from sidms.access.policies import record_get

    record_get(actor=huancui_clerk, spec=ENTITIES["person"], key=store[0].person_no)
    alerts_run()
    assert Alert.objects.filter(rule=RuleCode.OWN_RECORD, subject="clerk_hc").exists()
    # A duplicate ID number is still refused.
    with pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person",
                      values={**_without(person_row(99), "person_no", "sex", "birth_date"),
                              "id_number": str(store[5].id_number)})  # fmt: skip
    assert refused.value.code == "duplicate"


@pytest.mark.req("R20")
def test_a_re_index_carries_a_kept_duplicates_flag_into_its_new_revision(
    key_file, load, security_admin
) -> None:  # type: ignore[no-untyped-def]
    """The flag of a unit a legacy migration kept as a duplicate is in its digest (kernel.EntitySpec.flags):
    the re-index, which rebuilds every unit's state from raw columns, keeps it there."""
    from sidms.registry.models import Unit
    from tests.conftest import credit_code_for

    row = {"unit_type": "enterprise", "district_id": "371002", "status": "active", "phone": "0631-5221234",
           "credit_code": credit_code_for("重索引")}  # fmt: skip
    _first, kept = load(
        "unit",
        [{**row, "unit_no": "U371002301", "name": "威海原有有限公司"},
         {**row, "unit_no": "U371002302", "name": "威海原有有限责任公司"}],
        legacy=True,
    )  # fmt: skip
    assert Unit.objects.get(pk=kept.pk).credit_code_duplicate
    assert keys_rotate_index(actor=security_admin).per_kind["unit"] == 2
    latest = Revision.objects.filter(entity="unit", record_id=kept.pk).latest("version")
    assert latest.method == Method.REKEY and latest.state["credit_code_duplicate"] is True
    report = verify_store()
    assert report.ok, report.problem


def test_the_operator_command_rotates_and_reports(key_file, store, security_admin) -> None:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command("keys_rotate", operator="security_city", chunk=50, stdout=out)
    assert "re-encrypted under version 2" in out.getvalue() and '"live": {"2": 91}' in out.getvalue()


# --- the key ring wrapped by a master key in SoftHSM2 -----------------------------------------------------


@pytest.fixture
def wrapped_key_file(key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    module = hsm.DEFAULT_MODULE
    util = shutil.which("softhsm2-util")
    if not Path(module).exists() or util is None:
        pytest.skip("SoftHSM2 is not installed: apt-get install -y softhsm2")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    label, pin = f"sidms-{uuid.uuid4().hex[:8]}", "4815162342"
    subprocess.run(
        [util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "so-1123581321"],
        check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )  # fmt: skip
    hsm.create_master_key(module, label, pin, "sidms-master")
    ring = KeyRing.load(key_file)
    hsm.write_wrapped_keyring(
        key_file,
        hsm.wrap_keyring(ring, module_path=module, token_label=label, pin=pin, key_label="sidms-master"),
    )
    monkeypatch.setenv("SIDMS_HSM_PIN", pin)
    keyring.cache_clear()
    assert hsm.is_wrapped(key_file.read_bytes()) and keyring().current == 1
    yield key_file
    keyring.cache_clear()


def test_rotation_with_the_key_ring_wrapped_in_softhsm2(
    wrapped_key_file, store, security_admin, huancui_clerk
) -> None:  # type: ignore[no-untyped-def]
    keys_rotate(actor=security_admin, chunk=11)
    data = wrapped_key_file.read_bytes()
    assert hsm.is_wrapped(data) and b'"current"' not in data  # still wrapped: no key material in the file
    assert keyring().current == 2 and hsm.load_keyring(wrapped_key_file).current == 2
    _check_all_under(2, huancui_clerk, store)
    keys_rotate_index(actor=security_admin)
    assert hsm.is_wrapped(wrapped_key_file.read_bytes())
    _check_all_under(2, huancui_clerk, store)
