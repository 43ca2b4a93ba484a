"""Page modules: what an entity's record pages show beyond the generic ones (related lists, links to create a
related record). An entity with nothing to add needs no module at all — agencies and service institutions
have their pages from the generic implementation alone. Modules in this package are found when the web app
is ready (`discover`), so adding one touches no list.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Related:
    """A list of records of ENTITY that point at the record (through the field REFERENCE, e.g. "person"),
    shown on its page with COLUMNS; CREATE offers a link to a new one with that reference filled in."""

    title: Any
    entity: str
    reference: str
    columns: tuple[str, ...]
    create: bool = False
    only_current: str = ""  # a date field that, when set, ends the relation (employment's end_date)
    newest_first: str = ""  # a field to list by, newest first (a ledger's period)
    limit: int = 200  # at most this many rows; the page says when there are more


@dataclass(frozen=True)
class PageModule:
    entity: str
    related: tuple[Related, ...] = field(default_factory=tuple)
    creatable: bool = True  # offer "new" on the list page (a related record may be created from its parent)


PAGES: dict[str, PageModule] = {}


def register(module: PageModule) -> PageModule:
    PAGES[module.entity] = module
    return module


def page(entity: str) -> PageModule:
    return PAGES.get(entity) or PageModule(entity)


def discover() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
