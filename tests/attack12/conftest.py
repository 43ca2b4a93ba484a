"""Round 12 reuses round 9's security administrators and the business fixtures."""

from __future__ import annotations

from tests.attack9.conftest import security, security2
from tests.business.conftest import approver, city_admin, insured, second_admin
from tests.changes.conftest import huancui_reviewer, public_security, wang

__all__ = [
    "approver",
    "city_admin",
    "huancui_reviewer",
    "insured",
    "public_security",
    "second_admin",
    "security",
    "security2",
    "wang",
]
