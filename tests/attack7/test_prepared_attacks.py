"""Attacks on the reads compiled once per thread (sidms.core.prepared): the read door's lookup by key, the
account, its posts and its device, whatever order the shapes were compiled in and whatever a key holds."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.http import Http404

from sidms.access.policies import record_get
from sidms.core.kernel import spec_for
from sidms.core.prepared import _STR_SENTINEL
from sidms.security.accounts import staff_post_revoke, staff_set_active, staff_set_district

pytestmark = [pytest.mark.django_db]


def fresh(staff: Any) -> Any:
    """The account as the next request loads it (security.backends)."""
    from sidms.security.backends import StaffBackend

    return StaffBackend().get_user(staff.pk)


@pytest.mark.req("R10.3")
def test_the_lookup_by_key_keeps_each_callers_scope_whatever_compiled_first(
    make_unit: Any, make_staff: Any, huancui_clerk: Any, rushan_clerk: Any
) -> None:
    city = make_staff("clerk_city7", posts=("window_clerk",), district="371000")
    hc = make_unit(unit_no="U371002701", name="环翠攻击七", district="371002")
    rs = make_unit(unit_no="U371083701", name="乳山攻击七", district="371083")
    spec = spec_for("unit")

    def sees(staff: Any, unit: Any) -> bool:
        try:
            return record_get(actor=fresh(staff), spec=spec, key=unit.unit_no).pk == unit.pk
        except Http404:
            return False

    # Compiled first for the city, then for a district, then read in every order.
    assert sees(city, hc) and sees(city, rs)
    assert sees(huancui_clerk, hc) and not sees(huancui_clerk, rs)
    assert sees(rushan_clerk, rs) and not sees(rushan_clerk, hc)
    assert sees(city, rs) and not sees(huancui_clerk, rs)
    # A district changed shows at the next request: Rushan's clerk moved to 环翠, the city's to 乳山.
    staff_set_district(actor="system:test", staff=rushan_clerk, district="371002", reason="调岗")
    staff_set_district(actor="system:test", staff=city, district="371083", reason="调岗")
    assert sees(rushan_clerk, hc) and not sees(rushan_clerk, rs)
    assert sees(city, rs) and not sees(city, hc)
    # A post revoked is not honoured at the next request; a disabled account is not loaded.
    staff_post_revoke(actor="system:test", staff=huancui_clerk, post="window_clerk", reason="调岗")
    assert fresh(huancui_clerk).posts == frozenset()
    staff_set_active(actor="system:test", staff=rushan_clerk, active=False, reason="离职")
    assert fresh(rushan_clerk) is None


@pytest.mark.req("R10.3")
@pytest.mark.parametrize(
    "key",
    [
        "U371083701\x00",
        "\x00",
        _STR_SENTINEL.format(0),
        _STR_SENTINEL.format(1),
        "U371083701 ",
        "Ｕ３７１０８３７０１",  # full-width lookalike
        "u371083701",
        "U" * 10_000,
        "31973",
        "U371083701' OR '1'='1",
    ],
)
def test_an_odd_key_finds_nothing_out_of_scope_and_is_no_server_error(
    make_unit: Any, huancui_clerk: Any, signed_in: Any, key: str
) -> None:
    from urllib.parse import quote

    make_unit(unit_no="U371083701", name="乳山攻击七", district="371083")
    make_unit(unit_no="U371002701", name="环翠攻击七", district="371002")
    client = signed_in(huancui_clerk)
    assert client.get("/units/U371002701/").status_code == 200  # compiled for 环翠's shape
    response = client.get(f"/units/{quote(key, safe='')}/")
    assert response.status_code in (400, 404), response.status_code
    assert "乳山攻击七" not in response.content.decode()


@pytest.mark.req("R20")
def test_an_append_waits_for_the_chain_head_another_writer_holds(db: None) -> None:
    """The head is read FOR UPDATE by the statement compiled once (PostgreSQL): while another connection holds
    the head's row, an append does not read the head and move it past that writer (two events with one
    sequence number, or one lost); it waits (here until its lock timeout)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite queues its writers)")
    from django.db import OperationalError, connections, transaction

    from sidms.audit.models import AuditEvent
    from sidms.audit.services import audit_record

    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '5s'")
            cursor.execute("SELECT seq FROM audit_chainhead WHERE id = 1 FOR UPDATE")
        count = AuditEvent.objects.count()
        # The lock timeout is met by the SELECT … FOR UPDATE ("locking tuple"), not by the head's UPDATE.
        with pytest.raises(OperationalError, match="while locking tuple"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            audit_record("test.attack7", actor="system:second", object_id="waits")
        assert AuditEvent.objects.count() == count
    finally:
        other.rollback()
        other.close()


@pytest.mark.req("R17")
@pytest.mark.parametrize(
    "cookie",
    ["abcdefgh\x00ijklmnop", "x" * 10_000, "31973313", _STR_SENTINEL.format(0) + "abcdefgh", "\u00ff" * 8],
)
def test_an_odd_session_cookie_is_a_signed_out_browser_not_a_server_error(
    signed_in: Any, huancui_clerk: Any, cookie: str
) -> None:
    from django.test import Client

    signed_in(huancui_clerk)  # a real session exists beside it
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = cookie
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/"), response.status_code


@pytest.mark.req("R10.3")
@pytest.mark.parametrize(
    "key", ["P000000001\x00", _STR_SENTINEL.format(1), "Ｐ０００００００００１", "p000000001"]
)
@pytest.mark.parametrize("url", ["/persons/{}/", "/persons/{}/rights/", "/persons/{}/rights/statement/"])
def test_an_odd_person_key_on_the_pages_that_read_by_key(
    make_person: Any, rushan_clerk: Any, signed_in: Any, key: str, url: str
) -> None:
    """The person of another district (P000000001, 环翠) by an odd key on each page that reads through
    record_get: not found or refused, never a server error, never the person."""
    from urllib.parse import quote

    make_person(id_number="37100219700101018X", name="李红攻击", sex="2", birth_date="1970-01-01")
    client = signed_in(rushan_clerk)
    fetch = client.post if url.endswith("statement/") else client.get  # the statement is printed by a POST
    response = fetch(url.format("P000000001"))
    assert response.status_code in (400, 403, 404)
    response = fetch(url.format(quote(key, safe="")))
    assert response.status_code in (400, 403, 404), response.status_code
    assert "李红攻击" not in response.content.decode(errors="replace")


class _ReadsElsewhere:
    """A router sending the chain head's reads to a read replica (writes to the primary)."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return "replica" if model._meta.label == "audit.ChainHead" else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return None


@pytest.mark.req("R20")
def test_the_chain_head_is_locked_where_it_is_written_whatever_the_read_routing(db: None) -> None:
    """The head is read FOR UPDATE, as the ORM reads a select_for_update queryset: from the write database.
    Compiled for the read database it would lock a replica's row (or fail on an alias with no connection),
    and every audit event, each page view's included, with it."""
    from django.test import override_settings

    from sidms.audit.models import AuditEvent
    from sidms.audit.services import audit_record

    count = AuditEvent.objects.count()
    with override_settings(DATABASE_ROUTERS=[f"{__name__}._ReadsElsewhere"]):
        audit_record("test.attack7", actor="system:routed", object_id="head")
    assert AuditEvent.objects.count() == count + 1
