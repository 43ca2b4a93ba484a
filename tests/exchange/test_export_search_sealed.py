"""An export's search text (attack round 17): never searched from the export page's address, typed into the
page's own search box (which posts) instead; stored encrypted and bound to its request, read back to count,
to show the approver masked and to build the file at download; converted by a migration for the requests
stored before; re-encrypted by a key rotation; and a ciphertext put in from another request is refused by the
download and named by `sidms audit verify`. An ID number in the stated purpose is masked before it is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from sidms.audit.models import AuditEvent
from sidms.audit.verify import Broken, Report
from sidms.continuity.base import verify_sealed
from sidms.core.errors import IntegrityAlert
from sidms.core.keys import keyring
from sidms.exchange import exports
from sidms.exchange.models import ExportRequest
from sidms.lib.crypto import token_version
from tests.conftest import last_integrity_alert
from tests.continuity.conftest import key_file, security_admin
from tests.exchange.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10"), pytest.mark.req("R10.3")]

WANG, LI = id_number(11), id_number(13)

__all__ = ["key_file", "security_admin"]  # the key rotation's fixtures


@pytest.fixture
def people(make_person: Any) -> dict[str, Any]:
    return {"wang": make_person(id_number=WANG, name="王建国"), "li": make_person(id_number=LI, name="李红")}


@pytest.fixture
def approver(make_staff: Any) -> Any:
    return make_staff("export_approver", posts=("approver",), district="371000")


def stored(pk: int) -> tuple[Any, ...]:
    """The request's row as the database holds it (every column)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM exchange_exportrequest WHERE id = %s", [pk])
        return tuple(cursor.fetchone())


def plain_text(row: tuple[Any, ...]) -> str:
    return " ".join(bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row)


def test_an_id_number_in_the_address_is_refused_with_the_list_pages_words_and_a_name_is_kept(
    people: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    clerk = signed_in(huancui_clerk)
    page = clerk.get("/exchange/exports/new/persons/", {"q": WANG}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = page.content.decode()
    assert page.status_code == 200 and WANG not in html and WANG[:6] + "********" not in html
    assert "身份证号码不应出现在网址中" in html  # the list page's message
    assert 'name="q" type="search" value=""' in html  # the search box, empty, for the number to be typed
    by_name = clerk.get("/exchange/exports/new/persons/", {"q": "王建"}).content.decode()
    assert 'name="q" type="search" value="王建"' in by_name  # a name search from the list page is carried


def test_an_export_searched_by_id_number_in_the_search_box_holds_that_person(
    people: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    response = signed_in(huancui_clerk).post(
        "/exchange/exports/new/persons/",
        {"q": f" {WANG} ", "purpose": "核对身份", "format": "csv", "encoding": "utf-8-sig"},
    )
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert people["wang"].person_no in text and people["li"].person_no not in text
    request = ExportRequest.objects.get()
    assert request.query == WANG  # decrypted for the service, bound to this request
    assert WANG not in plain_text(stored(request.pk))
    read = AuditEvent.objects.get(action="read.person_export")
    assert json.loads(read.payload)["detail"]["by"] == "id_number" and WANG not in read.payload


def test_an_approver_sees_the_number_masked_and_the_requester_downloads_the_person_later(
    people: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any, set_parameter: Any
) -> None:
    set_parameter("export.approval_rows", 0)
    asked = exports.request_export(
        actor=huancui_clerk, entity="person", purpose="核对", query=WANG, fmt="csv"
    )
    assert asked.data is None and asked.request.row_count == 1
    listing = signed_in(approver).get("/exchange/exports/").content.decode()
    assert f"{WANG[:6]}********{WANG[-4:]}" in listing and WANG not in listing
    exports.decide_export(actor=approver, export_id=asked.request.pk, approve=True)
    done = exports.download_export(actor=huancui_clerk, export_id=asked.request.pk)
    assert done.data is not None
    text = done.data.decode("utf-8-sig")
    assert people["wang"].person_no in text and people["li"].person_no not in text
    assert WANG not in plain_text(stored(asked.request.pk))


@pytest.mark.req("R20")
def test_a_search_text_put_in_from_another_request_is_refused_and_named_by_verify(
    people: dict[str, Any], huancui_clerk: Any, approver: Any, set_parameter: Any
) -> None:
    """An export of 李红 approved, another of 王建国 asked for: the second one's ciphertext copied over the
    first's would have the approved export hand out 王建国, whom its approver never saw."""
    set_parameter("export.approval_rows", 0)
    wang = exports.request_export(actor=huancui_clerk, entity="person", purpose="甲", query=WANG).request
    li = exports.request_export(actor=huancui_clerk, entity="person", purpose="乙", query=LI).request
    exports.decide_export(actor=approver, export_id=li.pk, approve=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE exchange_exportrequest SET query = (SELECT query FROM exchange_exportrequest WHERE id = %s) "
            "WHERE id = %s",
            [wang.pk, li.pk],
        )
    with pytest.raises(Broken) as found:
        verify_sealed(Report(), {})
    assert found.value.problem.kind == "continuity" and f"#{li.pk}" in found.value.problem.where
    with pytest.raises(IntegrityAlert):
        exports.download_export(actor=huancui_clerk, export_id=li.pk)
    event, payload = last_integrity_alert()  # recorded, though the refused step rolled back
    assert event.object_id == str(li.pk) and payload["detail"]["reason"] == "ciphertext"  # type: ignore[attr-defined]
    assert ExportRequest.objects.filter(pk=li.pk).values_list("status", "downloaded_at").get() == (
        "approved",
        None,
    )


@pytest.mark.req("R17")
def test_a_key_rotation_re_encrypts_the_search_texts_and_they_still_read(
    key_file: Any, people: dict[str, Any], huancui_clerk: Any, security_admin: Any, set_parameter: Any
) -> None:
    from sidms.changes.verify import verify_store
    from sidms.continuity.keys import REENCRYPT_HOOKS, keys_rotate

    set_parameter("export.approval_rows", 0)
    asked = exports.request_export(actor=huancui_clerk, entity="person", purpose="核对", query=WANG).request
    before = keyring().current
    assert "export_queries" in REENCRYPT_HOOKS
    keys_rotate(actor=security_admin)
    keyring.cache_clear()
    assert keyring().current != before
    token = ExportRequest.objects.values_list("query", flat=True).get(pk=asked.pk)
    assert token_version(token.token) == keyring().current
    assert ExportRequest.objects.get(pk=asked.pk).query == WANG
    assert AuditEvent.objects.filter(action="export.reencrypt", object_id=str(asked.pk)).exists()
    assert verify_store().ok


@pytest.mark.req("R10")
def test_an_id_number_in_the_purpose_is_stored_and_printed_masked(
    people: dict[str, Any], huancui_clerk: Any
) -> None:
    done = exports.request_export(
        actor=huancui_clerk, entity="person", purpose=f"核查{WANG}的家庭成员", fmt="csv"
    )
    masked = f"{WANG[:6]}********{WANG[-4:]}"
    assert done.request.purpose == f"核查{masked}的家庭成员"
    assert done.data is not None and WANG not in done.data.decode("utf-8-sig")
    assert masked in done.data.decode("utf-8-sig").splitlines()[0]  # the watermark
    assert WANG not in plain_text(stored(done.request.pk))
    # A purpose stored whole before this was done is printed masked all the same.
    assert WANG not in exports.watermark(huancui_clerk, done.request.requested_at, f"核查{WANG}", "EX1")
