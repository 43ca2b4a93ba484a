"""People's names for the codes of the collection rules: no raw code reaches a clerk (not `person.email`,
`phone_or_service`, `manual`). The audit log's words are in sidms.web.governance.audit_words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sidms.changes.services import field_label
from sidms.core.kernel import ENTITIES
from sidms.parameters.models import CodeTable, OnDuplicate, ReviewLevel
from sidms.web.display import joined

VALIDATOR_LABELS: dict[str, Any] = {
    "text": gettext_lazy("Text (no format check)"),
    "idcard": gettext_lazy("Citizen ID number (GB 11643)"),
    "uscc": gettext_lazy("Unified social credit code (GB 32100)"),
    "phone": gettext_lazy("Personal phone: mobile or landline"),
    "phone_or_service": gettext_lazy("Service line: phone, hotline or service number"),
    "email": gettext_lazy("E-mail address"),
    "person_name": gettext_lazy("Person's name"),
    "postcode": gettext_lazy("Postcode (6 digits)"),
    "bank_account": gettext_lazy("Bank card number (with check digit)"),
    "date": gettext_lazy("Date (YYYY-MM-DD)"),
    "district": gettext_lazy("District of the city"),
    "region": gettext_lazy("Administrative division code (GB/T 2260)"),
    "record": gettext_lazy("An existing record"),
    "sex": gettext_lazy("Sex code (GB/T 2261.1)"),
    "risk_class": gettext_lazy("Industry risk class (1–8)"),
    "status": gettext_lazy("Record status"),
    "choices": gettext_lazy("One of the field's listed values"),
}

REVIEW_LEVEL_LABELS: dict[str, Any] = {
    ReviewLevel.NONE: gettext_lazy("No review"),
    ReviewLevel.SYSTEM: gettext_lazy("System validation"),
    ReviewLevel.MANUAL: gettext_lazy("Manual review"),
}

REGISTRY_LABELS: dict[str, Any] = {
    "market_regulation": gettext_lazy("Market regulation"),
    "public_security": gettext_lazy("Public security"),
    "civil_affairs": gettext_lazy("Civil affairs"),
    "tax": gettext_lazy("Tax"),
}


def validator_label(name: str) -> str:
    if name.startswith("code:"):
        table = name.removeprefix("code:")
        label = CodeTable(table).label if table in CodeTable.values else table
        return _("Code table: %(table)s") % {"table": label}
    return str(VALIDATOR_LABELS.get(name or "text", name))


def review_level_label(level: str) -> str:
    return str(REVIEW_LEVEL_LABELS.get(level, level))


def registry_label(name: str) -> str:
    return str(REGISTRY_LABELS.get(name, name))


def rule_field_label(entity: str, field: str) -> str:
    """“参保人员 · 电子邮箱”, not `person.email`."""
    spec = ENTITIES.get(entity)
    if spec is None or field not in spec.fields:
        return f"{entity}.{field}"
    return f"{spec.model._meta.verbose_name} · {field_label(spec, field)}"


# What a rule version says, by attribute (the rule editor's labels; the audit log names changed attributes).
RULE_ATTRIBUTES: dict[str, Any] = {
    "required": gettext_lazy("Required"),
    "validator": gettext_lazy("Format check"),
    "review_level": gettext_lazy("Review level"),
    "crosschecks": gettext_lazy("External cross-checks"),
    "on_duplicate": gettext_lazy("On a duplicate"),
    "effective_from": gettext_lazy("Effective from"),
    "reason": gettext_lazy("Reason for the change"),
}


def local_minute(moment: str) -> str:
    """An ISO moment as the clerk's local date and minute (2026-11-30 14:05)."""
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if timezone.is_aware(parsed):
        parsed = timezone.localtime(parsed)
    return parsed.strftime("%Y-%m-%d %H:%M")


def describe_rule(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, str]]:
    """A rule proposal as labelled rows (before → after), for the confirming administrator."""
    rows = []

    def show(key: str, value: Any) -> str:
        if value is None:
            return "—"
        if key == "required":
            return _("Required") if value else _("Optional")
        if key == "validator":
            return validator_label(str(value))
        if key == "review_level":
            return review_level_label(str(value))
        if key == "crosschecks":
            return joined(registry_label(v) for v in value) or "—"
        if key == "on_duplicate":
            return str(OnDuplicate(value).label) if value in OnDuplicate.values else str(value)
        if key == "effective_from":
            return local_minute(str(value)) if value else _("when confirmed")
        return str(value) or "—"

    for key, name in RULE_ATTRIBUTES.items():
        old = (before or {}).get(key) if key != "effective_from" else None
        rows.append(
            {
                "key": key,
                "label": str(name),
                "old": show(key, old) if before else "—",
                "new": show(key, after.get(key)),
            }
        )
    return rows
