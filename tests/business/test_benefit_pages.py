"""The window's benefit pages (issue 8 §7, R2.2): 待遇核定 computes a benefit from the parameter table and
submits it for a second person's review; 待遇发放核查 lists the payments made after a death and the pensions
suspended for a lapsed certification, in the viewer's data scope, masked and audited, and records a
certification. Amounts are computed here by hand from the parameter table."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from sidms.audit.models import AuditEvent
from sidms.business.benefits import grant_pension
from sidms.business.ledger import run_through
from sidms.business.models import Entitlement
from sidms.business.parameters import value_at
from sidms.changes.models import ChangeRequest, Channel, ReviewStatus
from sidms.changes.services import submit_change
from tests.business.conftest import approved, laid_off
from tests.changes.conftest import id_number

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.2")
@pytest.mark.req("R7.2")
def test_the_window_computes_a_disability_grant_and_submits_it_for_review(
    insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    employee = insured["employee"]
    client = signed_in(huancui_clerk)
    url = f"/persons/{employee.person_no}/benefits/new/"
    with translation.override("zh-hans"):
        page = client.get(url, {"kind": "work_injury"}).content.decode()
        assert "待遇核定" in page and "伤残等级" in page and "王**" in page and "王建国" not in page
        form = {
            "kind": "work_injury",
            "injured": "2025-03-03",
            "on": "2025-06-10",
            "grade": "5",
            "own_wage": "6123.45",
        }
        shown = client.post(url, {**form, "action": "compute"}).content.decode()
    months = value_at("work_injury.disability_grant_months", date(2025, 6, 10))[5]
    expected = (Decimal("6123.45") * months).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert f"<strong>¥{expected:,}</strong>" in shown and "提交复核" in shown
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()  # computing submits nothing
    done = client.post(url, {**form, "action": "submit"})
    assert done.status_code == 302, (
        done.content.decode()[-3000:] and done["Location"] == f"/persons/{employee.person_no}/"
    )
    held = ChangeRequest.objects.get(entity="entitlement", status=ReviewStatus.PENDING)
    assert held.submitted_by_id == huancui_clerk.pk and not Entitlement.objects.exists()
    # The same appraisal again: the entry rule refuses it on the page, with its reason, in Chinese.
    client.post(url, {**form, "action": "submit"})  # a second held request (neither recorded yet)
    with translation.override("zh-hans"):
        bad = client.post(url, {**form, "grade": "11", "action": "compute"})
        assert bad.status_code == 200 and "伤残等级" in bad.content.decode()
        assert "<strong>" not in bad.content.decode()


@pytest.mark.req("R2.2")
@pytest.mark.req("R10.3")
def test_the_benefit_page_refuses_what_the_rules_refuse_and_other_districts(
    insured: dict[str, Any], huancui_clerk: Any, rushan_clerk: Any, city_reviewer: Any, signed_in: Any
) -> None:
    employee = insured["employee"]
    url = f"/persons/{employee.person_no}/benefits/new/"
    client = signed_in(huancui_clerk)
    form = {"kind": "unemployment", "start": "2026-01-15", "action": "submit"}
    with translation.override("zh-hans"):
        # Still employed and insured: refused with the rule's reason, nothing submitted.
        employed = client.post(url, form).content.decode()
        assert "仍在缴纳失业保险" in employed
        # Laid off, but no paid unemployment contributions: refused for the minimum months.
        laid_off(huancui_clerk, employee, "2025-12-31")
        page = client.post(url, form)
        text = page.content.decode()
    assert page.status_code == 200 and "少于" in text and "12" in text
    assert not ChangeRequest.objects.filter(entity="entitlement").exists()
    # Another district's clerk: the person does not exist for them; a reviewer has no window function.
    assert signed_in(rushan_clerk).get(url).status_code == 404
    assert signed_in(city_reviewer).get(url).status_code == 403


@pytest.mark.req("R2.2")
@pytest.mark.req("R10.3")
def test_benefit_checks_list_overpayments_and_suspensions_in_scope_and_certify(
    retiree: Any, make_person: Any, huancui_clerk: Any, rushan_clerk: Any, approver: Any, city_reviewer: Any,
    signed_in: Any,
) -> None:  # fmt: skip
    alive = make_person(id_number=id_number("37100219650220003"), name="陈健在", birth_date="1965-02-20")
    granted = {}
    for person in (retiree, alive):
        granted[person.pk] = approved(grant_pension(actor=huancui_clerk, person=person, category="male",
                                                    index=Decimal("1.2"), months=366), city_reviewer)  # fmt: skip
    for month in ("2025-02", "2025-03", "2025-04"):
        run_through(huancui_clerk, approver, "pension", month)
    submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="death",
                  values={"person_id": retiree.pk, "date_of_death": "2025-03-10", "source": "民政殡葬信息"})  # fmt: skip
    client = signed_in(huancui_clerk)
    with translation.override("zh-hans"):
        text = client.get("/business/benefits/", {"period": "2026-04"}).content.decode()
    overpaid, suspended_part = text.split("因未认证暂停发放")
    assert "死亡后多发待遇" in overpaid and "2025-04" in overpaid and retiree.person_no in overpaid
    assert "刘**" in overpaid and "刘退休" not in text
    # Last certified when granted (2025-02 and 2025-03): both lapsed by 2026-04, but a registered death
    # stops a pension rather than suspending it, so only the living recipient is listed to certify.
    assert alive.person_no in suspended_part and retiree.person_no not in suspended_part
    assert "陈**" in suspended_part and "记录今日认证" in suspended_part
    assert AuditEvent.objects.filter(action="read.benefit_checks").count() == 1
    # Another district sees neither list's rows, and may not certify.
    rushan = signed_in(rushan_clerk)
    other = rushan.get("/business/benefits/", {"period": "2026-04"}).content.decode()
    assert retiree.person_no not in other and alive.person_no not in other
    alive_grant = granted[alive.pk]
    assert rushan.post("/business/benefits/certify/", {"entitlement": alive_grant.pk}).status_code == 403
    # Certification from the list: recorded at once, and the pension is no longer suspended.
    answer = client.post("/business/benefits/certify/?period=2026-04", {"entitlement": alive_grant.pk})
    assert answer.status_code == 302 and answer["Location"] == "/business/benefits/?period=2026-04"
    assert Entitlement.objects.get(pk=alive_grant.pk).certified_on == timezone.localdate()
    with translation.override("zh-hans"):
        after = client.get("/business/benefits/", {"period": "2026-04"}).content.decode()
    assert alive.person_no not in after.split("因未认证暂停发放")[1]
    # A dead recipient is not certified (a certification would only hide the death).
    client.post("/business/benefits/certify/", {"entitlement": granted[retiree.pk].pk})
    assert Entitlement.objects.get(pk=granted[retiree.pk].pk).certified_on == date(2025, 2, 1)
