"""Staff accounts, governed (R16, R17): every change — creating an account, granting or removing a post,
changing the district, disabling, unlocking, registering a confidentiality agreement, issuing an enrolment
code, enrolling an authenticator, setting a password — goes through a service here, writes a revision of
the account and an audit event, and leaves the account's keyed digest matching that revision. Granting a
post is proposed by one city-level administrator and confirmed by a second (four eyes).

The digest covers what decides who can sign in and what they may do: the login name, the password hash,
the name, district and agency, whether the account is active, the agreement's dates, the posts, the
authenticator devices (their sealed secrets) and the enrolment code. A password hash or TOTP secret
transplanted from one account to another in SQL breaks it, and `sidms audit verify` names the account;
the secrets themselves enter the revision only as keyed digests, never as hashes or ciphertexts.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.access.posts import ADMINISTRATOR_POSTS, RECORD_POSTS, Post
from sidms.audit.services import audit_record
from sidms.audit.verify import Report, broken, register_check
from sidms.changes.integrity import integrity_alert
from sidms.changes.models import ChangeRequest, Channel, Method, Revision
from sidms.changes.seals import new_revision, reseal
from sidms.changes.services import (
    audited_refusals,
    deny,
    register_proposal,
    require_city_level,
    require_permission,
)
from sidms.changes.verify import register_succession_view
from sidms.core.caller import Caller
from sidms.core.errors import ChangeRefused, IntegrityAlert, NotPermitted, SeparationOfDuties
from sidms.core.kernel import state_digest
from sidms.core.keys import keyring
from sidms.core.prepared import Prepared
from sidms.lib import chain
from sidms.registry.models import Agency, Staff, StaffPost
from sidms.security.models import SealedTOTPDevice

ENTITY = "staff"
MAY_NOT_MANAGE = _("Only a city-level security administrator manages staff accounts.")
ENROLMENT_VALID = timedelta(days=3)


def _mac(text: str) -> str:
    return keyring().mac(f"staff-secret\x00{text}".encode())


# django-otp's defaults, as sidms enrols every device: six digits, a 30-second step from the epoch, one step of
# tolerance either side.
_DEVICE_DEFAULTS = (6, 30, 0, 1)


def _device_parameters(digits: int, step: int, t0: int, tolerance: int) -> list[int]:
    """What decides which codes a device accepts, in its digest: a device made to accept a one-digit code or a
    day's worth of steps is named by verification. Devices as enrolled add nothing (their digests stay as
    they were before the parameters were covered); the replay counter and the clock drift, which every
    sign-in moves, are not covered."""
    parameters = (int(digits), int(step), int(t0), int(tolerance))
    return [] if parameters == _DEVICE_DEFAULTS else list(parameters)


def staff_state(staff: Staff) -> dict[str, Any]:
    """What the account's digest covers (secrets as keyed digests of their stored form). Confirmed
    authenticators only: the one a person scans at the first sign-in is not part of the account until their
    first code from it confirms it (staff_enrol_device), and no code of an unconfirmed one is accepted.
    Counted before, it made the account differ from its latest revision from the QR page to the first code:
    verification named it as changed behind the system's back (attack round 9)."""
    posts = sorted(StaffPost.objects.filter(staff=staff).values_list("post", flat=True))
    devices = sorted(
        [name, _mac(key), bool(confirmed), *_device_parameters(digits, step, t0, tolerance)]
        for name, key, confirmed, digits, step, t0, tolerance in SealedTOTPDevice.objects.filter(
            user=staff, confirmed=True
        ).values_list("name", "key", "confirmed", "digits", "step", "t0", "tolerance")
    )
    return {
        "username": staff.username,
        "password": _mac(staff.password),
        "name": staff.first_name,
        "district": staff.district_id,
        "agency": staff.agency_id,
        "active": bool(staff.is_active),
        "superuser": bool(staff.is_superuser),
        "admin_site": bool(staff.is_staff),
        "agreement_signed_on": staff.agreement_signed_on.isoformat() if staff.agreement_signed_on else None,
        "agreement_expires_on": staff.agreement_expires_on.isoformat()
        if staff.agreement_expires_on
        else None,
        "posts": posts,
        "devices": devices,
        "enrolment": [
            staff.enrolment_code,
            staff.enrolment_expires.isoformat() if staff.enrolment_expires else None,
        ],
    }


