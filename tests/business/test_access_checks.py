"""A person's access record lists 待遇发放核查 when the page showed them (B1). The page's audit event named
the persons it showed by row id (and the arrears list its units likewise), which the subject index
(sidms.audit.subjects.named) does not read, so the access record said these pages were not listed. The events
now name the persons, and the units, by their numbers under ``shown``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from sidms.audit.models import AuditEvent, AuditSubject
from sidms.business.ledger import run_through
from sidms.business.models import Entitlement
from tests.web.test_access_record import HUANCUI_1960, HUANCUI_1970, rows_of

pytestmark = [pytest.mark.django_db, pytest.mark.req("B1"), pytest.mark.req("R10.2")]


@pytest.fixture
def pensioners(make_person: Any, load: Any) -> dict[str, Any]:
    """王建国, whose pension is suspended for a certification lapsed in 2023, and 李红, certified last month."""
    wang = make_person(id_number=HUANCUI_1960, name="王建国", birth_date="1960-01-01", category="retiree")
    li = make_person(
        id_number=HUANCUI_1970, name="李红", sex="2", birth_date="1970-01-01", category="retiree"
    )
    recent = (timezone.localdate() - timedelta(days=31)).isoformat()
    load("entitlement", [
        {"person_id": str(wang.pk), "kind": "pension", "start_date": "2023-01-01", "monthly_amount": "2300.00",
         "basis": "测试", "status": "active", "certified_on": "2023-01-01"},
        {"person_id": str(li.pk), "kind": "pension", "start_date": "2023-01-01", "monthly_amount": "2100.00",
         "basis": "测试", "status": "active", "certified_on": recent},
    ])  # fmt: skip
    assert Entitlement.objects.count() == 2
    return {"wang": wang, "li": li}


def test_the_benefit_checks_page_is_on_the_record_of_each_person_it_showed_and_no_other(
    pensioners: dict[str, Any], huancui_clerk: Any, make_staff: Any, signed_in: Any
) -> None:
    wang, li = pensioners["wang"], pensioners["li"]
    with translation.override("zh-hans"):
        page = signed_in(huancui_clerk).get("/business/benefits/").content.decode()
    assert wang.person_no in page and li.person_no not in page
    event = AuditEvent.objects.get(action="read.benefit_checks")
    detail = json.loads(event.payload)["detail"]
    assert detail["shown"] == [wang.person_no] and detail["suspended"] == [wang.person_no]
    assert list(AuditSubject.objects.filter(seq=event.seq).values_list("entity", "record_key")) == [
        ("person", wang.person_no)
    ]
    window = signed_in(make_staff("clerk_hc2", posts=("window_clerk",), district="371002"))
    with translation.override("zh-hans"):
        wangs = rows_of(window.get(f"/persons/{wang.person_no}/access/").content.decode())
        lis = window.get(f"/persons/{li.person_no}/access/").content.decode()
    assert [row[2:4] for row in wangs if row[3] == "查看待遇发放核查"] == [["clerk_hc", "查看待遇发放核查"]]
    assert "待遇发放核查" not in "".join(cell for row in rows_of(lis) for cell in row)
    assert "待遇发放核查和欠费清单" not in lis  # the page no longer says the checks are not listed


def test_the_arrears_list_names_the_units_it_shows_by_their_numbers(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    unit = insured["unit"]
    run_through(huancui_clerk, approver, "assessment", "2025-01")  # assessed, never paid
    page = signed_in(huancui_clerk).get("/business/arrears/", {"cut_off": "2025-03-31"}).content.decode()
    assert unit.name in page
    event = AuditEvent.objects.get(action="read.arrears")
    assert json.loads(event.payload)["detail"]["shown"] == [unit.unit_no]
    # Units are named in the hashed detail, not indexed: no access record of a unit reads the index yet.
    assert not AuditSubject.objects.filter(seq=event.seq).exists()
