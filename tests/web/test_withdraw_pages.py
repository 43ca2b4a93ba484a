"""撤回 on the pages: the page of a request, order, batch application or export that nobody has decided shows its
submitter (and only them) a withdraw button, a POST form carrying the CSRF token and asking for confirmation;
once withdrawn, the page and the submitter's own list say 已撤回 and the deciders' 待办 no longer count it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from sidms.changes.batches import batch_apply_update
from sidms.changes.maintenance import maintenance_apply
from sidms.changes.models import BatchApplication, ChangeRequest, Channel, MaintenanceOrder
from sidms.changes.services import review_decide, submit_change
from sidms.exchange import exports
from sidms.exchange.models import ExportRequest
from tests.web.test_dashboard import todo

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"
CONFIRM = "确定撤回？撤回后该申请不再等待审核，且不能恢复。"


@pytest.fixture
def person(make_person: Any) -> Any:
    return make_person(id_number=HUANCUI_1960, name="王建国")


@pytest.fixture
def reviewer(make_staff: Any) -> Any:
    return make_staff("reviewer_hc", posts=("reviewer",), district="371002")


def strict(client: Client) -> Client:
    """A client of the same session that checks CSRF tokens as a browser's requests are checked."""
    checked = Client(enforce_csrf_checks=True)
    checked.cookies = client.cookies
    return checked