def staff_digest(staff: Staff, version: int) -> str:
    return state_digest(ENTITY, version, chain.canonical(staff_state(staff)))


def _record(staff: Staff, before: dict[str, Any], *, caller: Caller, action: str, method: str = Method.DIRECT,
            reference: str = "", detail: dict[str, Any] | None = None) -> Revision:  # fmt: skip
    """The account's new revision and its audit event, in the caller's transaction; the account's version and
    digest follow (written with an UPDATE of those two columns only)."""
    staff.refresh_from_db()
    prior = Revision.objects.filter(entity=ENTITY, record_id=staff.pk).order_by("-version").first()
    if prior is not None or before:
        # The account as it was before this change must be its latest revision: otherwise a post inserted in
        # SQL (or a password hash, a district) was vouched for by the next honest change, and verification,
        # which reads each revision as the one before plus its changes, found nothing (attack round 9).
        _require_intact(staff, before, prior, caller=caller)
    state = staff_state(staff)
    version = staff.version + 1
    digest = state_digest(ENTITY, version, chain.canonical(state))
    changes = {k: [before.get(k), v] for k, v in state.items() if before.get(k) != v}
    revision = new_revision(
        entity=ENTITY, record_id=staff.pk, version=version, at=timezone.now(), actor=caller.name,
        channel=Channel.MAINTENANCE, method=method, request_id=caller.request_id, reference=reference,
        changes=changes, state=state, digest=digest, prev_digest=prior.digest if prior else "",
    )  # fmt: skip
    Staff.objects.filter(pk=staff.pk).update(version=version, row_digest=digest)
    staff.version, staff.row_digest = version, digest
    audit_record(
        action, actor=caller, object_type=ENTITY, object_id=staff.username,
        detail={"revision": revision.pk, "digest": digest, "fields": sorted(changes), **(detail or {})},
    )  # fmt: skip
    return revision


CHANGED_OUTSIDE = _("The account does not match its history (changed outside the system).")


def account_alert(staff: Staff, caller: Any, reason: str) -> IntegrityAlert:
    """The integrity alert naming the account, with its audit event (REASON: where the mismatch was met) —
    raised by a change of the account, recorded with ``changes.integrity.record_alert`` by the sign-in and the
    session check, which refuse without raising."""
    return integrity_alert(staff.username, ENTITY, staff.username, {"reason": reason}, actor=caller,
                           message=CHANGED_OUTSIDE)  # fmt: skip


def _matches(staff: Staff, state: dict[str, Any], latest: Revision | None) -> bool:
    """Whether STATE, the account's state as read now, is what its latest revision vouches for (and the row's
    version and digest are that revision's)."""
    return (
        latest is not None
        and (latest.version, latest.digest) == (staff.version, staff.row_digest)
        and state_digest(ENTITY, latest.version, chain.canonical(state)) == latest.digest
    )


def _require_intact(staff: Staff, before: dict[str, Any], latest: Revision | None, *, caller: Caller) -> None:
    if not _matches(staff, before, latest):
        raise account_alert(staff, caller, "account")


# The account's latest revision, (version, digest) only, by a query compiled once: read on every request by
# security.middleware, whose session keeps the revision its last check found the account matching.
_LATEST: Prepared[Revision] = Prepared(
    Revision,
    lambda pk: (
        Revision.objects.filter(entity=ENTITY, record_id=pk)
        .only("version", "digest")
        .order_by("-version")[:1]
    ),
    int,
)


def latest_revision(staff: Staff) -> list[Any]:
    """[version, digest] of the account's latest revision ([] for none): its history as it stands now. The
    account the request signed in with (security.backends) brings it, read in the statement that read the
    account itself at the start of this request (:func:`with_latest_revision`); another is read here."""
    if hasattr(staff, _WITH_VERSION):
        version = getattr(staff, _WITH_VERSION)
        return [] if version is None else [int(version), str(getattr(staff, _WITH_DIGEST))]
    row = _LATEST.first(int(staff.pk))
    return [] if row is None else [int(row.version), str(row.digest)]


_WITH_VERSION, _WITH_DIGEST = "account_revision_version", "account_revision_digest"


