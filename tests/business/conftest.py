"""Fixtures of the business tests: the two city-level system administrators who change parameters."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def city_admin(make_staff) -> Any:  # type: ignore[no-untyped-def]
    return make_staff("admin_city", posts=("city_admin",), district="371000")


@pytest.fixture
def second_admin(make_staff) -> Any:  # type: ignore[no-untyped-def]
    return make_staff("admin2_city", posts=("city_admin",), district="371000")
