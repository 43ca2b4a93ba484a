"""Logins, failed logins and logouts are audit events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from sidms.audit.models import Outcome
from sidms.audit.services import audit_record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record("auth.password_ok", actor=user, request=request, object_type="staff", object_id=user.pk)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        "auth.password_failed",
        actor=username or "anonymous",
        request=request,
        object_type="staff",
        outcome=Outcome.FAILED,
    )


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record("auth.logout", actor=user, request=request, object_type="staff", object_id=user.pk)
