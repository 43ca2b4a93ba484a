"""Attack on execution counting, not hashing, the rows the sealed store vouches for (`Prechecked.vouched`,
`_RowHasher(vouched_for=...)`), merged an hour before round 6. Before, every row read at execution was hashed
and compared with the approved application's rows digest; now a row that decrypts from the store under
associated data naming the application's digest is only counted.

Each attempt below must end with nothing stored and an integrity alert or a refusal: chunks swapped or
repeated, a store emptied, the store of another application of the same file (made by the same operator
and refused, or by another operator), the application's digest changed in the database (resealed), a store
mixed with rows prepared from the file.

The one thing the change gave away: an attacker holding the key file (and write access to the data
directory, not to the database) could already seal other *cleaned* values under an application's digest
(the digest never covered them), but the rows themselves were pinned by the digest wherever execution
validates them again — a legacy migration, or rules changed since the dry run. Counted instead of hashed,
those rows could be replaced too. Fix: the store vouches for a row only where execution takes its cleaned
values (the rules it was cleaned under are in force and the batch is not a legacy one); every other row is
hashed as before. And a store whose header announces no chunk at all (nothing for the key to authenticate)
was refused only as a file differing from the approved one: it is an integrity alert now, like any store
that is not the one sealed at application."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.db import connection

from sidms.changes.batches import Prechecked, batch_decide, batch_execute, rules_digest
from sidms.changes.models import BatchApplication
from sidms.changes.rules import rules_in_force
from sidms.changes.seals import reseal
from sidms.core.errors import IntegrityAlert, NotPermitted
from sidms.core.keys import keyring
from sidms.exchange import imports
from sidms.exchange.models import ImportFile
from sidms.registry.models import Person
from tests.exchange.test_sealed_rows import NAMES, people

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2"), pytest.mark.req("R20")]


def applied_for(operator: Any, data: bytes) -> ImportFile:
    checked = imports.check_file(data, kind="persons", filename="名单.csv")
    assert not checked.failing
    imported = imports.apply_import(actor=operator, data=data, checked=checked, reason="单位申报")
    assert imports._rows_path(imported.uid).exists()
    return imported


def approve(approver: Any, imported: ImportFile) -> ImportFile:
    batch_decide(actor=approver, batch_id=imported.batch_id, approve=True)
    imported.refresh_from_db()
    return imported


def chunks(path: Any) -> tuple[bytes, list[bytes]]:
    header, body = path.read_bytes().split(b"\n", 1)
    out = []
    while body:
        length = 8 + int.from_bytes(body[:8], "big")
        out.append(body[:length])
        body = body[length:]
    return header, out


def refused_with_nothing_stored(operator: Any, imported: ImportFile, error: Any = IntegrityAlert) -> None:
    before = Person.objects.count()
    with pytest.raises(error):
        imports.execute_import(actor=operator, batch_id=imported.batch_id)
    assert Person.objects.count() == before


@pytest.mark.parametrize("how", ["swapped", "repeated", "emptied"])
def test_chunks_swapped_repeated_or_all_dropped_store_nothing(
    importers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr(imports, "ROWS_CHUNK", 1)  # a chunk a row
    operator, approver = importers
    imported = approve(approver, applied_for(operator, people(11)))
    path = imports._rows_path(imported.uid)
    header, parts = chunks(path)
    assert len(parts) == 3
    if how == "swapped":
        path.write_bytes(header + b"\n" + parts[1] + parts[0] + parts[2])
    elif how == "repeated":
        path.write_bytes(header + b"\n" + b"".join(parts) + parts[0])
    else:  # a header that announces no chunk: nothing to authenticate (it was refused as a file differing)
        empty = {**orjson.loads(header), "rows": 0, "chunks": 0}
        path.write_bytes(orjson.dumps(empty) + b"\n")
    refused_with_nothing_stored(operator, imported)


@pytest.mark.parametrize("whose", ["same operator", "another operator"])
def test_the_store_of_an_earlier_refused_application_of_the_same_file_is_refused(
    importers: tuple[Any, Any], make_staff: Any, whose: str
) -> None:
    operator, approver = importers
    data = people(21)
    earlier = applied_for(operator, data)
    kept = imports._rows_path(earlier.uid).read_bytes()  # before its refusal removes it
    batch_decide(actor=approver, batch_id=earlier.batch_id, approve=False, reason="重新申报")
    other = (
        operator
        if whose == "same operator"
        else make_staff("info_two", posts=("info_centre",), district="371000")
    )
    later = approve(approver, applied_for(other, data))  # the same file, the same rows digest
    assert later.batch.payload_digest == earlier.batch.payload_digest
    imports._rows_path(later.uid).write_bytes(kept)
    refused_with_nothing_stored(other, later)
    imports._rows_path(later.uid).unlink()  # without a store the file itself is used, and hashed
    assert imports.execute_import(actor=other, batch_id=later.batch_id).rows == 3


@pytest.mark.parametrize("column", ["payload_digest", "row_count", "authorised_rows"])
def test_the_batch_changed_in_the_database_and_resealed_is_refused(
    importers: tuple[Any, Any], column: str
) -> None:
    """Even with the key (reseal): the audit chain's last event names the batch's step and seal."""
    operator, approver = importers
    imported = approve(approver, applied_for(operator, people(31)))
    other = approve(approver, applied_for(operator, people(41)))
    value: Any = other.batch.payload_digest if column == "payload_digest" else 2
    with connection.cursor() as cursor:
        update = f"UPDATE {BatchApplication._meta.db_table} SET {column} = %s WHERE id = %s"  # noqa: S608
        cursor.execute(update, [value, imported.batch_id])
    batch = BatchApplication.objects.get(pk=imported.batch_id)
    reseal(batch)
    refused_with_nothing_stored(operator, imported)


def test_a_store_mixed_with_rows_of_the_file_is_refused(importers: tuple[Any, Any]) -> None:
    """Two rows the store vouches for and one prepared from the file (each an applied-for row): the digest is
    the application's only when the store vouched for every row, or none and the rows hash to it."""
    operator, approver = importers
    imported = approve(approver, applied_for(operator, people(51)))
    data = imports.stored_file(imported)

    def mixed() -> Any:
        yield from list(imports.sealed_rows(imported))[:2]
        yield list(imports.import_rows(imported, data))[2]

    with pytest.raises(NotPermitted):
        batch_execute(actor=operator, batch_id=imported.batch_id, rows=mixed)
    assert Person.objects.count() == 0


