"""A record's history on its detail page: every change with who, when, channel, method and old → new, and
the record as it was at any past moment (R9.2)."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from sidms.changes.models import Channel
from sidms.changes.services import review_decide, submit_change

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"
HUANCUI_1970 = "37100219700101018X"


def history_of(page: str) -> str:
    return page.split('id="history"')[1]


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
    earlier = client.get(f"/persons/{person.person_no}/", {"as_of": "2026-02-15T12:00"}).content.decode()
    assert "以下为 2026-02-15 12:00 时的记录" in earlier
    current_part = earlier.split('id="history"')[0]
    assert "环翠区旧地址 1 号" in current_part and "139****0000" in current_part
    assert "环翠区新地址 2 号" not in current_part
    now = client.get(f"/persons/{person.person_no}/").content.decode().split('id="history"')[0]
    assert "环翠区新地址 2 号" in now and "以下为" not in now
    later = client.get(f"/persons/{person.person_no}/", {"as_of": "2026-03-01T09:00"}).content.decode()
    # The change made at 09:00:00 is in force at 09:00.
    assert "环翠区新地址 2 号" in later.split('id="history"')[0]
    before = client.get(f"/persons/{person.person_no}/", {"as_of": "2026-01-15T08:00"}).content.decode()
    assert "该时刻此记录尚不存在" in before


@pytest.mark.req("R9.2")
def test_a_malformed_moment_is_explained_and_the_current_record_shown(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, address="环翠区新威路 1 号")
    page = signed_in(huancui_clerk).get(f"/persons/{person.person_no}/", {"as_of": "去年"}).content.decode()
    assert "请按 YYYY-MM-DDTHH:MM 格式输入时间" in page
    assert "环翠区新威路 1 号" in page.split('id="history"')[0] and "以下为" not in page


@pytest.mark.req("R9.2")
def test_the_timeline_lists_changes_newest_first_with_masked_identifiers(  # type: ignore[no-untyped-def]
    huancui_clerk, make_staff, signed_in, make_person
) -> None:
    reviewer = make_staff("reviewer_hc", posts=("reviewer",), district="371002")
    with freeze_time("2026-02-01 09:00:00+08:00"):
        person = make_person(id_number=HUANCUI_1960, phone="13963100000")
    with freeze_time("2026-03-01 10:00:00+08:00"):
        outcome = submit_change(
            actor=huancui_clerk,
            channel=Channel.WINDOW,
            entity="person",
            record=person,
            values={"id_number": HUANCUI_1970, "phone": "13863105678"},
        )
    with freeze_time("2026-03-02 11:00:00+08:00"):
        review_decide(actor=reviewer, change_request_id=outcome.held.pk, approve=True)
    page = signed_in(huancui_clerk).get(f"/persons/{person.person_no}/").content.decode()
    timeline = history_of(page)
    review_at = timeline.index("2026-03-02 11:00")
    window_at = timeline.index("2026-03-01 10:00")
    import_at = timeline.index("2026-02-01 09:00")
    assert review_at < window_at < import_at  # newest first
    assert "371002********0011" in timeline and "371002********018X" in timeline
    assert HUANCUI_1960 not in timeline and HUANCUI_1970 not in timeline
    assert "139****0000" in timeline and "138****5678" in timeline
    assert "人工审核通过" in timeline and "提交即生效" in timeline and "窗口" in timeline
    assert f"CR{outcome.held.pk}/reviewer_hc" in timeline and "clerk_hc" in timeline
    assert HUANCUI_1970 in page.split('id="history"')[0]  # the current record shows the number in full


@pytest.mark.req("R9.2")
def test_a_unit_shows_its_history_and_its_earlier_contact(huancui_clerk, signed_in, make_unit) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2026-02-01 09:00:00+08:00"):
        unit = make_unit(
            unit_no="3710020001", name="威海海之韵科技有限公司", district="371002", contact_person="王经理"
        )
    client = signed_in(huancui_clerk)
    page = client.post(
        f"/units/{unit.unit_no}/edit/",
        {
            "version": unit.version,
            "name": unit.name,
            "credit_code": unit.credit_code,
            "unit_type": unit.unit_type,
            "district_id": unit.district_id,
            "contact_person": "刘经理",
            "phone": unit.phone,
            "status": unit.status,
        },
        follow=True,
    ).content.decode()
    assert "王经理 → <b>刘经理</b>" in history_of(page)
    earlier = client.get(f"/units/{unit.unit_no}/", {"as_of": "2026-02-02T00:00"}).content.decode()
    assert "王经理" in earlier.split('id="history"')[0] and "刘经理" not in earlier.split('id="history"')[0]
