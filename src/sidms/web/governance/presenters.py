"""How a collection rule proposal (changes.rules) reads on its review page and in the queue: the rule's
field in words (参保人员 · 电子邮箱, not person.email), linked to the rule's page, and the rule before and after."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy

from sidms.changes.models import ChangeRequest
from sidms.changes.rules import ENTITY
from sidms.core.kernel import ENTITIES
from sidms.web.governance.labels import describe_rule, rule_field_label
from sidms.web.workflow.presenters import ProposalPresenter, new_record_text, register


class RuleProposal(ProposalPresenter):
    def record_text(self, row: Any) -> str:
        if "." in row.record_label:
            return rule_field_label(*row.record_label.split(".", 1))
        return new_record_text(row)

    def record_link(self, row: Any) -> tuple[str, str]:
        if "." in row.record_label:
            return self.record_text(row), reverse("gov:rule_edit", args=row.record_label.split(".", 1))
        return self.record_text(row), ""

    def pairs(self, held: ChangeRequest) -> list[dict[str, str]]:
        before, after = held.proposed["rule"]
        entity, _sep, field = held.record_label.partition(".")
        spec = ENTITIES.get(entity)
        rows = describe_rule(before, after)
        if spec is None or field not in spec.declaration.duplicate_policy_fields:
            # Duplicate handling applies to fields that must be unique only (an ID number).
            rows = [row for row in rows if row["key"] != "on_duplicate"]
        return rows


register(
    RuleProposal(
        ENTITY,
        label=gettext_lazy("Collection rule"),
        fields=gettext_lazy("Rule"),
        template="governance/review_rule.html",
    )
)
