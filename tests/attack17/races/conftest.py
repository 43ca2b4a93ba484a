"""Committed data and a connection per thread, as tests/e2e has them (no browser is used)."""

from __future__ import annotations

from tests.e2e.conftest import _shipped_rows, _transactional_database

__all__ = ["_shipped_rows", "_transactional_database"]
