"""The attack tests reuse the business fixtures (administrators, an approver, an insured unit and people) and
the archive fixtures (a file store in a temporary directory, archive reviewers, stored items)."""

from tests.archives.conftest import archivist, data_dir, person, unit
from tests.archives.test_retention import second_archivist, stored
from tests.business.conftest import approver, city_admin, insured, reemployed, second_admin

__all__ = ["approver", "archivist", "city_admin", "data_dir", "insured", "person", "reemployed", "second_admin",
           "second_archivist", "stored", "unit"]  # fmt: skip
