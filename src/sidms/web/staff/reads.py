"""What the staff-account pages read, in words: the list with its filters, an account's state (posts,
agreement, lock-out, authenticator), its history from its revisions and the audit events about it. Only
city-level security administrators reach these pages; every read is itself an audit event (the views)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from sidms.access.posts import Post
from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, ReviewStatus, Revision
from sidms.parameters.codes import region_name
from sidms.registry.models import Agency, Staff, StaffPost
from sidms.security.accounts import ENTITY
from sidms.security.models import SealedTOTPDevice
from sidms.web.display import joined
from sidms.web.governance.audit_words import Names, action_label, detail_rows

# An agreement that ends within this many days is flagged, so that a new one is signed in time.
AGREEMENT_WARNING_DAYS = 30
EVENTS_SHOWN = 50

SORT_FIELDS = {
    "username": "username",
    "name": "first_name",
    "district": "district_id",
    "last_login": "last_login",
}

# The parts of an account its revisions record (sidms.security.accounts.staff_state), as people name them.
STATE_LABELS: dict[str, Any] = {
    "username": gettext_lazy("Login name"),
    "password": gettext_lazy("Password"),
    "name": gettext_lazy("Name"),
    "district": gettext_lazy("District"),
    "agency": gettext_lazy("Agency"),
    "active": gettext_lazy("Account status"),
    "superuser": gettext_lazy("Superuser"),
    "admin_site": gettext_lazy("Maintenance console"),
    "agreement_signed_on": gettext_lazy("Agreement signed on"),
    "agreement_expires_on": gettext_lazy("Agreement expires on"),
    "posts": gettext_lazy("Posts"),
    "devices": gettext_lazy("Authenticator"),
    "enrolment": gettext_lazy("Enrolment code"),
}


def post_label(post: str) -> str:
    return str(Post(post).label) if post in Post.values else post


def district_text(code: str | None) -> str:
    if not code:
        return "—"
    name = region_name(code)
    if code == settings.SIDMS_CITY_DISTRICT:
        return _("%(name)s (city level: every district)") % {"name": name or code}
    return name or code


# --------------------------------------------------------------------------------------------------------
# The list


def staff_rows(*, query: str, district: str, post: str, active: str, sort: str) -> QuerySet[Staff]:
    """Accounts matching the search (login name prefix, or a part of the name) and the filters, with what
    the list shows fetched in the same query: posts, district, agency, whether an authenticator is bound."""
    rows = Staff.objects.all()
    if query:
        rows = rows.filter(Q(username__istartswith=query) | Q(first_name__contains=query))
    if district:
        rows = rows.filter(district_id=district)
    if post == "none":
        rows = rows.filter(~Exists(StaffPost.objects.filter(staff=OuterRef("pk"))))
    elif post:
        rows = rows.filter(Exists(StaffPost.objects.filter(staff=OuterRef("pk"), post=post)))
    if active:
        rows = rows.filter(is_active=active == "yes")
    enrolled = SealedTOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    rows = rows.annotate(enrolled=Exists(enrolled)).select_related("district", "agency")
    rows = rows.prefetch_related("post_set")
    field = SORT_FIELDS.get(sort.lstrip("-"), "username")
    order = f"-{field}" if sort.startswith("-") else field
    return rows.order_by(order, "username")


def locked_logins(usernames: list[str]) -> set[str]:
    """Which of these accounts django-axes locks out now (too many wrong passwords within the cool-off)."""
    from axes.models import AccessAttempt

    from sidms.security.limits import lockout_cooloff, lockout_failures

    since = timezone.now() - lockout_cooloff()
    return set(
        AccessAttempt.objects.filter(
            username__in=usernames,
            failures_since_start__gte=lockout_failures(),
            attempt_time__gte=since,
        ).values_list("username", flat=True)
    )


def posts_of(member: Staff) -> list[str]:
    """Held posts in the order of the post table (prefetched rows when the list fetched them)."""
    held = {row.post for row in member.post_set.all()}
    return [value for value in Post.values if value in held]


# --------------------------------------------------------------------------------------------------------
# One account


@dataclass(frozen=True)
class Agreement:
    kind: str  # "none", "not_yet", "expired", "expiring", "valid", "open"
    text: str
    warn: bool


def agreement_of(member: Staff, today: date | None = None) -> Agreement:
    """The confidentiality agreement in words (R16: without a valid one the person cannot sign in)."""
    day = today or timezone.localdate()
    signed, expires = member.agreement_signed_on, member.agreement_expires_on
    if signed is None:
        return Agreement("none", _("No agreement registered: the person cannot sign in."), True)
    if signed > day:
        return Agreement("not_yet", _("Signed for %(date)s: valid from then.") % {"date": signed}, True)
    if expires is None:
        return Agreement("open", _("Signed on %(date)s, without an end date.") % {"date": signed}, False)
    if expires < day:
        return Agreement(
            "expired",
            _("Expired on %(date)s: the person cannot sign in until a new one is registered.")
            % {"date": expires},
            True,
        )
    left = (expires - day).days
    if left <= AGREEMENT_WARNING_DAYS:
        text = ngettext(
            "Valid until %(date)s: expires in %(n)s day. Register the renewed agreement in time.",
            "Valid until %(date)s: expires in %(n)s days. Register the renewed agreement in time.",
            left,
        ) % {"date": expires, "n": left}
        return Agreement("expiring", text, True)
    return Agreement("valid", _("Valid until %(date)s.") % {"date": expires}, False)


def proposal_label(held: ChangeRequest) -> str:
    """What a proposal about an account asks for, in words: the post to grant, or the move to the city level."""
    if "district" in held.proposed:
        return _("Move to %(district)s") % {"district": district_text(str(held.proposed["district"][1]))}
    return post_label(str(held.proposed["post"][1]))


def pending_posts(member: Staff) -> list[ChangeRequest]:
    """Proposals about the account (a post to grant, a move to the city level) waiting for a second
    administrator's confirmation."""
    return list(
        ChangeRequest.objects.filter(entity=ENTITY, record_id=member.pk, status=ReviewStatus.PENDING)
        .select_related("submitted_by")
        .order_by("pk")
    )


