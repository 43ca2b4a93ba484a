"""People's names for the codes of rules and of the audit log: no raw code reaches a clerk (not
`person.email`, `system`, `reason=not_configured`), and the audit browser reads in Chinese."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sidms.changes.services import field_label
from sidms.core.kernel import ENTITIES
from sidms.parameters.models import CodeTable, OnDuplicate, ReviewLevel

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
    "agency_level": gettext_lazy("Agency level"),
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


def describe_rule(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, str]]:
    """A rule proposal as labelled rows (before → after), for the confirming administrator."""
    rows = []
    names = {
        "required": _("Required"),
        "validator": _("Format check"),
        "review_level": _("Review level"),
        "crosschecks": _("External cross-checks"),
        "on_duplicate": _("On a duplicate"),
        "effective_from": _("Effective from"),
        "reason": _("Reason for the change"),
    }

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
            return "、".join(registry_label(v) for v in value) or "—"
        if key == "on_duplicate":
            return str(OnDuplicate(value).label) if value in OnDuplicate.values else str(value)
        if key == "effective_from":
            return str(value).replace("T", " ")[:16] if value else _("when confirmed")
        return str(value) or "—"

    for key, name in names.items():
        old = (before or {}).get(key) if key != "effective_from" else None
        rows.append(
            {"label": name, "old": show(key, old) if before else "—", "new": show(key, after.get(key))}
        )
    return rows


# --------------------------------------------------------------------------------------------------------
# The audit log in words

ACTION_LABELS: dict[str, Any] = {
    "auth.password_ok": gettext_lazy("Password accepted"),
    "auth.password_failed": gettext_lazy("Wrong password"),
    "auth.otp_ok": gettext_lazy("Signed in (two factors)"),
    "auth.otp_failed": gettext_lazy("Wrong dynamic code"),
    "auth.otp_enrolled": gettext_lazy("Authenticator enrolled"),
    "auth.logout": gettext_lazy("Signed out"),
    "access.denied": gettext_lazy("Access refused"),
    "integrity.alert": gettext_lazy("Integrity alert"),
    "read": gettext_lazy("Viewed"),
    "write": gettext_lazy("Changed"),
    "submit": gettext_lazy("Submitted for review"),
    "review.approve": gettext_lazy("Review approved"),
    "review.reject": gettext_lazy("Review rejected"),
    "review.recheck": gettext_lazy("Registries asked again"),
    "review.denied": gettext_lazy("Review refused"),
    "maintenance.apply": gettext_lazy("Maintenance applied for"),
    "maintenance.approve": gettext_lazy("Maintenance approved"),
    "maintenance.refuse": gettext_lazy("Maintenance refused"),
    "maintenance.modify": gettext_lazy("Maintenance carried out"),
    "maintenance.accept": gettext_lazy("Maintenance re-checked"),
    "maintenance.send_back": gettext_lazy("Maintenance sent back"),
    "maintenance.denied": gettext_lazy("Maintenance step refused"),
    "batch.apply": gettext_lazy("Batch applied for"),
    "batch.approve": gettext_lazy("Batch approved"),
    "batch.refuse": gettext_lazy("Batch refused"),
    "batch.execute": gettext_lazy("Batch executed"),
    "batch.denied": gettext_lazy("Batch step refused"),
    "rules.propose": gettext_lazy("Rule change proposed"),
    "rules.edit": gettext_lazy("Rule version written"),
    "rules.adopt": gettext_lazy("Shipped rule adopted"),
    "staff.create": gettext_lazy("Staff account created"),
    "audit.browse": gettext_lazy("Audit log browsed"),
    "audit.verify": gettext_lazy("Store verified"),
}

OBJECT_LABELS: dict[str, Any] = {
    "change_request": gettext_lazy("Review request"),
    "maintenance": gettext_lazy("Maintenance order"),
    "batch": gettext_lazy("Batch application"),
    "collection_rule": gettext_lazy("Collection rule"),
    "staff": gettext_lazy("Staff member"),
    "audit_event": gettext_lazy("Audit log"),
}

DETAIL_LABELS: dict[str, Any] = {
    "by": gettext_lazy("Searched by"),
    "shown": gettext_lazy("Records shown"),
    "fields": gettext_lazy("Fields"),
    "version": gettext_lazy("Version"),
    "method": gettext_lazy("Method"),
    "reference": gettext_lazy("Reference"),
    "reason": gettext_lazy("Reason"),
    "permission": gettext_lazy("Function"),
    "scope": gettext_lazy("Data scope"),
    "entity": gettext_lazy("Kind of record"),
    "record": gettext_lazy("Record"),
    "status": gettext_lazy("Status"),
    "rows": gettext_lazy("Rows"),
    "kind": gettext_lazy("Kind"),
    "held_for_review": gettext_lazy("Review request"),
    "rule": gettext_lazy("Rule"),
    "ok": gettext_lazy("Intact"),
    "where": gettext_lazy("Where"),
    "message": gettext_lazy("Finding"),
    "events": gettext_lazy("Events"),
    "revisions": gettext_lazy("Revisions"),
    "checkpoints": gettext_lazy("Checkpoints"),
    "seconds": gettext_lazy("Seconds"),
    "registries": gettext_lazy("Registries"),
    "statuses": gettext_lazy("Results"),
    "note": gettext_lazy("Note"),
    "username": gettext_lazy("Login name"),
    "district": gettext_lazy("District"),
    "posts": gettext_lazy("Posts"),
    "filters": gettext_lazy("Filters"),
}
# Technical keys that mean nothing to the reader of the log (they serve verification).
HIDDEN_DETAIL = {"digest", "seal", "step", "revision", "revisions", "revisions_digest", "workflow", "record_id",
                 "message_en", "before", "after", "at"}  # fmt: skip

REASON_LABELS: dict[str, Any] = {
    "not_found_or_out_of_scope": gettext_lazy("not found, or outside the data scope"),
    "own_submission": gettext_lazy("own submission"),
    "own_application": gettext_lazy("own application"),
    "record_out_of_scope": gettext_lazy("the record moved out of the data scope"),
    "approver_executes": gettext_lazy("the approver may not execute"),
    "already_executed": gettext_lazy("already executed"),
    "not_approved": gettext_lazy("not approved"),
    "outside_window": gettext_lazy("outside the approved window"),
    "selection_changed": gettext_lazy("the selection changed"),
    "file_differs": gettext_lazy("the file differs from the approved one"),
    "digest": gettext_lazy("the row does not match its digest"),
    "history": gettext_lazy("the row does not match its latest revision"),
    "ciphertext": gettext_lazy("an encrypted value does not belong to the row"),
    "index": gettext_lazy("an encrypted value disagrees with its index"),
    "seal": gettext_lazy("the row does not match its seal"),
    "post": gettext_lazy("the post does not allow it"),
    "city_level_only": gettext_lazy("city level only"),
}


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    head, _sep, tail = action.partition(".")
    if head in ("read", "write", "submit"):
        entity = tail.removesuffix("_list")
        spec = ENTITIES.get(entity)
        what = (
            (
                spec.model._meta.verbose_name_plural
                if tail.endswith("_list")
                else spec.model._meta.verbose_name
            )
            if spec
            else OBJECT_LABELS.get(entity, entity)
        )
        return f"{ACTION_LABELS[head]}{what}"
    return action


def object_label(object_type: str) -> str:
    spec = ENTITIES.get(object_type)
    if spec is not None:
        return str(spec.model._meta.verbose_name)
    return str(OBJECT_LABELS.get(object_type, object_type))


def actions_matching(text: str) -> list[str]:
    """The action codes whose Chinese (or English) name contains TEXT, so the filter takes 查看人员."""
    text = text.strip()
    if not text:
        return []
    found = [code for code, name in ACTION_LABELS.items() if text in str(name)]
    for head in ("read", "write", "submit"):
        for entity, spec in ENTITIES.items():
            for suffix, noun in (
                ("", spec.model._meta.verbose_name),
                ("_list", spec.model._meta.verbose_name_plural),
            ):
                code = f"{head}.{entity}{suffix}"
                if text in f"{ACTION_LABELS[head]}{noun}":
                    found.append(code)
    return found


def detail_rows(detail: dict[str, Any], names: dict[str, str]) -> list[tuple[str, str]]:
    """An event's detail as labelled fields (no raw JSON)."""
    rows = []
    for key, value in detail.items():
        if key in HIDDEN_DETAIL:
            continue
        label = str(DETAIL_LABELS.get(key, key))
        if key == "reason" and isinstance(value, str):
            shown = str(REASON_LABELS.get(value, value))
        elif key == "by":
            shown = {
                "all": _("browsing"),
                "related": _("related records"),
                "unit": _("a unit's employees"),
            }.get(str(value), str(value))
            spec_field = str(value)
            for spec in ENTITIES.values():
                if spec_field in spec.fields and spec_field not in ("all",):
                    shown = field_label(spec, spec_field)
                    break
        elif key == "fields" and isinstance(value, list):
            shown = "、".join(str(v) for v in value)
        elif key == "entity":
            shown = object_label(str(value))
        elif key == "permission":
            shown = str(value)
        elif key == "ok":
            shown = _("yes") if value else _("no")
        elif isinstance(value, list):
            shown = "、".join(names.get(str(v), str(v)) for v in value[:50]) + (
                "…" if len(value) > 50 else ""
            )
        elif isinstance(value, dict):
            shown = "；".join(f"{k}={v}" for k, v in value.items())
        else:
            shown = str(value)
        rows.append((label, shown))
    return rows
