"""Editing collection rules (R5, R9.1): only the city-level system administrator, and every edit is itself
a change with history — a new immutable rule version, its revision and an audit event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from sidms.audit.services import actor_name, audit_record
from sidms.changes.entities import ENTITIES, state_digest
from sidms.changes.errors import ChangeRefused
from sidms.changes.models import Channel, Method
from sidms.changes.seals import new_revision
from sidms.changes.services import _require, request_id, require_city_level
from sidms.changes.validators import is_known_validator
from sidms.crosscheck import REGISTRY_NAMES
from sidms.lib import chain
from sidms.parameters.models import CodeTable, CollectionRule, ReviewLevel
from sidms.registry.models import Staff

RULE_FIELDS = ("required", "validator", "review_level", "crosschecks", "effective_from")


def _rule_state(rule: CollectionRule) -> dict[str, object]:
    return {
        "entity": rule.entity,
        "field": rule.field,
        "required": rule.required,
        "validator": rule.validator,
        "review_level": rule.review_level,
        "crosschecks": list(rule.crosschecks),
        "effective_from": rule.effective_from.isoformat(),
        "reason": rule.reason,
    }


def rule_edit(
    *,
    actor: Staff,
    entity: str,
    field: str,
    required: bool,
    validator: str,
    review_level: str,
    crosschecks: Sequence[str],
    reason: str,
    effective_from: datetime | None = None,
    request: HttpRequest | None = None,
) -> CollectionRule:
    """Add a new version of the rule for ENTITY.FIELD, effective now or at EFFECTIVE_FROM."""
    _require(
        actor,
        "rules.edit",
        "只有市级系统管理员可以修改采集规则",
        "Only the city-level administrator edits rules",
        request,
    )
    require_city_level(
        actor, "只有市级系统管理员可以修改采集规则", "Only the city-level administrator edits rules", request
    )
    spec = ENTITIES.get(entity)
    if spec is None or field not in spec.fields:
        raise ChangeRefused(f"没有数据项 {entity}.{field}", f"There is no field {entity}.{field}")
    if not reason.strip():
        raise ChangeRefused("请填写修改理由", "Give the reason for the change")
    if review_level not in ReviewLevel.values:
        raise ChangeRefused("审核级别无效", "Unknown review level")
    table = validator.removeprefix("code:")
    if not is_known_validator(validator) or (validator.startswith("code:") and table not in CodeTable.values):
        raise ChangeRefused(f"校验规则“{validator}”不存在", f"There is no validator {validator!r}")
    unknown = [name for name in crosschecks if name not in REGISTRY_NAMES]
    if unknown:
        raise ChangeRefused(
            f"没有外部核查部门 {', '.join(unknown)}", f"Unknown registries: {', '.join(unknown)}"
        )
    if review_level == ReviewLevel.NONE and validator not in ("", "text"):
        # "No review" means saved at once without validation (R7.1); a validator there would be ignored.
        raise ChangeRefused(
            "“无需审核”的数据项不做校验，请将校验规则设为“文本”",
            "A 'none' field is not validated; use the text validator",
        )
    now = timezone.now()
    start = effective_from or now
    if start < now:
        raise ChangeRefused("生效时间不能早于现在：规则不能追溯修改", "A rule cannot take effect in the past")
    with transaction.atomic():
        previous = (
            CollectionRule.objects.select_for_update()
            .filter(entity=entity, field=field)
            .order_by("-version")
            .first()
        )
        rule = CollectionRule.objects.create(
            entity=entity, field=field, version=(previous.version + 1) if previous else 1, required=required,
            validator=validator, review_level=review_level, crosschecks=list(crosschecks), effective_from=start,
            created_at=now, created_by=actor_name(actor), reason=reason.strip(),
        )  # fmt: skip
        old = _rule_state(previous) if previous else {}
        new = _rule_state(rule)
        changes = {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}
        digest = state_digest("collection_rule", rule.version, chain.canonical(new))
        revision = new_revision(
            entity="collection_rule", record_id=rule.pk, version=rule.version, at=now, actor=actor_name(actor),
            channel=Channel.MAINTENANCE, method=Method.RULES, request_id=request_id(request),
            reference=f"{entity}.{field}", changes=changes, state=new, digest=digest,
        )  # fmt: skip
        audit_record(
            "rules.edit", actor=actor, request=request, object_type="collection_rule", object_id=f"{entity}.{field}",
            detail={"version": rule.version, "revision": revision.pk, "digest": digest, "fields": sorted(changes)},
        )  # fmt: skip
    return rule


def rules_table(at: datetime | None = None) -> list[CollectionRule]:
    """Every field's rule in force at AT (default now), by entity and field."""
    from sidms.changes.services import rules_in_force

    rules: list[CollectionRule] = []
    for entity in ENTITIES:
        rules.extend(
            sorted(rules_in_force(entity, at).values(), key=lambda r: ENTITIES[entity].fields.index(r.field))
        )
    return rules
