"""A person's access record (个人信息访问记录, B1): at the window, a clerk shows the person who asks who looked at
or changed their data, when and how — through the read door, so that the clerk's scope and post decide and the
view is itself recorded."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time

from sidms.access import policies
from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.services import submit_change
from sidms.core.kernel import spec_for
from sidms.lib.idcard import check_digit
from tests.web.test_bad_input import assert_readable, visible

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"
HUANCUI_1970 = "37100219700101018X"


def rows_of(page: str) -> list[list[str]]:
    """The access record's table, row by row, each cell as the reader sees it."""
    table = re.search(r'<table class="access-record">.*?<tbody>(.*?)</tbody>', page, re.S)
    if table is None:
        return []
    return [
        [visible(cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    ]


def local(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def colleague(make_staff):  # type: ignore[no-untyped-def]
    """A second window clerk of 环翠区, who serves the person at the window."""
    return make_staff("clerk_hc2", posts=("window_clerk",), district="371002", full_name="李四")


@pytest.mark.req("B1")
def test_a_person_learns_who_opened_their_page_and_rights_record_and_when(  # type: ignore[no-untyped-def]
    huancui_clerk, colleague, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    other = make_person(id_number=HUANCUI_1970, name="李红")
    clerk_a = signed_in(huancui_clerk)
    assert clerk_a.get(f"/persons/{person.person_no}/").status_code == 200
    assert clerk_a.get(f"/persons/{person.person_no}/rights/").status_code == 200
    assert clerk_a.get(f"/persons/{other.person_no}/").status_code == 200  # another person's: not listed
    reads = {
        e.action: e
        for e in AuditEvent.objects.filter(actor="clerk_hc", object_type="person", object_id=person.person_no)
    }
    assert set(reads) == {"read.person", "read.rights_record"}

    clerk_b = signed_in(colleague)
    page = clerk_b.get(f"/persons/{person.person_no}/").content.decode()
    assert f'href="/persons/{person.person_no}/access/"' in page  # beside the rights record's link
    response = clerk_b.get(f"/persons/{person.person_no}/access/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "个人信息访问记录" in html
    rows = rows_of(html)
    by_clerk_a = [row for row in rows if "clerk_hc" in row[2].split()]
    # 时间, 经办机构, 经办人, 操作, 渠道, 结果: each read by its time, agency, account and act in words.
    assert sorted(row[3] for row in by_clerk_a) == ["查看个人权益记录", "查看参保人员"]
    for row in by_clerk_a:
        event = reads["read.person" if row[3] == "查看参保人员" else "read.rights_record"]
        assert row[0] == local(event.at)
        assert row[1] == "环翠区" and row[5] == "成功"
    # The person's own page views by their colleague are there too; the other person's view is not.
    assert len([row for row in rows if row[3] == "查看参保人员"]) == 2
    assert any("李四" in row[2] and "clerk_hc2" in row[2] for row in rows)
    # Nothing of the events' insides: no ID number, address, request id or other person.
    assert HUANCUI_1960 not in html and "李红" not in html and other.person_no not in html
    assert "127.0.0.1" not in html
    request_ids = {json.loads(e.payload)["request"] for e in reads.values()}
    assert all(rid and rid not in html for rid in request_ids)
    assert_readable(html, "access record")


@pytest.mark.req("B1")
@pytest.mark.req("R10.3")
def test_another_districts_clerk_is_not_shown_the_record_and_the_attempt_is_listed(  # type: ignore[no-untyped-def]
    huancui_clerk, rushan_clerk, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    rushan = signed_in(rushan_clerk)
    assert rushan.get(f"/persons/{person.person_no}/access/").status_code == 404
    assert rushan.get(f"/persons/{person.person_no}/").status_code == 404
    denied = AuditEvent.objects.filter(actor="clerk_rs", object_type="person", object_id=person.person_no)
    assert denied.count() == 2 and set(denied.values_list("outcome", flat=True)) == {"denied"}
    assert not AuditEvent.objects.filter(action="read.person_access", actor="clerk_rs", outcome="ok").exists()

    rows = rows_of(signed_in(huancui_clerk).get(f"/persons/{person.person_no}/access/").content.decode())
    tried = [row for row in rows if "clerk_rs" in row[2]]
    assert len(tried) == 2  # the person should know that someone tried
    assert all(row[1] == "乳山市" and row[3] == "查看参保人员" and row[5] == "拒绝" for row in tried)


@pytest.mark.req("B1")
def test_viewing_the_access_record_is_itself_an_audited_read_it_lists(  # type: ignore[no-untyped-def]
    huancui_clerk, auditor, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    client = signed_in(huancui_clerk)
    first = client.get(f"/persons/{person.person_no}/access/", {"date_from": "2026-01-01"})
    assert first.status_code == 200
    event = AuditEvent.objects.get(action="read.person_access")
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        "clerk_hc", "person", person.person_no, "ok",
    )  # fmt: skip
    assert json.loads(event.payload)["detail"] == {"filters": {"date_from": "2026-01-01"}}
    rows = rows_of(client.get(f"/persons/{person.person_no}/access/").content.decode())
    assert rows[0][3] == "查看个人信息访问记录" and rows[0][0] == local(event.at)  # newest first
    # The audit log has the same words for it.
    log = signed_in(auditor).get(f"/audit/{event.seq}/").content.decode()
    assert "查看个人信息访问记录" in log
    assert_readable(log, "the event's page")


@pytest.mark.req("B1")
def test_the_record_pages_as_the_lists_do_and_refuses_a_page_past_the_last(  # type: ignore[no-untyped-def]
    huancui_clerk, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    for _ in range(24):
        policies.record_get(actor=huancui_clerk, spec=spec_for("person"), key=person.person_no)
    client = signed_in(huancui_clerk)
    url = f"/persons/{person.person_no}/access/"
    page_1 = client.get(url, {"per_page": "20"}).content.decode()
    total = re.search(r"共 (\d+) 条", page_1)
    assert total is not None and 20 < int(total.group(1)) <= 40  # the 24 views and the import's 3 events
    page_2 = client.get(url, {"per_page": "20", "page": "2"}).content.decode()
    # Page 1's own view has been recorded since, as the newest event: one more in all.
    assert len(rows_of(page_1)) == 20 and len(rows_of(page_2)) == int(total.group(1)) + 1 - 20
    assert rows_of(page_1)[-1][0] >= rows_of(page_2)[0][0]  # newest first, across the pages
    past = client.get(url, {"per_page": "20", "page": "9"})
    assert past.status_code == 400 and "没有第 9 页" in past.content.decode()
    for bad in ({"per_page": "7"}, {"page": "0"}, {"page": "x"}):
        assert client.get(url, bad).status_code == 400, bad


@pytest.mark.req("B1")
def test_the_dates_narrow_the_record(huancui_clerk, colleague, signed_in, make_person) -> None:  # type: ignore[no-untyped-def]
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    with freeze_time("2026-03-01 10:00:00+08:00"):
        policies.record_get(actor=huancui_clerk, spec=spec_for("person"), key=person.person_no,
                            action="read.rights_record")  # fmt: skip
    client = signed_in(colleague)
    url = f"/persons/{person.person_no}/access/"
    everything = rows_of(client.get(url).content.decode())
    march = rows_of(client.get(url, {"date_from": "2026-03-01", "date_to": "2026-03-01"}).content.decode())
    # Today's: the import that created the person, applied for, approved and executed (the page's own view is
    # recorded as the request ends, so it is listed from the next one on).
    today = [row[3] for row in everything if row[0] > "2026-03-02"]
    assert today == ["执行批量变更", "批准批量变更", "申请批量变更"]
    assert march == [["2026-03-01 10:00:00", "环翠区", "clerk_hc", "查看个人权益记录", "—", "成功", "—"]]
    assert rows_of(client.get(url, {"date_to": "2026-02-28"}).content.decode()) == []
    later = rows_of(client.get(url, {"date_from": "2026-03-02"}).content.decode())
    assert later and all(row[0] > "2026-03-02" for row in later)
    for bad in ({"date_from": "2026-02-30"}, {"date_from": "2026-03-02", "date_to": "2026-03-01"}):
        response = client.get(url, bad)
        assert response.status_code == 400 and rows_of(response.content.decode()) == [], bad


@pytest.mark.req("B1")
def test_the_record_reads_in_english_too(huancui_clerk, signed_in, make_person, settings) -> None:  # type: ignore[no-untyped-def]
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    client = signed_in(huancui_clerk)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.get(f"/persons/{person.person_no}/rights/")
    html = client.get(f"/persons/{person.person_no}/access/").content.decode()
    assert "Access record" in html and "View rights record" in html and "Succeeded" in html
    assert "read.rights_record" not in html and "Other action" not in html and "Batch executed" in html


@pytest.mark.req("B1")
def test_the_record_lists_the_persons_review_requests_statements_and_archive(  # type: ignore[no-untyped-def]
    huancui_clerk, colleague, make_staff, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    other = make_person(id_number=HUANCUI_1970, name="李红")
    clerk = signed_in(huancui_clerk)
    for who, new_number in ((person, "371002196001010038"), (other, "371002197001010046")):
        # A new ID number is held for review, for each of the two persons.
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=who,
                      values={"id_number": new_number[:17] + check_digit(new_number[:17])})  # fmt: skip
    held_for_person = ChangeRequest.objects.get(entity="person", record_id=person.pk)
    reviewer = signed_in(make_staff("reviewer_hc", posts=("reviewer",), district="371002"))
    assert reviewer.get(f"/queues/review/{held_for_person.pk}/").status_code == 200
    issued = clerk.post(f"/persons/{person.person_no}/rights/statement/")
    assert issued.status_code == 200 and issued["Content-Type"] == "application/pdf"
    catalogue = clerk.get(f"/archives/person/{person.pk}/")

    html = signed_in(colleague).get(f"/persons/{person.person_no}/access/").content.decode()
    rows = rows_of(html)
    acts = [(row[2], row[3]) for row in rows]
    assert ("clerk_hc", "提交参保人员待审核") in acts
    assert ("reviewer_hc", "查看审核申请") in acts
    assert ("clerk_hc", "出具个人权益记录单") in acts
    assert catalogue.status_code == 200 and ("clerk_hc", "查看档案目录") in acts
    # The other person's request is not listed: one submission, one review-page view.
    assert [a for _w, a in acts].count("提交参保人员待审核") == 1
    assert all(row[3] != "其他操作" and not re.search(r"[a-z]_[a-z]|\.[a-z]", row[3]) for row in rows), rows
    assert "3710021960010100" not in html and "李红" not in html
