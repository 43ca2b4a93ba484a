"""The attack tests of round 11 reuse the business fixtures (the city-level system administrators, an
approver, an insured unit and its people), the archive fixtures (a data directory per test, the 环翠区
archive reviewer, a person) and add two city-level security administrators."""

from __future__ import annotations

from tests.archives.conftest import archivist, data_dir, id_copy, person
from tests.attack9.conftest import security, security2
from tests.business.conftest import approver, city_admin, insured, reemployed, second_admin
from tests.changes.conftest import huancui_reviewer

__all__ = [
    "approver",
    "archivist",
    "city_admin",
    "data_dir",
    "huancui_reviewer",
    "id_copy",
    "insured",
    "person",
    "reemployed",
    "second_admin",
    "security",
    "security2",
]  # fmt: skip