def has_authenticator(member: Staff) -> bool:
    return SealedTOTPDevice.objects.filter(user=member, confirmed=True).exists()


def _names(logins: set[str], ids: set[str] = frozenset()) -> Names:  # type: ignore[assignment]
    rows = Staff.objects.filter(Q(username__in=logins) | Q(pk__in=[i for i in ids if i.isdigit()]))
    found = rows.values_list("pk", "username", "first_name")
    return Names(
        by_login={username: name or username for _pk, username, name in found},
        by_id={str(pk): name or username for pk, username, name in found},
    )


def _value_text(key: str, value: Any, agencies: dict[int, str]) -> str:
    """One part of an account's state as recorded in a revision, in words. Secrets are recorded as keyed
    digests and are never shown: only that they changed."""
    if value in (None, "", []):
        return "—"
    if key == "password":
        return _("set")
    if key == "devices":
        # Each device as [name, keyed digest of its secret, confirmed]; one being set up is not bound yet.
        bound = sum(1 for device in value if isinstance(device, list) and device[-1] is True)
        if not bound:
            return _("not bound")
        return ngettext("%(n)s authenticator bound", "%(n)s authenticators bound", bound) % {"n": bound}
    if key == "enrolment":
        expires = value[1] if isinstance(value, list) and len(value) > 1 else None
        if not expires:
            return "—"
        return _("issued, valid until %(at)s") % {
            "at": timezone.localtime(_parse(expires)).strftime("%Y-%m-%d %H:%M")
        }
    if key == "posts":
        return joined(post_label(str(p)) for p in value) or "—"
    if key == "district":
        return district_text(str(value))
    if key == "agency":
        return agencies.get(int(value), str(value))
    if key in ("active", "superuser", "admin_site"):
        if key == "active":
            return _("enabled") if value else _("disabled")
        return _("yes") if value else _("no")
    return str(value)


