"""Logins, failed logins and logouts are audit events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.core.caller import caller_from_request


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(
        "auth.password_ok", actor=caller_from_request(request, user), object_type="staff", object_id=user.pk
    )


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        "auth.password_failed",
        actor=caller_from_request(request, username or "anonymous"),
        object_type="staff",
        outcome=Outcome.FAILED,
    )


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(
            "auth.logout", actor=caller_from_request(request, user), object_type="staff", object_id=user.pk
        )
