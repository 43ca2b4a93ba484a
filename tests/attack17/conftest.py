"""Round 17 reuses the business fixtures (administrators, an approver, an insured unit and people)."""

from __future__ import annotations

from tests.business.conftest import approver, city_admin, insured, second_admin

__all__ = ["approver", "city_admin", "insured", "second_admin"]
