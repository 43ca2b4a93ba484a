"""Violation rules over the audit stream, alerts to the supervising department, and their handling (R20, R4.1).

The rules are data (``AlertRule``: threshold, time window, parameters), changed by the audit administrator.
`sidms alerts run` (every minute from a timer) reads the audit events appended since its last run and
raises an alert for every violation:

* ``bulk_reads``  — one account read more than N personal records within the window;
* ``off_hours``   — personal records read outside working hours (weekdays and hours are parameters);
* ``denied``      — N or more refused accesses by one account within the window;
* ``own_record``  — a staff member read the person whose ID number is their own (by blind index);
* ``bulk_export`` — an export of more than N rows (exports record ``export.<entity>`` with ``rows``);
* ``disabled_account`` — any act of, or sign-in attempt with, an account that is disabled or has no valid
  confidentiality agreement at the time;
* ``integrity``   — an integrity alert of the pipeline (``integrity.alert``), a failed verification or a
  failed restore drill. These are raised as soon as their event is committed (``on_audit_event``), without
  waiting for the timer.

An alert of a windowed rule is not raised again for the same account (and the same person, for
``own_record``) while one raised within the window exists: one incident, one alert. Each alert is
acknowledged, investigated and closed with a conclusion by the supervising department; every step is a
service with an audit event (``sidms.continuity.base``).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import has_permission
from sidms.audit.models import AuditEvent, Outcome
from sidms.changes.services import audited_refusals
from sidms.continuity.base import advance, create, locked
from sidms.continuity.common import SYSTEM, require
from sidms.continuity.models import Alert, AlertRule, AlertScan, AlertStatus, RuleCode, StaffIdentity
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, Invalid, NotPermitted, SeparationOfDuties
from sidms.registry.models import Person, Staff

log = logging.getLogger(__name__)

R = RuleCode
PERSONAL = ["person", "employment"]
DEFAULTS: dict[str, dict[str, Any]] = {
    R.BULK_READS: {"threshold": 200, "window_minutes": 60, "params": {"entities": PERSONAL}},
    R.OFF_HOURS: {
        "threshold": 1,
        "window_minutes": 24 * 60,
        "params": {"start": "08:00", "end": "18:00", "weekdays": [1, 2, 3, 4, 5], "entities": PERSONAL},
    },
    R.DENIED: {"threshold": 5, "window_minutes": 10, "params": {}},
    R.OWN_RECORD: {"threshold": 1, "window_minutes": 24 * 60, "params": {}},
    R.BULK_EXPORT: {"threshold": 1000, "window_minutes": 60, "params": {}},
    R.DISABLED_ACCOUNT: {"threshold": 1, "window_minutes": 24 * 60, "params": {}},
    R.INTEGRITY: {"threshold": 1, "window_minutes": 0, "params": {}},
}
INTEGRITY_FAILURES = frozenset({"audit.verify", "backup.drill"})
# The scanner's own bookkeeping: a run that finds nothing else does not move (and so does not write).
_OWN_ACTIONS = frozenset({"alert_scan.advance", "alert.raise"})
MAX_EVENTS = 50_000


# --------------------------------------------------------------------------------------------------------
# Rules as data


def seed_rules() -> int:
    """Create the rules that do not exist yet with their defaults (after migrate). Returns how many."""
    made = 0
    for code, values in DEFAULTS.items():
        if AlertRule.objects.filter(code=code).exists():
            continue
        with transaction.atomic():
            rule = AlertRule(code=code, **values)
            create(rule, "alert_rule.seed", actor=SYSTEM, detail={"code": code, **_rule_detail(rule)})
        made += 1
    return made


def _rule_detail(rule: AlertRule) -> dict[str, Any]:
    return {
        "enabled": rule.enabled,
        "threshold": rule.threshold,
        "window_minutes": rule.window_minutes,
        "params": rule.params,
        "version": rule.version,
    }


MAY_NOT_EDIT = _("Only the audit administrator sets the alert rules.")


def rule_change(
    *,
    actor: Any,
    code: str,
    enabled: bool,
    threshold: int,
    window_minutes: int,
    params: dict[str, Any] | None = None,
) -> AlertRule:
    """A new version of a rule (the audit administrator's; the system and security administrators cannot
    loosen the rules that watch them)."""
    caller = require(actor, "alert.rules", MAY_NOT_EDIT)
    errors: dict[str, Invalid] = {}
    if threshold < 1:
        errors["threshold"] = Invalid("range", _("The threshold is at least 1."))
    if code != R.INTEGRITY and not 1 <= window_minutes <= 7 * 24 * 60:
        errors["window_minutes"] = Invalid(
            "range", _("The time window is between one minute and seven days.")
        )
    if code == R.OFF_HOURS and params is not None:
        try:
            _working_hours(params)
        except (KeyError, ValueError, TypeError):
            errors["params"] = Invalid("params", _("Working hours are HH:MM to HH:MM on weekdays 1 to 7."))
    if errors:
        raise ChangeRefused(errors=errors)
    with audited_refusals(), transaction.atomic():
        pk = AlertRule.objects.filter(code=code).values_list("pk", flat=True).first()
        rule = locked(AlertRule, pk, actor=caller) if pk is not None else None
        if rule is None:
            raise NotPermitted(_("There is no such rule."))
        rule.enabled, rule.threshold, rule.window_minutes = enabled, threshold, window_minutes
        if params is not None:
            rule.params = params
        rule.version += 1
        rule.changed_by, rule.changed_at = caller.staff, timezone.now()
        return advance(rule, "alert_rule.change", actor=caller, detail={"code": code, **_rule_detail(rule)})


def _working_hours(params: dict[str, Any]) -> tuple[time, time, set[int]]:
    start = time.fromisoformat(str(params["start"]))
    end = time.fromisoformat(str(params["end"]))
    days = {int(d) for d in params["weekdays"]}
    if not days <= set(range(1, 8)):
        raise ValueError("weekdays")
    return start, end, days


# --------------------------------------------------------------------------------------------------------
# The audit stream


@dataclass(frozen=True)
class Event:
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    outcome: str
    detail: dict[str, Any]

    @property
    def is_read(self) -> bool:
        return self.action.startswith("read.") and self.outcome == Outcome.OK

    @property
    def records(self) -> int:
        """How many records a read showed."""
        shown = self.detail.get("shown")
        return len(shown) if isinstance(shown, list) else 1

    @property
    def person_keys(self) -> list[str]:
        if self.object_type != "person" or not self.is_read:
            return []
        shown = self.detail.get("shown")
        return [str(k) for k in shown] if isinstance(shown, list) else [self.object_id]


_FIELDS = ("seq", "at", "actor", "action", "object_type", "object_id", "outcome", "payload")


def _events(queryset: QuerySet[AuditEvent]) -> Iterator[Event]:
    for seq, at, actor, action, object_type, object_id, outcome, payload in queryset.values_list(
        *_FIELDS
    ).iterator(chunk_size=2000):
        detail = json.loads(payload).get("detail", {})
        yield Event(
            seq,
            at,
            actor,
            action,
            object_type,
            object_id,
            outcome,
            detail if isinstance(detail, dict) else {},
        )


@dataclass
class Finding:
    rule: AlertRule
    subject: str
    summary: str
    evidence: dict[str, Any]
    first_seq: int
    last_seq: int
    key: str = ""  # what makes two findings of one rule and account the same incident


@dataclass
class RunResult:
    scanned: int = 0
    raised: list[Alert] = field(default_factory=list)
    last_seq: int = 0
    windows: dict[str, int] = field(default_factory=dict)
    agreements: int = 0


def _is_personal(event: Event, rule: AlertRule) -> bool:
    return event.is_read and event.object_type in rule.params.get("entities", PERSONAL)


def _personal_reads(rule: AlertRule, actor: str, since: datetime, until: datetime) -> list[Event]:
    events = AuditEvent.objects.filter(
        actor=actor, action__startswith="read.", outcome=Outcome.OK, at__gt=since, at__lte=until
    ).filter(object_type__in=rule.params.get("entities", PERSONAL))
    return list(_events(events.order_by("seq")))


def _bulk_reads(rule: AlertRule, new: list[Event]) -> Iterator[Finding]:
    window = timedelta(minutes=rule.window_minutes)
    latest: dict[str, Event] = {}
    for event in new:
        if _is_personal(event, rule):
            latest[event.actor] = event
    for actor, last in latest.items():
        reads = _personal_reads(rule, actor, last.at - window, last.at)
        total = sum(e.records for e in reads)
        if total > rule.threshold:
            yield Finding(
                rule, actor,
                f"{rule.window_minutes} 分钟内查阅个人数据 {total} 条，超过阈值 {rule.threshold} 条",
                {"records": total, "events": len(reads), "threshold": rule.threshold,
                 "window_minutes": rule.window_minutes, "seqs": [e.seq for e in reads][-50:]},
                reads[0].seq, reads[-1].seq,
            )  # fmt: skip


def _off_hours(rule: AlertRule, new: list[Event]) -> Iterator[Finding]:
    start, end, days = _working_hours(rule.params)
    outside: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in new:
        if not _is_personal(event, rule):
            continue
        local = timezone.localtime(event.at)
        if local.isoweekday() not in days or not start <= local.time() < end:
            outside[(event.actor, local.date().isoformat())].append(event)
    for (actor, day), events in outside.items():
        records = sum(e.records for e in events)
        if records >= rule.threshold:
            first = timezone.localtime(events[0].at).strftime("%Y-%m-%d %H:%M")
            yield Finding(
                rule, actor, f"{first} 起在工作时间以外查阅个人数据 {records} 条",
                {"records": records, "day": day, "hours": f"{start:%H:%M}-{end:%H:%M}",
                 "seqs": [e.seq for e in events][-50:]},
                events[0].seq, events[-1].seq, key=day,
            )  # fmt: skip


def _denied(rule: AlertRule, new: list[Event]) -> Iterator[Finding]:
    window = timedelta(minutes=rule.window_minutes)
    latest: dict[str, Event] = {}
    for event in new:
        if event.outcome == Outcome.DENIED:
            latest[event.actor] = event
    for actor, last in latest.items():
        refusals = list(
            _events(
                AuditEvent.objects.filter(
                    actor=actor, outcome=Outcome.DENIED, at__gt=last.at - window, at__lte=last.at
                ).order_by("seq")
            )
        )
        if len(refusals) >= rule.threshold:
            yield Finding(
                rule, actor, f"{rule.window_minutes} 分钟内被拒绝访问 {len(refusals)} 次",
                {"refusals": len(refusals), "actions": sorted({e.action for e in refusals}),
                 "window_minutes": rule.window_minutes, "seqs": [e.seq for e in refusals][-50:]},
                refusals[0].seq, refusals[-1].seq,
            )  # fmt: skip


def _own_record(rule: AlertRule, new: list[Event]) -> Iterator[Finding]:
    wanted: dict[str, list[Event]] = defaultdict(list)
    for event in new:
        if event.person_keys:
            wanted[event.actor].append(event)
    if not wanted:
        return
    identities = dict(
        StaffIdentity.objects.filter(staff__username__in=list(wanted)).values_list(
            "staff__username", "id_number_index"
        )
    )
    for actor, events in wanted.items():
        index = identities.get(actor)
        if not index:
            continue
        keys = {k for e in events for k in e.person_keys}
        own = set(
            Person.objects.filter(person_no__in=keys, id_number_index=index).values_list(
                "person_no", flat=True
            )
        )
        for person_no in sorted(own):
            hits = [e for e in events if person_no in e.person_keys]
            yield Finding(
                rule, actor, f"查阅了本人的参保记录（{person_no}）",
                {"person": person_no, "reads": len(hits), "seqs": [e.seq for e in hits][-50:]},
                hits[0].seq, hits[-1].seq, key=person_no,
            )  # fmt: skip


def _bulk_export(rule: AlertRule, new: list[Event]) -> Iterator[Finding]:
    for event in new:
        if not event.action.startswith("export."):
            continue
        rows = event.detail.get("rows")
        rows = int(rows) if isinstance(rows, int | str) and str(rows).isdigit() else event.records
        if rows > rule.threshold:
            yield Finding(
                rule, event.actor, f"一次导出 {rows} 条记录（{event.object_type}），超过阈值 {rule.threshold} 条",
                {"rows": rows, "entity": event.object_type, "threshold": rule.threshold, "seqs": [event.seq]},
                event.seq, event.seq, key=str(event.seq),
            )  # fmt: skip


def _account_states(names: Iterable[str]) -> dict[str, Staff]:
    return {s.username: s for s in Staff.objects.filter(username__in=list(names))}


def _disabled_at(username: str, seq: int) -> bool:
    """Whether the account stood disabled when event SEQ happened (its last enable/disable before it)."""
    last = (
        AuditEvent.objects.filter(
            object_type="staff", object_id=username, action__in=("staff.disable", "staff.enable"), seq__lt=seq
        )
        .order_by("-seq")
        .values_list("action", flat=True)
        .first()
    )
    return last == "staff.disable"


def _disabled_account(rule: AlertRule, new: list[Event]) -> Iterator[Finding]:
    accounts = _account_states({e.actor for e in new if not e.actor.startswith("system")})
    found: dict[tuple[str, str], list[Event]] = defaultdict(list)
    reasons: dict[tuple[str, str], str] = {}
    for event in new:
        staff = accounts.get(event.actor)
        if staff is None:
            continue
        when = timezone.localdate(event.at)
        reason = ""
        if _disabled_at(staff.username, event.seq) or (
            not staff.is_active and event.action.startswith("auth.")
        ):
            reason = "disabled"
        elif not staff.has_valid_agreement(when):
            reason = "no_agreement"
        if reason:
            key = (event.actor, when.isoformat())
            found[key].append(event)
            reasons.setdefault(key, reason)
    for (actor, day), events in found.items():
        what = "已停用的账号" if reasons[(actor, day)] == "disabled" else "保密协议无效或已过期的账号"
        yield Finding(
            rule, actor, f"{what}被使用 {len(events)} 次（{', '.join(sorted({e.action for e in events}))}）",
            {"reason": reasons[(actor, day)], "day": day, "actions": sorted({e.action for e in events}),
             "seqs": [e.seq for e in events][-50:]},
            events[0].seq, events[-1].seq, key=day,
        )  # fmt: skip


def _is_integrity_failure(action: str, outcome: str) -> bool:
    return action == "integrity.alert" or (action in INTEGRITY_FAILURES and outcome == Outcome.FAILED)


def _integrity(rule: AlertRule, new: list[Event]) -> Iterator[Finding]:
    for event in new:
        if _is_integrity_failure(event.action, event.outcome):
            yield _integrity_finding(rule, event)


def _integrity_finding(rule: AlertRule, event: Event) -> Finding:
    where = event.detail.get("where") or f"{event.object_type} {event.object_id}".strip()
    reason = event.detail.get("reason") or event.detail.get("message") or ""
    what = {
        "integrity.alert": "完整性告警",
        "audit.verify": "全库校验未通过",
        "backup.drill": "恢复演练未通过",
    }
    return Finding(
        rule, event.actor, f"{what.get(event.action, event.action)}：{where} {reason}".strip(),
        {"action": event.action, "object_type": event.object_type, "object_id": event.object_id,
         "reason": str(reason)[:300], "seqs": [event.seq]},
        event.seq, event.seq, key=str(event.seq),
    )  # fmt: skip


EVALUATORS: dict[str, Callable[[AlertRule, list[Event]], Iterator[Finding]]] = {
    R.BULK_READS: _bulk_reads,
    R.OFF_HOURS: _off_hours,
    R.DENIED: _denied,
    R.OWN_RECORD: _own_record,
    R.BULK_EXPORT: _bulk_export,
    R.DISABLED_ACCOUNT: _disabled_account,
    R.INTEGRITY: _integrity,
}


def _already(finding: Finding, now: datetime) -> bool:
    """Whether this incident already has an alert: the same event (integrity, exports), or for windowed
    rules an alert of the same rule, account and key raised within the window."""
    alerts = Alert.objects.filter(rule=finding.rule.code, subject=finding.subject)
    if finding.rule.code in (R.INTEGRITY, R.BULK_EXPORT):
        return alerts.filter(first_seq=finding.first_seq).exists()
    recent = alerts.filter(raised_at__gte=now - timedelta(minutes=finding.rule.window_minutes))
    return any(a.evidence.get("key", "") == finding.key for a in recent.only("evidence"))


def _raise(finding: Finding) -> Alert:
    alert = Alert(
        rule=finding.rule.code,
        rule_version=finding.rule.version,
        subject=finding.subject[:150],
        summary=finding.summary[:500],
        evidence={**finding.evidence, "key": finding.key},
        first_seq=finding.first_seq,
        last_seq=finding.last_seq,
    )
    return create(
        alert, "alert.raise", actor=SYSTEM,
        detail={"rule": finding.rule.code, "subject": finding.subject, "first_seq": finding.first_seq,
                "last_seq": finding.last_seq},
    )  # fmt: skip


def alerts_run(*, now: datetime | None = None) -> RunResult:
    """Evaluate the rules over the events appended since the last run and raise the alerts (the minute timer;
    also opens and closes vendor maintenance windows and keeps staff agreements in line with the register)."""
    from sidms.continuity.agreements import agreements_refresh, windows_sweep

    moment = now or timezone.now()
    result = RunResult()
    result.windows = windows_sweep(now=moment)
    result.agreements = agreements_refresh()
    with audited_refusals(), transaction.atomic():
        scan = locked(AlertScan, 1, actor=SYSTEM)
        if scan is None:
            scan = create(AlertScan(pk=1, last_seq=0), "alert_scan.start", actor=SYSTEM)
        # A run reads at most MAX_EVENTS (a first run on a long history, or a backlog, continues next minute).
        new = list(_events(AuditEvent.objects.filter(seq__gt=scan.last_seq).order_by("seq")[:MAX_EVENTS]))
        result.scanned = len(new)
        result.last_seq = scan.last_seq
        if not any(e.action not in _OWN_ACTIONS for e in new):
            return result
        rules = [r for r in AlertRule.objects.filter(enabled=True).order_by("code")]
        for rule in rules:
            for finding in EVALUATORS[rule.code](rule, new):
                if not _already(finding, moment):
                    result.raised.append(_raise(finding))
        scan.last_seq = new[-1].seq
        scan.last_run_at = moment
        advance(
            scan, "alert_scan.advance", actor=SYSTEM, detail={"last_seq": scan.last_seq, "events": len(new)}
        )
        result.last_seq = scan.last_seq
    return result


def on_audit_event(sender: Any, instance: AuditEvent, created: bool = False, **kwargs: Any) -> None:
    """An integrity failure reaches the supervising department as soon as its event is committed."""
    if created and _is_integrity_failure(instance.action, instance.outcome):
        seq = instance.seq
        transaction.on_commit(lambda: _integrity_now(seq))


def _integrity_now(seq: int) -> None:
    try:
        rule = AlertRule.objects.filter(code=R.INTEGRITY, enabled=True).first()
        event = next(_events(AuditEvent.objects.filter(seq=seq)), None)
        if rule is None or event is None:
            return
        finding = _integrity_finding(rule, event)
        with transaction.atomic():
            if not _already(finding, timezone.now()):
                _raise(finding)
    except Exception:  # the timer raises it within a minute; the act that failed must not fail twice
        log.exception("the integrity alert for audit event #%s was left to the timer", seq)


# --------------------------------------------------------------------------------------------------------
# The supervising department's inbox and handling


def alert_inbox(staff: Any, *, status: str = "") -> QuerySet[Alert]:
    """Alerts the viewer may see (the supervising department and the audit administrator), newest first;
    by default every alert not closed."""
    if not has_permission(staff, "alert.view"):
        return Alert.objects.none()
    alerts = Alert.objects.all()
    alerts = alerts.filter(status=status) if status else alerts.exclude(status=AlertStatus.CLOSED)
    return alerts.order_by("-raised_at", "-pk")


def alerts_waiting(staff: Any) -> int:
    """New alerts waiting for the viewer (for the dashboard's 待办)."""
    if not has_permission(staff, "alert.handle"):
        return 0
    return Alert.objects.filter(status=AlertStatus.OPEN).count()


MAY_NOT_HANDLE = _("Only the supervising department handles alerts.")


def _step(
    actor: Any, alert_id: int, allowed: tuple[str, ...], action: str, change: Any, detail: dict[str, Any]
) -> Alert:
    caller = require(actor, "alert.handle", MAY_NOT_HANDLE)
    with audited_refusals(), transaction.atomic():
        alert = locked(Alert, alert_id, actor=caller)
        if alert is None:
            raise NotPermitted(_("There is no such alert."))
        if alert.subject == caller.name:
            raise SeparationOfDuties(_("An alert about your own account is handled by another supervisor."))
        if alert.status not in allowed:
            raise ChangeRefused(_("This step does not fit the alert's state."), code="state")
        change(alert, caller)
        return advance(alert, action, actor=caller, detail={"rule": alert.rule, **detail})


def alert_acknowledge(*, actor: Any, alert_id: int) -> Alert:
    def change(alert: Alert, caller: Caller) -> None:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_by, alert.acknowledged_at = caller.staff, timezone.now()

    return _step(actor, alert_id, (AlertStatus.OPEN,), "alert.acknowledge", change, {})


def alert_investigate(*, actor: Any, alert_id: int, notes: str) -> Alert:
    """Record what the investigation found so far (each note kept, with who and when)."""
    if not notes.strip():
        raise ChangeRefused(errors={"notes": Invalid("required", _("Write down what was found."))})

    def change(alert: Alert, caller: Caller) -> None:
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        entry = f"[{stamp} {caller.staff.display_name}] {notes.strip()}"
        alert.investigation = f"{alert.investigation}\n{entry}".strip()
        alert.status = AlertStatus.INVESTIGATING
        alert.investigated_by, alert.investigated_at = caller.staff, timezone.now()

    return _step(
        actor, alert_id, (AlertStatus.ACKNOWLEDGED, AlertStatus.INVESTIGATING), "alert.investigate", change,
        {"notes": len(notes.strip())},
    )  # fmt: skip


def alert_close(*, actor: Any, alert_id: int, conclusion: str) -> Alert:
    """Close an acknowledged alert with the supervisor's conclusion."""
    if not conclusion.strip():
        raise ChangeRefused(
            errors={"conclusion": Invalid("required", _("An alert is closed with a conclusion."))}
        )

    def change(alert: Alert, caller: Caller) -> None:
        alert.status = AlertStatus.CLOSED
        alert.conclusion = conclusion.strip()
        alert.closed_by, alert.closed_at = caller.staff, timezone.now()

    return _step(
        actor, alert_id, (AlertStatus.ACKNOWLEDGED, AlertStatus.INVESTIGATING), "alert.close", change,
        {"conclusion": conclusion.strip()[:200]},
    )  # fmt: skip
