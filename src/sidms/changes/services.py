"""The one door for writes (principle 1).

Every change to governed data comes through `submit_change` (or, for many records at once, through an
authorised batch in sidms.changes.batches). The pipeline reads the collection rules in force, validates,
routes each field by its review level, and applies approved values with `apply_values`, which writes the
new row, its immutable revision and an audit event in one transaction (principle 2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from sidms.access.policies import has_permission, in_scope, scoped
from sidms.audit.models import Outcome
from sidms.audit.services import actor_name, audit_record
from sidms.changes import crosschecks
from sidms.changes.entities import EntitySpec, digest, represent, reveal, spec_for, state_of
from sidms.changes.errors import ChangeRefused, NotPermitted, SeparationOfDuties, StaleChange
from sidms.changes.models import ChangeRequest, Channel, Method, ReviewStatus, Revision
from sidms.changes.seals import new_revision, require_intact, reseal
from sidms.changes.validators import Invalid, validator
from sidms.parameters.models import CollectionRule, ReviewLevel
from sidms.registry.models import Governed, Staff, pipeline_writes
from sidms.security.fields import Sealed, seal

# --------------------------------------------------------------------------------------------------------
# Rules


def rules_in_force(entity: str, at: datetime | None = None) -> dict[str, CollectionRule]:
    """The latest version of each field's rule whose effective time has come (R5)."""
    moment = at or timezone.now()
    rules: dict[str, CollectionRule] = {}
    # Effective dating: the version that took effect last (before MOMENT) wins; equal times, the newer one.
    for rule in CollectionRule.objects.filter(entity=entity, effective_from__lte=moment).order_by(
        "field", "-effective_from", "-version"
    ):
        rules.setdefault(rule.field, rule)
    return rules


@dataclass
class Cleaned:
    values: dict[str, Any]
    warnings: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _label(spec: EntitySpec, name: str) -> str:
    return str(spec.field(name).verbose_name)


def clean_values(
    spec: EntitySpec, rules: Mapping[str, CollectionRule], values: Mapping[str, Any], *, creating: bool
) -> Cleaned:
    """Validate VALUES against the rules; refuse the whole submission if any field fails (R6.1)."""
    errors: dict[str, Invalid] = {}
    cleaned = Cleaned({})
    for name, raw in values.items():
        if name not in spec.fields:
            errors[name] = Invalid(
                "unknown_field", f"{name} 不是可采集的数据项", f"{name} is not a collected field"
            )
            continue
        rule = rules.get(name)
        label = _label(spec, name)
        if _is_empty(raw):
            if rule is not None and rule.required:
                errors[name] = Invalid("required", f"{label}为必填项", f"{label} is required")
            else:
                model_field = spec.field(name)
                cleaned.values[name] = None if model_field.null and not spec.encrypted(name) else ""
            continue
        if rule is None or rule.review_level == ReviewLevel.NONE:
            value: Any = raw.strip() if isinstance(raw, str) else raw
        else:
            try:
                checked = validator(rule.validator)(raw)
            except Invalid as error:
                errors[name] = error
                continue
            value = checked.value
            if checked.warnings:
                cleaned.warnings[name] = checked.warnings
        max_length = getattr(spec.field(name), "max_length", None)
        if isinstance(value, str) and max_length and not spec.encrypted(name) and len(value) > max_length:
            errors[name] = Invalid(
                "too_long", f"{label}最多 {max_length} 个字符", f"{label} has at most {max_length} characters"
            )
            continue
        cleaned.values[name] = value
    if creating:
        for name, rule in rules.items():
            if rule.required and name not in values and name not in errors:
                label = _label(spec, name)
                errors[name] = Invalid("required", f"{label}为必填项", f"{label} is required")
    if errors:
        raise ChangeRefused(errors=errors)
    return cleaned


# --------------------------------------------------------------------------------------------------------
# Applying