def with_latest_revision(accounts: Any) -> Any:
    """ACCOUNTS (a queryset of Staff) with each account's latest revision, as _LATEST reads it, for
    :func:`latest_revision`: the request's account and its history by one statement."""
    latest = Revision.objects.filter(entity=ENTITY, record_id=OuterRef("pk")).order_by("-version")
    return accounts.annotate(**{
        _WITH_VERSION: Subquery(latest.values("version")[:1]),
        _WITH_DIGEST: Subquery(latest.values("digest")[:1]),
    })  # fmt: skip


def account_intact(staff: Staff) -> bool:
    """Whether the account (its password hash, posts, district, authenticators …) is what its latest revision
    vouches for: checked at sign-in, so that an account changed in SQL does not sign in (R20)."""
    latest = Revision.objects.filter(entity=ENTITY, record_id=staff.pk).order_by("-version").first()
    return _matches(staff, staff_state(staff), latest)


def _require_manager(caller: Caller) -> None:
    if not str(caller.name).startswith("system:"):
        require_permission(caller, "staff.manage", MAY_NOT_MANAGE)
        require_city_level(caller, MAY_NOT_MANAGE)


def _locked(staff: Staff | int) -> Staff:
    pk = staff.pk if isinstance(staff, Staff) else staff
    return Staff.objects.select_for_update().get(pk=pk)


def _check_posts(posts: Iterable[str]) -> list[str]:
    chosen = sorted(set(posts))
    unknown = [p for p in chosen if p not in Post.values]
    if unknown:
        raise ChangeRefused(_("Unknown post."), code="post")
    admin = [p for p in chosen if p in ADMINISTRATOR_POSTS]
    if len(admin) > 1:
        raise ChangeRefused(
            _("No one may hold two of the system, security and audit administrator posts."),
            code="three_admins",
        )
    if admin and any(p in RECORD_POSTS for p in chosen):
        # MLPS 2.0 level 3 separates administrators from operators: an administrator who could also read and
        # change insured persons' records could use one post to cover the other. Those posts are the windows'
        # and also the information centre's and the archive reviewer's (access.posts.RECORD_POSTS): an auditor
        # was granted the information centre's imports (attack round 9).
        raise ChangeRefused(
            _("An administrator may not also hold a post that handles insured persons' records."),
            code="admin_and_operator",
        )
    return chosen


def _not_own(caller: Caller, staff: Staff) -> None:
    """An administrator's own account is changed by another administrator: no one disables, moves, strips or
    re-enrols themselves (an act on one's own account would have no second person behind it)."""
    if getattr(caller.staff, "pk", None) == staff.pk:
        raise SeparationOfDuties(_("Another security administrator changes your own account."))


def staff_create(
    *,
    actor: Any,
    username: str,
    password: str,
    district: str,
    posts: Iterable[str] = (),
    full_name: str = "",
    agency: Agency | None = None,
    agreement_signed_on: date | None = None,
    agreement_expires_on: date | None = None,
) -> Staff:
    """A new account. Posts are granted at creation only by the system itself (set-up, demo); an
    administrator creates the account and then proposes each post for a second one to confirm."""
    caller = Caller.of(actor)
    _require_manager(caller)
    chosen = _check_posts(posts)
    if chosen and not str(caller.name).startswith("system:"):
        raise ChangeRefused(
            _("Grant posts one by one after creating the account; a second administrator confirms each."),
            code="posts_at_creation",
        )
    if Staff.objects.filter(username=username).exists():
        raise ChangeRefused(_("This login name is taken."), code="duplicate")
    if not str(caller.name).startswith("system:"):
        from django.contrib.auth.password_validation import validate_password
        from django.core.exceptions import ValidationError

        try:
            validate_password(password, Staff(username=username, first_name=full_name))
        except ValidationError as invalid:
            raise ChangeRefused(" ".join(str(m) for m in invalid.messages), code="password") from None
    with transaction.atomic():
        staff = Staff.objects.create_user(
            username=username, password=password, first_name=full_name, district_id=district, agency=agency,
            agreement_signed_on=agreement_signed_on, agreement_expires_on=agreement_expires_on,
        )  # fmt: skip
        StaffPost.objects.bulk_create(StaffPost(staff=staff, post=post) for post in chosen)
        _record(
            staff,
            {},
            caller=caller,
            action="staff.create",
            detail={"username": username, "district": district, "posts": chosen},
        )
    return staff


