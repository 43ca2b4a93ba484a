"""A person's access record shows the lists and exports that showed them among others (B1): a clerk's search
results page, a page of an export with the purpose its requester stated. Found by the audit log's subject
index (sidms.audit.subjects), written with each event; verification holds the index to the events, so that
deleting a row (an access hidden from the person) or inserting one is named by `sidms audit verify`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from sidms.audit.models import AuditEvent, AuditSubject
from sidms.changes.verify import verify_store
from sidms.core.guards import append_only_sql
from sidms.exchange import exports
from tests.exchange.conftest import id_number
from tests.web.test_access_record import HUANCUI_1960, HUANCUI_1970, local, rows_of

pytestmark = [pytest.mark.django_db, pytest.mark.req("B1")]

RUSHAN_1980 = id_number(7, born="19800101", district="371083")


@pytest.fixture
def persons(make_person: Any) -> dict[str, Any]:
    return {
        "wang": make_person(id_number=HUANCUI_1960, name="王建国"),
        "li": make_person(id_number=HUANCUI_1970, name="李红", sex="2"),
        "rushan": make_person(id_number=RUSHAN_1980, name="乳山人", district="371083"),
    }


@pytest.fixture
def window(make_staff: Any) -> Any:
    """The clerk at the window who shows a person their access record."""
    return make_staff("clerk_hc2", posts=("window_clerk",), district="371002", full_name="李四")


@pytest.fixture
def city_clerk(make_staff: Any) -> Any:
    return make_staff("clerk_city", posts=("window_clerk",), district="371000", full_name="市级经办")


def access_of(client: Any, person: Any) -> tuple[list[list[str]], str]:
    response = client.get(f"/persons/{person.person_no}/access/")
    assert response.status_code == 200
    html = response.content.decode()
    return rows_of(html), html


def test_a_search_results_page_is_on_the_record_of_each_person_it_showed_and_no_other(
    persons: dict[str, Any], huancui_clerk: Any, window: Any, signed_in: Any
) -> None:
    clerk = signed_in(huancui_clerk)
    listing = clerk.get("/persons/", {"q": "王"})
    assert listing.status_code == 200 and "王" in listing.content.decode()
    event = AuditEvent.objects.get(action="read.person_list", actor="clerk_hc")
    assert json.loads(event.payload)["detail"]["shown"] == [persons["wang"].person_no]
    assert list(AuditSubject.objects.filter(seq=event.seq).values_list("entity", "record_key")) == [
        ("person", persons["wang"].person_no)
    ]

    at_window = signed_in(window)
    rows, _html = access_of(at_window, persons["wang"])
    listed = [row for row in rows if row[3] == "查询参保人员"]
    # 时间, 经办机构, 经办人, 操作, 渠道, 结果, 用途: the list by its time, agency, account and act in words.
    assert listed == [[local(event.at), "环翠区", "clerk_hc", "查询参保人员", "—", "成功", "—"]]
    assert "王" not in "".join(row[3] for row in rows)  # not what was searched
    # Li was not on that page: her record does not list it.
    rows, _html = access_of(at_window, persons["li"])
    assert not [row for row in rows if row[3] == "查询参保人员"]


def test_a_browsing_page_lists_every_person_shown_but_not_the_others_on_it(
    persons: dict[str, Any], huancui_clerk: Any, city_clerk: Any, window: Any, signed_in: Any
) -> None:
    assert signed_in(huancui_clerk).get("/persons/").status_code == 200  # both of 环翠区, not 乳山人
    at_window = signed_in(window)
    for key in ("wang", "li"):
        rows, html = access_of(at_window, persons[key])
        assert [row[2] for row in rows if row[3] == "查询参保人员"] == ["clerk_hc"], key
        other = persons["li" if key == "wang" else "wang"]
        # Never the others the list showed: neither their number nor their name.
        assert other.person_no not in html and other.name not in html and other.name[0] + "*" not in html
    rushan_rows, _html = access_of(signed_in(city_clerk), persons["rushan"])
    assert not [row for row in rushan_rows if row[3] == "查询参保人员"]


@pytest.mark.req("R10.3")
def test_an_export_is_on_the_record_of_each_person_it_holds_with_its_number_and_purpose(
    persons: dict[str, Any],
    huancui_clerk: Any,
    city_clerk: Any,
    window: Any,
    signed_in: Any,
    set_parameter: Any,
) -> None:
    set_parameter("export.approval_rows", 100)
    done = exports.request_export(actor=huancui_clerk, entity="person", purpose="核对参保名单", fmt="csv")
    assert done.data is not None
    text = done.data.decode("utf-8-sig")
    assert persons["wang"].person_no in text and HUANCUI_1960 not in text  # the export channel's masks
    number = f"EX{done.request.pk}"
    read = AuditEvent.objects.get(action="read.person_export")
    assert json.loads(read.payload)["detail"]["export"] == number

    rows, html = access_of(signed_in(window), persons["wang"])
    exported = [row for row in rows if row[3].startswith("导出参保人员")]
    assert exported == [
        [local(read.at), "环翠区", "clerk_hc", f"导出参保人员 {number}", "—", "成功", "核对参保名单"]
    ]
    assert persons["li"].person_no not in html and "李红" not in html and "李*" not in html
    # The person outside the clerk's district was not in the file, and their record does not list it.
    rushan_rows, _html = access_of(signed_in(city_clerk), persons["rushan"])
    assert not [row for row in rushan_rows if row[3].startswith("导出")]
    assert persons["rushan"].person_no not in text


def test_the_access_records_date_filter_applies_to_lists_too(
    persons: dict[str, Any], huancui_clerk: Any, window: Any, signed_in: Any
) -> None:
    assert signed_in(huancui_clerk).get("/persons/", {"q": "王"}).status_code == 200
    at_window = signed_in(window)
    url = f"/persons/{persons['wang'].person_no}/access/"
    past = rows_of(at_window.get(url, {"date_to": "2020-01-01"}).content.decode())
    assert past == []
    today = rows_of(at_window.get(url, {"date_from": "2020-01-01"}).content.decode())
    assert [row[3] for row in today].count("查询参保人员") == 1


# --- the index is held to the chain -------------------------------------------------------------------------


def _raw(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _unguarded(table: str) -> None:
    """Drop the append-only triggers of TABLE, as an attacker with the schema owner's rights could."""
    with connection.cursor() as cursor:
        for statement in append_only_sql(connection.vendor, table, create=False):
            cursor.execute(statement)


