"""The one door for writes (principle 1).

Every change to governed data comes through `submit_change` (or, for many records at once, through an
authorised batch in sidms.changes.batches). The pipeline reads the collection rules in force, validates,
routes each field by its review level, and applies approved values with `apply_values`, which writes the
new row, its immutable revision and an audit event in one transaction (principle 2).

Services take a Caller (sidms.core.caller) or the bare staff member as ``actor``; never an HttpRequest.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access import workflow as workflows
from sidms.access.policies import has_permission, in_scope
from sidms.access.posts import DECIDERS
from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.changes import crosschecks
from sidms.changes.integrity import check_row, record_refusal, require_owner_intact
from sidms.changes.models import ChangeRequest, Channel, Method, ReviewStatus, Revision
from sidms.changes.numbers import assign_number
from sidms.changes.seals import new_revision, require_intact, reseal
from sidms.changes.validators import DERIVATIONS, Checked, validator
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, Invalid, NotPermitted, SeparationOfDuties, StaleChange
from sidms.core.fields import Sealed, seal
from sidms.core.governed import Governed, pipeline_writes
from sidms.core.kernel import (
    ENTITIES,
    LEDGER,
    EntitySpec,
    cipher_mac,
    digest,
    represent,
    reveal,
    spec_for,
    state_of,
    tokens_of,
)
from sidms.lib import recordno
from sidms.parameters.models import CollectionRule, ReviewLevel

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


# Control and format characters (C0/C1 controls, bidirectional overrides, zero-width characters, private use,
# line and paragraph separators): invisible in a form, they make one value look like another in lists and
# exports. No collected field holds one.
_INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ue000-\uf8ff]"
)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def field_label(spec: EntitySpec, name: str, of: Any = None) -> str:
    """The people's name of a governed field (a foreign key is named by the model it points to). OF, the
    record the field belongs to (or :func:`named_as` of the values being entered), names it as that record's
    page does: a one-time grant's amount is its 一次性待遇金额, not a 月待遇金额 (Declaration.apart)."""
    if of is not None:
        apart = spec.declaration.field_label_for(of, name)
        if apart is not None:
            return str(apart)
    model_field = spec.field(name)
    related = model_field.related_model if model_field.is_relation else None
    if related is not None and str(model_field.verbose_name) == model_field.name:
        return str(related._meta.verbose_name)
    return str(model_field.verbose_name)


def named_as(spec: EntitySpec, values: Mapping[str, Any], record: models.Model | None = None) -> Any:
    """What names SPEC's fields in a refusal of VALUES entered for RECORD (None: a new one), for
    :func:`field_label`: the fields that decide whether another is shown apart (an entitlement's kind), as
    they will be, the value entered over the one stored. None for an entity that shows no field apart."""
    whens = {apart.when for apart in spec.declaration.apart}
    if not whens:
        return None
    return SimpleNamespace(**{
        when: values[when] if when in values else getattr(record, when, "") for when in whens
    })  # fmt: skip


def _required(spec: EntitySpec, name: str, of: Any = None) -> Invalid:
    return Invalid("required", _("%(field)s is required."), {"field": field_label(spec, name, of)})


def clean_values(
    spec: EntitySpec,
    rules: Mapping[str, CollectionRule],
    values: Mapping[str, Any],
    *,
    creating: bool,
    record: models.Model | None = None,
    legacy: bool = False,
    typed: bool = True,
) -> Cleaned:
    """Validate VALUES against the rules and the entity's declaration; refuse the whole submission if any
    field fails (R6.1). On an edit, RECORD is the stored record: a field the rules now require must be
    filled in the result, and derived fields must agree with what they derive from. TYPED values come from a
    person at a window, kiosk or web page, who may not type a record number; a city-approved import may
    bring the numbers of the system it replaces."""
    if spec.kind == LEDGER:
        # Ledger facts are appended by the runs that vouch for them (changes.ledger), never entered.
        raise ChangeRefused(_("Ledger entries are written by their runs, never entered."), code="ledger")
    errors: dict[str, Invalid] = {}
    cleaned = Cleaned({})
    declaration = spec.declaration
    of = named_as(spec, values, record)  # a refusal names a field as the record's page does
    if declaration.rules and not rules:
        # Fail closed: without its rules the pipeline would accept anything (R6.1).
        raise ChangeRefused(
            _("The collection rules of this kind of record are not in force; nothing can be entered."),
            code="no_rules",
        )
    for name, raw in values.items():
        if name not in spec.fields:
            errors[name] = Invalid("unknown_field", _("%(field)s is not a collected field."), {"field": name})
            continue
        if name == declaration.key and declaration.numbering is not None:
            if creating and typed and not _is_empty(raw):
                errors[name] = Invalid(
                    "assigned_by_system",
                    _("%(field)s is assigned by the system; leave it empty."),
                    {"field": field_label(spec, name, of)},
                )
                continue
            if not creating and record is not None and str(raw) != str(getattr(record, name)):
                errors[name] = Invalid(
                    "identity", _("%(field)s cannot be changed."), {"field": field_label(spec, name, of)}
                )
                continue
        if isinstance(raw, str) and _INVISIBLE.search(raw):
            errors[name] = Invalid(
                "invisible_characters",
                _("%(field)s contains invisible control characters (e.g. a direction mark); type it again."),
                {"field": field_label(spec, name, of)},
            )
            continue
        rule = rules.get(name)
        if _is_empty(raw):
            if rule is not None and rule.required and name not in declaration.derived:
                errors[name] = _required(spec, name, of)
            else:
                cleaned.values[name] = None if _field_facts(spec, name)[0] else ""
            continue
        if rule is None or rule.review_level == ReviewLevel.NONE:
            checked = Checked(raw.strip() if isinstance(raw, str) else raw)
        else:
            try:
                checked = _check(spec.name, name, rule.validator)(raw)
            except Invalid as error:
                errors[name] = error
                continue
            if checked.warnings:
                cleaned.warnings[name] = checked.warnings
        value = checked.value
        max_length = _field_facts(spec, name)[1]
        if isinstance(value, str) and max_length and len(value) > max_length:
            errors[name] = Invalid(
                "too_long",
                _("%(field)s has at most %(n)s characters."),
                {"field": field_label(spec, name, of), "n": max_length},
            )
            continue
        cleaned.values[name] = value
    if not legacy:
        _derive(spec, cleaned.values, errors, record, of)
        _require_complete(spec, rules, cleaned.values, errors, creating=creating, record=record, of=of)
    if errors:
        raise ChangeRefused(errors=errors)
    return cleaned


