"""The attack tests of round 10 (issue 9: archives, import, export) reuse the archive fixtures (a data
directory per test, the 环翠区 archive reviewer, a person) and the exchange fixtures."""

from __future__ import annotations

from tests.archives.conftest import archivist, data_dir, id_copy, person

__all__ = ["archivist", "data_dir", "id_copy", "person"]