def request_id(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    existing = getattr(request, "sidms_request_id", None)
    if existing is None:
        existing = uuid.uuid4().hex
        request.sidms_request_id = existing  # type: ignore[attr-defined]
    return str(existing)


def district_of(instance: models.Model) -> str | None:
    if hasattr(instance, "district_id"):
        return instance.district_id
    person = getattr(instance, "person", None)
    return person.district_id if person is not None else None


def apply_values(
    spec: EntitySpec,
    instance: models.Model | None,
    values: Mapping[str, Any],
    *,
    actor: Any,
    channel: str,
    method: str,
    reference: str = "",
    request: HttpRequest | None = None,
) -> Revision:
    """Write VALUES to the record (or create it), with its revision and audit event, atomically.

    Callers have validated and authorised; this is the only function that saves a governed row singly.
    """
    now = timezone.now()
    creating = instance is None
    with transaction.atomic(), pipeline_writes():
        if instance is None:
            instance = spec.model()
            old_state: dict[str, Any] = {}
            instance.created_at = now
            instance.version = 0
        else:
            old_state = state_of(spec, instance)
        for name, value in values.items():
            domain = spec.encrypted(name)
            if domain and not _is_empty(value) and not isinstance(value, Sealed):
                value = seal(domain, str(value))
            setattr(instance, name, value)
        version = instance.version + 1  # type: ignore[attr-defined]
        new_state = state_of(spec, instance)
        changes = {
            n: [old_state.get(n), new_state[n]] for n in spec.fields if old_state.get(n) != new_state[n]
        }
        instance.version = version  # type: ignore[attr-defined]
        instance.updated_at = now  # type: ignore[attr-defined]
        instance.row_digest = digest(spec, version, new_state)  # type: ignore[attr-defined]
        instance.save(force_insert=creating)
        revision = new_revision(
            entity=spec.name,
            record_id=instance.pk,
            version=version,
            at=now,
            actor=actor_name(actor),
            channel=channel,
            method=method,
            request_id=request_id(request),
            reference=reference,
            changes=changes,
            state=new_state,
            digest=instance.row_digest,  # type: ignore[attr-defined]
        )
        audit_record(
            f"write.{spec.name}",
            actor=actor,
            request=request,
            object_type=spec.name,
            object_id=spec.label(instance),
            channel=channel,
            detail={
                "revision": revision.pk,
                "version": version,
                "digest": revision.digest,
                "fields": sorted(changes),
                "method": method,
                "reference": reference,
            },
        )
    return revision


# --------------------------------------------------------------------------------------------------------
# Submitting


@dataclass
class SubmitOutcome:
    record: models.Model | None
    revision: Revision | None
    held: ChangeRequest | None
    applied: tuple[str, ...]
    warnings: dict[str, tuple[str, ...]]


SUBMIT_CHANNELS = {Channel.WINDOW, Channel.COLLABORATION, Channel.ONLINE, Channel.KIOSK}


def _require(actor: Any, permission: str, message: str, message_en: str, request: HttpRequest | None) -> None:
    if has_permission(actor, permission):
        return
    audit_record(
        "access.denied",
        actor=actor,
        request=request,
        outcome=Outcome.DENIED,
        detail={"permission": permission},
    )
    raise NotPermitted(message, message_en)


# A refusal raised inside a transaction rolls back the audit event written there with
# it, so a denied attempt (own review, a second step by the same person, an unauthorised batch run) left no
# trace (R20). Such refusals carry their event (`deny`), and `audited_refusals`, entered outside the
# transaction, writes it once the rollback is done.
def deny(
    refusal: NotPermitted, action: str, *, actor: Any, request: HttpRequest | None, **event: Any
) -> NotPermitted:
    refusal.audit_event = {
        "action": action,
        "actor": actor,
        "request": request,
        "outcome": Outcome.DENIED,
        **event,
    }
    return refusal


@contextmanager
def audited_refusals() -> Iterator[None]:
    try:
        yield
    except NotPermitted as refusal:
        if refusal.audit_event is not None:
            audit_record(**refusal.audit_event)
        raise


def require_city_level(
    actor: Staff, message: str, message_en: str, request: HttpRequest | None = None
) -> None:
    if actor.is_city_level:
        return
    audit_record(
        "access.denied",
        actor=actor,
        request=request,
        outcome=Outcome.DENIED,
        detail={"scope": "city_level_only"},
    )
    raise NotPermitted(message, message_en)


def require_scope(actor: Staff, district: str | None, request: HttpRequest | None = None) -> None:
    if in_scope(actor, district):
        return
    audit_record(
        "access.denied",
        actor=actor,
        request=request,
        outcome=Outcome.DENIED,
        detail={"scope": district or ""},
    )
    raise NotPermitted("该记录不在您的数据范围内", "The record is outside your data scope")


def _plain(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def submit_change(
    *,
    actor: Staff,
    channel: str,
    entity: str,
    values: Mapping[str, Any],
    record: Governed | None = None,
    request: HttpRequest | None = None,
) -> SubmitOutcome:
    """Submit new values for a record (or a new record, when RECORD is None).

    Fields whose review level is "none" or "system" are applied at once (after validation for "system");
    "manual" fields are held for a reviewer, with external cross-check results, and the old values stay
    in force until the review approves them. Any invalid field refuses the whole submission.
    """
    if channel not in SUBMIT_CHANNELS:
        raise ValueError(f"submit_change does not take channel {channel!r}")
    spec = spec_for(entity)
    _require(
        actor,
        "record.submit",
        "您的岗位不能采集或修改数据",
        "Your posts may not collect or change data",
        request,
    )
    rules = rules_in_force(entity)
    if record is None:
        cleaned = clean_values(spec, rules, values, creating=True)
        district = cleaned.values.get("district_id")
        require_scope(actor, str(district) if district else None, request)
        changed = cleaned.values
    else:
        require_scope(actor, district_of(record), request)
        if "district_id" in values and str(values["district_id"] or "") != str(district_of(record) or ""):
            # Moving a record to another district needs the right to both: a district clerk cannot.
            require_scope(actor, str(values["district_id"] or "") or None, request)
        different = {
            n: v for n, v in values.items() if n not in spec.fields or _plain(getattr(record, n)) != _plain(v)
        }
        cleaned = clean_values(spec, rules, different, creating=False)
        changed = {n: v for n, v in cleaned.values.items() if _plain(getattr(record, n)) != _plain(v)}
    if record is None:
        _refuse_duplicate_key(spec, changed)
    manual = {n: v for n, v in changed.items() if _level(rules, n) == ReviewLevel.MANUAL}
    immediate = {n: v for n, v in changed.items() if n not in manual}
    if record is None and manual:
        # A new record with fields that must be exact waits whole: nothing half-verified goes live.
        manual, immediate = changed, {}
    checks = _crosscheck(spec, rules, record, manual) if manual else []

    with transaction.atomic():
        revision = None
        if immediate:
            locked = None if record is None else type(record).objects.select_for_update().get(pk=record.pk)
            if locked is not None and record is not None and locked.version != record.version:
                raise StaleChange(
                    "该记录刚被他人修改，请刷新后重新提交",
                    "The record was changed meanwhile; reload and submit again",
                )
            revision = apply_values(
                spec, locked, immediate, actor=actor, channel=channel, method=Method.DIRECT, request=request
            )
            record = locked if locked is not None else spec.model.objects.get(pk=revision.record_id)
        held = (
            _hold(spec, record, manual, checks, actor=actor, channel=channel, request=request)
            if manual
            else None
        )
    return SubmitOutcome(record, revision, held, tuple(sorted(immediate)), cleaned.warnings)


def _refuse_duplicate_key(spec: EntitySpec, values: Mapping[str, Any], pending_ok: int | None = None) -> None:
    """A new record's natural key (person number, unit number, code) must be free, also among new records
    still waiting for review."""
    if spec.label_field == "pk":
        return
    key = _plain(values.get(spec.label_field))
    pending = ChangeRequest.objects.filter(
        entity=spec.name, record_id__isnull=True, record_label=key, status=ReviewStatus.PENDING
    ).exclude(pk=pending_ok or 0)
    taken = spec.model.objects.filter(**{spec.label_field: key}).exists() or pending.exists()
    if taken:
        label = _label(spec, spec.label_field)
        raise ChangeRefused(
            errors={
                spec.label_field: Invalid(
                    "duplicate", f"{label} {key} 已存在", f"{label} {key} already exists"
                )
            }
        )


def _level(rules: Mapping[str, CollectionRule], name: str) -> str:
    rule = rules.get(name)
    return rule.review_level if rule is not None else ReviewLevel.NONE


def _crosscheck(
    spec: EntitySpec,
    rules: Mapping[str, CollectionRule],
    record: models.Model | None,
    manual: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Ask the partner registries named by the rules of the held fields, before any lock is taken."""
    names: list[str] = []
    for name in manual:
        for registry in rules[name].crosschecks:
            if registry not in names:
                names.append(registry)
    subject: dict[str, str] = {}
    for key in ("id_number", "name", "credit_code"):
        if key in spec.fields:
            value = manual.get(key, getattr(record, key, "") if record is not None else "")
            subject[key] = _plain(value)
    return crosschecks.run(names, subject)


def _hold(
    spec: EntitySpec,
    record: models.Model | None,
    manual: Mapping[str, Any],
    checks: list[dict[str, Any]],
    *,
    actor: Staff,
    channel: str,
    request: HttpRequest | None,
) -> ChangeRequest:
    proposed = {
        name: [
            represent(spec, name, getattr(record, name)) if record is not None else None,
            represent(spec, name, v),
        ]
        for name, v in manual.items()
    }
    district = district_of(record) if record is not None else manual.get("district_id")
    label = spec.label(record) if record is not None else _plain(manual.get(spec.label_field, "")) or "新记录"
    held = ChangeRequest.objects.create(
        entity=spec.name,
        record_id=record.pk if record is not None else None,
        record_label=label,
        district_id=district or settings.SIDMS_CITY_DISTRICT,
        base_version=getattr(record, "version", 0) if record is not None else 0,
        proposed=proposed,
        crosschecks=checks,
        channel=channel,
        submitted_by=actor,
        submitted_at=timezone.now(),
    )
    reseal(held)
    audit_record(
        f"submit.{spec.name}",
        actor=actor,
        request=request,
        object_type=spec.name,
        object_id=label,
        channel=channel,
        detail={"held_for_review": held.pk, "fields": sorted(manual)},
    )
    return held


# --------------------------------------------------------------------------------------------------------
# Reviewing


def review_scope(actor: Staff) -> models.QuerySet[ChangeRequest]:
    return scoped(actor, ChangeRequest.objects.select_related("submitted_by"))


def review_decide(
    *,
    actor: Staff,
    change_request_id: int,
    approve: bool,
    reason: str = "",
    request: HttpRequest | None = None,
) -> ChangeRequest:
    """Approve (apply the held values) or reject a review request. Nobody reviews their own submission."""
    _require(actor, "review.decide", "您的岗位不能审核数据", "Your posts may not review changes", request)
    with audited_refusals(), transaction.atomic():
        held = review_scope(actor).select_for_update(of=("self",)).filter(pk=change_request_id).first()
        if held is None:
            raise deny(
                NotPermitted("没有这条待审核记录，或不在您的数据范围内", "No such review request in your scope"),
                "review.denied", actor=actor, request=request, object_type="change_request",
                object_id=change_request_id, detail={"reason": "not_found_or_out_of_scope"},
            )  # fmt: skip
        require_intact(held)
        if held.status != ReviewStatus.PENDING:
            raise ChangeRefused("该申请已处理，不能重复审核", "This request has already been decided")
        if held.submitted_by_id == actor.pk:
            raise deny(
                SeparationOfDuties("不能审核本人提交的变更", "You may not review your own submission"),
                "review.denied", actor=actor, request=request, object_type="change_request", object_id=held.pk,
                detail={"reason": "own_submission"},
            )  # fmt: skip
        if not approve and not reason.strip():
            raise ChangeRefused("驳回时必须填写理由", "A rejection needs a reason")
        spec = spec_for(held.entity)
        if approve:
            values = {name: reveal(spec, name, pair[1]) for name, pair in held.proposed.items()}
            record = None
            if held.record_id is not None:
                record = spec.model.objects.select_for_update().get(pk=held.record_id)
                if not in_scope(actor, district_of(record)):
                    # The record moved to another district after submission: its reviewers decide now.
                    raise deny(
                        NotPermitted("该记录已不在您的数据范围内", "The record is no longer in your data scope"),
                        "review.denied", actor=actor, request=request, object_type="change_request",
                        object_id=held.pk, detail={"reason": "record_out_of_scope"},
                    )  # fmt: skip
                for name, pair in held.proposed.items():
                    if _plain(getattr(record, name)) != _plain(reveal(spec, name, pair[0])):
                        raise StaleChange(
                            "提交后该数据项已被修改，此申请已过时，请驳回后重新提交",
                            "The field changed after submission; reject this request and submit again",
                        )
            else:
                _refuse_duplicate_key(spec, values, pending_ok=held.pk)
            revision = apply_values(
                spec, record, values, actor=held.submitted_by, channel=held.channel, method=Method.REVIEW,
                reference=f"CR{held.pk}/{actor.username}", request=request,
            )  # fmt: skip
            held.record_id = revision.record_id  # a new record: link the request to what it created
        held.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
        held.decided_by = actor
        held.decided_at = timezone.now()
        held.decision_reason = reason.strip()
        held.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "record_id"])
        reseal(held)
        audit_record(
            "review.approve" if approve else "review.reject", actor=actor, request=request,
            object_type="change_request", object_id=held.pk, detail={"entity": held.entity, "record": held.record_label},
        )  # fmt: skip
    return held


def review_recheck_registries(
    *, actor: Staff, change_request_id: int, request: HttpRequest | None = None
) -> ChangeRequest:
    """Ask the registries again (for example after one was unavailable)."""
    _require(actor, "review.decide", "您的岗位不能审核数据", "Your posts may not review changes", request)
    held = review_scope(actor).filter(pk=change_request_id, status=ReviewStatus.PENDING).first()
    if held is None:
        raise NotPermitted("没有这条待审核记录，或不在您的数据范围内", "No such review request in your scope")
    require_intact(held)
    spec = spec_for(held.entity)
    rules = rules_in_force(held.entity)
    record = spec.model.objects.get(pk=held.record_id) if held.record_id is not None else None
    if record is not None:
        require_scope(actor, district_of(record), request)
    manual = {
        name: reveal(spec, name, pair[1])
        for name, pair in held.proposed.items()
        if _level(rules, name) == ReviewLevel.MANUAL
    }
    checks = _crosscheck(spec, rules, record, manual)
    with transaction.atomic():
        held.crosschecks = checks
        ChangeRequest.objects.filter(pk=held.pk).update(crosschecks=checks)
        reseal(held)
        audit_record(
            "review.recheck", actor=actor, request=request, object_type="change_request", object_id=held.pk,
            detail={"registries": [c.get("registry") for c in checks], "statuses": [c.get("status") for c in checks]},
        )  # fmt: skip
    held.crosschecks = checks
    return held