@functools.lru_cache(maxsize=1024)
def _field_facts(spec: EntitySpec, name: str) -> tuple[bool, int | None]:
    """(an empty value is stored as NULL, the length limit of a plain text value) of a field, looked up once:
    an import asks for every cell. Encrypted fields store "" for empty and have no length limit here."""
    model_field = spec.field(name)
    encrypted = spec.encrypted(name) is not None
    null = bool(model_field.null) and not encrypted
    return null, None if encrypted else getattr(model_field, "max_length", None)


@functools.lru_cache(maxsize=512)
def _check(entity: str, name: str, rule_validator: str) -> Callable[[Any], Checked]:
    """The check a rule names for a field, built once (an import calls it for every cell)."""
    choices = [value for value, _label in spec_for(entity).field(name).flatchoices]
    return validator(rule_validator, choices)


def _derive(
    spec: EntitySpec,
    values: dict[str, Any],
    errors: dict[str, Invalid],
    record: models.Model | None,
    of: Any = None,
) -> None:
    """Fields derived from another by a standard (sex and birth date from the ID number): filled in when
    empty, refused when they disagree. Checked whenever the source or the derived field changes."""
    for name, (source, how) in spec.declaration.derived.items():
        if source in errors or name in errors:
            continue
        if source not in values and name not in values:
            continue
        origin = values.get(source, getattr(record, source, "") if record is not None else "")
        if _is_empty(origin):
            continue
        try:
            expected = DERIVATIONS[how](str(origin))
        except ValueError:
            continue  # a stored legacy value the standard refuses: the quality work deals with it
        entered = values.get(name, getattr(record, name, None) if record is not None else None)
        if _is_empty(entered):
            values[name] = expected
        elif str(entered) != str(expected):
            errors[name] = Invalid(
                "disagrees",
                _("%(field)s does not agree with the %(source)s (which gives %(expected)s)."),
                {
                    "field": field_label(spec, name, of),
                    "source": field_label(spec, source, of),
                    "expected": _shown_choice(spec, name, expected),
                },
            )


def _shown_choice(spec: EntitySpec, name: str, value: Any) -> str:
    choices = dict(spec.field(name).flatchoices)
    return str(choices.get(value, value.isoformat() if hasattr(value, "isoformat") else value))


def _require_complete(
    spec: EntitySpec,
    rules: Mapping[str, CollectionRule],
    values: Mapping[str, Any],
    errors: dict[str, Invalid],
    *,
    creating: bool,
    record: models.Model | None,
    of: Any = None,
) -> None:
    """Every field the rules in force require is filled in the result: on creation among the values, on an
    edit in the record as it will be (a rule made required later is enforced at the record's next edit)."""
    for name, rule in rules.items():
        if not rule.required or name in errors or name not in spec.fields:
            continue
        if name == spec.declaration.key and spec.declaration.numbering is not None:
            continue
        if name in values:
            if _is_empty(values[name]):
                errors[name] = _required(spec, name, of)
            continue
        if creating:
            errors[name] = _required(spec, name, of)
        elif record is not None and _is_empty(getattr(record, name)):
            errors[name] = Invalid(
                "required_now",
                _("%(field)s is now required by the collection rules; fill it in with this change."),
                {"field": field_label(spec, name, of)},
            )


# --------------------------------------------------------------------------------------------------------
# Refusals that leave a trace


@contextmanager
def audited_refusals() -> Iterator[None]:
    """A refusal raised inside a transaction would roll its audit event back with the refused step, and the
    attempt would leave no trace (R20). Such refusals carry their event (`deny`); entered outside the
    transaction, this writes it once the rollback is done."""
    try:
        yield
    except (NotPermitted, ChangeRefused) as refusal:
        # A refusal of substance is worth a trace too (an approval refused for missing archive documents). Written
        # once (integrity.record_refusal): two of these nested outside a transaction wrote an alert twice.
        record_refusal(refusal)
        raise


def deny(refusal: NotPermitted, action: str, *, actor: Any, **event: Any) -> NotPermitted:
    refusal.audit_event = {"action": action, "actor": actor, "outcome": Outcome.DENIED, **event}
    return refusal


def require_permission(actor: Any, permission: str, message: Any) -> None:
    caller = Caller.of(actor)
    if has_permission(caller.staff, permission):
        return
    audit_record("access.denied", actor=caller, outcome=Outcome.DENIED, detail={"permission": permission})
    raise NotPermitted(message)


def require_city_level(actor: Any, message: Any) -> None:
    caller = Caller.of(actor)
    if caller.staff.is_city_level:
        return
    audit_record("access.denied", actor=caller, outcome=Outcome.DENIED, detail={"scope": "city_level_only"})
    raise NotPermitted(message)


OUT_OF_SCOPE = _("The record is outside your data scope.")


def require_scope(actor: Any, district: str | None) -> None:
    caller = Caller.of(actor)
    if in_scope(caller.staff, district):
        return
    audit_record("access.denied", actor=caller, outcome=Outcome.DENIED, detail={"scope": district or ""})
    raise NotPermitted(OUT_OF_SCOPE, code="out_of_scope")


