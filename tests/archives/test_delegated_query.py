"""A query by a delegate (委托查询, R10.2): the window registers the delegate and the written authorisation; the
registration waits for a second person's review and, by the archive department's rule (issue 9, R7.4), for the
authorisation's scan accepted by an archive reviewer; only then, and until the date it names, may the
person's rights record be printed for the delegate, and the statement's audit event names the registration."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone, translation
from freezegun import freeze_time

from sidms.archives.services import archive_review, archive_upload, required_documents
from sidms.audit.models import AuditEvent
from sidms.business.rights import issue_statement
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import review_decide, submit_change
from sidms.changes.verify import verify_store
from sidms.core.errors import ChangeRefused
from sidms.registry.models import DelegatedQuery
from tests.archives.conftest import noise
from tests.changes.conftest import id_number, person_row

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.2")]

DELEGATE_ID = id_number("37100219750315002")  # 王**, the person's daughter


def _values(person: Any, **fields: Any) -> dict[str, Any]:
    values = {
        "person_id": person.pk,
        "delegate_name": "王丽娜",
        "delegate_id_number": DELEGATE_ID,
        "purpose": "办理房贷需社保缴费证明",
        "valid_until": (timezone.localdate() + timedelta(days=30)).isoformat(),
    }
    values.update(fields)
    return values


def _registered(clerk: Any, reviewer: Any, archivist: Any, person: Any, **fields: Any) -> DelegatedQuery:
    held = submit_change(actor=clerk, channel=Channel.WINDOW, entity="delegated_query",
                         values=_values(person, **fields)).held  # fmt: skip
    assert held is not None
    scan = archive_upload(actor=clerk, target_kind="change_request", target=held, doc_type="authorisation",
                          data=noise("PDF"))  # fmt: skip
    archive_review(actor=archivist, item_id=scan.pk, accept=True, reason="")
    review_decide(actor=reviewer, change_request_id=held.pk, approve=True)
    return DelegatedQuery.objects.get(person=person, delegate_name=fields.get("delegate_name", "王丽娜"))


@pytest.mark.req("R7.4")
def test_the_registration_waits_for_review_and_the_accepted_authorisation(
    data_dir, huancui_clerk, city_reviewer, archivist, person
) -> None:  # type: ignore[no-untyped-def]
    assert required_documents("delegated_query.create") == ["authorisation"]
    held = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="delegated_query",
                         values=_values(person)).held  # fmt: skip
    assert held is not None and not DelegatedQuery.objects.exists()  # nothing is registered by one person
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)
    assert refused.value.code == "archive_missing" and "授权委托书" in str(refused.value)
    assert ChangeRequest.objects.get(pk=held.pk).status == ReviewStatus.PENDING

    scan = archive_upload(actor=huancui_clerk, target_kind="change_request", target=held, doc_type="authorisation",
                          data=noise("PDF"))  # fmt: skip
    archive_review(actor=archivist, item_id=scan.pk, accept=True, reason="")
    review_decide(actor=city_reviewer, change_request_id=held.pk, approve=True)
    registration = DelegatedQuery.objects.get(person=person)
    assert registration.delegate_id_number == DELEGATE_ID
    # The delegate's ID number is a third party's: stored only as ciphertext, found by its blind index.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registry_delegatedquery")
        stored = repr(cursor.fetchall())
    assert DELEGATE_ID not in stored and DELEGATE_ID[6:14] not in stored
    assert verify_store().ok


def test_the_entry_rules_refuse_an_expired_an_open_ended_or_a_self_delegation(huancui_clerk, person) -> None:  # type: ignore[no-untyped-def]
    today = timezone.localdate()
    cases = {
        "delegation_expired": {"valid_until": (today - timedelta(days=1)).isoformat()},
        "delegation_too_long": {"valid_until": (today + timedelta(days=400)).isoformat()},
        "delegation_self": {"delegate_id_number": person.id_number, "delegate_name": person.name},
    }
    for code, fields in cases.items():
        with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
            submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="delegated_query",
                          values=_values(person, **fields))  # fmt: skip
        assert refused.value.code == code, code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in str(refused.value)), str(
            refused.value
        )  # said in Chinese
    assert not ChangeRequest.objects.filter(entity="delegated_query").exists()


@pytest.mark.req("R10")
def test_a_statement_for_a_delegate_needs_a_valid_registration_of_that_person_and_names_it(
    data_dir, huancui_clerk, city_reviewer, archivist, person, load
) -> None:  # type: ignore[no-untyped-def]
    registration = _registered(huancui_clerk, city_reviewer, archivist, person)
    issued = issue_statement(
        actor=huancui_clerk, person_key=person.person_no, delegated_query=registration.pk
    )
    event = AuditEvent.objects.get(action="statement.issue", object_id=issued.row.statement_id)
    assert json.loads(event.payload)["detail"]["delegated_query"] == registration.pk
    plain = issue_statement(actor=huancui_clerk, person_key=person.person_no)  # the person asking in person
    detail = json.loads(AuditEvent.objects.get(object_id=plain.row.statement_id).payload)["detail"]
    assert "delegated_query" not in detail

    other = load("person", [person_row(2, name="李另一")])[0]
    before = AuditEvent.objects.filter(action="statement.issue").count()
    for key, number in ((other.person_no, registration.pk), (person.person_no, registration.pk + 1000)):
        with pytest.raises(ChangeRefused) as refused:  # another person's registration, or none at all
            issue_statement(actor=huancui_clerk, person_key=key, delegated_query=number)
        assert refused.value.code == "delegation_unknown"
    with freeze_time(registration.valid_until + timedelta(days=1)), pytest.raises(ChangeRefused) as late:
        issue_statement(actor=huancui_clerk, person_key=person.person_no, delegated_query=registration.pk)
    assert late.value.code == "delegation_expired"
    assert AuditEvent.objects.filter(action="statement.issue").count() == before  # nothing issued


@pytest.mark.req("R10")
def test_the_window_prints_for_the_delegate_and_never_shows_the_delegates_number(
    data_dir, huancui_clerk, city_reviewer, archivist, person, signed_in
) -> None:  # type: ignore[no-untyped-def]
    registration = _registered(huancui_clerk, city_reviewer, archivist, person)
    client = signed_in(huancui_clerk)
    page = client.get(f"/persons/{person.person_no}/").content.decode()
    assert "办理房贷需社保缴费证明" in page and "王丽娜" not in page and "王**" in page
    assert DELEGATE_ID not in page and DELEGATE_ID[6:14] not in page
    rights = client.get(
        f"/persons/{person.person_no}/rights/?delegated_query={registration.pk}"
    ).content.decode()
    assert f'name="delegated_query" inputmode="numeric" size="10" value="{registration.pk}"' in rights
    url = f"/persons/{person.person_no}/rights/statement/"
    printed = client.post(url, {"delegated_query": str(registration.pk)})
    assert printed.status_code == 200 and printed["Content-Type"] == "application/pdf"
    refused = client.post(url, {"delegated_query": "12abc"}, follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert refused.redirect_chain[-1][0] == f"/persons/{person.person_no}/rights/"
    assert "没有" in refused.content.decode() or "无此" in refused.content.decode()


@pytest.mark.req("R9.2")
def test_a_delegates_number_copied_from_another_registration_is_named_by_verify(
    data_dir, huancui_clerk, city_reviewer, archivist, person, load
) -> None:  # type: ignore[no-untyped-def]
    first = _registered(huancui_clerk, city_reviewer, archivist, person)
    other = load("person", [person_row(3, name="张第三")])[0]
    second = _registered(huancui_clerk, city_reviewer, archivist, other, delegate_name="张小明",
                         delegate_id_number=id_number("37100219880808004"))  # fmt: skip
    assert verify_store().ok
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registry_delegatedquery SET delegate_id_number = "
            "(SELECT delegate_id_number FROM registry_delegatedquery WHERE id = %s), delegate_id_index = "
            "(SELECT delegate_id_index FROM registry_delegatedquery WHERE id = %s) WHERE id = %s",
            [first.pk, first.pk, second.pk],
        )
    report = verify_store()
    assert (
        not report.ok and "delegated_query" in report.problem.where and str(second.pk) in report.problem.where
    )
