"""How the review pages present each kind of request, by declaration (entities by declaration, docs/
architecture.md): the queue and the review page look a request's kind up here and never name one.

A change of a governed record is presented from the kernel's declaration of its entity (`RecordPresenter`,
one for every entity in `core.kernel.ENTITIES`, nothing to register). A four-eyes proposal (a collection rule,
a staff member's post, a parameter version) is presented by the web chapter that owns its pages: each
`sidms/web/<chapter>/presenters.py` registers a `ProposalPresenter` for its kind, and `discover` imports those
modules when the web app is ready, so adding a kind touches no list here. What confirming a proposal does is
registered with the review service in the kind's own app (`changes.services.register_proposal`); who may
decide it is the post the request names (`access.posts.DECIDERS`).

A kind with no presenter fails closed: the queue names it only as "other record", with none of its values,
and its review page and decision are refused (`UnregisteredKind`).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sidms.changes.models import ChangeRequest
from sidms.changes.services import held_values, named_as, rules_in_force
from sidms.core.errors import NotPermitted, english
from sidms.core.kernel import ENTITIES, EntitySpec
from sidms.crosscheck import SPECS as REGISTRY_SPECS
from sidms.parameters.models import ReviewLevel
from sidms.web.display import joined, label, label_for, record_name, record_url, shown, value_text


class UnregisteredKind(NotPermitted):
    """A request of a kind no presenter is registered for: nothing of it is shown, and it is not decided here."""

    code = "unregistered_kind"
    default = gettext_lazy(
        "This kind of request has no review page: it is neither shown nor decided here. "
        "Ask the system administrator."
    )


def new_record_text(row: Any) -> str:
    """A request's record in words when its kind says nothing more: the label it was submitted with."""
    if getattr(row, "record_id", 0) is None or not row.record_label:
        return _("new record")
    return str(row.record_label)


class Presenter:
    """What the queue and the review page show of one kind of request, and which template renders the review
    page (workflow/review/base.html, or one that extends it and fills its blocks)."""

    kind: str = ""
    template: str = "workflow/review/base.html"

    @property
    def label(self) -> str:
        raise NotImplementedError

    def record_text(self, row: Any) -> str:
        """The record a request or order concerns, in words (the queue's Record column)."""
        return new_record_text(row)

    def record_link(self, row: Any) -> tuple[str, str]:
        """The record named and linked on the review page (no link: "")."""
        return self.record_text(row), ""

    def fields(self, row: Any) -> str:
        """What the request changes, in a few words (the queue's Fields column)."""
        raise NotImplementedError

    def review(self, held: ChangeRequest, staff: Any, *, decides: bool) -> dict[str, Any]:
        """The review page's own part: `pairs` (label, old, new), `subject` and `checks`. DECIDES is true for
        the one who may decide the request (not its submitter)."""
        raise NotImplementedError


class ProposalPresenter(Presenter):
    """A four-eyes proposal: it changes no governed record, so it has no subject and asks no registry."""

    def __init__(self, kind: str, label: Any, fields: Any, template: str = "") -> None:
        self.kind = kind
        self._label = label
        self._fields = fields
        self.template = template or Presenter.template

    @property
    def label(self) -> str:
        return str(self._label)

    def fields(self, row: Any) -> str:
        return str(self._fields)

    def pairs(self, held: ChangeRequest) -> list[dict[str, str]]:
        """What the proposal asks for, as labelled rows (before → after)."""
        raise NotImplementedError

    def review(self, held: ChangeRequest, staff: Any, *, decides: bool) -> dict[str, Any]:
        return {"pairs": self.pairs(held), "subject": [], "checks": []}


class RecordPresenter(Presenter):
    """A change of a governed record, presented from its entity's declaration: fields by their labels, values
    masked through the read door, the record's subject and the registries' cross-checks."""

    template = "workflow/review/record.html"

    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        self.kind = spec.name

    @property
    def label(self) -> str:
        return str(self.spec.model._meta.verbose_name)

    def record_link(self, row: Any) -> tuple[str, str]:
        if row.record_id is None:
            return self.record_text(row), ""
        record = self.spec.model._default_manager.filter(pk=row.record_id).first()
        if record is None:
            return self.record_text(row), ""
        return record_name(self.spec, record), record_url(self.spec, record)

    def fields(self, row: Any) -> str:
        return joined(label(self.spec, name) for name in row.proposed if name in self.spec.fields)

    def review(self, held: ChangeRequest, staff: Any, *, decides: bool) -> dict[str, Any]:
        spec = self.spec
        rules = rules_in_force(held.entity)
        old, new = held_values(spec, held, 0), held_values(spec, held, 1)

        # The reviewer compares the values held for manual review with the documents and the registries:
        # those are shown in full, to the one who may decide. Anything else, and to anyone else (the
        # submitter too), keeps its mask. The values they replace are not held for review but stored, and
        # read as the read door shows stored values on the window channel (masked: a phone, bank account or
        # ID number is never shown in full once entered), to the decider as to everyone else.
        def reviewed(name: str, value: Any) -> str:
            manual = rules.get(name) is not None and rules[name].review_level == ReviewLevel.MANUAL
            return (
                shown(spec, name, value, staff)
                if not (manual and decides) or value in (None, "") or name.endswith("_id")
                else (value.isoformat() if hasattr(value, "isoformat") else str(value))
            )

        # Named as the record's page names them (a one-time grant's amount), by the values as they would be.
        stored = spec.model._default_manager.filter(pk=held.record_id).first() if held.record_id else None
        of = named_as(spec, new, stored)
        pairs = [
            {
                "label": label_for(spec, of, name),
                "old": shown(spec, name, old.get(name), staff) if held.record_id else "—",
                "new": reviewed(name, new.get(name)),
            }
            for name in held.proposed
            if name in spec.fields
        ]
        return {"pairs": pairs, "subject": self._subject(held), "checks": _checks(held)}

    def _subject(self, held: ChangeRequest) -> list[tuple[str, str]]:
        """Who the record is, for the reviewer: name, sex, birth date, district (as stored, masked as usual)."""
        spec = self.spec
        if held.record_id is None:
            return []
        record = spec.model._default_manager.filter(pk=held.record_id).first()
        if record is None:
            return []
        names = [
            n
            for n in ("name", "sex", "birth_date", "district_id", "unit_no", "credit_code")
            if n in spec.fields
        ]
        return [(label(spec, n), value_text(spec, n, getattr(record, n))) for n in names]


