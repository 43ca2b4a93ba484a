"""Collection rules (R5, R9.1): seeded from the entities' declarations, then changed only by the city-level
system administrators, four eyes: one proposes, a second confirms, and only then does the new version take
effect (at the confirmation, or at a later time the proposal names). Every version is a change with history:
an immutable rule row, its revision (naming the digest of the version before) and an audit event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.audit.services import audit_record
from sidms.changes.models import ChangeRequest, Channel, Method, ReviewStatus, Revision
from sidms.changes.seals import new_revision, reseal
from sidms.changes.services import register_proposal, require_city_level, require_permission, rules_in_force
from sidms.changes.validators import field_kind, fitting_text, fitting_validators, is_known_validator
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused
from sidms.core.kernel import ENTITIES, EntitySpec, state_digest
from sidms.crosscheck import REGISTRY_NAMES
from sidms.lib import chain
from sidms.parameters.models import CodeTable, CollectionRule, OnDuplicate, ReviewLevel
from sidms.parameters.seed import EFFECTIVE, LEGACY_2017

log = logging.getLogger(__name__)

ENTITY = "collection_rule"
ONLY_CITY_ADMIN = _("Only a city-level system administrator may change collection rules.")


def rule_state(rule: CollectionRule) -> dict[str, object]:
    """What a rule version's digest covers: everything that decides how a field is collected."""
    return {
        "entity": rule.entity,
        "field": rule.field,
        "version": rule.version,
        "required": rule.required,
        "validator": rule.validator,
        "review_level": rule.review_level,
        "crosschecks": list(rule.crosschecks),
        "on_duplicate": rule.on_duplicate,
        "effective_from": rule.effective_from.isoformat(),
        "reason": rule.reason,
    }


def rule_kind(spec: EntitySpec, field: str) -> str:
    table = spec.declaration.codes.get(field)
    return field_kind(spec.field(field), table)


def validators_for(spec: EntitySpec, field: str) -> list[str]:
    """The validators the editor offers for a field: those that fit its kind; for text, its declared check
    and those that may stand in for it."""
    kind = rule_kind(spec, field)
    if kind == "text":
        declared = next((rule[2] for rule in spec.declaration.rules if rule[0] == field), "text")
        return fitting_text(declared)
    return fitting_validators(kind)


def _check_proposal(
    spec: EntitySpec | None, entity: str, field: str, *, validator: str, review_level: str,
    crosschecks: Sequence[str], on_duplicate: str, reason: str, effective_from: datetime | None,
) -> None:  # fmt: skip
    if spec is None or field not in spec.fields:
        raise ChangeRefused(
            _("There is no field %(field)s."), {"field": f"{entity}.{field}"}, code="no_field"
        )
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the change."), code="reason_required")
    if review_level not in ReviewLevel.values:
        raise ChangeRefused(_("Unknown review level."), code="review_level")
    table = validator.removeprefix("code:")
    if not is_known_validator(validator) or (validator.startswith("code:") and table not in CodeTable.values):
        raise ChangeRefused(_("There is no such format check."), code="validator")
    if validator not in validators_for(spec, field) and not (
        review_level == ReviewLevel.NONE and validator in ("", "text")
    ):
        raise ChangeRefused(
            _("This format check does not fit the field; choose one of those offered."), code="validator_fit"
        )
    unknown = [name for name in crosschecks if name not in REGISTRY_NAMES]
    if unknown:
        raise ChangeRefused(_("Unknown partner registry."), code="registry")
    if review_level == ReviewLevel.NONE and validator not in ("", "text"):
        # "No review" means saved at once without validation (R7.1); a validator there would be ignored.
        raise ChangeRefused(
            _("A field with no review is not validated; use the text check."), code="validator_none"
        )
    if on_duplicate not in OnDuplicate.values:
        raise ChangeRefused(_("Unknown duplicate handling."), code="on_duplicate")
    if effective_from is not None and effective_from < timezone.now():
        raise ChangeRefused(
            _("A rule cannot take effect in the past; leave the time empty for “when confirmed”."),
            code="in_the_past",
        )


