"""The partner registries the pipeline asks before a manual review (R7.3), built once from settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from django.conf import settings

from sidms.crosscheck import Registry, build_registry, check_all


@cache
def registry(name: str) -> Registry:
    return build_registry(name, settings.SIDMS_CROSSCHECK.get(name, {}))


def run(names: Sequence[str], subject: Mapping[str, str]) -> list[dict[str, Any]]:
    """Results as stored with the review request. An unreachable registry answers "not verified"."""
    results = check_all([registry(name) for name in names], subject)
    return [result.as_dict() for result in results]


def reset() -> None:
    """Forget built registries (after a settings change, e.g. in tests)."""
    registry.cache_clear()