def _reseal_with_the_key(
    imported: ImportFile, rows: list[tuple[dict[str, Any], dict[str, Any]]], rules: str
) -> None:
    """What an attacker holding the key file can write: a store sealed under the application's own
    associated data."""
    header = {"format": imports._ROWS_FORMAT, "rules": rules, "rows": len(rows), "chunks": 1}
    plain = orjson.dumps(
        [list(r) for r in rows], default=imports._tagged, option=orjson.OPT_PASSTHROUGH_DATETIME
    )
    aad = imports._rows_aad(imported, imported.batch.payload_digest, header, 0)
    token = keyring().encrypt_bytes(plain, aad=aad)
    imports._rows_path(imported.uid).write_bytes(
        orjson.dumps(header) + b"\n" + len(token).to_bytes(8, "big") + token
    )


def test_rows_validated_again_are_pinned_by_the_digest_even_against_the_key(
    importers: tuple[Any, Any],
) -> None:
    """Under rules that are not those in force (a stale dry run: execution validates each row again), a
    store resealed with the key and other rows is refused as the file differing: those rows are hashed."""
    operator, approver = importers
    imported = approve(approver, applied_for(operator, people(61)))
    original = list(imports.sealed_rows(imported))
    forged = [({**p.row, "name": "冒名顶替"}, p.cleaned) for p in original]
    _reseal_with_the_key(imported, forged, rules="0" * 64)
    refused_with_nothing_stored(operator, imported, NotPermitted)
    assert not Person.objects.filter(name="冒名顶替").exists()


def test_rows_whose_cleaned_values_are_taken_are_counted_and_stored(importers: tuple[Any, Any]) -> None:
    """The fast path stays: the store's own rows under the rules in force are counted, and stored."""
    operator, approver = importers
    imported = approve(approver, applied_for(operator, people(71)))
    rows = list(imports.sealed_rows(imported))
    assert {p.rules for p in rows} == {rules_digest(rules_in_force("person"))}
    assert all(isinstance(p, Prechecked) and p.vouched == imported.batch.payload_digest for p in rows)
    assert imports.execute_import(actor=operator, batch_id=imported.batch_id).rows == 3


def test_cleaned_values_resealed_with_the_key_are_refused_by_the_applications_event(
    importers: tuple[Any, Any],
) -> None:
    """An intruder with the data directory and the key file, not the database, seals other cleaned values (a
    phone of his choosing) under the rules in force and the application's own associated data: the store
    decrypts, but its plaintext is not what the application's audit event recorded. Nothing is stored."""
    operator, approver = importers
    imported = approve(approver, applied_for(operator, people(81)))
    original = list(imports.sealed_rows(imported))
    forged = [(p.row, {**p.cleaned, "phone": "13900000000"}) for p in original]
    _reseal_with_the_key(imported, forged, rules=original[0].rules)
    refused_with_nothing_stored(operator, imported, IntegrityAlert)
    assert len(imports.applied_rows_digest(imported)) == 64  # what the application's event recorded
    assert not Person.objects.filter(name__in=NAMES).exists()
