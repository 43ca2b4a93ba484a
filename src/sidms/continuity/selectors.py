"""Reads for the continuity pages and the dashboard: the administrators' acts for the audit administrator
(MLPS 2.0 level 3: the three administrators' work is visible to the audit administrator), backups and
drills for the information centre, and the dashboard's notices."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from sidms.access.policies import has_permission
from sidms.access.posts import ADMINISTRATOR_POSTS
from sidms.audit.models import AuditEvent
from sidms.audit.services import audit_record
from sidms.continuity.agreements import AgreementNotice, agreement_notices
from sidms.continuity.alerts import alerts_waiting
from sidms.continuity.common import require
from sidms.continuity.models import Backup, OrderStatus, RectificationOrder, RestoreDrill
from sidms.core.caller import Caller


def administrator_holders() -> dict[str, set[str]]:
    """Every account that holds or ever held one of the three administrator posts, with those posts, from the
    audit chain itself (creation with posts, confirmed grants): a post revoked since does not hide the acts
    done while it was held."""
    held: dict[str, set[str]] = defaultdict(set)
    events = AuditEvent.objects.filter(action__in=("staff.create", "staff.post_grant"), object_type="staff")
    for action, username, payload in events.values_list("action", "object_id", "payload").iterator(
        chunk_size=2000
    ):
        detail = json.loads(payload).get("detail", {})
        posts = detail.get("posts", []) if action == "staff.create" else [detail.get("post")]
        for post in posts:
            if post in ADMINISTRATOR_POSTS:
                held[username].add(str(post))
    return dict(held)


@dataclass(frozen=True)
class AdministratorAct:
    event: AuditEvent
    posts: tuple[str, ...]


MAY_NOT_READ = _("Only the audit administrator reads the audit log.")


def administrator_acts(
    *, actor: Any, post: str = "", before: int | None = None, limit: int = 100
) -> list[AdministratorAct]:
    """The acts of the system, security and audit administrators (optionally of one of the three posts),
    newest first: for the audit administrator only, and reading them is itself recorded."""
    caller: Caller = require(actor, "audit.view", MAY_NOT_READ, city_level=True)
    holders = {u: p for u, p in administrator_holders().items() if not post or post in p}
    events = AuditEvent.objects.filter(actor__in=list(holders))
    if before is not None:
        events = events.filter(seq__lt=before)
    rows = list(events.order_by("-seq")[:limit])
    audit_record(
        "audit.browse", actor=caller, object_type="audit_event",
        detail={"filters": {"administrators": post or "all"}, "before": before, "shown": len(rows)},
    )  # fmt: skip
    return [AdministratorAct(e, tuple(sorted(holders[e.actor]))) for e in rows]


def backups_and_drills(staff: Any) -> tuple[QuerySet[Backup], QuerySet[RestoreDrill]]:
    """The register of backups and drills for the information centre, the backup officer, the audit
    administrator and the supervising department."""
    if not has_permission(staff, "continuity.view"):
        return Backup.objects.none(), RestoreDrill.objects.none()
    return (
        Backup.objects.select_related("operator", "medium").order_by("-started_at", "-pk"),
        RestoreDrill.objects.select_related("operator", "backup").order_by("-started_at", "-pk"),
    )


@dataclass(frozen=True)
class DashboardNotices:
    """What the dashboard shows of continuity and supervision for the viewer."""

    agreements: list[AgreementNotice]
    alerts_waiting: int
    orders_overdue: int
    last_drill: RestoreDrill | None


def dashboard_notices(staff: Any, *, within_days: int = 30) -> DashboardNotices:
    """One call for the dashboard (sidms.web.workflow): agreements that expire within WITHIN_DAYS (the viewer's
    own, or all for the register's keepers and readers), new alerts for the supervising department, overdue
    rectification orders, and the newest drill for those who see the backup register."""
    from django.utils import timezone

    overdue = 0
    if has_permission(staff, "rectification.issue"):
        overdue = RectificationOrder.objects.filter(
            deadline__lt=timezone.localdate(), status__in=(OrderStatus.ISSUED, OrderStatus.RESPONDED)
        ).count()
    _backups, drills = backups_and_drills(staff)
    return DashboardNotices(
        agreements=agreement_notices(staff, within_days=within_days),
        alerts_waiting=alerts_waiting(staff),
        orders_overdue=overdue,
        last_drill=drills.first(),
    )