def rule_propose(
    *,
    actor: Any,
    entity: str,
    field: str,
    required: bool,
    validator: str,
    review_level: str,
    crosschecks: Sequence[str],
    reason: str,
    effective_from: datetime | None = None,
    on_duplicate: str = OnDuplicate.REFUSE,
) -> ChangeRequest:
    """Propose a new version of the rule for ENTITY.FIELD. It takes effect only when a second city-level
    administrator confirms it: at the confirmation, or at EFFECTIVE_FROM if that is later."""
    caller = Caller.of(actor)
    require_permission(caller, "rules.edit", ONLY_CITY_ADMIN)
    require_city_level(caller, ONLY_CITY_ADMIN)
    spec = ENTITIES.get(entity)
    validator = validator or "text"
    _check_proposal(
        spec, entity, field, validator=validator, review_level=review_level, crosschecks=crosschecks,
        on_duplicate=on_duplicate, reason=reason, effective_from=effective_from,
    )  # fmt: skip
    if pending_proposals(entity, field):
        raise ChangeRefused(
            _("A change of this rule already waits for confirmation; decide it first."), code="pending"
        )
    current = rules_in_force(entity).get(field)
    proposal = {
        "required": bool(required),
        "validator": validator,
        "review_level": review_level,
        "crosschecks": list(crosschecks),
        "on_duplicate": on_duplicate,
        "effective_from": effective_from.isoformat() if effective_from else "",
        "reason": reason.strip(),
    }
    before = (
        {k: v for k, v in rule_state(current).items() if k in proposal and k != "effective_from"}
        if current
        else None
    )
    with transaction.atomic():
        held = ChangeRequest.objects.create(
            entity=ENTITY, record_id=None, record_label=f"{entity}.{field}",
            district_id=settings.SIDMS_CITY_DISTRICT, base_version=current.version if current else 0,
            proposed={"rule": [before, proposal]}, channel=Channel.MAINTENANCE, submitted_by=caller.staff,
            submitted_at=timezone.now(), decider_post="city_admin",
        )  # fmt: skip
        reseal(held)
        audit_record(
            "rules.propose", actor=caller, object_type="change_request", object_id=held.pk,
            detail={"rule": f"{entity}.{field}", "step": held.step, "seal": held.seal},
        )  # fmt: skip
    return held


def apply_rule_proposal(held: ChangeRequest, actor: Caller) -> None:
    """Called by review_decide when a second city-level administrator confirms a proposal."""
    require_city_level(actor, ONLY_CITY_ADMIN)
    entity, field = held.record_label.split(".", 1)
    proposal = held.proposed["rule"][1]
    now = timezone.now()
    wanted = datetime.fromisoformat(proposal["effective_from"]) if proposal["effective_from"] else now
    _add_version(
        entity, field, actor=actor, method=Method.RULES, reference=f"CR{held.pk}",
        required=proposal["required"], validator=proposal["validator"], review_level=proposal["review_level"],
        crosschecks=proposal["crosschecks"], on_duplicate=proposal["on_duplicate"], reason=proposal["reason"],
        effective_from=max(wanted, now), at=now,
    )  # fmt: skip


register_proposal(ENTITY, apply_rule_proposal)


def _add_version(
    entity: str, field: str, *, actor: Caller, method: str, reference: str, at: datetime,
    effective_from: datetime, reason: str, **values: Any,
) -> CollectionRule:  # fmt: skip
    with transaction.atomic():
        previous = (
            CollectionRule.objects.select_for_update()
            .filter(entity=entity, field=field)
            .order_by("-version")
            .first()
        )
        rule = CollectionRule.objects.create(
            entity=entity, field=field, version=(previous.version + 1) if previous else 1,
            effective_from=effective_from, created_at=at, created_by=actor.name, reason=reason, **values,
        )  # fmt: skip
        revision = _revision(rule, previous, actor=actor, method=method, reference=reference, at=at)
        audit_record(
            "rules.edit", actor=actor, object_type="collection_rule", object_id=f"{entity}.{field}",
            detail={
                "version": rule.version, "revision": revision.pk, "digest": revision.digest,
                "fields": sorted(revision.changes),
            },
        )  # fmt: skip
    return rule


