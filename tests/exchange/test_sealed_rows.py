"""The dry run's cleaned rows, sealed beside the stored file at application, so that execution need not
validate every row again: encrypted (no plaintext personal data on disk), bound to the import, the batch, the
rules and each chunk's place. Edited, swapped or cut, they stop the execution with an integrity alert and
nothing stored; under rules changed since the dry run the rows are validated again."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from sidms.changes.batches import ImportRefused, _Statistics, batch_decide
from sidms.changes.rules import rule_propose
from sidms.changes.services import review_decide
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import spec_for
from sidms.exchange import imports
from sidms.exchange.models import ImportFile
from sidms.registry.models import Person
from tests.conftest import last_integrity_alert
from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]

NAMES = ["张晓明", "李红梅", "王建国"]


def people(first: int) -> bytes:
    return csv_bytes(
        [HEADER]
        + [
            [name, id_number(first + i), "", "1960/1/1", "在职职工", "371002", f"1396310{first + i:04d}"]
            for i, name in enumerate(NAMES)
        ],
        "gbk",
    )


def applied_for(
    importers: tuple[Any, Any], data: bytes, checked: imports.Checked | None = None
) -> ImportFile:
    """The dry run of DATA (or CHECKED) and its application by the operator, its rows sealed beside it."""
    checked = checked or imports.check_file(data, kind="persons", filename="名单.csv")
    assert not checked.failing
    imported = imports.apply_import(actor=importers[0], data=data, checked=checked, reason="单位申报")
    assert imports._rows_path(imported.uid).exists()
    return imported


def applied(importers: tuple[Any, Any], data: bytes) -> ImportFile:
    """applied_for, then approved by the second person."""
    imported = applied_for(importers, data)
    batch_decide(actor=importers[1], batch_id=imported.batch_id, approve=True)
    return imported


def test_the_cleaned_rows_are_sealed_without_plaintext_and_execution_imports_them(
    importers: tuple[Any, Any], django_capture_on_commit_callbacks: Any
) -> None:
    data = people(11)
    imported = applied(importers, data)
    sealed = imports._rows_path(imported.uid).read_bytes()
    for secret in [id_number(11 + i) for i in range(3)] + NAMES + ["13963100011"]:
        for encoding in ("utf-8", "gbk"):
            assert secret.encode(encoding) not in sealed
        assert secret.encode("unicode_escape") not in sealed
    rows = list(imports.sealed_rows(imported))
    assert [row.cleaned["name"] for row in rows] == NAMES
    assert rows[0].cleaned["sex"] == "1" and str(rows[0].cleaned["birth_date"]) == "1960-01-01"

    with django_capture_on_commit_callbacks(execute=True):
        done = imports.execute_import(actor=importers[0], batch_id=imported.batch_id)
    assert done.rows == 3
    assert not imports._rows_path(imported.uid).exists()  # used once, then removed
    assert imports.stored_file(imported) == data  # the file stays as the import's record
    assert sorted(str(p.id_number) for p in Person.objects.all()) == [id_number(11 + i) for i in range(3)]
    zhang = Person.objects.get(name="张晓明")
    assert zhang.sex == "1" and str(zhang.birth_date) == "1960-01-01" and str(zhang.phone) == "13963100011"


def _flip(path: Any) -> None:
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01  # inside the last chunk's ciphertext or tag
    path.write_bytes(bytes(raw))


def _cut(path: Any) -> None:
    raw = path.read_bytes()
    header, body = raw.split(b"\n", 1)
    first = 8 + int.from_bytes(body[:8], "big")
    path.write_bytes(header + b"\n" + body[:first])  # the first chunk only


def _fewer_rows_declared(path: Any) -> None:
    header, body = path.read_bytes().split(b"\n", 1)
    path.write_bytes(header.replace(b'"rows":3', b'"rows":2') + b"\n" + body)


@pytest.mark.req("R20")
@pytest.mark.parametrize("tamper", [_flip, _cut, _fewer_rows_declared])
def test_sealed_rows_edited_or_cut_stop_the_execution(
    importers: tuple[Any, Any], tamper: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "ROWS_CHUNK", 2)  # two chunks for three rows, so that one can be cut
    imported = applied(importers, people(21))
    path = imports._rows_path(imported.uid)
    assert path.read_bytes().split(b"\n", 1)[0].count(b'"chunks":2') == 1
    tamper(path)
    with pytest.raises(IntegrityAlert):
        imports.execute_import(actor=importers[0], batch_id=imported.batch_id)
    assert Person.objects.count() == 0
    event, payload = last_integrity_alert()  # audited, though the execution rolled back
    assert (event.object_type, event.object_id) == ("import_file", str(imported.pk))
    assert payload["detail"] == {"reason": "stored_rows", "batch": imported.batch_id}


@pytest.mark.req("R20")
def test_sealed_rows_of_another_import_are_refused(importers: tuple[Any, Any]) -> None:
    first, second = applied(importers, people(31)), applied(importers, people(41))
    imports._rows_path(first.uid).write_bytes(imports._rows_path(second.uid).read_bytes())
    with pytest.raises(IntegrityAlert):
        imports.execute_import(actor=importers[0], batch_id=first.batch_id)
    assert Person.objects.count() == 0
    assert imports.execute_import(actor=importers[0], batch_id=second.batch_id).rows == 3


def test_without_sealed_rows_the_rows_are_prepared_from_the_file_again(importers: tuple[Any, Any]) -> None:
    imported = applied(importers, people(51))
    imports._rows_path(imported.uid).unlink()
    assert imports.execute_import(actor=importers[0], batch_id=imported.batch_id).rows == 3
    assert Person.objects.count() == 3


@pytest.mark.req("R5")
def test_rules_changed_since_the_dry_run_validate_the_rows_again(
    importers: tuple[Any, Any], make_staff: Any
) -> None:
    imported = applied(importers, people(61))
    admin, second = (make_staff(name, posts=("city_admin",), district="371000") for name in ("adm1", "adm2"))
    held = rule_propose(
        actor=admin, entity="person", field="address", required=True, validator="text", review_level="none",
        crosschecks=[], reason="通讯地址必填",
    )  # fmt: skip
    review_decide(actor=second, change_request_id=held.pk, approve=True)
    # The file has no address column: under the new rule every row is refused, though its dry run was clean.
    with pytest.raises(ImportRefused) as refused:
        imports.execute_import(actor=importers[0], batch_id=imported.batch_id)
    assert sorted(refused.value.rows) == [1, 2, 3]
    assert all("address" in errors for errors in refused.value.rows.values())
    assert Person.objects.count() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner statistics of PostgreSQL")
def test_a_large_import_leaves_the_planner_statistics_of_its_table(load: Any) -> None:
    """ANALYZE inside the import's transaction counts its own new rows (what the next look-ups plan by)."""
    from tests.changes.conftest import person_row

    load("person", [person_row(i) for i in range(1, 8)])

    def planned() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'registry_person'")
            return float(cursor.fetchone()[0])

    assert planned() != 7
    statistics = _Statistics(spec_for("person"))
    statistics.grown(7)  # below the first threshold: nothing
    assert planned() != 7
    statistics.done(_Statistics.ANALYZE_FROM)  # a large import's end
    assert planned() == 7
