"""Staff accounts. Creating one is an audited act; the account cannot sign in without a valid
confidentiality agreement (R16) and enrols its second factor at the first sign-in."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from sidms.audit.services import audit_record
from sidms.registry.models import Agency, Staff, StaffPost


def staff_create(
    *,
    actor: Any,
    username: str,
    password: str,
    district: str,
    posts: Iterable[str],
    full_name: str = "",
    agency: Agency | None = None,
    agreement_signed_on: date | None = None,
) -> Staff:
    with transaction.atomic():
        staff = Staff.objects.create_user(
            username=username,
            password=password,
            first_name=full_name,
            district_id=district,
            agency=agency,
            agreement_signed_on=agreement_signed_on,
        )
        post_list = sorted(set(posts))
        StaffPost.objects.bulk_create(StaffPost(staff=staff, post=post) for post in post_list)
        audit_record(
            "staff.create",
            actor=actor,
            object_type="staff",
            object_id=staff.pk,
            detail={
                "username": username,
                "district": district,
                "posts": post_list,
                "at": timezone.now().isoformat(),
            },
        )
    return staff
