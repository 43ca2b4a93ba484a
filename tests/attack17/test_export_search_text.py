"""Attack round 17: an ID number as an export's search text.

The list page never searches an ID number given in its address ("an ID number must not be in a web address",
``web.records.views.record_list``), and its export link carries no ID number (``list_query``). The export page
takes the search text from its address all the same (``web.exchange.views.export_new``: ``q`` from GET, into a
hidden field of its form), so an address with an ID number is as useful there as before — bookmarked, in the
browser's history, in the proxy's and server's logs — and exports the persons it finds.

An export searched by ID number keeps the search text as typed in its request row
(``ExportRequest.query``, a plain text column): the ID number is in the database in plain text, beside every
person's ID number encrypted with its blind index (and in every backup), where the list page's search kept
only the way it was read. The approver is shown it masked (``shown_search``); the table holds it whole.

Fixed: the export page applies the list page's rule to its address (the same message), and takes the search
text in a search box of its form, which posts; the request stores the text encrypted, bound to the request
(``ExportRequest.query``, migration exchange 0002 for the rows stored before), and reads it back only to count
and build the file and to show it masked to the approver."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from sidms.exchange.models import ExportRequest
from tests.exchange.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10"), pytest.mark.req("R10.3")]

WANG = id_number(11)


@pytest.fixture
def wang(make_person: Any) -> Any:
    return make_person(id_number=WANG, name="王建国")


def test_an_id_number_in_the_export_pages_address_is_not_carried_into_its_form(
    wang: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    clerk = signed_in(huancui_clerk)
    listed = clerk.get("/persons/", {"q": WANG})
    assert listed.status_code == 200 and WANG not in listed.content.decode()  # the list page refuses it
    page = clerk.get("/exchange/exports/new/persons/", {"q": WANG})
    assert page.status_code == 200
    assert WANG not in page.content.decode()


def test_an_export_searched_by_id_number_does_not_store_it_in_plain_text(
    wang: Any, huancui_clerk: Any, signed_in: Any
) -> None:
    clerk = signed_in(huancui_clerk)
    response = clerk.post(
        "/exchange/exports/new/persons/",
        {"q": WANG, "purpose": "核对身份", "format": "csv", "encoding": "utf-8-sig"},
    )
    assert response.status_code == 200, response.status_code
    assert wang.person_no in response.content.decode("utf-8-sig")  # the export found him by his ID number
    assert ExportRequest.objects.count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM exchange_exportrequest")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert WANG not in stored
