"""External cross-checks of manually reviewed fields against partner registries (R7.3).

Pure Python (no Django): the Django layer builds registries from settings with `build_registry` and
shows the reviewer each `CheckResult`. A registry that cannot answer gives UNAVAILABLE ("not
verified"): a check never blocks for long and never passes silently.
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import (
    NOT_CONFIGURED_DETAIL,
    CheckResult,
    OffRegistry,
    Registry,
    Status,
    Verdict,
    check_all,
)
from .http import CircuitBreaker, CircuitState, HttpRegistryClient, JsonReply, Reason, RegistryUnavailable
from .localfile import (
    FILE_ADAPTERS,
    CivilAffairsFileRegistry,
    CsvExtract,
    ExtractUnavailable,
    MarketRegulationFileRegistry,
    PublicSecurityFileRegistry,
    TaxFileRegistry,
    decode_extract,
)
from .registries import (
    CIVIL_AFFAIRS,
    HTTP_ADAPTERS,
    MARKET_REGULATION,
    PUBLIC_SECURITY,
    SPECS,
    TAX,
    CivilAffairsRegistry,
    MarketRegulationRegistry,
    PublicSecurityRegistry,
    TaxRegistry,
)

REGISTRY_NAMES = tuple(SPECS)
MODES = ("http", "file", "off")
CONFIG_KEYS = frozenset(
    {
        "mode",
        "base_url",
        "timeout",
        "retries",
        "deadline",
        "backoff",
        "token",
        "ca_file",
        "failure_threshold",
        "cooloff",
        "path",
    }
)


def build_registry(name: str, config: Mapping[str, str]) -> Registry:
    """A registry adapter from settings-style configuration (all values are text).

    `mode` is "http" (needs `base_url`; optional `timeout`, `retries`, `deadline`, `backoff`, `token`,
    `ca_file`, `failure_threshold`, `cooloff`), "file" (needs `path`) or "off" (the default: always
    UNAVAILABLE, "未配置该部门接口，未核查"). Bad configuration raises ValueError at once, so a
    deployment fails at start-up rather than at a reviewer's desk.
    """
    if name not in SPECS:
        raise ValueError(f"unknown registry {name!r}; expected one of {', '.join(REGISTRY_NAMES)}")
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise ValueError(f"{name}: unknown configuration key(s) {', '.join(unknown)}")
    mode = _text(config, "mode").lower() or "off"
    if mode == "off":
        return OffRegistry(name)
    if mode == "http":
        base_url = _text(config, "base_url")
        if not base_url:
            raise ValueError(f"{name}: mode 'http' needs base_url")
        ca_file = _text(config, "ca_file")
        client = HttpRegistryClient(
            base_url,
            timeout=_number(name, config, "timeout", 3.0),
            retries=int(_number(name, config, "retries", 2, whole=True)),
            deadline=_number(name, config, "deadline", 10.0),
            backoff=_number(name, config, "backoff", 0.2),
            token=_text(config, "token") or None,
            failure_threshold=int(_number(name, config, "failure_threshold", 5, whole=True)),
            cooloff=_number(name, config, "cooloff", 30.0),
            verify=ca_file or True,
        )
        return HTTP_ADAPTERS[name](client)
    if mode == "file":
        path = _text(config, "path")
        if not path:
            raise ValueError(f"{name}: mode 'file' needs path")
        return FILE_ADAPTERS[name](path)
    raise ValueError(f"{name}: mode must be one of {', '.join(MODES)}, not {mode!r}")


def _text(config: Mapping[str, str], key: str) -> str:
    value = config.get(key)
    return "" if value is None else str(value).strip()


def _number(name: str, config: Mapping[str, str], key: str, default: float, *, whole: bool = False) -> float:
    text = _text(config, key)
    if not text:
        return default
    try:
        value = float(int(text)) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{name}: {key} must be {kind}, not {text!r}") from None
    if value < 0 or value != value:  # negative or NaN
        raise ValueError(f"{name}: {key} must not be negative")
    return value


__all__ = [
    "CIVIL_AFFAIRS",
    "CONFIG_KEYS",
    "FILE_ADAPTERS",
    "HTTP_ADAPTERS",
    "MARKET_REGULATION",
    "MODES",
    "NOT_CONFIGURED_DETAIL",
    "PUBLIC_SECURITY",
    "REGISTRY_NAMES",
    "TAX",
    "CheckResult",
    "CircuitBreaker",
    "CircuitState",
    "CivilAffairsFileRegistry",
    "CivilAffairsRegistry",
    "CsvExtract",
    "ExtractUnavailable",
    "HttpRegistryClient",
    "JsonReply",
    "MarketRegulationFileRegistry",
    "MarketRegulationRegistry",
    "OffRegistry",
    "PublicSecurityFileRegistry",
    "PublicSecurityRegistry",
    "Reason",
    "Registry",
    "RegistryUnavailable",
    "Status",
    "TaxFileRegistry",
    "TaxRegistry",
    "Verdict",
    "build_registry",
    "check_all",
    "decode_extract",
]