def _broken(capsys: Any) -> tuple[Any, str]:
    report = verify_store()
    assert not report.ok, "verify said intact"
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_verify")
    assert exit_.value.code == 1
    return report.problem, capsys.readouterr().err


@pytest.fixture
def listed(persons: dict[str, Any], huancui_clerk: Any, signed_in: Any) -> AuditEvent:
    """A browsing page of 环翠区's persons, and a verification that finds it intact."""
    assert signed_in(huancui_clerk).get("/persons/").status_code == 200
    assert verify_store().ok
    return AuditEvent.objects.get(action="read.person_list", actor="clerk_hc")


@pytest.mark.req("R20")
def test_the_subject_index_is_guarded_as_the_events_are(listed: AuditEvent, persons: dict[str, Any]) -> None:
    for sql in (
        "DELETE FROM audit_auditsubject WHERE seq = %s",
        "UPDATE audit_auditsubject SET record_key = 'x' WHERE seq = %s",
    ):
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            _raw(sql, [listed.seq])
    assert AuditSubject.objects.filter(seq=listed.seq).count() == 2


@pytest.mark.req("R20")
def test_deleting_a_subject_row_to_hide_an_access_is_named_by_verify(
    listed: AuditEvent, persons: dict[str, Any], window: Any, signed_in: Any, capsys: Any
) -> None:
    wang = persons["wang"].person_no
    _unguarded("audit_auditsubject")
    _raw("DELETE FROM audit_auditsubject WHERE seq = %s AND record_key = %s", [listed.seq, wang])
    rows, _html = access_of(signed_in(window), persons["wang"])
    assert not [row for row in rows if row[3] == "查询参保人员"]  # hidden from the person …
    problem, err = _broken(capsys)  # … until verification
    assert problem.kind == "audit_subject"
    assert f"#{listed.seq}" in problem.where and wang in problem.where
    assert "deleted" in problem.message_en and f"#{listed.seq}" in err and wang in err


@pytest.mark.req("R20")
def test_a_false_subject_row_is_named_by_verify(
    listed: AuditEvent, persons: dict[str, Any], capsys: Any
) -> None:
    rushan = persons["rushan"].person_no
    _raw(
        "INSERT INTO audit_auditsubject (entity, record_key, seq) VALUES (%s, %s, %s)",
        ["person", rushan, listed.seq],
    )
    problem, err = _broken(capsys)
    assert problem.kind == "audit_subject" and rushan in problem.where and f"#{listed.seq}" in problem.where
    assert "inserted" in problem.message_en and rushan in err


@pytest.mark.req("R20")
def test_a_subject_row_for_an_event_that_does_not_exist_is_named_by_verify(
    listed: AuditEvent, persons: dict[str, Any], capsys: Any
) -> None:
    beyond = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0] + 1000
    _raw("INSERT INTO audit_auditsubject (entity, record_key, seq) VALUES (%s, %s, %s)",
         ["person", persons["li"].person_no, beyond])  # fmt: skip
    problem, _err = _broken(capsys)
    assert problem.kind == "audit_subject" and f"#{beyond}" in problem.where
