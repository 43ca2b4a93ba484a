"""Fixtures of the staff pages' tests: records stored the way every record is stored (an approved import),
with their record numbers assigned by the system, as a window clerk never types one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import luhn_complete, unit_credit_codes


@pytest.fixture
def make_person(load: Callable[..., list[Any]]) -> Callable[..., Any]:
    def make(
        *,
        id_number: str,
        name: str = "张三",
        district: str = "371002",
        legacy: bool = False,
        **fields: object,
    ) -> Any:
        values: dict[str, object] = {
            "id_number": id_number,
            "name": name,
            "category": "employee",
            "district_id": district,
            "phone": "13963100000",
            "bank_account": luhn_complete("621700000000000000"),
            "status": "active",
        }
        values.update(fields)
        return load("person", [values], legacy=legacy)[0]

    return make


@pytest.fixture
def make_unit(load: Callable[..., list[Any]]) -> Callable[..., Any]:
    codes = unit_credit_codes()

    def make(*, name: str, district: str, credit_code: str = "", **fields: object) -> Any:
        values: dict[str, object] = {
            "name": name,
            "credit_code": credit_code or codes(name),
            "unit_type": "enterprise",
            "district_id": district,
            "phone": "0631-5221234",
            "status": "active",
        }
        values.update(fields)
        return load("unit", [values])[0]

    return make
