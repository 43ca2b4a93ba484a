"""Three separated administrators (MLPS 2.0 level 3, B7): system (parameters, rules), security (accounts,
posts, agreements, keys) and audit (audit log, verification, alerts); no one holds two, each one's acts are
visible to the audit administrator, and none can do another's work. Tested through the services."""

from __future__ import annotations

import pytest

from sidms.changes.rules import rule_propose
from sidms.changes.services import review_decide
from sidms.continuity.alerts import rule_change
from sidms.continuity.keys import keys_rotate
from sidms.continuity.models import RuleCode
from sidms.continuity.selectors import administrator_acts, administrator_holders
from sidms.core.errors import ChangeRefused, NotPermitted
from sidms.registry.models import StaffPost
from sidms.security.accounts import staff_create, staff_post_propose

pytestmark = [pytest.mark.django_db, pytest.mark.req("B7"), pytest.mark.req("R17")]

ADMIN_POSTS = ("city_admin", "security_admin", "auditor")


@pytest.mark.parametrize(
    "posts", [("city_admin", "security_admin"), ("city_admin", "auditor"), ("security_admin", "auditor")]
)
def test_no_account_is_created_with_two_administrator_posts(posts: tuple[str, str]) -> None:
    with pytest.raises(ChangeRefused) as refused:
        staff_create(
            actor="system:test",
            username="two_hats",
            password="Two-Hats-Passw0rd",
            district="371000",
            posts=posts,
        )
    assert refused.value.code == "three_admins"


@pytest.mark.parametrize("held, wanted", [(a, b) for a in ADMIN_POSTS for b in ADMIN_POSTS if a != b])
def test_no_administrator_is_granted_a_second_administrator_post(
    make_staff, security_admin, held, wanted
) -> None:  # type: ignore[no-untyped-def]
    admin = make_staff(f"holder_{held}", posts=(held,), district="371000")
    with pytest.raises(ChangeRefused) as refused:
        staff_post_propose(actor=security_admin, staff=admin, post=wanted, reason="兼任")
    assert refused.value.code == "three_admins"


def test_two_pending_grants_cannot_both_be_confirmed(make_staff, security_admin, security_admin2) -> None:  # type: ignore[no-untyped-def]
    newcomer = make_staff("newcomer", posts=(), district="371000")
    first = staff_post_propose(actor=security_admin, staff=newcomer, post="auditor", reason="审计岗位")
    second = staff_post_propose(actor=security_admin, staff=newcomer, post="city_admin", reason="系统管理")
    review_decide(actor=security_admin2, change_request_id=first.pk, approve=True)
    with pytest.raises(ChangeRefused) as refused:
        review_decide(actor=security_admin2, change_request_id=second.pk, approve=True)
    assert refused.value.code == "three_admins"
    assert set(StaffPost.objects.filter(staff=newcomer).values_list("post", flat=True)) == {"auditor"}


def test_each_administrator_is_kept_to_their_own_work(
    make_staff, city_admin, security_admin, audit_admin, key_file
) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_z", posts=("window_clerk",))
    # The audit administrator neither manages accounts nor edits rules nor rotates keys.
    with pytest.raises(NotPermitted):
        staff_post_propose(actor=audit_admin, staff=clerk, post="reviewer", reason="x")
    with pytest.raises(NotPermitted):
        rule_propose(actor=audit_admin, entity="person", field="phone", required=False, validator="phone",
                     review_level="system", crosschecks=(), reason="x")  # fmt: skip
    with pytest.raises(NotPermitted):
        keys_rotate(actor=audit_admin)
    # The system administrator neither manages accounts nor keys, nor reads the audit log nor sets alert rules.
    with pytest.raises(NotPermitted):
        staff_post_propose(actor=city_admin, staff=clerk, post="reviewer", reason="x")
    with pytest.raises(NotPermitted):
        keys_rotate(actor=city_admin)
    with pytest.raises(NotPermitted):
        administrator_acts(actor=city_admin)
    with pytest.raises(NotPermitted):
        rule_change(actor=city_admin, code=RuleCode.DENIED, enabled=False, threshold=1, window_minutes=1)
    # The security administrator does not edit collection rules, read the audit log or set alert rules.
    with pytest.raises(NotPermitted):
        rule_propose(actor=security_admin, entity="person", field="phone", required=False, validator="phone",
                     review_level="system", crosschecks=(), reason="x")  # fmt: skip
    with pytest.raises(NotPermitted):
        administrator_acts(actor=security_admin)
    with pytest.raises(NotPermitted):
        rule_change(actor=security_admin, code=RuleCode.DENIED, enabled=False, threshold=1, window_minutes=1)


def test_every_administrators_acts_are_visible_to_the_audit_administrator(
    make_staff, city_admin, security_admin, audit_admin
) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk_y", posts=("window_clerk",))
    rule_propose(actor=city_admin, entity="person", field="phone", required=True, validator="phone",
                 review_level="system", crosschecks=(), reason="电话改为必填")  # fmt: skip
    staff_post_propose(actor=security_admin, staff=clerk, post="reviewer", reason="兼任审核")
    rule_change(actor=audit_admin, code=RuleCode.DENIED, enabled=True, threshold=4, window_minutes=10)

    holders = administrator_holders()
    assert holders["admin_city"] == {"city_admin"} and holders["security_city"] == {"security_admin"}
    acts = administrator_acts(actor=audit_admin)
    by_whom = {(a.event.actor, a.event.action) for a in acts}
    assert {("admin_city", "rules.propose"), ("security_city", "staff.post_propose"),
            ("audit_city", "alert_rule.change")} <= by_whom  # fmt: skip
    assert all(a.event.actor in holders for a in acts)
    only_security = administrator_acts(actor=audit_admin, post="security_admin")
    assert {a.event.actor for a in only_security} == {"security_city"}
    # Reading them is itself in the log, visible to another audit administrator.
    assert administrator_acts(actor=audit_admin, post="auditor")[0].event.action == "audit.browse"
