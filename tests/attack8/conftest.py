"""The attack tests of round 8 reuse the business fixtures (administrators, an approver, an insured unit and
its people)."""

from tests.business.conftest import approver, city_admin, insured, second_admin

__all__ = ["approver", "city_admin", "insured", "second_admin"]
