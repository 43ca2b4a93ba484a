"""Reading code tables: names for display and membership checks for validation."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from django.utils.translation import get_language

from sidms.parameters.models import CodeItem, CodeTable, Region


def code_label(table: CodeTable | str, code: str) -> str:
    names = _names(str(table))
    pair = names.get(code)
    if pair is None:
        return code
    return pair[1] if (get_language() or "").startswith("en") else pair[0]


def code_choices(table: CodeTable | str) -> list[tuple[str, str]]:
    return [(code, code_label(table, code)) for code in _names(str(table))]


def is_code(table: CodeTable | str, code: str) -> bool:
    return code in _names(str(table))


@lru_cache(maxsize=16)
def _names(table: str) -> dict[str, tuple[str, str]]:
    return {
        item.code: (item.name_zh, item.name_en)
        for item in CodeItem.objects.filter(table=table).order_by("sort", "code")
    }


@lru_cache(maxsize=1)
def region_codes() -> frozenset[str]:
    return frozenset(Region.objects.values_list("code", flat=True))


@lru_cache(maxsize=1)
def district_codes() -> frozenset[str]:
    return frozenset(Region.objects.filter(is_district=True).values_list("code", flat=True))


def clear_caches() -> None:
    """Forget the cached code tables and divisions. They change only through data migrations (no service or
    page edits them), which a deploy applies before the processes restart with empty caches; tests that
    change a table call this."""
    _names.cache_clear()
    region_codes.cache_clear()
    district_codes.cache_clear()
    _region_names.cache_clear()
    tables_fingerprint.cache_clear()


@lru_cache(maxsize=1)
def _region_names() -> dict[str, str]:
    return dict(Region.objects.values_list("code", "name"))


def region_name(code: str) -> str:
    return _region_names().get(str(code), "")


def district_choices() -> list[tuple[str, str]]:
    return [
        (code, f"{code} {name}") for code, name in sorted(_region_names().items()) if code in district_codes()
    ]


@lru_cache(maxsize=1)
def tables_fingerprint() -> str:
    """SHA-256 over what the validators read of the code tables and the divisions, as this process holds them
    (the caches above, which they read): every code table's codes and names, the division codes, the
    district codes. Part of the rules digest (changes.batches.rules_digest), so that a dry run's cleaned rows
    are validated again at an execution that reads other tables. Taken from the caches rather than the
    tables, it names what the cleaning read, not what the tables hold now; it costs no query once they are
    warm (the tables change by migrations, after which the processes restart or call clear_caches)."""
    hasher = hashlib.sha256()
    for table in sorted(CodeTable.values):
        hasher.update(
            json.dumps(["table", table, sorted(_names(table).items())], ensure_ascii=False).encode()
        )
    hasher.update(json.dumps(["regions", sorted(region_codes())]).encode())
    hasher.update(json.dumps(["districts", sorted(district_codes())]).encode())
    return hasher.hexdigest()
