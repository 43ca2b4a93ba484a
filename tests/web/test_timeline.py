"""A record's history on its detail page: every change with who, when, channel, method and old → new, and
the record as it was at any past moment (R9.2)."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from sidms.changes.models import Channel
from sidms.changes.services import review_decide, submit_change

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"
HUANCUI_1960_B = "371002196001010038"  # the same sex and birth date


def history_of(page: str) -> str:
    """The timeline part of a record's history page."""
    return page.split('class="timeline"')[1]


def as_of_part(page: str) -> str:
    """The part of the history page that shows the record as of a moment."""
    return page.split('class="timeline"')[0]


@pytest.mark.req("R9.2")
def test_as_of_shows_the_value_in_force_at_that_moment(huancui_clerk, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2026-02-01 09:00:00+08:00"):
        person = make_person(id_number=HUANCUI_1960, phone="13963100000", address="环翠区旧地址 1 号")
    with freeze_time("2026-03-01 09:00:00+08:00"):
        submit_change(
            actor=huancui_clerk,
            channel=Channel.WINDOW,
            entity="person",
            record=person,
            values={"phone": "13863105678", "address": "环翠区新地址 2 号"},
        )
    client = signed_in(huancui_clerk)
    history = f"/persons/{person.person_no}/history/"
    earlier = client.get(history, {"as_of": "2026-02-15T12:00"}).content.decode()
    assert "以下为 2026-02-15 12:00 时的记录" in earlier
    assert "环翠区旧地址 1 号" in as_of_part(earlier) and "139****0000" in as_of_part(earlier)
    assert "环翠区新地址 2 号" not in as_of_part(earlier)
    now = client.get(history).content.decode()
    assert "以下为" not in now
    later = client.get(history, {"as_of": "2026-03-01 09:00"}).content.decode()
    # The change made at 09:00:00 is in force at 09:00.
    assert "环翠区新地址 2 号" in as_of_part(later)
    before = client.get(history, {"as_of": "2026-01-15T08:00"}).content.decode()
    assert "该时刻此记录尚不存在" in before
    # The record page takes the moment too, and shows it with the history: never silently today's record.
    redirected = client.get(f"/persons/{person.person_no}/", {"as_of": "2026-02-15T12:00"})
    assert redirected.status_code == 302 and redirected["Location"] == f"{history}?as_of=2026-02-15T12%3A00"


@pytest.mark.req("R9.2")
def test_a_malformed_moment_is_explained_and_nothing_else_is_shown_in_its_place(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, address="环翠区新威路 1 号")
    client = signed_in(huancui_clerk)
    for moment in ("去年", "2024-13-45", "99999-01-01", "2024-02-30 10:00", "1800-01-01"):
        response = client.get(f"/persons/{person.person_no}/history/", {"as_of": moment})
        page = response.content.decode()
        assert response.status_code == 400, moment
        assert "请输入 1900 年至 2199 年之间存在的时间" in page and "以下为" not in page, moment


@pytest.mark.req("R9.2")
def test_the_timeline_lists_changes_newest_first_with_masked_identifiers(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, make_person
) -> None:
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002", full_name="环翠审核 周")
    with freeze_time("2026-02-01 09:00:00+08:00"):
        person = make_person(id_number=HUANCUI_1960, phone="13963100000")
    with freeze_time("2026-03-01 10:00:00+08:00"):
        outcome = submit_change(
            actor=huancui_clerk,
            channel=Channel.WINDOW,
            entity="person",
            record=person,
            values={"id_number": HUANCUI_1960_B, "phone": "13863105678"},
        )
    with freeze_time("2026-03-02 11:00:00+08:00"):
        review_decide(actor=reviewer, change_request_id=outcome.held.pk, approve=True)
    page = signed_in(huancui_clerk).get(f"/persons/{person.person_no}/history/").content.decode()
    timeline = history_of(page)
    review_at = timeline.index("2026-03-02 11:00")
    window_at = timeline.index("2026-03-01 10:00")
    import_at = timeline.index("2026-02-01 09:00")
    assert review_at < window_at < import_at  # newest first
    assert "371002********0011" in timeline and "371002********0038" in timeline
    assert HUANCUI_1960 not in page and HUANCUI_1960_B not in page
    assert "139****0000" in timeline and "138****5678" in timeline
    assert "人工审核通过" in timeline and "提交即生效" in timeline and "窗口" in timeline
    assert f'<a href="/queues/review/{outcome.held.pk}/">CR{outcome.held.pk}</a>' in timeline
    assert "审批人：环翠审核 周" in timeline and "clerk_hc" in timeline  # by name where the account has one
    assert "reviewer_hc" not in timeline


@pytest.mark.req("R9.2")
def test_a_unit_shows_its_history_and_its_earlier_contact(huancui_clerk, signed_in, make_unit) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2026-02-01 09:00:00+08:00"):
        unit = make_unit(name="威海海之韵科技有限公司", district="371002", contact_person="王经理")
    client = signed_in(huancui_clerk)
    client.post(
        f"/units/{unit.unit_no}/edit/",
        {
            "version": unit.version,
            "name": unit.name,
            "credit_code": unit.credit_code,
            "unit_type": unit.unit_type,
            "district_id": unit.district_id,
            "contact_person": "刘经理",
            "status": unit.status,
        },
    )
    page = client.get(f"/units/{unit.unit_no}/history/").content.decode()
    assert "王经理 → <b>刘经理</b>" in history_of(page)
    earlier = client.get(f"/units/{unit.unit_no}/history/", {"as_of": "2026-02-02T00:00"}).content.decode()
    assert "王经理" in as_of_part(earlier) and "刘经理" not in as_of_part(earlier)