def rule_digest(rule: CollectionRule) -> str:
    return state_digest(ENTITY, rule.version, chain.canonical(rule_state(rule)))


def _revision(
    rule: CollectionRule, previous: CollectionRule | None, *, actor: Caller, method: str, reference: str,
    at: datetime,
) -> Revision:  # fmt: skip
    old = rule_state(previous) if previous else {}
    new = rule_state(rule)
    # Every version of one field's rule is one record of history, named by its first version's row: so the
    # versions form one chain (1, 2, 3 …, each naming the digest of the one before) that cannot lose a link.
    first = (
        CollectionRule.objects.filter(entity=rule.entity, field=rule.field, version=1)
        .values_list("pk", flat=True)
        .first()
    )
    record = first if first is not None else rule.pk
    prior = (
        Revision.objects.filter(entity=ENTITY, record_id=record).order_by("-version").first()
        if previous
        else None
    )
    return new_revision(
        entity=ENTITY, record_id=record, version=rule.version, at=at, actor=actor.name,
        channel=Channel.MAINTENANCE, method=method, request_id=actor.request_id, reference=reference,
        changes={k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}, state=new,
        digest=rule_digest(rule), prev_digest=prior.digest if prior else "",
    )  # fmt: skip


def seed_declared_rules() -> int:
    """Give every declared field its initial rule, once (R5), each with a revision and an audit event, so
    that the audit chain vouches for every rule version there is. Rules that a database's first migration
    inserted without a revision are adopted when they are exactly what that migration shipped."""
    caller = Caller("system:seed", request_id="")
    legacy = {
        (entity, field): (required, validator, level, list(checks))
        for entity, field, required, validator, level, checks in LEGACY_2017
    }
    added = 0
    with transaction.atomic():
        existing = {(r.entity, r.field): r for r in CollectionRule.objects.filter(version=1)}
        vouched = set(Revision.objects.filter(entity=ENTITY, version=1).values_list("record_id", flat=True))
        for (entity, field), rule in existing.items():
            shipped = legacy.get((entity, field))
            if rule.pk in vouched or rule.created_by != "system" or rule.effective_from != EFFECTIVE:
                continue
            if shipped == (rule.required, rule.validator, rule.review_level, list(rule.crosschecks)):
                revision = _revision(
                    rule, None, actor=caller, method=Method.RULES, reference="seed", at=timezone.now()
                )
                audit_record(
                    "rules.adopt", actor=caller, object_type="collection_rule", object_id=f"{entity}.{field}",
                    detail={"version": 1, "revision": revision.pk, "digest": revision.digest, "fields": []},
                )  # fmt: skip
        for spec in ENTITIES.values():
            for field, required, validator, level, checks in spec.declaration.rules:
                if (spec.name, field) in existing or CollectionRule.objects.filter(
                    entity=spec.name, field=field
                ).exists():
                    continue
                _add_version(
                    spec.name, field, actor=caller, method=Method.RULES, reference="seed", at=timezone.now(),
                    effective_from=EFFECTIVE, reason="《威海市社会保险业务数据管理办法》第七条：初始采集规则",
                    required=required, validator=validator, review_level=level, crosschecks=list(checks),
                    on_duplicate=OnDuplicate.REFUSE,
                )  # fmt: skip
                added += 1
    return added


def rules_table(at: datetime | None = None) -> list[CollectionRule]:
    """Every field's rule in force at AT (default now), by entity and field."""
    rules: list[CollectionRule] = []
    for entity, spec in ENTITIES.items():
        in_force = rules_in_force(entity, at).values()
        rules.extend(
            sorted(in_force, key=lambda r: spec.fields.index(r.field) if r.field in spec.fields else 99)
        )
    return rules


def pending_proposals(entity: str, field: str) -> list[ChangeRequest]:
    return list(
        ChangeRequest.objects.filter(
            entity=ENTITY, record_label=f"{entity}.{field}", status=ReviewStatus.PENDING
        ).select_related("submitted_by")
    )