class Unregistered(Presenter):
    """The queue's stand-in for a kind nobody registered: named only as another record, nothing shown."""

    @property
    def label(self) -> str:
        return _("Other record")

    def record_text(self, row: Any) -> str:
        return ""

    def record_link(self, row: Any) -> tuple[str, str]:
        raise UnregisteredKind()

    def fields(self, row: Any) -> str:
        return ""

    def review(self, held: ChangeRequest, staff: Any, *, decides: bool) -> dict[str, Any]:
        raise UnregisteredKind()


PRESENTERS: dict[str, Presenter] = {}
UNREGISTERED = Unregistered()


def register(presenter: Presenter) -> Presenter:
    """Register how a kind of proposal is presented; a kind registered twice is a mistake of the code."""
    if presenter.kind in PRESENTERS and PRESENTERS[presenter.kind] is not presenter:
        raise ValueError(f"A presenter is registered twice for {presenter.kind!r}")
    PRESENTERS[presenter.kind] = presenter
    return presenter


def presenter_for(kind: str) -> Presenter:
    """How a request of KIND is presented; an unregistered kind gets the stand-in that shows nothing."""
    if kind in PRESENTERS:
        return PRESENTERS[kind]
    spec = ENTITIES.get(kind)
    return RecordPresenter(spec) if spec is not None else UNREGISTERED


def for_review(kind: str) -> Presenter:
    """The presenter of a review page: refused (UnregisteredKind) for a kind nobody registered."""
    presenter = presenter_for(kind)
    if presenter is UNREGISTERED:
        raise UnregisteredKind()
    return presenter


def for_record(kind: str) -> RecordPresenter:
    """The presenter of a governed record's page (a maintenance order): refused for anything else."""
    presenter = presenter_for(kind)
    if not isinstance(presenter, RecordPresenter):
        raise UnregisteredKind()
    return presenter


def discover() -> None:
    """Import each web chapter's presenters module (sidms/web/<chapter>/presenters.py), which registers the
    presenters of that chapter's proposals."""
    import sidms.web

    for info in pkgutil.iter_modules(sidms.web.__path__):
        name = f"sidms.web.{info.name}.presenters"
        if info.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


# --------------------------------------------------------------------------------------------------------
# Cross-checks with partner registries, as a reviewer reads them (R7.3)

BADGES = {
    "verified": gettext_lazy("Verified"),
    "mismatch": gettext_lazy("Does not match"),
    "not_found": gettext_lazy("Not found in the registry"),
    "flagged": gettext_lazy("Flagged: see the detail"),
    "unavailable": gettext_lazy("Not verified"),
}

# What a registry reported, named for the reviewer; anything else is technical and not shown to a clerk.
FACT_LABELS = {
    "name": gettext_lazy("Registered name"),
    "status": gettext_lazy("Registered status"),
    "registered_at": gettext_lazy("Registered on"),
    "match": gettext_lazy("ID number and name match"),
    "deceased": gettext_lazy("Deceased"),
    "death_date": gettext_lazy("Date of death"),
    "marital_status": gettext_lazy("Marital status"),
    "extract_date": gettext_lazy("Date of the registry extract"),
}
FACT_VALUES = {
    "true": gettext_lazy("yes"),
    "false": gettext_lazy("no"),
    "True": gettext_lazy("yes"),
    "False": gettext_lazy("no"),
}


def _checks(held: ChangeRequest) -> list[dict[str, Any]]:
    results = []
    for result in held.crosschecks:
        registry = REGISTRY_SPECS.get(result.get("registry", ""))
        checked = result.get("checked_at")
        facts = result.get("facts") or {}
        results.append(
            {
                "registry": (registry.label_en if english() else registry.label)
                if registry
                else _("Partner registry"),
                "status": result.get("status", "unavailable"),
                "badge": str(BADGES.get(result.get("status", ""), BADGES["unavailable"])),
                "detail": result.get("detail_en" if english() else "detail", ""),
                "facts": [
                    (str(FACT_LABELS[k]), str(FACT_VALUES.get(str(v), v)))
                    for k, v in facts.items()
                    if k in FACT_LABELS
                ],
                "checked_at": datetime.fromisoformat(checked) if checked else None,
            }
        )
    return results
