"""Round 14 reuses the archive's data directory and the review fixtures."""

from __future__ import annotations

from tests.archives.conftest import archivist, data_dir
from tests.changes.conftest import public_security

__all__ = ["archivist", "data_dir", "public_security"]
