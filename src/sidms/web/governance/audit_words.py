"""The audit log in words (notes/ux-conventions.md): actions and objects in Chinese (查看参保人员 3700000019,
修改采集规则 参保人员 · 电子邮箱), staff by name (环翠窗口 张敏), details as labelled fields, and no raw code — not
`read.person`, `person.email`, `system`, `reason=not_configured`. The hashed payload itself stays available
on an event's own page, for those who verify it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sidms.access.posts import Post
from sidms.changes.models import (
    BatchApplication,
    BatchKind,
    BatchStatus,
    ChangeRequest,
    Channel,
    MaintenanceOrder,
    MaintenanceStatus,
    Method,
    ReviewStatus,
)
from sidms.changes.services import field_label
from sidms.core.errors import english
from sidms.core.kernel import ENTITIES
from sidms.parameters.codes import region_name
from sidms.web.display import joined
from sidms.web.governance.labels import RULE_ATTRIBUTES, local_minute, registry_label, rule_field_label

ACTION_LABELS: dict[str, Any] = {
    "auth.password_ok": gettext_lazy("Password accepted"),
    "auth.password_failed": gettext_lazy("Wrong password"),
    "auth.otp_ok": gettext_lazy("Signed in (two factors)"),
    "auth.otp_failed": gettext_lazy("Wrong dynamic code"),
    "auth.otp_enrolled": gettext_lazy("Authenticator enrolled"),
    "auth.logout": gettext_lazy("Signed out"),
    "access.denied": gettext_lazy("Access refused"),
    "security.rate_limited": gettext_lazy("Too many requests refused"),
    "integrity.alert": gettext_lazy("Integrity alert"),
    "read.queues": gettext_lazy("Queues viewed"),
    "read.benefit_checks": gettext_lazy("View benefit checks"),
    "read.arrears": gettext_lazy("View arrears"),
    "review.approve": gettext_lazy("Review approved"),
    "review.reject": gettext_lazy("Review rejected"),
    "review.recheck": gettext_lazy("Registries asked again"),
    "review.denied": gettext_lazy("Review refused"),
    "review.withdraw": gettext_lazy("Review request withdrawn"),
    "maintenance.apply": gettext_lazy("Maintenance applied for"),
    "maintenance.approve": gettext_lazy("Maintenance approved"),
    "maintenance.refuse": gettext_lazy("Maintenance refused"),
    "maintenance.modify": gettext_lazy("Maintenance carried out"),
    "maintenance.accept": gettext_lazy("Maintenance re-checked"),
    "maintenance.send_back": gettext_lazy("Maintenance sent back"),
    "maintenance.denied": gettext_lazy("Maintenance step refused"),
    "maintenance.withdraw": gettext_lazy("Maintenance withdrawn"),
    "batch.apply": gettext_lazy("Batch applied for"),
    "batch.approve": gettext_lazy("Batch approved"),
    "batch.refuse": gettext_lazy("Batch refused"),
    "batch.execute": gettext_lazy("Batch executed"),
    "batch.denied": gettext_lazy("Batch step refused"),
    "batch.withdraw": gettext_lazy("Batch application withdrawn"),
    "import.rows_discard": gettext_lazy("Sealed import rows removed"),
    "import.sweep": gettext_lazy("Import leftovers swept"),
    "rules.propose": gettext_lazy("Rule change proposed"),
    "rules.edit": gettext_lazy("Rule version written"),
    "rules.adopt": gettext_lazy("Shipped rule adopted"),
    "auth.enrolment_failed": gettext_lazy("Wrong enrolment code"),
    "staff.create": gettext_lazy("Staff account created"),
    "staff.adopt": gettext_lazy("Staff account taken under governance"),
    "upgrade.flags": gettext_lazy("Flags taken into the record digests"),
    "staff.post_propose": gettext_lazy("Post proposed"),
    "staff.post_grant": gettext_lazy("Post granted"),
    "staff.post_revoke": gettext_lazy("Post removed"),
    "staff.district": gettext_lazy("Staff district changed"),
    "staff.agency": gettext_lazy("Staff agency changed"),
    "staff.enable": gettext_lazy("Staff account enabled"),
    "staff.disable": gettext_lazy("Staff account disabled"),
    "staff.agreement": gettext_lazy("Confidentiality agreement registered"),
    "staff.unlock": gettext_lazy("Staff account unlocked"),
    "staff.password": gettext_lazy("Password set"),
    "staff.enrolment_code": gettext_lazy("Enrolment code issued"),
    "staff.enrolment_void": gettext_lazy("Enrolment code void after wrong tries"),
    "staff.district_propose": gettext_lazy("Move to the city level proposed"),
    "staff.denied": gettext_lazy("Staff account step refused"),
    "rectification.denied": gettext_lazy("Rectification step refused"),
    "audit.browse": gettext_lazy("Audit log browsed"),
    "audit.verify": gettext_lazy("Store verified"),
    # Views of a person's record other than its page, and what a person's access record lists besides
    # (sidms.web.records.access): each needs its words there as here.
    "read.rights_record": gettext_lazy("View rights record"),
    "read.person_access": gettext_lazy("View access record"),
    "archive.catalogue": gettext_lazy("View archive catalogue"),
    "archive.view": gettext_lazy("View archive file"),
    "archive.download": gettext_lazy("Download archive file"),
    "archive.thumbnail": gettext_lazy("Preview archive file"),
    "archive.refused": gettext_lazy("Archive file not accepted"),
    "archive.review_denied": gettext_lazy("Archive review refused"),
    "statement.issue": gettext_lazy("Statement issued"),
    "statement.issue_batch": gettext_lazy("Yearly statements issued"),
    "statement.verify": gettext_lazy("Statement verified by the public"),
    "export.request": gettext_lazy("Export asked for"),
    "export.approve": gettext_lazy("Export approved"),
    "export.refuse": gettext_lazy("Export refused"),
    "export.download": gettext_lazy("Export downloaded"),
    "export.withdraw": gettext_lazy("Export withdrawn"),
}

# Actions on records of a governed entity: "read.person" is 查看参保人员, "read.person_list" 查询参保人员.
RECORD_ACTIONS: dict[str, Any] = {
    "read": gettext_lazy("View %(what)s"),
    "read_list": gettext_lazy("Search %(what)s"),
    # An export's read of a page of the list (sidms.exchange.exports): "read.person_export" is 导出参保人员.
    "read_export": gettext_lazy("Export %(what)s"),
    "write": gettext_lazy("Change %(what)s"),
    "submit": gettext_lazy("Submit %(what)s for review"),
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
    "path": gettext_lazy("Page"),
    "scope": gettext_lazy("Data scope"),
    "entity": gettext_lazy("Kind of record"),
    "record": gettext_lazy("Record"),
    "status": gettext_lazy("Status"),
    "rows": gettext_lazy("Rows"),
    "queues": gettext_lazy("Queues"),
    "requests": gettext_lazy("Requests, orders and applications"),
    "queue_records": gettext_lazy("Records shown"),
    "kind": gettext_lazy("Kind"),
    "held_for_review": gettext_lazy("Review request"),
    "rule": gettext_lazy("Rule"),
    "ok": gettext_lazy("Intact"),
    "where": gettext_lazy("Where"),
    "message": gettext_lazy("Finding"),
    "events": gettext_lazy("Events"),
    "checkpoints": gettext_lazy("Checkpoints"),
    "seconds": gettext_lazy("Seconds"),
    "registries": gettext_lazy("Registries"),
    "statuses": gettext_lazy("Results"),
    "note": gettext_lazy("Note"),
    "wrong_codes": gettext_lazy("Wrong codes"),
    "username": gettext_lazy("Login name"),
    "district": gettext_lazy("District"),
    "posts": gettext_lazy("Posts"),
    "filters": gettext_lazy("Filters"),
    "export": gettext_lazy("Export"),
    "purpose": gettext_lazy("Purpose"),
    "batch": gettext_lazy("Batch application"),
    "batches": gettext_lazy("Batch applications"),
    "import_file": gettext_lazy("Import file"),
    "stores": gettext_lazy("Sealed row stores removed"),
    "orphans": gettext_lazy("Of no application"),
    "parts": gettext_lazy("Temporary files removed"),
    "progress": gettext_lazy("Progress files removed"),
    "post": gettext_lazy("Post"),
    "proposed_by": gettext_lazy("Proposed by"),
    "signed_on": gettext_lazy("Signed on"),
    # The audit browser's own filters (an audit.browse event names them).
    "actor": gettext_lazy("Staff"),
    "action": gettext_lazy("Action"),
    "object_id": gettext_lazy("Object"),
    "outcome": gettext_lazy("Outcome"),
    "date_from": gettext_lazy("From"),
    "date_to": gettext_lazy("To"),
}
# Technical keys that mean nothing to the reader of the log (they serve verification); the event's own page
# shows the whole hashed payload.
HIDDEN_DETAIL = {"digest", "seal", "step", "revision", "revisions", "revisions_digest", "workflow", "record_id",
                 "message_en", "before", "after", "at", "rows_checked"}  # fmt: skip

REASON_LABELS: dict[str, Any] = {
    "not_found_or_out_of_scope": gettext_lazy("not found, or outside the data scope"),
    "own_submission": gettext_lazy("own submission"),
    "own_application": gettext_lazy("own application"),
    "withdraw_not_own": gettext_lazy("only its submitter may withdraw it"),
    "also_applicant": gettext_lazy("the applicant may not take this step"),
    "also_approver": gettext_lazy("the approver may not take this step"),
    "also_modifier": gettext_lazy("the modifier may not take this step"),
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
    "not_configured": gettext_lazy("no interface to this registry is configured"),
    "both_factors_set_password": gettext_lazy("the same administrator set the password"),
    "both_factors_issued_code": gettext_lazy("the same administrator issued the open enrolment code"),
    "own_issued": gettext_lazy("the one who issued the order"),
    "own_responded": gettext_lazy("the one who reported the rectification"),
    "own_grant": gettext_lazy("own account"),
    "account": gettext_lazy("the account does not match its history"),
    "sign_in": gettext_lazy("sign-in of an account that does not match its history"),
    "session": gettext_lazy("session of an account that does not match its history"),
    "scope_changed": gettext_lazy("the data scope changed since the export was asked for"),
}

SEARCH_WAYS: dict[str, Any] = {
    "all": gettext_lazy("browsing"),
    "related": gettext_lazy("related records"),
}

# The functions of the post × function table (sidms.access.posts), as a clerk names them.
PERMISSION_LABELS: dict[str, Any] = {
    "dashboard.view": gettext_lazy("Dashboard"),
    "record.view": gettext_lazy("Query records"),
    "audit.view": gettext_lazy("Browse the audit log"),
    "record.submit": gettext_lazy("Submit changes at the window"),
    "review.decide": gettext_lazy("Review changes"),
    "maintenance.apply": gettext_lazy("Apply for maintenance"),
    "maintenance.approve": gettext_lazy("Approve maintenance"),
    "maintenance.modify": gettext_lazy("Carry out maintenance"),
    "maintenance.recheck": gettext_lazy("Re-check maintenance"),
    "batch.apply": gettext_lazy("Apply for a batch change"),
    "batch.approve": gettext_lazy("Approve batch changes"),
    "batch.execute": gettext_lazy("Execute batch changes"),
    "rules.edit": gettext_lazy("Propose collection rules"),
    "rules.confirm": gettext_lazy("Confirm collection rules"),
    "staff.manage": gettext_lazy("Manage staff accounts"),
    "staff.confirm": gettext_lazy("Confirm posts"),
}

_STATUSES: dict[str, Any] = {
    "change_request": ReviewStatus,
    "maintenance": MaintenanceStatus,
    "batch": BatchStatus,
}


@dataclass(frozen=True)
class Names:
    """Staff names for one page of events: by login, and by id (events about a staff member name its id)."""

    by_login: Mapping[str, str]
    by_id: Mapping[str, str]

    def actor(self, login: str) -> str:
        if login in self.by_login:
            return self.by_login[login]
        if login == "system" or login.startswith("system:"):
            return _("the system")
        if login == "anonymous":
            return _("not signed in")
        if login == "public":  # the public verification page of a printed statement
            return _("the public")
        return login


def _noun(entity: str, plural: bool = False) -> str:
    spec = ENTITIES.get(entity)
    if spec is not None:
        meta = spec.model._meta
        return str(meta.verbose_name_plural if plural else meta.verbose_name)
    return str(OBJECT_LABELS.get(entity, entity))


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    head, _sep, tail = action.partition(".")
    if head in RECORD_ACTIONS and tail:
        for suffix in ("_list", "_export"):
            if head == "read" and tail.endswith(suffix):
                what = _noun(tail.removesuffix(suffix), plural=True)
                return str(RECORD_ACTIONS[f"read{suffix}"]) % {"what": what}
        return str(RECORD_ACTIONS[head]) % {"what": _noun(tail)}
    return _("Other action")


def actions_matching(text: str) -> list[str]:
    """The action codes whose name (in the language of the page) contains TEXT, so that the filter takes
    查看参保人员 or 审批; a code typed as such (read.person) matches too."""
    text = text.strip()
    if not text:
        return []
    found = [code for code, name in ACTION_LABELS.items() if text in str(name) or code.startswith(text)]
    for entity in [*ENTITIES, "staff"]:
        for code in (f"{head}.{entity}" for head in ("read", "write", "submit")):
            for candidate in (
                (code, f"{code}_list", f"{code}_export") if code.startswith("read.") else (code,)
            ):
                if text in action_label(candidate) or candidate.startswith(text):
                    found.append(candidate)
    return found


def object_text(object_type: str, object_id: str, names: Names) -> str:
    """What an event is about, in words: 参保人员 3700000019, 采集规则 参保人员 · 地址, 复核 BA3."""
    if not object_type:
        return ""
    if object_type == "collection_rule" and "." in object_id:
        entity, _sep, field = object_id.partition(".")
        return f"{OBJECT_LABELS['collection_rule']} {rule_field_label(entity, field)}"
    if object_type == "staff":
        who = names.by_id.get(object_id) or names.by_login.get(object_id) or object_id
        return f"{OBJECT_LABELS['staff']} {who}".strip()
    prefix = {"audit_event": "#", **WORKFLOW_PREFIXES}.get(object_type)
    if prefix is not None and object_id:
        return f"{capfirst(_noun(object_type))} {prefix}{object_id}"
    return f"{capfirst(_noun(object_type))} {object_id}".strip()


# What a staff account's history covers (sidms.security.accounts.staff_state), named as the staff pages do.
STAFF_FIELDS: dict[str, Any] = {
    "username": gettext_lazy("Login name"),
    "password": gettext_lazy("Password"),
    "name": gettext_lazy("Name"),
    "district": gettext_lazy("District"),
    "agency": gettext_lazy("Agency"),
    "active": gettext_lazy("Enabled"),
    "superuser": gettext_lazy("All permissions (superuser)"),
    "admin_site": gettext_lazy("Administration site access"),
    "agreement_signed_on": gettext_lazy("Confidentiality agreement signed on"),
    "agreement_expires_on": gettext_lazy("Confidentiality agreement expires on"),
    "posts": gettext_lazy("Posts"),
    "devices": gettext_lazy("Authenticators"),
    "enrolment": gettext_lazy("Enrolment code"),
}


def _field_names(entity: str, fields: list[Any]) -> str:
    spec = ENTITIES.get(entity)
    shown = []
    for name in fields:
        if spec is not None and (name in spec.fields or name in spec.flags):
            shown.append(field_label(spec, str(name)))
        elif entity == "staff" and name in STAFF_FIELDS:
            shown.append(str(STAFF_FIELDS[name]))
        elif name in RULE_ATTRIBUTES:
            shown.append(str(RULE_ATTRIBUTES[name]))
        else:
            shown.append(str(name))
    return joined(shown) or "—"


def _choice(choices: Any, value: Any) -> str:
    return str(choices(value).label) if value in choices.values else str(value)


def _value(key: str, value: Any, event: Mapping[str, Any], names: Names) -> str:
    """One detail's value in words, knowing the event it belongs to."""
    object_type = str(event.get("object_type", ""))
    entity = str(event.get("detail", {}).get("entity") or object_type)
    if key == "reason" and isinstance(value, str):
        return str(REASON_LABELS.get(value, value))
    if key == "by":
        if value in SEARCH_WAYS:
            return str(SEARCH_WAYS[value])
        spec = ENTITIES.get(entity)
        return field_label(spec, str(value)) if spec is not None and value in spec.fields else str(value)
    if key == "fields" and isinstance(value, list):
        return _field_names(entity, value)
    if key == "entity":
        return _noun(str(value))
    if key == "permission":
        name = str(value)
        if name in PERMISSION_LABELS:
            return str(PERMISSION_LABELS[name])
        if name.endswith(".view") and name.removesuffix(".view") in ENTITIES:
            return str(RECORD_ACTIONS["read_list"]) % {"what": _noun(name.removesuffix(".view"), plural=True)}
        return name
    if key == "status" and object_type in _STATUSES:
        return _choice(_STATUSES[object_type], value)
    if key == "kind" and object_type == "batch":
        return _choice(BatchKind, value)
    if key == "method":
        return _choice(Method, value)
    if key == "channel":
        return _choice(Channel, value)
    if key == "held_for_review":
        return f"CR{value}"
    if key == "batch":
        return f"BA{value}"
    if key == "batches" and isinstance(value, list):
        return joined(f"BA{v}" for v in value)
    if key == "rule" and isinstance(value, str) and "." in value:
        return rule_field_label(*value.split(".", 1))
    if key == "record" and entity == "collection_rule" and isinstance(value, str) and "." in value:
        return rule_field_label(*value.split(".", 1))
    if key in ("scope", "district"):
        if value == "city_level_only":
            return str(REASON_LABELS["city_level_only"])
        return region_name(str(value)) or str(value) or "—"
    if key == "posts" and isinstance(value, list):
        return joined(_choice(Post, v) for v in value)
    if key == "post":
        return _choice(Post, value)
    if key == "proposed_by":
        return names.actor(str(value))
    if key == "registries" and isinstance(value, list):
        return joined(registry_label(str(v)) for v in value)
    if key == "queues" and isinstance(value, list):
        return joined(_queue_title(str(v)) for v in value)
    if key == "queue_records" and isinstance(value, list):  # read.queues: [kind, label] of each record shown
        records = [
            object_text(str(v[0]), str(v[1]), names)
            for v in value[:50]
            if isinstance(v, list) and len(v) == 2
        ]
        return joined(records) + ("…" if len(value) > 50 else "")
    if key == "ok":
        return _("yes") if value else _("no")
    if key == "at" and isinstance(value, str):
        return local_minute(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        shown = joined(names.by_login.get(str(v), str(v)) for v in value[:50])
        return shown + ("…" if len(value) > 50 else "")
    if isinstance(value, dict):
        return "；".join(f"{_label(str(k))}：{_value(str(k), v, event, names)}" for k, v in value.items())
    return str(value)


# Each workflow's row prefix, as its model declares it (CR, MO, BA).
WORKFLOW_PREFIXES = {
    model.workflow.name: model.workflow.prefix
    for model in (ChangeRequest, MaintenanceOrder, BatchApplication)
}


def _queue_title(key: str) -> str:
    """A queue's title from its key in a read.queues event ("change_request.review" is 待审核)."""
    from sidms.access.workflow import declaration

    for model in (ChangeRequest, MaintenanceOrder, BatchApplication):
        workflow = declaration(model)
        for queue in workflow.queues:
            if f"{workflow.name}.{queue.name}" == key:
                return str(queue.title)
    return key


def _label(key: str) -> str:
    return str(DETAIL_LABELS.get(key, key))


def detail_rows(event: Mapping[str, Any], names: Names) -> list[tuple[str, str]]:
    """An event's detail as labelled fields (no raw JSON)."""
    detail = dict(event.get("detail") or {})
    if english() and detail.get("message_en"):
        detail["message"] = detail["message_en"]  # a verification's finding comes in both languages
    rows = []
    for key, value in detail.items():
        if key in HIDDEN_DETAIL or value in ("", None, []):
            continue
        rows.append((_label(key), _value(key, value, event, names)))
    return rows