def _plain(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def district_of(instance: models.Model) -> str | None:
    spec = spec_for(instance.governance.entity)  # type: ignore[attr-defined]
    return spec.district_of(instance)


# --------------------------------------------------------------------------------------------------------
# Applying


def apply_values(
    spec: EntitySpec,
    instance: models.Model | None,
    values: Mapping[str, Any],
    *,
    actor: Any,
    channel: str,
    method: str,
    reference: str = "",
) -> Revision:
    """Write VALUES to the record (or create it), with its revision and audit event, atomically.

    Callers have validated and authorised; this is the only function that saves a governed row singly. It
    refuses to build on a stored row that no longer matches its history (an integrity alert)."""
    caller = Caller.of(actor)
    now = timezone.now()
    creating = instance is None
    with transaction.atomic(), pipeline_writes():
        if instance is None:
            instance = spec.model()
            old_state: dict[str, Any] = {}
            previous = ""
            instance.created_at = now
            instance.version = 0
            if spec.declaration.numbering is not None and _is_empty(values.get(spec.label_field)):
                setattr(instance, spec.label_field, assign_number(spec))
        else:
            check_row(spec, instance, actor=caller)
            old_state = state_of(spec, instance)
            previous = instance.row_digest  # type: ignore[attr-defined]
        for name, value in values.items():
            domain = spec.encrypted(name)
            if domain and not _is_empty(value) and not isinstance(value, Sealed):
                value = seal(domain, instance.uid, str(value))  # type: ignore[attr-defined]
            setattr(instance, name, value)
        version = instance.version + 1  # type: ignore[attr-defined]
        new_state = state_of(spec, instance)
        for name, flag in spec.declaration.database_unique.items():
            if old_state.get(name) != new_state[name]:
                # A value written here passed the pipeline's check: the record holds it under the database's
                # unique key, whatever it held before (a legacy duplicate given its own code). The flag
                # leaves the state with it (kernel.EntitySpec.flags): its change is [True, None].
                setattr(instance, flag, False)
                new_state.pop(flag, None)
        changes = {
            n: [old_state.get(n), new_state.get(n)]
            for n in {**old_state, **new_state}
            if old_state.get(n) != new_state.get(n)
        }
        instance.version = version  # type: ignore[attr-defined]
        instance.updated_at = now  # type: ignore[attr-defined]
        instance.row_digest = digest(spec, version, new_state)  # type: ignore[attr-defined]
        instance.cipher_mac = cipher_mac(spec, instance.uid, tokens_of(spec, instance))  # type: ignore[attr-defined]
        try:
            instance.save(force_insert=creating)
        except IntegrityError as error:
            # Two writers raced past check_unique: the window checks before its write transaction, and on
            # PostgreSQL a check inside one does not see another's uncommitted row either (READ COMMITTED,
            # no lock on a value not yet stored). The unique key decides; the loser hears the refusal its
            # check would have given, naming nothing, and its transaction rolls back as this leaves it.
            refusal = _database_duplicate(spec, error)
            if refusal is None:
                raise
            raise refusal from error
        revision = new_revision(
            entity=spec.name,
            record_id=instance.pk,
            version=version,
            at=now,
            actor=caller.name,
            channel=channel,
            method=method,
            request_id=caller.request_id,
            reference=reference,
            changes=changes,
            state=new_state,
            digest=instance.row_digest,  # type: ignore[attr-defined]
            prev_digest=previous,
        )
        audit_record(
            f"write.{spec.name}",
            actor=caller,
            object_type=spec.name,
            object_id=spec.label(instance),
            channel=channel,
            detail={
                "revision": revision.pk,
                "version": version,
                "digest": revision.digest,
                "fields": sorted(n for n in changes if n != "uid"),
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


# Entry rules an entity's own app holds (R6.1), registered when its app is ready (dependency inversion): each
# is called with the values the record would have after the submission (stored values overlaid with the new
# ones) and the stored record (None for a new one), and raises ChangeRefused with the reason.
ENTRY_CHECKS: dict[str, list[Callable[[Mapping[str, Any], models.Model | None], None]]] = {}


def register_entry_check(
    entity: str, check: Callable[[Mapping[str, Any], models.Model | None], None]
) -> None:
    checks = ENTRY_CHECKS.setdefault(entity, [])
    if check not in checks:
        checks.append(check)


# Rows an entity's entry rules read that another change may write at the same moment, locked before the rules
# run where they decide a write (registered by the entity's app like the checks; each is called with the same
# values and record, inside the write transaction, after the record's own row is locked). On PostgreSQL two
# transactions read each other's rows as last committed: an enrolment checked against the person's employment
# while a change of that employment, checked against the person's enrolments, was being written both passed
# and both were committed (attack round 17). Each locks the rows both sides lock (the person's), so the second
# waits for the first and judges what it committed. SQLite queues its writers: the rules inside the write
# transaction are enough there.
ENTRY_LOCKS: dict[str, list[Callable[[Mapping[str, Any], models.Model | None], None]]] = {}


def register_entry_lock(entity: str, lock: Callable[[Mapping[str, Any], models.Model | None], None]) -> None:
    locks = ENTRY_LOCKS.setdefault(entity, [])
    if lock not in locks:
        locks.append(lock)


def _entry_checks(
    spec: EntitySpec,
    record: models.Model | None,
    changed: Mapping[str, Any],
    *,
    reviewed: bool = False,
    lock: bool = False,
) -> None:
    """The entity's entry rules on RECORD (None: a new one) with CHANGED over its stored values. LOCK: they
    decide a write in the current transaction, so the rows they read are locked first (ENTRY_LOCKS)."""
    checks = ENTRY_CHECKS.get(spec.name)
    if not checks:
        return
    values = {name: getattr(record, name) for name in spec.fields} if record is not None else {}
    values.update(changed)
    if lock:
        for take in ENTRY_LOCKS.get(spec.name, []):
            take(values, record)
    token = _REVIEWED.set(reviewed)
    try:
        for check in checks:
            check(values, record)
    finally:
        _REVIEWED.reset(token)


# Whether the entry rules now run for a change a second person decides: the approval of a held request, or
# the submission of a change held whole for review with its reason (``submit_change(review_reason=…)``).
# A rule may allow there what it refuses on one person's word (a certification moved to an earlier day).
_REVIEWED: ContextVar[bool] = ContextVar("sidms_reviewed_change", default=False)


def under_review() -> bool:
    """For an entry rule: the change it checks is one a second person decides before it applies."""
    return _REVIEWED.get()


# Contexts an app's entry rules run in across the rows of one import (e.g. the business parameters read once
# for the whole file rather than for every row); registered like the checks.
ENTRY_CONTEXTS: dict[str, list[Callable[[], AbstractContextManager[Any]]]] = {}


def register_entry_context(entity: str, context: Callable[[], AbstractContextManager[Any]]) -> None:
    contexts = ENTRY_CONTEXTS.setdefault(entity, [])
    if context not in contexts:
        contexts.append(context)


@contextmanager
def entry_checks_context(entity: str) -> Iterator[None]:
    with ExitStack() as stack:
        for context in ENTRY_CONTEXTS.get(entity, []):
            stack.enter_context(context())
        yield


ROW_RULE = (
    "*"  # the key of an entry rule's refusal in an import row's errors (a rule of the row, not a field)
)


def entry_check_errors(spec: EntitySpec, values: Mapping[str, Any]) -> dict[str, Invalid]:
    """The entity's entry rules applied to one new record's VALUES (an import row), as the row's errors: an
    import batch obeys the same rules as the window (issue 8 §2, §3)."""
    try:
        _entry_checks(spec, None, values)
    except ChangeRefused as refused:
        return dict(refused.errors) or {ROW_RULE: Invalid(refused.code, refused.text)}
    return {}


# What sets two rows of one import against each other under an entry rule (two active enrolments of one
# person in mutually exclusive schemes, one person's death twice). The entry checks read what is stored, and
# an import's rows are stored together at the end, so without this the rows of one file would not see each
# other. Each function returns, for a new record's VALUES, a key, and the code and message (naming the earlier
# row as %(row)s) that refuse a later row with the same key; or None. Registered by the entity's app.
EntryKey = Callable[[Mapping[str, Any]], tuple[Any, str, Any] | None]
ENTRY_KEYS: dict[str, list[EntryKey]] = {}


def register_entry_key(entity: str, key: EntryKey) -> None:
    keys = ENTRY_KEYS.setdefault(entity, [])
    if key not in keys:
        keys.append(key)


class FileEntryRules:
    """The entry rules that set the rows of one import file against each other, applied row by row in the
    file's order by the dry run (sidms.exchange.imports) and the execution (changes.batches) alike. Only
    rows that pass every other rule are offered: a refused row holds nothing against later ones."""

    def __init__(self, entity: str) -> None:
        self.keys = ENTRY_KEYS.get(entity, [])
        self.seen: dict[tuple[int, Any], int] = {}

    def clash(self, number: int, values: Mapping[str, Any]) -> dict[str, Invalid]:
        """The refusal of row NUMBER if an earlier row holds one of its keys; otherwise its keys are held."""
        held: list[tuple[int, Any]] = []
        for i, key_of in enumerate(self.keys):
            keyed = key_of(values)
            if keyed is None:
                continue
            key, code, message = keyed
            earlier = self.seen.get((i, key))
            if earlier is not None:
                return {ROW_RULE: Invalid(code, message, {"row": earlier})}
            held.append((i, key))
        for held_key in held:
            self.seen[held_key] = number
        return {}


SUBMIT_CHANNELS = {Channel.WINDOW, Channel.COLLABORATION, Channel.ONLINE, Channel.KIOSK}
MAY_NOT_SUBMIT = _("Your posts may not collect or change data.")


def submit_change(
    *,
    actor: Any,
    channel: str,
    entity: str,
    values: Mapping[str, Any],
    record: Governed | None = None,
    review_reason: str = "",
) -> SubmitOutcome:
    """Submit new values for a record (or a new record, when RECORD is None).

    Fields whose review level is "none" or "system" are applied at once (after validation for "system");
    "manual" fields are held for a reviewer, with external cross-check results, and the old values stay
    in force until the review approves them. Any invalid field refuses the whole submission.

    With a REVIEW_REASON (a stored record's correction), every changed field is held for a reviewer
    whatever its level, the reason is the request's note, and the entry rules know it
    (:func:`under_review`).
    """
    if channel not in SUBMIT_CHANNELS:
        raise ValueError(f"submit_change does not take channel {channel!r}")
    if review_reason and record is None:
        raise ValueError("review_reason is for a stored record's correction")
    caller = Caller.of(actor)
    spec = spec_for(entity)
    require_permission(caller, "record.submit", MAY_NOT_SUBMIT)
    rules = rules_in_force(entity)
    if record is None:
        cleaned = clean_values(spec, rules, values, creating=True)
        require_scope(caller, spec.district_for_values(cleaned.values))
        require_owner_intact(spec, cleaned.values, actor=caller)
        _require_targets(spec, cleaned.values)
        changed = cleaned.values
    else:
        require_scope(caller, spec.district_of(record))
        require_owner_intact(spec, record, actor=caller)
        different = {
            n: v for n, v in values.items() if n not in spec.fields or _plain(getattr(record, n)) != _plain(v)
        }
        cleaned = clean_values(spec, rules, different, creating=False, record=record)
        changed = {n: v for n, v in cleaned.values.items() if _plain(getattr(record, n)) != _plain(v)}
        if changed:
            moved = spec.district_for_values({**_current_refs(spec, record), **changed})
            if moved != spec.district_of(record):
                # Moving a record to another district needs the right to both: a district clerk cannot.
                require_scope(caller, moved)
            require_owner_intact(spec, changed, actor=caller)
            _require_targets(spec, changed)
    reason = review_reason.strip()[:200]
    _entry_checks(spec, record, changed, reviewed=bool(reason))
    duplicate = check_unique(spec, rules, changed, record, caller)
    manual = {n: v for n, v in changed.items() if reason or _level(rules, n) == ReviewLevel.MANUAL}
    if record is None and (manual or duplicate):
        # A new record with fields that must be exact (or a suspected duplicate) waits whole: nothing
        # half-verified goes live.
        manual = dict(changed)
    elif manual and len(manual) < len(changed) and not _passes_alone(spec, record, changed, manual):
        # The fields applied at once would break an entry rule without the held ones (an enrolment's start
        # moved to when the person worked at the unit held for review): the parts stand or fall together, so
        # the whole change waits for the reviewer. Otherwise the part applied at once stands whatever the
        # review decides (attack round 17).
        manual = dict(changed)
    immediate = {n: v for n, v in changed.items() if n not in manual}
    if manual and record is not None:
        _require_none_pending(spec, record, manual)  # before the registries are asked
    checks = _crosscheck(spec, rules, record, manual) if manual else []

    with audited_refusals(), transaction.atomic():
        revision = None
        if immediate:
            locked = None if record is None else type(record).objects.select_for_update().get(pk=record.pk)
            if locked is not None and record is not None and locked.version != record.version:
                raise StaleChange()
            # Again on the record as it will stand, now in the write transaction with what the rules read
            # locked: what was committed since the check above (the employment an enrolment stands on moved
            # away) refuses it here (attack round 17).
            _entry_checks(spec, locked, immediate, lock=True)
            revision = apply_values(
                spec, locked, immediate, actor=caller, channel=channel, method=Method.DIRECT
            )
            record = locked if locked is not None else spec.model.objects.get(pk=revision.record_id)
        elif manual and record is not None:
            # The record's row locked, so that of two submissions at once the second sees the first's request.
            list(type(record).objects.select_for_update().filter(pk=record.pk).values_list("pk", flat=True))
        if manual and record is not None:
            _require_none_pending(spec, record, manual)
        held = (
            _hold(spec, record, manual, checks, actor=caller, channel=channel, note=duplicate or reason)
            if manual
            else None
        )
    return SubmitOutcome(record, revision, held, tuple(sorted(immediate)), cleaned.warnings)


def _passes_alone(
    spec: EntitySpec, record: models.Model | None, changed: Mapping[str, Any], held: Mapping[str, Any]
) -> bool:
    """Whether the part of CHANGED not in HELD, applied alone to RECORD, passes the entity's entry rules."""
    try:
        _entry_checks(spec, record, {n: v for n, v in changed.items() if n not in held})
    except ChangeRefused:
        return False
    return True


PENDING_REQUEST = _(
    "%(fields)s of this record already wait for review in request CR%(id)s; another change of them is "
    "submitted once it is decided (a reviewer approves or rejects it) or its submitter withdraws it."
)


def _require_none_pending(spec: EntitySpec, record: models.Model, held: Mapping[str, Any]) -> None:
    """Refuse a submission that would hold for review a field of RECORD that a pending request already holds:
    of the two, whichever a reviewer approved first made the other stale, refused only then, at its decision
    (the field changed after submission) — a second request a reviewer could only reject. Requests about other
    fields of the record are independent (each compares only its own fields at its decision) and are not
    refused. A field changed meanwhile another way (a maintenance order, a batch) still makes the request
    stale at its decision."""
    pending = ChangeRequest.objects.filter(
        entity=spec.name, record_id=record.pk, status=ReviewStatus.PENDING
    ).order_by("pk")
    of = named_as(spec, held, record)
    for pk, proposed in pending.values_list("pk", "proposed"):
        overlap = [name for name in held if name in (proposed or {})]
        if overlap:
            fields = "、".join(field_label(spec, name, of) for name in overlap)
            raise ChangeRefused(PENDING_REQUEST, {"fields": fields, "id": pk}, code="pending")


def _current_refs(spec: EntitySpec, record: models.Model) -> dict[str, Any]:
    first = (spec.declaration.district or "").split("__")[0]
    return {f"{first}_id": getattr(record, f"{first}_id", None)} if first else {}


def _require_targets(spec: EntitySpec, values: Mapping[str, Any]) -> None:
    """References to other records must point at records that exist (checked after the scope)."""
    errors: dict[str, Invalid] = {}
    for name, value in values.items():
        model_field = spec.field(name)
        related = model_field.related_model if model_field.is_relation else None
        if related is None or _is_empty(value) or related._meta.label_lower == "parameters.region":
            continue
        if not related._default_manager.filter(pk=value).exists():
            errors[name] = Invalid(
                "not_found", _("There is no such %(what)s."), {"what": field_label(spec, name)}
            )
    if errors:
        raise ChangeRefused(errors=errors)


DUPLICATE = _(
    "This %(field)s is already registered; one %(entity)s has one record. Search for the existing record "
    "instead of creating another."
)
DUPLICATE_NAMED = _("This %(field)s is already registered as %(record)s.")


def check_unique(
    spec: EntitySpec,
    rules: Mapping[str, CollectionRule],
    values: Mapping[str, Any],
    record: models.Model | None,
    caller: Caller,
    pending_ok: int | None = None,
    *,
    refuse: bool = False,
) -> str:
    """A value the entity declares unique (a person's ID number, 15- or 18-digit alike; a unit's credit code)
    must not be in the registry in any district, nor in a new record still waiting for review. By the rule it
    is refused, or held for review as a suspected duplicate (returns the note then); a field the database
    holds unique too (``database_unique``), or any with REFUSE (a maintenance order), is always refused. The
    existing record is named only to those who may see it; the message is otherwise the same whatever the
    district (issue 7 item 9). Every door calls it: the window's submission and the approval of a held one,
    a maintenance order when applied for, carried out and sent back; an import checks its rows in
    sidms.changes.batches by the same declaration."""
    for name in spec.declaration.unique:
        if name not in values or _is_empty(values[name]):
            continue
        rule = rules.get(name)
        policy = rule.on_duplicate if rule is not None else "refuse"
        if refuse or name in spec.declaration.database_unique:
            policy = "refuse"
        index = _match_index(spec, name, values[name])
        others = spec.model._default_manager.filter(**_index_lookup(spec, name, values[name]))
        if record is not None:
            others = others.exclude(pk=record.pk)
        existing = others.order_by("pk").first()
        pending = (
            ChangeRequest.objects.filter(entity=spec.name, status=ReviewStatus.PENDING, match_index=index)
            .exclude(pk=pending_ok or 0)
            .exists()
        )
        if existing is None and not pending:
            continue
        if policy == "review":
            return "suspected_duplicate"
        if existing is not None and in_scope(caller.staff, spec.district_of(existing)):
            message = Invalid(
                "duplicate",
                DUPLICATE_NAMED,
                {
                    "field": field_label(spec, name),
                    "record": f"{spec.label(existing)} {_title(spec, existing)}",
                },
            )
        else:
            message = _duplicate(spec, name)
        raise ChangeRefused(errors={name: message}, code="duplicate")
    return ""


def _duplicate(spec: EntitySpec, name: str) -> Invalid:
    """The refusal of a duplicate that names nothing: the same whatever the district of the record."""
    return Invalid(
        "duplicate",
        DUPLICATE,
        {"field": field_label(spec, name), "entity": str(spec.model._meta.verbose_name)},
    )


def _database_duplicate(spec: EntitySpec, error: IntegrityError) -> ChangeRefused | None:
    """The refusal for a write the database's unique key on a ``database_unique`` field refused: another
    request or import stored the same value after this one's check, while it was being written. None for any
    other integrity error (a fault, not a refusal)."""
    text = str(error)
    table = spec.model._meta.db_table
    for name in spec.declaration.database_unique:
        constraint = next(
            (
                c.name
                for c in spec.model._meta.constraints
                if isinstance(c, models.UniqueConstraint) and tuple(c.fields) == (name,)
            ),
            None,
        )
        column = str(spec.field(name).column)
        if (constraint and constraint in text) or f"{table}.{column}" in text:
            return ChangeRefused(errors={name: _duplicate(spec, name)}, code="duplicate")
    return None


def _title(spec: EntitySpec, record: models.Model) -> str:
    title = spec.declaration.title
    return str(getattr(record, title)) if title else ""


def _index_lookup(spec: EntitySpec, name: str, value: Any) -> dict[str, Any]:
    enc = spec.encrypted_fields.get(name)
    if enc is not None:
        return {enc.index.attname: enc.index.index_of(str(value))}
    return {name: value}


def _match_index(spec: EntitySpec, name: str, value: Any) -> str:
    enc = spec.encrypted_fields.get(name)
    if enc is not None:
        return enc.index.index_of(str(value))
    return str(value)[:64]


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
        rule = rules.get(name)
        for registry in rule.crosschecks if rule is not None else ():
            if registry not in names:
                names.append(registry)
    subject: dict[str, str] = {}
    for key, name in spec.declaration.crosscheck_subjects.items():
        value = manual.get(name, getattr(record, name, "") if record is not None else "")
        subject[key] = _plain(value)
    return crosschecks.run(names, subject)


def _hold(
    spec: EntitySpec,
    record: models.Model | None,
    manual: Mapping[str, Any],
    checks: list[dict[str, Any]],
    *,
    actor: Caller,
    channel: str,
    note: str = "",
) -> ChangeRequest:
    held = ChangeRequest(
        entity=spec.name,
        record_id=record.pk if record is not None else None,
        base_version=getattr(record, "version", 0) if record is not None else 0,
        crosschecks=checks,
        channel=channel,
        submitted_by=actor.staff,
        submitted_at=timezone.now(),
        note=note,
    )
    # Encrypted values are sealed to the request's own identity until they are applied to the record.
    held.proposed = {
        name: [
            _represent_stored(spec, record, name) if record is not None else None,
            _represent_held(spec, name, v, held),
        ]
        for name, v in manual.items()
    }
    district = spec.district_of(record) if record is not None else spec.district_for_values(dict(manual))
    label = spec.label(record) if record is not None else ""
    held.record_label = label  # "" until the new record exists and has its number
    held.district_id = district or settings.SIDMS_CITY_DISTRICT
    for name in spec.declaration.unique:
        if name in manual and not _is_empty(manual[name]):
            held.match_index = _match_index(spec, name, manual[name])
    held.save()
    reseal(held)
    audit_record(
        f"submit.{spec.name}",
        actor=actor,
        object_type="change_request",
        object_id=held.pk,
        channel=channel,
        detail={
            "entity": spec.name,
            "record": held.record_label,
            "fields": sorted(manual),
            "note": note,
            "step": held.step,
            "seal": held.seal,
        },
    )
    return held


def _represent_stored(spec: EntitySpec, record: models.Model, name: str) -> Any:
    return (
        state_of(spec, record)[name] if spec.encrypted(name) else represent(spec, name, getattr(record, name))
    )


def held_uid(held: ChangeRequest) -> str:
    """The identity a held value is sealed to: the request's own (``CR`` + its submission time and the
    submitter), so that a value copied out of one request does not decrypt in another."""
    return f"CR:{held.submitted_by_id}:{held.submitted_at.isoformat()}"


def _represent_held(spec: EntitySpec, name: str, value: Any, held: ChangeRequest) -> Any:
    domain = spec.encrypted(name)
    if domain is None or _is_empty(value):
        return represent(spec, name, value)
    return represent(spec, name, seal(domain, held_uid(held), str(value)))


def held_values(spec: EntitySpec, held: ChangeRequest, which: int) -> dict[str, Any]:
    """The proposed (WHICH=1) or previous (WHICH=0) values of a request, decrypted."""
    out = {}
    record_uid = None
    if which == 0 and held.record_id is not None:
        record_uid = (
            spec.model._default_manager.filter(pk=held.record_id).values_list("uid", flat=True).first()
        )
    for name, pair in held.proposed.items():
        uid = held_uid(held) if which == 1 else record_uid
        out[name] = reveal(spec, name, pair[which], uid)
    return out


# --------------------------------------------------------------------------------------------------------
# Reviewing

NO_SUCH_REQUEST = _("There is no such review request in your scope.")

# Requests that are not changes of a governed record but proposals a second city-level administrator
# confirms (four eyes): a collection rule, a staff member's post. Each kind registers what confirming it
# does, so the review service needs to know none of them.
PROPOSALS: dict[str, Callable[[ChangeRequest, Caller], None]] = {}


def register_proposal(kind: str, apply: Callable[[ChangeRequest, Caller], None]) -> None:
    PROPOSALS[kind] = apply


# What must hold before a review request may be approved, registered by higher apps (dependency inversion):
# the electronic archives refuse a request whose required documents are missing or rejected (R7.4). Each
# check raises a ChangeRefused to refuse, inside the decision's transaction, with the request locked.
APPROVAL_CHECKS: dict[str, Callable[[ChangeRequest, Caller], None]] = {}


def register_approval_check(name: str, check: Callable[[ChangeRequest, Caller], None]) -> None:
    APPROVAL_CHECKS[name] = check


def review_decide(
    *,
    actor: Any,
    change_request_id: int,
    approve: bool,
    reason: str = "",
) -> ChangeRequest:
    """Approve (apply the held values) or reject a review request. Nobody reviews their own submission;
    a rule change is decided by a second city-level administrator, anything else by a reviewer."""
    caller = Caller.of(actor)
    staff = caller.staff
    with audited_refusals(), transaction.atomic():
        held = (
            workflows.visible(staff, ChangeRequest)
            .select_for_update(of=("self",))
            .filter(pk=change_request_id)
            .first()
        )
        permission = DECIDERS.get(held.decider_post, "review.decide") if held is not None else "review.decide"
        city_only = permission != "review.decide"
        if not has_permission(staff, permission) or (city_only and not staff.is_city_level):
            raise deny(
                NotPermitted(_("Your posts may not decide this request.")), "review.denied", actor=caller,
                object_type="change_request", object_id=change_request_id, detail={"reason": "post"},
            )  # fmt: skip
        if held is None:
            raise deny(
                NotPermitted(NO_SUCH_REQUEST), "review.denied", actor=caller, object_type="change_request",
                object_id=change_request_id, detail={"reason": "not_found_or_out_of_scope"},
            )  # fmt: skip
        require_intact(held, actor=caller)
        workflows.require_move_verified(held, actor=caller)
        if not workflows.follows_scope(staff, held, lock=True):
            # The record moved to another district after submission: the district it left no longer decides
            # either way (its page is not found for them; a rejection posted blind was taken, attack round 11),
            # nor while the move is being written (the record is locked and read as committed).
            raise deny(
                NotPermitted(_("The record is no longer in your data scope.")), "review.denied", actor=caller,
                object_type="change_request", object_id=held.pk, detail={"reason": "record_out_of_scope"},
            )  # fmt: skip
        if held.status == ReviewStatus.WITHDRAWN:
            raise ChangeRefused(WITHDRAWN_BY_SUBMITTER, code="withdrawn")
        if held.status != ReviewStatus.PENDING:
            raise ChangeRefused(_("This request has already been decided."), code="decided")
        if held.submitted_by_id == staff.pk:
            raise deny(
                SeparationOfDuties(_("You may not decide your own submission.")),
                "review.denied", actor=caller, object_type="change_request", object_id=held.pk,
                detail={"reason": "own_submission"},
            )  # fmt: skip
        if not approve and not reason.strip():
            raise ChangeRefused(_("A rejection needs a reason."), code="reason_required")
        if approve and held.entity not in PROPOSALS and held.entity not in ENTITIES:
            # A kind this version no longer handles (its app removed since the request was held): it can only
            # be rejected, with a reason, rather than fail at applying it.
            raise ChangeRefused(
                _("This kind of request is no longer handled; reject it with a reason."), code="unknown_kind"
            )
        if approve:
            for check in APPROVAL_CHECKS.values():
                check(held, caller)
        if held.entity in PROPOSALS:
            if approve:
                PROPOSALS[held.entity](held, caller)
        elif approve:
            _apply_held(held, caller)
        held.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
        held.decided_by = staff
        held.decided_at = timezone.now()
        held.decision_reason = reason.strip()
        held.step += 1
        held.save(
            update_fields=["status", "decided_by", "decided_at", "decision_reason", "record_id", "step"]
        )
        reseal(held)
        audit_record(
            "review.approve" if approve else "review.reject", actor=caller,
            object_type="change_request", object_id=held.pk,
            detail={"entity": held.entity, "record": held.record_label, "step": held.step, "seal": held.seal},
        )  # fmt: skip
    return held


# --------------------------------------------------------------------------------------------------------
# Withdrawal (撤回)

WITHDRAWN_BY_SUBMITTER = _("Its submitter has withdrawn this request; there is nothing left to decide.")
WITHDRAW_NOT_OWN = _("Only the person who submitted this request may withdraw it.")
WITHDRAW_DECIDED = _("This request has already been decided; it can no longer be withdrawn.")
ALREADY_WITHDRAWN = _("This request has already been withdrawn.")


def withdraw_own(caller: Caller, model: type[Any], pk: int, *, denied: str, no_such: Any) -> Any:
    """The common part of a withdrawal (撤回), inside the caller's transaction: the row of MODEL (a review
    request, a maintenance order, a batch application), locked, if the caller may see it, it matches its seal
    and its latest audited step, it is the caller's own (the workflow's ``own`` role: its submitter or
    applicant; not another clerk, not a decider) and nobody has decided it yet (the workflow's
    ``withdrawable`` status), is put in the ``withdrawn`` status as its next step and resealed. The caller
    writes the step's audit event, with the step and the seal, in the same transaction, as each kind's
    decisions do. A refusal of someone else's row is recorded as DENIED (``<kind>.denied``); NO_SUCH is the
    message for a row the caller may not see, the same as for one that does not exist."""
    workflow = workflows.declaration(model)
    staff = caller.staff
    row = workflows.visible(staff, model).select_for_update(of=("self",)).filter(pk=pk).first()
    if row is None:
        raise deny(
            NotPermitted(no_such), denied, actor=caller, object_type=workflow.name, object_id=pk,
            detail={"reason": "not_found_or_out_of_scope"},
        )  # fmt: skip
    require_intact(row, actor=caller)
    workflows.require_move_verified(row, actor=caller)
    if not workflows.is_own(staff, row):
        raise deny(
            NotPermitted(WITHDRAW_NOT_OWN, code="not_own"), denied, actor=caller, object_type=workflow.name,
            object_id=row.pk, detail={"reason": "withdraw_not_own"},
        )  # fmt: skip
    if row.status == workflow.withdrawn:
        raise ChangeRefused(ALREADY_WITHDRAWN, code="withdrawn")
    if not workflows.may_withdraw(staff, row):
        raise ChangeRefused(WITHDRAW_DECIDED, code="decided")
    row.status = workflow.withdrawn
    row.step += 1
    row.save(update_fields=["status", "step"])
    reseal(row)
    return row


def review_withdraw(*, actor: Any, change_request_id: int) -> ChangeRequest:
    """The submitter withdraws their review request while it waits (nobody has decided it): it leaves the
    queues, and its fields (or the unique value of a new record) may be submitted again. The old values stay
    in force, as they did while it waited."""
    caller = Caller.of(actor)
    with audited_refusals(), transaction.atomic():
        held: ChangeRequest = withdraw_own(
            caller, ChangeRequest, change_request_id, denied="review.denied", no_such=NO_SUCH_REQUEST
        )
        audit_record(
            "review.withdraw", actor=caller, object_type="change_request", object_id=held.pk,
            detail={"entity": held.entity, "record": held.record_label, "step": held.step, "seal": held.seal},
        )  # fmt: skip
    return held


def _apply_held(held: ChangeRequest, caller: Caller) -> None:
    spec = spec_for(held.entity)
    values = held_values(spec, held, 1)
    record = None
    if held.record_id is not None:
        record = spec.model.objects.select_for_update().get(pk=held.record_id)
        if not in_scope(caller.staff, spec.district_of(record)):
            # The record moved to another district after submission: its reviewers decide now.
            raise deny(
                NotPermitted(_("The record is no longer in your data scope.")), "review.denied", actor=caller,
                object_type="change_request", object_id=held.pk, detail={"reason": "record_out_of_scope"},
            )  # fmt: skip
        previous = held_values(spec, held, 0)
        for name, old in previous.items():
            if _plain(getattr(record, name)) != _plain(old):
                raise StaleChange(
                    _("The field changed after submission; reject this request and submit again.")
                )
    # Plain values: apply_values seals them to the record.
    values = {name: str(v) if isinstance(v, Sealed) else v for name, v in values.items()}
    if held.note != "suspected_duplicate":
        # Registered meanwhile (by an import, the window, or another request approved first): refused now too,
        # for a new record as for a changed one (a unit's credit code changed to one another unit took since).
        check_unique(spec, rules_in_force(held.entity), values, record, caller, pending_ok=held.pk)
    # What was entered meanwhile may stand against it: the rules run on the record as it stands now.
    _entry_checks(spec, record, values, reviewed=True, lock=True)
    revision = apply_values(
        spec, record, values, actor=Caller(held.submitted_by, caller.address, caller.request_id),
        channel=held.channel, method=Method.REVIEW, reference=f"CR{held.pk}/{caller.name}",
    )  # fmt: skip
    held.record_id = revision.record_id  # a new record: link the request to what it created
    if record is None:
        created = spec.model._default_manager.get(pk=revision.record_id)
        held.record_label = spec.label(created)
        ChangeRequest.objects.filter(pk=held.pk).update(record_label=held.record_label)


def review_recheck_registries(*, actor: Any, change_request_id: int) -> ChangeRequest:
    """Ask the registries again (for example after one was unavailable)."""
    caller = Caller.of(actor)
    require_permission(caller, "review.decide", _("Your posts may not review changes."))
    held = (
        workflows.visible(caller.staff, ChangeRequest)
        .filter(pk=change_request_id, status=ReviewStatus.PENDING)
        .first()
    )
    if held is None or held.entity in PROPOSALS or held.entity not in ENTITIES:
        raise NotPermitted(NO_SUCH_REQUEST)
    with (
        audited_refusals()
    ):  # the alert's event: the page catches the refusal (attack round 12: never logged)
        require_intact(held, actor=caller)
        workflows.require_move_verified(held, actor=caller)
    spec = spec_for(held.entity)
    rules = rules_in_force(held.entity)
    record = spec.model.objects.get(pk=held.record_id) if held.record_id is not None else None
    if record is not None:
        require_scope(caller, spec.district_of(record))
    proposed = held_values(spec, held, 1)
    manual = {name: value for name, value in proposed.items() if _level(rules, name) == ReviewLevel.MANUAL}
    checks = _crosscheck(spec, rules, record, manual)
    with transaction.atomic():
        held.crosschecks = checks
        held.step += 1
        ChangeRequest.objects.filter(pk=held.pk).update(crosschecks=checks, step=held.step)
        reseal(held)
        audit_record(
            "review.recheck", actor=caller, object_type="change_request", object_id=held.pk,
            detail={
                "registries": [c.get("registry") for c in checks], "statuses": [c.get("status") for c in checks],
                "step": held.step, "seal": held.seal,
            },
        )  # fmt: skip
    return held


def is_system_number(spec: EntitySpec, number: str) -> bool:
    numbering = spec.declaration.numbering
    return numbering is not None and recordno.is_valid(number, numbering.prefix, numbering.serial_digits)
