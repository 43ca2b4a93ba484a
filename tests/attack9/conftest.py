"""The attack tests of round 9 reuse the business fixtures (the city-level system administrators, an approver,
an insured unit and its people) and add two city-level security administrators."""

from __future__ import annotations

from typing import Any

import pytest

from tests.business.conftest import approver, city_admin, insured, second_admin

__all__ = ["approver", "city_admin", "insured", "second_admin", "security", "security2"]


@pytest.fixture
def security(make_staff: Any) -> Any:
    return make_staff(
        "security_city", posts=("security_admin",), district="371000", full_name="安全管理员 林峰"
    )


@pytest.fixture
def security2(make_staff: Any) -> Any:
    return make_staff(
        "security2_city", posts=("security_admin",), district="371000", full_name="安全管理员 何静"
    )
