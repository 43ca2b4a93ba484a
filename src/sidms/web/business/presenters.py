"""How a parameter version proposed by one city-level system administrator (business.parameters) reads on its
review page and in the queue: the value in force on its day and the one proposed, from when, for which
region, on which document, and why. Its review page was a server error, so the second administrator
confirmed what no page showed him (attack round 9)."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sidms.business.parameters import DEFINITIONS, ENTITY, Definition
from sidms.changes.models import ChangeRequest
from sidms.parameters.codes import region_name
from sidms.web.display import money
from sidms.web.workflow.presenters import ProposalPresenter, register


def value_text(definition: Definition | None, value: Any) -> str:
    """A parameter's value as its pages show it: an amount in yuan as ¥7,180.00, as money reads on every
    staff page; a rate or a text as stored (0.16, without the quotes it is stored in), a count or a table
    as JSON. "—" for none."""
    if value is None:
        return "—"
    if definition is not None and definition.type == "money" and not isinstance(value, bool):
        return money(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class ParameterProposal(ProposalPresenter):
    def record_link(self, row: Any) -> tuple[str, str]:
        """The parameter in words (its name and the region it is for), and its page."""
        key, _sep, region = str(row.record_label).partition("@")
        definition = DEFINITIONS.get(key)
        name = f"{definition.label}（{key}）" if definition is not None else key
        if region:
            name = f"{name} · {region_name(region) or region}"
        return name, reverse("web:business_parameter", args=[key]) if definition is not None else ""

    def record_text(self, row: Any) -> str:
        return self.record_link(row)[0]

    def pairs(self, held: ChangeRequest) -> list[dict[str, str]]:
        before, after = held.proposed.get("parameter", [None, {}])
        after = after if isinstance(after, dict) else {}
        definition = DEFINITIONS.get(str(held.record_label).partition("@")[0])

        def shown(value: Any) -> str:
            return value_text(definition, value)

        region = str(after.get("region") or "")
        return [
            {"label": _("Parameter"), "old": "—", "new": self.record_text(held)},
            {"label": _("Value"), "old": shown(before), "new": shown(after.get("value"))},
            {"label": _("Effective from"), "old": "—", "new": str(after.get("effective_from") or "—")},
            {"label": _("Region"), "old": "—", "new": (region_name(region) or region) if region else _("the whole city")},
            {"label": _("Source document"), "old": "—",
             "new": f"{after.get('source') or '—'}（{after.get('status') or '—'}"
                    f"{'，' + _('checked against the official notice') if after.get('checked') else ''}）"},
            {"label": _("Reason for the change"), "old": "—", "new": str(after.get("reason") or "—")},
        ]  # fmt: skip


register(ParameterProposal(ENTITY, label=gettext_lazy("Parameter"), fields=gettext_lazy("Parameter")))
