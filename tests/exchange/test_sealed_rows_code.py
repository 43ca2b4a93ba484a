"""Sealed rows cleaned by other code than the code in force (a deploy changed a validator between the dry run
and its execution) are validated again, as under other rules: the rules digest covers a fingerprint of the
code that cleans values (changes.batches.cleaning_code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sidms.changes.batches import batch_decide, code_fingerprint, rules_digest
from sidms.changes.services import rules_in_force
from sidms.exchange import imports
from sidms.registry.models import Person
from tests.exchange.test_sealed_rows import NAMES, applied_for, people

pytestmark = [pytest.mark.django_db, pytest.mark.req("B3"), pytest.mark.req("R6.2")]


def _module(directory: Path, name: str, source: str) -> str:
    (directory / f"{name}.py").write_text(source, encoding="utf-8")
    return name


def test_the_code_fingerprint_follows_the_source_of_its_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    monkeypatch.syspath_prepend(str(tmp_path))
    name = _module(tmp_path, "sealclean_validator", "def check(value):\n    return value.strip()\n")
    before = code_fingerprint(["sidms.lib.phone", name], ["phonenumbers"])
    assert code_fingerprint(["sidms.lib.phone", name], ["phonenumbers"]) == before
    _module(tmp_path, name, "def check(value):\n    return value.strip().upper()\n")
    importlib.invalidate_caches()
    assert code_fingerprint(["sidms.lib.phone", name], ["phonenumbers"]) != before
    assert code_fingerprint(["sidms.lib.phone", name], []) != code_fingerprint(
        ["sidms.lib.phone", name], ["phonenumbers"]
    )
    with pytest.raises(LookupError):
        code_fingerprint(["sidms.lib.no_such_module"])


def test_the_rules_digest_covers_the_code_that_cleans() -> None:
    rules = rules_in_force("person")
    assert rules_digest(rules) == rules_digest(rules)
    assert rules_digest(rules, code="a") != rules_digest(rules, code="b")
    assert rules_digest(rules) != rules_digest(rules, code="a")


@pytest.mark.req("R5")
@pytest.mark.parametrize("other_code", [False, True])
def test_rows_cleaned_by_other_code_are_validated_again(
    importers: tuple[Any, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    other_code: bool,
) -> None:
    """Sealed rows whose cleaned names differ from what the code in force makes of them (as a validator
    changed by a deploy would leave them): under the same code's digest they are taken as sealed; under the
    digest of other code (the phone module as a deploy might change it) they are validated again."""
    data = people(71)
    checked = imports.check_file(data, kind="persons", filename="名单.csv")
    for row in checked.rows:
        assert row.cleaned is not None
        row.cleaned["name"] = "旧" + row.cleaned["name"]
    if other_code:
        monkeypatch.syspath_prepend(str(tmp_path))
        source = Path(imports.__file__).parents[1].joinpath("lib", "phone.py").read_text(encoding="utf-8")
        changed = _module(tmp_path, "sealclean_phone", source + "\n# 19x numbers admitted\n")
        checked.rules = rules_digest(rules_in_force("person"), code=code_fingerprint([changed]))
    imported = applied_for(importers, data, checked)
    batch_decide(actor=importers[1], batch_id=imported.batch_id, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert imports.execute_import(actor=importers[0], batch_id=imported.batch_id).rows == 3
    expected = NAMES if other_code else ["旧" + name for name in NAMES]
    assert sorted(Person.objects.values_list("name", flat=True)) == sorted(expected)