def _parse(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def _change_text(key: str, old: Any, new: Any, agencies: dict[int, str]) -> str:
    if key == "password":
        return _("set") if old is None else _("changed")
    if key == "posts":
        before, after = set(old or []), set(new or [])
        parts = (
            [_("granted %(posts)s") % {"posts": joined(post_label(p) for p in sorted(after - before))}]
            if after - before
            else []
        )
        if before - after:
            parts.append(
                _("removed %(posts)s") % {"posts": joined(post_label(p) for p in sorted(before - after))}
            )
        return "；".join(parts) or "—"
    return f"{_value_text(key, old, agencies)} → {_value_text(key, new, agencies)}"


def _says_nothing(key: str, value: Any, agencies: dict[int, str]) -> bool:
    return (key in ("superuser", "admin_site") and not value) or _value_text(key, value, agencies) == "—"


def history(member: Staff) -> list[dict[str, Any]]:
    """The account's revisions, newest first: when, who, which act (from the audit event that vouches for
    each revision), and what changed, in words."""
    revisions = list(Revision.objects.filter(entity=ENTITY, record_id=member.pk).order_by("-version"))
    acts: dict[int, str] = {}
    for action, payload in AuditEvent.objects.filter(
        object_type=ENTITY, object_id=member.username
    ).values_list("action", "payload"):
        revision = json.loads(payload).get("detail", {}).get("revision")
        if revision is not None:
            acts[int(revision)] = action
    names = _names({r.actor for r in revisions})
    agency_ids = {
        int(v) for r in revisions for v in (r.changes or {}).get("agency", []) if isinstance(v, int)
    }
    agencies = dict(Agency.objects.filter(pk__in=agency_ids).values_list("pk", "name"))
    rows = []
    for revision in revisions:
        changes = revision.changes or {}
        rows.append(
            {
                "version": revision.version,
                "at": revision.at,
                "who": names.actor(revision.actor),
                "act": action_label(acts[revision.pk]) if revision.pk in acts else "",
                "reference": revision.reference,
                "reference_url": reverse("web:review_detail", args=[int(revision.reference[2:])])
                if revision.reference.startswith("CR") and revision.reference[2:].isdigit()
                else "",
                "changes": [
                    (str(STATE_LABELS.get(key, key)), _change_text(key, old, new, agencies))
                    for key, (old, new) in changes.items()
                    # A new account records every part as "changed from nothing"; empty parts say nothing.
                    if not (revision.version == 1 and _says_nothing(key, new, agencies))
                ],
            }
        )
    return rows


def events_about(member: Staff, limit: int = EVENTS_SHOWN) -> list[dict[str, Any]]:
    """The newest audit events about the account: its sign-ins (which name its id), the acts on it (which name
    its login) and the proposals of posts for it."""
    proposals = [
        str(pk)
        for pk in ChangeRequest.objects.filter(entity=ENTITY, record_id=member.pk).values_list(
            "pk", flat=True
        )
    ]
    about = Q(object_type=ENTITY, object_id__in=[member.username, str(member.pk)])
    if proposals:
        about |= Q(object_type="change_request", object_id__in=proposals, action__startswith="staff.")
        about |= Q(object_type="change_request", object_id__in=proposals, action__startswith="review.")
    events = list(AuditEvent.objects.filter(about).order_by("-seq")[:limit])
    names = _names({e.actor for e in events} | {member.username}, {str(member.pk)})
    rows = []
    for event in events:
        body = json.loads(event.payload)
        detail = body.get("detail") or {}
        if event.object_type == ENTITY and isinstance(detail.get("fields"), list):
            # The parts of the account an act changed, by their names (the log records staff_state's keys).
            detail["fields"] = [
                str(STATE_LABELS.get(key, key)) for key in detail["fields"] if key in STATE_LABELS
            ]
        rows.append(
            {
                "event": event,
                "who": names.actor(event.actor),
                "action": action_label(event.action),
                "reference": f"CR{event.object_id}" if event.object_type == "change_request" else "",
                "ip": body.get("ip", ""),
                "detail": detail_rows(body, names),
            }
        )
    return rows