# --------------------------------------------------------------------------------------------------------
# Posts: granted with four eyes, removed at once


def staff_post_propose(*, actor: Any, staff: Staff, post: str, reason: str) -> ChangeRequest:
    """Propose granting POST to STAFF; a second city-level administrator confirms it (review_decide)."""
    caller = Caller.of(actor)
    _require_manager(caller)
    _check_posts([post])
    if caller.staff.pk == staff.pk:
        raise SeparationOfDuties(_("No one may propose a post for their own account."))
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the change."), code="reason_required")
    current = set(StaffPost.objects.filter(staff=staff).values_list("post", flat=True))
    if post in current:
        raise ChangeRefused(_("The staff member holds this post already."), code="no_change")
    waiting = ChangeRequest.objects.filter(entity=ENTITY, record_id=staff.pk, status="pending")
    if any(held.proposed.get("post", [None, None])[1] == post for held in waiting):
        raise ChangeRefused(_("This post is already proposed and waits for confirmation."), code="pending")
    _check_posts([*current, post])
    return _propose(caller, staff, "staff.post_propose", "post", None, post, reason)


def _propose(
    caller: Caller, staff: Staff, action: str, field: str, old: Any, new: Any, reason: str
) -> ChangeRequest:
    """The held request of a change to STAFF's FIELD (OLD to NEW) that a second city-level security
    administrator confirms, sealed and audited as ACTION in one transaction."""
    with transaction.atomic():
        held = ChangeRequest.objects.create(
            entity=ENTITY, record_id=staff.pk, record_label=staff.username, district_id=settings.SIDMS_CITY_DISTRICT,
            base_version=staff.version, proposed={field: [old, new], "reason": [None, reason.strip()]},
            channel=Channel.MAINTENANCE, submitted_by=caller.staff, submitted_at=timezone.now(),
            decider_post=Post.SECURITY_ADMIN,
        )  # fmt: skip
        reseal(held)
        audit_record(
            action, actor=caller, object_type="change_request", object_id=held.pk,
            detail={"username": staff.username, field: new, "step": held.step, "seal": held.seal},
        )  # fmt: skip
    return held


def _apply_proposal(held: ChangeRequest, caller: Caller) -> None:
    """Confirm a proposal about an account: a post to grant, or a move to the city level."""
    require_city_level(caller, MAY_NOT_MANAGE)
    if caller.staff.pk == int(held.record_id or 0):
        # Four eyes means two people besides the one who gains the post (or the scope).
        raise deny(
            SeparationOfDuties(_("No one may confirm a post granted to their own account.")),
            "review.denied", actor=caller, object_type="change_request", object_id=held.pk,
            detail={"reason": "own_grant"},
        )  # fmt: skip
    if "district" in held.proposed:
        _apply_district(held, caller)
    else:
        _apply_post(held, caller)


def _apply_post(held: ChangeRequest, caller: Caller) -> None:
    staff = _locked(int(held.record_id or 0))
    post = str(held.proposed["post"][1])
    current = set(StaffPost.objects.filter(staff=staff).values_list("post", flat=True))
    _check_posts([*current, post])
    before = staff_state(staff)
    StaffPost.objects.get_or_create(staff=staff, post=post)
    _record(staff, before, caller=caller, action="staff.post_grant", method=Method.REVIEW,
            reference=f"CR{held.pk}", detail={"post": post, "proposed_by": held.submitted_by.username})  # fmt: skip


register_proposal(ENTITY, _apply_proposal)


def staff_post_revoke(*, actor: Any, staff: Staff, post: str, reason: str) -> Staff:
    caller = Caller.of(actor)
    _require_manager(caller)
    _not_own(caller, staff)
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the change."), code="reason_required")
    with audited_refusals(), transaction.atomic():
        staff = _locked(staff)
        before = staff_state(staff)
        if not StaffPost.objects.filter(staff=staff, post=post).delete()[0]:
            raise ChangeRefused(_("The staff member does not hold this post."), code="no_change")
        _record(
            staff,
            before,
            caller=caller,
            action="staff.post_revoke",
            detail={"post": post, "reason": reason.strip()},
        )
    return staff


# --------------------------------------------------------------------------------------------------------
# District, status, agreement, lock-out, password


