"""The sign-in backend: Django's ModelBackend, with the staff member's district read with the account."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError

from sidms.core.prepared import Prepared
from sidms.registry.models import Staff


# The account of every request, compiled once (sidms.core.prepared): building and compiling this queryset
# cost more than the query itself.
# With it, the account's latest revision, which the session check compares on every request
# (security.middleware, accounts.latest_revision): one statement for both.
def _account(pk: int) -> Any:
    from sidms.security.accounts import with_latest_revision

    return with_latest_revision(Staff._default_manager.select_related("district").filter(pk=pk))


_ACCOUNT: Prepared[Staff] = Prepared(Staff, _account, int)


class StaffBackend(ModelBackend):
    """Every page shows the signed-in staff member's district by name (base.html), so the district is read in
    the query that loads the account on each request rather than in one more query of its own."""

    def get_user(self, user_id: Any) -> Staff | None:
        try:
            pk = Staff._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = _ACCOUNT.first(pk) if type(pk) is int else None
        return user if user is not None and self.user_can_authenticate(user) else None
