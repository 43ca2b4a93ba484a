"""Attack: an import dry run as an oracle of where an ID number is registered.

The rule issue 7 item 9 made for a person entered at the window holds for the dry run too: a number
registered in the clerk's district, in another district (in its 18- or 15-digit form), or waiting in another
district's new-person review gets the same row message, and only a free number passes."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from sidms.changes.models import Channel
from sidms.changes.services import submit_change
from sidms.exchange import imports
from tests.exchange.conftest import HEADER, csv_bytes, id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.3"), pytest.mark.req("R6.1"), pytest.mark.req("B3")]


def row(number: str, name: str = "张三") -> list[str]:
    return [name, number, "男", "", "employee", "371002", ""]


def test_registered_here_elsewhere_or_waiting_elsewhere_reads_the_same(
    make_person: Any, rushan_clerk: Any
) -> None:
    here = id_number(1)
    elsewhere = id_number(3, district="371083")
    make_person(id_number=here, name="环翠人")
    make_person(id_number=elsewhere, name="乳山人", district="371083")
    waiting = id_number(5, district="371083")
    held = submit_change(actor=rushan_clerk, channel=Channel.WINDOW, entity="person", values={
        "id_number": waiting, "name": "待审人", "sex": "1", "birth_date": "1960-01-01", "category": "employee",
        "district_id": "371083", "status": "active"})  # fmt: skip
    assert held.held is not None  # a new person waits whole for review
    fifteen = elsewhere[:6] + elsewhere[8:17]
    free = id_number(7)
    with translation.override("zh-hans"):
        checked = imports.check_file(
            csv_bytes([HEADER, row(here), row(elsewhere), row(waiting), row(free)]), kind="persons"
        )
        alone = imports.check_file(csv_bytes([HEADER, row(fifteen)]), kind="persons")
    errors = {r.number: r.errors for r in checked.rows}
    assert errors[2] == errors[3] == errors[4] == alone.rows[0].errors != []
    assert "已登记" in errors[2][0] and "乳山" not in errors[3][0] and "环翠" not in errors[2][0]
    assert errors[5] == []
