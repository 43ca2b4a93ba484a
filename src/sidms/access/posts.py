"""Staff posts (R4) and the post × function table, in one place so that the role × function matrix can be
read and tested as a whole (MLPS 2.0 §8.1.4.2d: least privilege, separation of administrator and auditor)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Post(models.TextChoices):
    """A staff member may hold several posts; separation of duties compares people, not posts."""

    WINDOW_CLERK = "window_clerk", _("Window clerk")
    REVIEWER = "reviewer", _("Reviewer")
    APPROVER = "approver", _("Approver")
    RECHECKER = "rechecker", _("Re-checker")
    CITY_ADMIN = "city_admin", _("City-level system administrator")
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    STATISTICIAN = "statistician", _("Statistician")
    AUDITOR = "auditor", _("Auditor")
    INFO_CENTRE = "info_centre", _("Information centre")
    SUPERVISOR = "supervisor", _("Supervising department")
    BACKUP_OFFICER = "backup_officer", _("Backup officer")
    ARCHIVE_REVIEWER = "archive_reviewer", _("Archive reviewer")


P = Post
# MLPS 2.0 level 3: the system, security and audit administrators are three people (no one holds two).
ADMINISTRATOR_POSTS = frozenset({P.CITY_ADMIN, P.SECURITY_ADMIN, P.AUDITOR})
STAFF_POSTS = frozenset({P.WINDOW_CLERK, P.REVIEWER, P.APPROVER, P.RECHECKER})

PERMISSIONS: dict[str, frozenset[str]] = {
    "dashboard.view": frozenset(Post.values),
    # Reading records of each entity: the staff posts of the service windows. An entity may name its own permission in
    # its declaration's extra ("view_permission"); these are the defaults.
    "record.view": STAFF_POSTS,
    "person.view": STAFF_POSTS,
    "unit.view": STAFF_POSTS,
    "audit.view": frozenset({P.AUDITOR}),
    # The change pipeline (R7, R9.3). Separation of duties is checked per workflow on top of these.
    "record.submit": frozenset({P.WINDOW_CLERK}),
    "review.decide": frozenset({P.REVIEWER}),
    "maintenance.apply": frozenset({P.WINDOW_CLERK}),
    "maintenance.approve": frozenset({P.APPROVER}),
    "maintenance.modify": frozenset({P.WINDOW_CLERK}),
    "maintenance.recheck": frozenset({P.RECHECKER}),
    "batch.apply": frozenset({P.WINDOW_CLERK, P.INFO_CENTRE}),
    "batch.approve": frozenset({P.APPROVER}),
    "batch.execute": frozenset({P.WINDOW_CLERK, P.INFO_CENTRE}),
    # Rules and parameters (R5, R9.1): proposed by one city-level administrator, confirmed by another.
    "rules.edit": frozenset({P.CITY_ADMIN}),
    "rules.confirm": frozenset({P.CITY_ADMIN}),
    # Staff accounts (R16, R17): the security administrator; granting a post needs a second one.
    "staff.manage": frozenset({P.SECURITY_ADMIN}),
    "staff.confirm": frozenset({P.SECURITY_ADMIN}),
    # Continuity and supervision (R4.1, R16–R20; sidms.continuity). The security administrator keeps the
    # agreements and the keys, the named backup officer the backups and drills (R18.1), the information
    # centre the media register, the supervising department the alerts and rectification orders; the
    # audit administrator sets the alert rules and sees every administrator's acts.
    "agreement.manage": frozenset({P.SECURITY_ADMIN}),
    "agreement.view": frozenset({P.SECURITY_ADMIN, P.AUDITOR, P.SUPERVISOR}),
    "vendor.window_apply": frozenset({P.INFO_CENTRE}),
    "vendor.window_approve": frozenset({P.SECURITY_ADMIN}),
    "keys.manage": frozenset({P.SECURITY_ADMIN}),
    "backup.run": frozenset({P.BACKUP_OFFICER}),
    "continuity.view": frozenset({P.INFO_CENTRE, P.BACKUP_OFFICER, P.AUDITOR, P.SUPERVISOR}),
    "media.manage": frozenset({P.INFO_CENTRE, P.BACKUP_OFFICER}),
    "media.view": frozenset({P.INFO_CENTRE, P.BACKUP_OFFICER, P.SECURITY_ADMIN, P.AUDITOR, P.SUPERVISOR}),
    "alert.view": frozenset({P.SUPERVISOR, P.AUDITOR}),
    "alert.handle": frozenset({P.SUPERVISOR}),
    "alert.rules": frozenset({P.AUDITOR}),
    "rectification.issue": frozenset({P.SUPERVISOR}),
    "rectification.respond": frozenset({P.APPROVER, P.CITY_ADMIN}),
    "rectification.view": frozenset({P.SUPERVISOR, P.AUDITOR, P.APPROVER, P.CITY_ADMIN}),
    # Electronic archives (R2.4, R7.4; sidms.archives): the window attaches scans, the archive reviewer (never
    # the uploader) accepts or rejects each; an agreement's signed scan is attached by the security
    # administrator who registers the agreement ("agreement.manage").
    "archive.upload": frozenset({P.WINDOW_CLERK}),
    "archive.view": STAFF_POSTS | {P.ARCHIVE_REVIEWER},
    "archive.review": frozenset({P.ARCHIVE_REVIEWER}),
    # Retention (issue 9): an archive reviewer lists the items past retention and proposes their purge, a
    # second one approves it; the information centre lists the store's orphans.
    "archive.purge": frozenset({P.ARCHIVE_REVIEWER}),
    "archive.orphans": frozenset({P.INFO_CENTRE}),
}

# The functions that read or change insured persons' and units' records, and the posts that hold one of them:
# the service windows, and also the information centre (it imports people and units and executes batches and
# ledger runs) and the archive reviewer (the scans of their documents). No administrator holds one of these
# posts (security.accounts): an auditor who also imported persons, or a system administrator who also read
# their archives, could use one post to cover the other (attack round 9; MLPS 2.0 separates administrators
# from operators).
RECORD_FUNCTIONS = frozenset({
    "record.view", "person.view", "unit.view", "record.submit", "review.decide", "maintenance.apply",
    "maintenance.approve", "maintenance.modify", "maintenance.recheck", "batch.apply", "batch.approve",
    "batch.execute", "archive.upload", "archive.view", "archive.review", "archive.purge",
})  # fmt: skip
RECORD_POSTS = frozenset(post for name in RECORD_FUNCTIONS for post in PERMISSIONS[name])

# Who decides a request, by the post it names (sidms.changes.models.ChangeRequest.decider_post).
DECIDERS: dict[str, str] = {
    P.REVIEWER: "review.decide",
    P.CITY_ADMIN: "rules.confirm",
    P.SECURITY_ADMIN: "staff.confirm",
}
