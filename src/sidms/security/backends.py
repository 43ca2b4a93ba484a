"""The sign-in backend: Django's ModelBackend, with the staff member's district read with the account."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from sidms.registry.models import Staff


class StaffBackend(ModelBackend):
    """Every page shows the signed-in staff member's district by name (base.html), so the district is read in
    the query that loads the account on each request rather than in one more query of its own."""

    def get_user(self, user_id: Any) -> Staff | None:
        try:
            user = Staff._default_manager.select_related("district").get(pk=user_id)
        except Staff.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
