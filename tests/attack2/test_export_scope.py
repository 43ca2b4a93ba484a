"""Attack: an approver of one district reading and deciding the pending exports of another district, and
reading the search text (an ID number, a name) of the exports waiting for a decision.

The approval queue and the decision follow the data scope (R10.3): a district's approver sees and decides
the exports its own district's staff asked for, a city-level approver all of them; the search text is shown
masked where it could hold an ID number or a name."""

from __future__ import annotations

from typing import Any

import pytest

from sidms.audit.models import AuditEvent
from sidms.core.errors import NotPermitted
from sidms.exchange import exports
from sidms.exchange.models import ExportStatus
from tests.exchange.conftest import id_number

pytestmark = [pytest.mark.django_db, pytest.mark.req("R10.3")]


@pytest.fixture
def asked(make_person: Any, make_staff: Any, set_parameter: Any) -> dict[str, Any]:
    for i, name in ((1, "张三"), (3, "李四")):
        make_person(id_number=id_number(i), name=name)
        make_person(id_number=id_number(i, district="371083"), name=name, district="371083")
    set_parameter("export.approval_rows", 0)
    huancui = make_staff("hc_exporter", posts=("window_clerk",), district="371002")
    rushan = make_staff("rs_exporter", posts=("window_clerk",), district="371083")
    number = id_number(1, district="371083")
    return {
        "huancui": exports.request_export(actor=huancui, entity="person", purpose="核对", query=id_number(1)),
        "rushan": exports.request_export(actor=rushan, entity="person", purpose="核对", query=number),
        "rushan_name": exports.request_export(actor=rushan, entity="person", purpose="核对", query="张三"),
        "number": number,
        "huancui_approver": make_staff("hc_approver", posts=("approver",), district="371002"),
        "city_approver": make_staff("city_approver", posts=("approver",), district="371000"),
    }


def test_a_district_approver_sees_and_decides_only_its_district(asked: dict[str, Any]) -> None:
    mine = asked["huancui"].request
    theirs = asked["rushan"].request
    assert mine.status == theirs.status == ExportStatus.PENDING
    seen = set(exports.visible_exports(asked["huancui_approver"]).values_list("pk", flat=True))
    assert seen == {mine.pk}
    everything = set(exports.visible_exports(asked["city_approver"]).values_list("pk", flat=True))
    assert everything == {mine.pk, theirs.pk, asked["rushan_name"].request.pk}
    with pytest.raises(NotPermitted):
        exports.decide_export(actor=asked["huancui_approver"], export_id=theirs.pk, approve=True)
    theirs.refresh_from_db()
    assert theirs.status == ExportStatus.PENDING
    denied = AuditEvent.objects.filter(action="access.denied", object_type="export", object_id=str(theirs.pk))
    assert denied.count() == 1
    exports.decide_export(actor=asked["huancui_approver"], export_id=mine.pk, approve=True)
    exports.decide_export(actor=asked["city_approver"], export_id=theirs.pk, approve=False, reason="无依据")


def test_the_queue_page_shows_the_search_text_masked(asked: dict[str, Any], signed_in: Any) -> None:
    html = signed_in(asked["city_approver"]).get("/exchange/exports/").content.decode()
    assert asked["number"] not in html and "张三" not in html
    assert asked["number"][:6] + "********" + asked["number"][-4:] in html and "张*" in html
    own = signed_in(asked["huancui_approver"]).get("/exchange/exports/").content.decode()
    assert f"EX{asked['rushan'].request.pk}<" not in own and f"EX{asked['huancui'].request.pk}<" in own
