"""The staff member an operator command acts as (named on the command line or in the settings)."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from sidms.core.caller import Caller
from sidms.registry.models import Staff


def operator(username: str, *, what: str) -> Caller:
    """The Caller of an operator command: the named staff member, on the "cli" channel."""
    if not username:
        raise CommandError(f"请用 --operator 指定{what} / name the {what} with --operator")
    staff = Staff.objects.filter(username=username).first()
    if staff is None:
        raise CommandError(f"没有工作人员账号 {username} / no staff account {username!r}")
    return Caller(actor=staff, address="cli", request_id=uuid.uuid4().hex, channel="cli")