def _change(actor: Any, staff: Staff, action: str, apply: Any, detail: dict[str, Any] | None = None) -> Staff:
    caller = Caller.of(actor)
    _require_manager(caller)
    _not_own(caller, staff)
    with audited_refusals(), transaction.atomic():
        staff = _locked(staff)
        before = staff_state(staff)
        apply(staff)
        staff.save()
        _record(staff, before, caller=caller, action=action, detail=detail)
    return staff


TO_CITY_LEVEL = _(
    "A move to the city level widens the person's data scope to every district: it is proposed, and takes "
    "effect when a second city-level security administrator confirms it."
)


def _district_checked(district: str, reason: str) -> None:
    from sidms.parameters.codes import district_codes

    if district not in district_codes():
        raise ChangeRefused(_("%(code)s is not a district of the city."), {"code": district}, code="district")
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the change."), code="reason_required")


def staff_set_district(*, actor: Any, staff: Staff, district: str, reason: str) -> Staff:
    """Move an account to another district (its data scope), at once. A move to the city level, which sees
    every district and takes the city-level steps (approving batches, ledger runs, exports of all districts),
    widens the scope as much as a post does: one administrator moved a district clerk there alone while a
    post needed a second (attack round 9). It is proposed instead (staff_district_propose)."""
    _district_checked(district, reason)
    if district == settings.SIDMS_CITY_DISTRICT and staff.district_id != district:
        raise ChangeRefused(TO_CITY_LEVEL, code="city_level_proposal")

    def apply(staff: Staff) -> None:
        staff.district_id = district

    return _change(actor, staff, "staff.district", apply, {"district": district, "reason": reason.strip()})


def staff_district_propose(*, actor: Any, staff: Staff, reason: str) -> ChangeRequest:
    """Propose moving STAFF to the city level; a second city-level security administrator confirms it
    (review_decide), as a post is granted."""
    caller = Caller.of(actor)
    _require_manager(caller)
    city = str(settings.SIDMS_CITY_DISTRICT)
    _district_checked(city, reason)
    if caller.staff.pk == staff.pk:
        raise SeparationOfDuties(_("No one may propose a post for their own account."))
    if staff.district_id == city:
        raise ChangeRefused(_("The staff member is at the city level already."), code="no_change")
    waiting = ChangeRequest.objects.filter(entity=ENTITY, record_id=staff.pk, status="pending")
    if any("district" in held.proposed for held in waiting):
        raise ChangeRefused(_("This move is already proposed and waits for confirmation."), code="pending")
    return _propose(caller, staff, "staff.district_propose", "district", staff.district_id, city, reason)


def _apply_district(held: ChangeRequest, caller: Caller) -> None:
    staff = _locked(int(held.record_id or 0))
    district = str(held.proposed["district"][1])
    reason = str((held.proposed.get("reason") or [None, ""])[1] or "")
    before = staff_state(staff)
    staff.district_id = district
    staff.save()
    _record(staff, before, caller=caller, action="staff.district", method=Method.REVIEW, reference=f"CR{held.pk}",
            detail={"district": district, "reason": reason, "proposed_by": held.submitted_by.username})  # fmt: skip


def staff_set_active(*, actor: Any, staff: Staff, active: bool, reason: str) -> Staff:
    if not reason.strip():
        raise ChangeRefused(_("Give the reason for the change."), code="reason_required")

    def apply(staff: Staff) -> None:
        staff.is_active = active

    return _change(
        actor, staff, "staff.enable" if active else "staff.disable", apply, {"reason": reason.strip()}
    )


def staff_record_agreement(
    *, actor: Any, staff: Staff, signed_on: date | None, expires_on: date | None
) -> Staff:
    """Register the confidentiality agreement (R16): without a valid one there is no access. The agreement
    register (sidms.continuity) calls this with the agreement in force; ``signed_on=None`` clears it (the
    agreement was revoked or none is left), which ends access at the next request."""
    if signed_on is None:
        expires_on = None
    elif expires_on is not None and expires_on < signed_on:
        raise ChangeRefused(_("An agreement cannot expire before it is signed."), code="dates")

    def apply(staff: Staff) -> None:
        staff.agreement_signed_on, staff.agreement_expires_on = signed_on, expires_on

    return _change(
        actor, staff, "staff.agreement", apply, {"signed_on": signed_on.isoformat() if signed_on else None}
    )


