"""Shared vocabulary of the cross-check adapters: statuses, results and the Registry protocol.

Pure Python on purpose (no Django): the Django layer builds adapters from settings and stores the
results next to the change request a reviewer decides on (R7.3).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

# Keys a subject may carry. Adapters read only the ones their registry needs.
SUBJECT_ID_NUMBER = "id_number"
SUBJECT_CREDIT_CODE = "credit_code"
SUBJECT_NAME = "name"

NOT_CONFIGURED_DETAIL = "未配置该部门接口，未核查"


class Status(StrEnum):
    VERIFIED = "verified"  # the registry confirms the data
    MISMATCH = "mismatch"  # the registry has the record but details differ (e.g. the name)
    NOT_FOUND = "not_found"  # the registry has no such record
    FLAGGED = "flagged"  # found, with a fact the reviewer must see (deceased, deregistered, revoked)
    UNAVAILABLE = "unavailable"  # not verified: timeout, error, circuit open, no extract, not configured


@dataclass(frozen=True)
class Verdict:
    """What a registry's answer means, before it is stamped with registry, time and source."""

    status: Status
    detail: str
    detail_en: str
    facts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    registry: str
    status: Status
    detail: str  # Chinese, shown to the reviewer
    detail_en: str
    facts: Mapping[str, str]
    checked_at: datetime  # UTC, timezone-aware
    source: str  # "http:<base_url>" or "file:<path>"

    def __post_init__(self) -> None:
        if self.checked_at.tzinfo is None or self.checked_at.utcoffset() is None:
            raise ValueError("checked_at must be timezone-aware")
        # A result is evidence shown to a reviewer and stored with the change request: freeze the facts too.
        object.__setattr__(self, "facts", MappingProxyType({str(k): str(v) for k, v in self.facts.items()}))

    @property
    def verified(self) -> bool:
        return self.status is Status.VERIFIED

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for storing the result with the change request."""
        return {
            "registry": self.registry,
            "status": str(self.status),
            "detail": self.detail,
            "detail_en": self.detail_en,
            "facts": dict(self.facts),
            "checked_at": self.checked_at.isoformat(),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            registry=data["registry"],
            status=Status(data["status"]),
            detail=data["detail"],
            detail_en=data["detail_en"],
            facts=dict(data.get("facts") or {}),
            checked_at=datetime.fromisoformat(data["checked_at"]),
            source=data["source"],
        )


@runtime_checkable
class Registry(Protocol):
    """A partner registry. `check` never raises for registry trouble: it answers UNAVAILABLE."""

    name: str

    def check(self, subject: Mapping[str, str]) -> CheckResult: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_result(registry: str, verdict: Verdict, source: str) -> CheckResult:
    return CheckResult(
        registry=registry,
        status=verdict.status,
        detail=verdict.detail,
        detail_en=verdict.detail_en,
        facts=verdict.facts,
        checked_at=utc_now(),
        source=source,
    )


def normalise_name(value: str) -> str:
    """Names compare after NFKC (full-width brackets and letters fold to ASCII) without any whitespace.

    Unit names often differ only in "（" against "(" or a stray space between a form and a registry.
    """
    return "".join(unicodedata.normalize("NFKC", value).split())


def normalise_code(value: str) -> str:
    """Credit codes and ID numbers: trimmed, upper case (a trailing check character "x" is "X")."""
    return unicodedata.normalize("NFKC", value).strip().upper()


def require(subject: Mapping[str, str], key: str) -> str:
    """The subject's value for `key`; a missing key is the caller's bug, not registry trouble."""
    value = subject.get(key, "")
    if not value or not value.strip():
        raise ValueError(f"cross-check subject lacks {key!r}")
    return value


class OffRegistry:
    """A registry the deployment has not configured: always "not verified", never a silent pass."""

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, subject: Mapping[str, str]) -> CheckResult:
        return make_result(
            self.name,
            Verdict(
                Status.UNAVAILABLE,
                NOT_CONFIGURED_DETAIL,
                "No interface to this registry is configured; not verified.",
                {"reason": "not_configured"},
            ),
            source="off",
        )


def check_all(registries: Sequence[Registry], subject: Mapping[str, str]) -> list[CheckResult]:
    """Ask several registries at once, so a review screen waits for the slowest, not for the sum."""
    if not registries:
        return []
    with ThreadPoolExecutor(max_workers=len(registries), thread_name_prefix="crosscheck") as pool:
        return list(pool.map(lambda registry: registry.check(subject), registries))
