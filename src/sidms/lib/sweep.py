"""Removing files a crash or an ended request left behind: those last written before a moment, one by one,
whatever another sweep removes at the same time (the import store's and the archive store's temporary
files, the import page's progress files)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def older(path: Path, before: float) -> bool:
    """Whether PATH was last written before BEFORE (seconds since the epoch); False if it is gone."""
    try:
        return path.stat().st_mtime < before
    except OSError:
        return False


def unlinked(path: Path) -> bool:
    """Remove PATH; False if it was gone already."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def remove_older(paths: Iterable[Path], before: float) -> int:
    """Remove those of PATHS last written before BEFORE; how many went."""
    return sum(1 for path in paths if older(path, before) and unlinked(path))