def staff_unlock(*, actor: Any, staff: Staff) -> None:
    """Lift a lock-out after repeated failures (django-axes), as an audited act."""
    from axes.utils import reset

    caller = Caller.of(actor)
    _require_manager(caller)
    with transaction.atomic():
        reset(username=staff.username)
        audit_record("staff.unlock", actor=caller, object_type=ENTITY, object_id=staff.username)


def staff_set_password(*, actor: Any, staff: Staff, password: str) -> Staff:
    """A new password (an administrator's reset, or the person's own change), checked by the password
    validators; the old sessions stay signed in only until their next request checks the account."""
    from django.contrib.auth.password_validation import validate_password

    caller = Caller.of(actor)
    own = getattr(caller.staff, "pk", None) == staff.pk
    if not own:
        _require_manager(caller)
    validate_password(password, staff)

    def apply(target: Staff) -> None:
        target.password = make_password(password)

    with audited_refusals(), transaction.atomic():
        target = _locked(staff)
        if not own and _open_code_issued_by(target, caller):
            raise _both_factors(caller, target, "issued_code")
        before = staff_state(target)
        apply(target)
        target.save(update_fields=["password"])
        _record(target, before, caller=caller, action="staff.password")
    return target


# --------------------------------------------------------------------------------------------------------
# No one holds both factors of another's account
#
# A security administrator who set an account's password and also issued its enrolment code held both of its
# factors: he could sign in as that person (or as a second security administrator or city administrator,
# and confirm his own proposals as them), and four eyes became two hands of one person (attack round 9).
# So the administrator who set the password (or created the account with it) does not issue its enrolment
# code, and the one who issued a code that is still open does not set its password: a second security
# administrator does the other half. The person's own password change and the system's set-up are not
# concerned.

BOTH_FACTORS = {
    "set_password": _(
        "You set this account's password: a second security administrator issues its enrolment code, so that "
        "no one holds both of another person's sign-in factors."
    ),
    "issued_code": _(
        "You issued this account's enrolment code, still open: a second security administrator sets its "
        "password, so that no one holds both of another person's sign-in factors."
    ),
}


def _last_actor_of(staff: Staff, key: str, *, opened: bool = False) -> str | None:
    """Who made the account's latest revision that changed KEY (with OPENED: that set it to something)."""
    for actor, changes in (
        Revision.objects.filter(entity=ENTITY, record_id=staff.pk)
        .order_by("-version")
        .values_list("actor", "changes")
    ):
        pair = changes.get(key) if isinstance(changes, dict) else None
        if pair is None:
            continue
        if opened and not (isinstance(pair[1], list) and pair[1] and pair[1][0]):
            return None  # the latest change of the code closed it (used or replaced by nothing)
        return str(actor)
    return None


def _open_code_issued_by(staff: Staff, caller: Caller) -> bool:
    if str(caller.name).startswith("system:") or not enrolment_open(staff):
        return False
    return _last_actor_of(staff, "enrolment", opened=True) == caller.name


def _password_set_by(staff: Staff, caller: Caller) -> bool:
    return not str(caller.name).startswith("system:") and _last_actor_of(staff, "password") == caller.name


def both_factors_refusal(actor: Any, staff: Staff) -> str:
    """Why ACTOR may not issue STAFF's enrolment code (as the page says it before the form), or ""."""
    return str(BOTH_FACTORS["set_password"]) if _password_set_by(staff, Caller.of(actor)) else ""


