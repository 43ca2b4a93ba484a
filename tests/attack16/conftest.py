"""Round 16 reuses the business fixtures (an approver, an insured unit and people)."""

from __future__ import annotations

from tests.business.conftest import approver, city_admin, insured

__all__ = ["approver", "city_admin", "insured"]
