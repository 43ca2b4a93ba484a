"""Bad input in an address gives a clear message or a 400 — never a server error, and never a silent fallback
to the first page, today or the whole log — and no raw code reaches a clerk (notes/ux-conventions.md): not
`reason=not_configured`, `PT30M`, `person.email`, or `system` for the system's own acts."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from sidms.audit.models import AuditEvent
from sidms.changes.models import Channel
from sidms.changes.rules import rule_propose
from sidms.changes.services import submit_change
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"
HUANCUI_1960_B = "371002196001010038"


def visible(html: str) -> str:
    """The text a reader sees (tags, scripts and attribute values left out)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --------------------------------------------------------------------------------------------------------
# Bad input: a message and a 400


@pytest.mark.req("R9.2")
@pytest.mark.parametrize("moment", ["2024-13-45", "99999-01-01", "garbage", "2024-02-30"])
def test_a_moment_that_does_not_exist_is_explained_not_replaced_by_today(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person, moment
) -> None:
    person = make_person(id_number=HUANCUI_1960)
    client = signed_in(huancui_clerk)
    response = client.get(f"/persons/{person.person_no}/", {"as_of": moment}, follow=True)
    page = response.content.decode()
    assert response.status_code == 400
    assert "请输入 1900 年至 2199 年之间存在的时间" in page and "以下为" not in page


@pytest.mark.req("R10.3")
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"page": "abc"}, "页码应为从 1 开始的整数"),
        ({"page": "0"}, "页码应为从 1 开始的整数"),
        ({"page": "99999"}, "没有第 99999 页：列表共 1 页"),
        ({"per_page": "-1"}, "每页可显示 20、50 或 100 条记录"),
        ({"per_page": "100000"}, "每页可显示 20、50 或 100 条记录"),
        ({"sort": "password"}, "列表不能按此方式排序"),
        ({"sort": "-id_number"}, "列表不能按此方式排序"),
        ({"sort": "--name"}, "列表不能按此方式排序"),
        ({"page": "²"}, "页码"),  # a superscript two is a digit to str.isdigit(), not to int()
        ({"category": "astronaut"}, "人员类别没有这个选项"),
    ],
)
def test_list_parameters_that_cannot_be_read_are_refused_with_the_reason(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person, query, message
) -> None:
    make_person(id_number=HUANCUI_1960, name="王建国")
    response = signed_in(huancui_clerk).get("/persons/", query)
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page, visible(page)[:2000]
    assert 'href="/persons/' in page  # a way back to the list


@pytest.mark.req("R10")
def test_an_id_number_in_a_record_address_is_explained_and_not_repeated(
    huancui_clerk, signed_in, make_person
) -> None:  # type: ignore[no-untyped-def]
    make_person(id_number=HUANCUI_1960, name="王建国")
    client = signed_in(huancui_clerk)
    for path in (
        f"/persons/{HUANCUI_1960}/",
        f"/persons/{HUANCUI_1960}/edit/",
        f"/persons/{HUANCUI_1960}/history/",
    ):
        response = client.get(path)
        page = response.content.decode()
        assert response.status_code == 400, path
        assert "网址中不能出现公民身份号码" in page and "王建国" not in page
        assert HUANCUI_1960 not in page  # not even in the language switch's return address
    denied = AuditEvent.objects.filter(action="read.person", outcome="denied")
    assert denied.exists() and not denied.filter(object_id=HUANCUI_1960).exists()


@pytest.mark.req("R5")
def test_a_rules_moment_that_cannot_be_read_shows_no_rules_in_its_place(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(huancui_clerk)
    for moment in ("garbage", "2024-02-30T10:00", "99999-01-01T00:00", "0001-01-01T00:00"):
        response = client.get("/rules/", {"at": moment})
        page = response.content.decode()
        assert response.status_code == 400, moment
        assert "请输入存在的时间" in page and "现行采集规则" not in page and "/rules/person/" not in page


@pytest.mark.req("R20")
def test_an_audit_date_that_does_not_exist_shows_no_events_in_its_place(auditor, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(auditor)
    for query in ({"date_from": "2024-02-30"}, {"date_to": "2024-13-01"}, {"before": "abc"}):
        response = client.get("/audit/", query)
        page = response.content.decode()
        assert response.status_code == 400, query
        assert "筛选条件无法识别" in page and '<td><a href="/audit/' not in page, query


@pytest.mark.req("R10.3")
def test_unknown_entities_and_keys_are_not_found_not_errors(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(huancui_clerk)
    for path in (
        "/spaceships/",
        "/spaceships/1/",
        "/employments/abc/",
        "/employments/²/",
        "/employments/６８/",  # full-width digits name no record
        "/units/nope/history/",
        "/queues/review/0/",
    ):
        assert client.get(path).status_code == 404, path


# --------------------------------------------------------------------------------------------------------
# No raw code reaches a clerk

RAW = ("reason=not_configured", "not_configured", "PT30M", "person.email", "person.address", "read.person")


def assert_readable(page: str, where: str) -> None:
    for raw in RAW:
        assert raw not in page, f"{where}: {raw}"
    shown = visible(page)
    assert not re.search(r"(?<![\w.-])system(:\w+)?(?![\w.-])", shown), f"{where}: {shown[:3000]}"


@pytest.mark.req("R10")
def test_no_page_shows_a_raw_code(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, make_person, auditor
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person,
        values={"id_number": HUANCUI_1960_B},
    ).held  # fmt: skip
    admin = make_staff("admin_city", posts=("city_admin",), district="371000")
    proposal = rule_propose(
        actor=admin, entity="person", field="email", required=False, validator="email", review_level="manual",
        crosschecks=[], reason="电子邮箱须人工核实",
    )  # fmt: skip
    reviewer = signed_in(make_staff("reviewer_hc", posts=("reviewer",), district="371002"))
    # The registries are not configured here: the review page says so in words.
    review = reviewer.get(f"/queues/review/{held.pk}/").content.decode()
    assert "未核查" in review
    assert_readable(review, "review")

    second = signed_in(make_staff("admin_city2", posts=("city_admin",), district="371000"))
    for path in ("/", "/queues/", f"/queues/review/{proposal.pk}/", "/rules/", "/rules/person/email/"):
        assert_readable(second.get(path).content.decode(), path)

    clerk = signed_in(huancui_clerk)
    for path in ("/", "/persons/", f"/persons/{person.person_no}/", f"/persons/{person.person_no}/history/",
                 f"/persons/{person.person_no}/rights/", f"/persons/{person.person_no}/access/"):  # fmt: skip
        assert_readable(clerk.get(path).content.decode(), path)

    log = signed_in(auditor)
    page = log.get("/audit/").content.decode()
    assert_readable(page, "/audit/")
    for seq in re.findall(r'<td><a href="/audit/(\d+)/">', page)[:30]:
        assert_readable(log.get(f"/audit/{seq}/").content.decode(), f"/audit/{seq}/")


@pytest.mark.req("R17")
def test_the_lock_out_page_says_how_long_in_minutes(huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "clerk_hc", "password": "wrong-password-123"})
    page = client.post("/login/", {"username": "clerk_hc", "password": PASSWORD}).content.decode()
    assert "请 30 分钟后再试" in page
    assert_readable(page, "locked")