def _both_factors(caller: Caller, staff: Staff, which: str) -> NotPermitted:
    return deny(
        SeparationOfDuties(BOTH_FACTORS[which]), "staff.denied", actor=caller, object_type=ENTITY,
        object_id=staff.username, detail={"reason": f"both_factors_{which}"},
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# The second factor: enrolment by a one-time code handed over out of band


def staff_issue_enrolment_code(*, actor: Any, staff: Staff) -> str:
    """A one-time enrolment code (shown once to the administrator, who hands it over in person or by a
    channel other than the one the password went by). It also removes the account's authenticators, so a
    lost phone is replaced the same way."""
    caller = Caller.of(actor)
    _require_manager(caller)
    _not_own(caller, staff)  # rebinding one's own second factor is another administrator's act
    code = f"{secrets.randbelow(10**8):08d}"
    with audited_refusals(), transaction.atomic():
        target = _locked(staff)
        if _password_set_by(target, caller):
            raise _both_factors(caller, target, "set_password")
        before = staff_state(target)
        SealedTOTPDevice.objects.filter(user=target).delete()
        target.enrolment_code = _mac(f"enrol:{target.pk}:{code}")
        target.enrolment_expires = timezone.now() + ENROLMENT_VALID
        target.save(update_fields=["enrolment_code", "enrolment_expires"])
        _record(target, before, caller=caller, action="staff.enrolment_code")
    return code


def enrolment_open(staff: Staff) -> bool:
    return (
        bool(staff.enrolment_code)
        and staff.enrolment_expires is not None
        and (staff.enrolment_expires >= timezone.now())
    )


def enrolment_code_ok(staff: Staff, code: str) -> bool:
    if not enrolment_open(staff):
        return False
    expected = _mac(f"enrol:{staff.pk}:{code.strip()}")
    return secrets.compare_digest(expected, staff.enrolment_code)


ENROLMENT_FAILED = "auth.enrolment_failed"


def staff_try_enrolment_code(*, actor: Any, staff: Staff, code: str) -> str:
    """The person's own enrolment code, typed at the first sign-in after their password: "ok", "wrong", or
    "void" once as many wrong codes as lock a password (the parameter lockout.failures) have been typed
    since the code was issued — the code is then void (a revision of the account) and the security
    administrator issues a new one. Nothing limited the tries before: with the password alone, the eight
    digits could be walked within the code's three days (attack round 9). Each wrong code is an audit event,
    and those events are what is counted (so every server process counts the same)."""
    from sidms.audit.models import AuditEvent
    from sidms.security.limits import lockout_failures

    caller = Caller.of(actor)
    if enrolment_code_ok(staff, code):
        return "ok"
    audit_record(ENROLMENT_FAILED, actor=caller, object_type=ENTITY, object_id=staff.pk, outcome="failed")
    if not enrolment_open(staff):
        return "wrong"
    assert staff.enrolment_expires is not None
    issued = staff.enrolment_expires - ENROLMENT_VALID
    wrong = AuditEvent.objects.filter(
        object_type=ENTITY, object_id=str(staff.pk), action=ENROLMENT_FAILED, at__gte=issued
    ).count()
    if wrong < lockout_failures():
        return "wrong"
    with audited_refusals(), transaction.atomic():
        target = _locked(staff)
        before = staff_state(target)
        target.enrolment_code, target.enrolment_expires = "", None
        target.save(update_fields=["enrolment_code", "enrolment_expires"])
        _record(target, before, caller=caller, action="staff.enrolment_void", detail={"wrong_codes": wrong})
    return "void"


def staff_enrol_device(
    *, actor: Any, staff: Staff, device: SealedTOTPDevice | None = None, name: str = "authenticator"
) -> SealedTOTPDevice:
    """Confirm an authenticator (the person has typed a valid code from it after the enrolment code), or,
    for the system itself (set-up, demo), create a confirmed one."""
    caller = Caller.of(actor)
    with audited_refusals(), transaction.atomic():
        target = _locked(staff)
        before = staff_state(target)
        if device is None:
            if not str(caller.name).startswith("system:"):
                raise NotPermitted(_("You may not do this."))
            device = SealedTOTPDevice.enrol(target, name=name, confirmed=True)
        else:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
        target.enrolment_code, target.enrolment_expires = "", None
        target.save(update_fields=["enrolment_code", "enrolment_expires"])
        _record(target, before, caller=caller, action="auth.otp_enrolled")
    return device


def start_enrolment(staff: Staff) -> SealedTOTPDevice:
    """The unconfirmed device an enrolling person scans; not yet part of the account (the digest counts it
    only once confirmed through staff_enrol_device)."""
    device = SealedTOTPDevice.objects.filter(user=staff, confirmed=False).first()
    return device or SealedTOTPDevice.enrol(staff, name="authenticator", confirmed=False)


def staff_reseal_devices(*, actor: Any, staff: Staff) -> int:
    """Re-encrypt the account's authenticator secrets under the key ring's current version (`sidms keys
    rotate`), as a revision of the account, whose digest covers the sealed secrets. Refused with an integrity
    alert when the account does not match its latest revision: re-sealing must not launder a secret that was
    copied in behind the system's back. Returns how many secrets were re-encrypted."""
    from base64 import b64encode, b85decode

    from sidms.lib.crypto import DecryptionError, token_version
    from sidms.security.models import seal_secret

    caller = Caller.of(actor)
    _require_manager(caller)
    current = keyring().current
    with transaction.atomic():
        target = _locked(staff)
        latest = Revision.objects.filter(entity=ENTITY, record_id=target.pk).order_by("-version").first()
        devices = list(SealedTOTPDevice.objects.filter(user=target).order_by("pk"))
        try:
            stale = [d for d in devices if token_version(b85decode(d.key[1:])) != current]
            intact = (
                latest is not None
                and (latest.version, latest.digest) == (target.version, target.row_digest)
                and staff_digest(target, target.version) == target.row_digest
            )
            secrets_ = {d.pk: b64encode(d.bin_key).decode("ascii") for d in stale} if intact else {}
        except (ValueError, DecryptionError):
            intact = False
        if not intact:
            raise account_alert(target, caller, "reseal")
        if not stale:
            return 0
        before = staff_state(target)
        for device in stale:
            device.key = seal_secret(secrets_[device.pk], target.pk)
            device.save(update_fields=["key"])
        _record(target, before, caller=caller, action="staff.reseal",
                detail={"devices": len(stale), "key_version": current})  # fmt: skip
    return len(stale)


# --------------------------------------------------------------------------------------------------------
# Verification: every account matches its latest revision


def verify_staff(report: Report, latest: dict[str, dict[int, tuple[int, str]]]) -> None:
    history = latest.pop(ENTITY, {})
    seen = 0
    for staff in Staff.objects.order_by("pk").iterator():
        where = f"工作人员 {staff.username} / staff {staff.username}"
        vouched = history.pop(staff.pk, None)
        if vouched is None:
            raise broken("staff", where, "该工作人员账号没有修订历史：它不是经由系统建立的",
                         "the staff account has no history: it was not created through the system")  # fmt: skip
        expected = staff_digest(staff, staff.version)
        if (staff.version, staff.row_digest) != vouched or expected != staff.row_digest:
            raise broken("staff", where, "工作人员账号（口令、岗位、区市、动态口令设备等）与其最新修订不一致：有人绕过系统修改了它",
                         "the account (password, posts, district, authenticators …) differs from its latest revision: changed behind the system's back")  # fmt: skip
        seen += 1
    if history:
        raise broken("staff", f"工作人员 #{min(history)} / staff #{min(history)}", "有修订历史的工作人员账号已被删除",
                     "a staff account with history was deleted")  # fmt: skip
    report.rows[ENTITY] = seen


register_check(verify_staff)


def _confirmed_devices_only(state: dict[str, Any]) -> dict[str, Any]:
    """A stored state as the digest now covers it: an authenticator not yet confirmed was counted in the
    states and changes written before staff_state left it out (a revision made half-way through an
    enrolment), and is dropped from both sides when one revision is compared with the next."""
    devices = state.get("devices")
    if not isinstance(devices, list):
        return state
    return {
        **state,
        "devices": [d for d in devices if not (isinstance(d, list) and len(d) > 2 and d[2] is False)],
    }


register_succession_view(ENTITY, _confirmed_devices_only)


def adopt_existing_accounts() -> int:
    """Accounts created before accounts had history get their first revision, once: only while no staff
    revision exists at all (the upgrade), never afterwards — a row inserted later behind the system's back
    is not adopted but named by verification."""
    if Revision.objects.filter(entity=ENTITY).exists():
        return 0
    caller = Caller("system:upgrade", request_id="")
    adopted = 0
    with transaction.atomic():
        for staff in Staff.objects.filter(version=0).order_by("pk"):
            _record(staff, {}, caller=caller, action="staff.adopt")
            adopted += 1
    return adopted


def staff_set_agency(*, actor: Any, staff: Staff, agency: Agency | None) -> Staff:
    def apply(target: Staff) -> None:
        target.agency = agency

    return _change(actor, staff, "staff.agency", apply, {"agency": agency.code if agency else ""})
