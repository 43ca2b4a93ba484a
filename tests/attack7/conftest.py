"""The attack tests reuse the business fixtures (administrators, an approver, an insured unit and people) and
the archive fixtures (a file store in a temporary directory, the archive reviewer, a person of 环翠区)."""

from tests.archives.conftest import archivist, data_dir, person, unit
from tests.business.conftest import approver, city_admin, insured, second_admin

__all__ = ["approver", "archivist", "city_admin", "data_dir", "insured", "person", "second_admin", "unit"]