def withdraw_form(page: str, action: str) -> str:
    """The withdraw form posting to ACTION on PAGE ("" when the page has none)."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>.*?</form>', page, re.S)
    return found.group(0) if found else ""


def token_of(form: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert found, form
    return found.group(1)


@pytest.mark.req("R7.3")
def test_the_submitter_withdraws_a_request_from_its_page_with_the_csrf_token_and_a_confirmation(
    huancui_clerk: Any, reviewer: Any, make_staff: Any, person: Any, signed_in: Any
) -> None:
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person, values={"name": "王建华"}
    ).held
    assert held is not None
    url, action = f"/queues/review/{held.pk}/", f"/queues/review/{held.pk}/withdraw/"
    reviewing = signed_in(reviewer)
    assert todo(reviewing.get("/").content.decode()) == {"待审核": 1}
    # The reviewer decides it, and does not withdraw it.
    assert withdraw_form(reviewing.get(url).content.decode(), action) == ""
    other = make_staff("clerk_hc2", posts=("window_clerk",), district="371002")
    assert signed_in(other).get(url).status_code == 404  # another clerk does not see it

    clerk = strict(signed_in(huancui_clerk))
    form = withdraw_form(clerk.get(url).content.decode(), action)
    assert f'data-confirm="{CONFIRM}"' in form and ">撤回</button>" in form
    assert clerk.post(action).status_code == 403  # no token, no withdrawal
    assert ChangeRequest.objects.get(pk=held.pk).status == "pending"

    done = clerk.post(action, {"csrfmiddlewaretoken": token_of(form)})
    assert done.status_code == 302 and done["Location"] == url
    page = clerk.get(url).content.decode()
    assert "已撤回" in page and "撤回人" in page and f"审核单 CR{held.pk} 已撤回，不再等待审核。" in page
    assert withdraw_form(page, action) == ""  # nothing left to withdraw
    mine = clerk.get("/queues/todo/change_request.mine/").content.decode()
    assert f"CR{held.pk}" in mine and "已撤回" in mine
    assert todo(reviewing.get("/").content.decode()) == {"待审核": 0}  # gone from the reviewer's 待审核
    refused = reviewing.post(f"/queues/review/{held.pk}/decide/", {"decision": "approve"})
    assert refused.status_code == 400 and "提交人已撤回该申请，无需再审核" in refused.content.decode()


@pytest.mark.req("R7.3")
def test_a_decided_request_offers_no_withdrawal_and_a_late_post_is_refused_in_chinese(
    huancui_clerk: Any, reviewer: Any, person: Any, signed_in: Any
) -> None:
    held = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=person, values={"name": "王建华"}
    ).held
    assert held is not None
    clerk = signed_in(huancui_clerk)
    review_decide(actor=reviewer, change_request_id=held.pk, approve=False, reason="证件不符")
    action = f"/queues/review/{held.pk}/withdraw/"
    assert withdraw_form(clerk.get(f"/queues/review/{held.pk}/").content.decode(), action) == ""
    late = clerk.post(action)  # a page opened before the decision
    assert late.status_code == 400 and "该申请已审核，不能撤回" in late.content.decode()
    assert ChangeRequest.objects.get(pk=held.pk).status == "rejected"


@pytest.mark.req("R9.3")
def test_the_applicant_withdraws_a_maintenance_order_from_its_page(
    huancui_clerk: Any, make_staff: Any, person: Any, signed_in: Any
) -> None:
    order = maintenance_apply(
        actor=huancui_clerk, entity="person", record=person, values={"address": "甲"}, reason="补充"
    )
    approver = make_staff("approver_hc", posts=("approver",), district="371002")
    url, action = f"/maintenance/{order.pk}/", f"/maintenance/{order.pk}/withdraw/"
    approving = signed_in(approver)
    assert withdraw_form(approving.get(url).content.decode(), action) == ""
    assert todo(approving.get("/").content.decode()) == {"待审批": 1}
    clerk = strict(signed_in(huancui_clerk))
    form = withdraw_form(clerk.get(url).content.decode(), action)
    assert CONFIRM in form
    assert clerk.post(action, {"csrfmiddlewaretoken": token_of(form)}).status_code == 302
    page = clerk.get(url).content.decode()
    assert "已撤回" in page and "申请人撤回" in page and withdraw_form(page, action) == ""
    assert MaintenanceOrder.objects.get(pk=order.pk).status == "withdrawn"
    assert todo(approving.get("/").content.decode()) == {"待审批": 0}


@pytest.mark.req("R9.3")
def test_the_applicant_withdraws_a_batch_application_from_its_page(
    huancui_clerk: Any, importers: tuple[Any, Any], person: Any, signed_in: Any
) -> None:
    batch = batch_apply_update(
        actor=huancui_clerk, entity="person", selection={"category": "employee"}, change={"postcode": "264200"},
        reason="邮编调整",
    )  # fmt: skip
    url, action = f"/batches/{batch.pk}/", f"/batches/{batch.pk}/withdraw/"
    approving = signed_in(importers[1])
    assert withdraw_form(approving.get(url).content.decode(), action) == ""
    clerk = strict(signed_in(huancui_clerk))
    page = clerk.get(url)
    assert page.status_code == 200, page
    form = withdraw_form(page.content.decode(), action)
    assert CONFIRM in form
    assert clerk.post(action, {"csrfmiddlewaretoken": token_of(form)}).status_code == 302
    page = clerk.get(url).content.decode()
    assert "已撤回" in page and "申请人已撤回该申请" in page and withdraw_form(page, action) == ""
    assert BatchApplication.objects.get(pk=batch.pk).status == "withdrawn"


@pytest.mark.req("R10.3")
def test_the_requester_withdraws_an_export_from_the_exports_page(
    huancui_clerk: Any, make_staff: Any, make_person: Any, person: Any, signed_in: Any, set_parameter: Any
) -> None:
    make_person(id_number="371002196001010038", name="李四")
    set_parameter("export.approval_rows", 1)
    asked = exports.request_export(actor=huancui_clerk, entity="person", purpose="年度核查").request
    action = f"/exchange/exports/{asked.pk}/withdraw/"
    approving = signed_in(make_staff("export_approver", posts=("approver",), district="371000"))
    listed = approving.get("/exchange/exports/").content.decode()
    assert f"EX{asked.pk}<" in listed and withdraw_form(listed, action) == ""
    clerk = strict(signed_in(huancui_clerk))
    form = withdraw_form(clerk.get("/exchange/exports/").content.decode(), action)
    assert CONFIRM in form
    assert clerk.post(action, {"csrfmiddlewaretoken": token_of(form)}).status_code == 302
    page = clerk.get("/exchange/exports/").content.decode()
    assert f"导出申请 EX{asked.pk} 已撤回，不再等待审批。" in page and "已撤回" in page
    assert ExportRequest.objects.get(pk=asked.pk).status == "withdrawn"
    assert f"EX{asked.pk}<" not in approving.get("/exchange/exports/").content.decode()
