"""Round 15 reuses the archive's data directory, the review fixtures and the business fixtures (an approver,
an insured unit and people)."""

from __future__ import annotations

from tests.archives.conftest import archivist, data_dir
from tests.business.conftest import approver, city_admin, insured, second_admin
from tests.changes.conftest import public_security

__all__ = ["approver", "archivist", "city_admin", "data_dir", "insured", "public_security", "second_admin"]
