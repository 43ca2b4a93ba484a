"""Staff pages of issue 8: enrolments and contributions on the person and unit pages, the rights record,
ledger runs, arrears per unit, and the parameters with their history for the city administrator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from sidms.audit.models import AuditEvent
from sidms.business.ledger import run_through
from sidms.business.models import AssessmentRun

pytestmark = pytest.mark.django_db


@pytest.mark.req("R10")
def test_person_and_unit_pages_show_enrolments_and_contributions(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    client = signed_in(huancui_clerk)
    with translation.override("zh-hans"):
        person = client.get(f"/persons/{insured['employee'].person_no}/").content.decode()
        assert "参保情况" in person and "979.75" in person and "个人权益记录" in person
        unit = client.get(f"/units/{insured['unit'].unit_no}/").content.decode()
        assert "参保情况" in unit and "120%" in unit
        rights = client.get(f"/persons/{insured['employee'].person_no}/rights/", {"cut_off": "2025-03-31"})
        assert rights.status_code == 200 and "△" in rights.content.decode()
    assert AuditEvent.objects.filter(action="read.rights_record").exists()


@pytest.mark.req("R8")
@pytest.mark.req("R20")
def test_the_person_page_reads_its_lists_in_a_bounded_number_of_queries_and_one_audit_write(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    url = f"/persons/{insured['employee'].person_no}/"
    client = signed_in(huancui_clerk)
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    client.get(url)  # warms the per-process caches (code tables, regions)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for period in ("2025-04", "2025-05", "2025-06"):
        run_through(huancui_clerk, approver, "assessment", period)
    with CaptureQueriesContext(connection) as more:
        page = client.get(url).content.decode()
    assert "2025-06" in page and len(more) == len(few)
    statements = [query["sql"] for query in more.captured_queries]
    # A list joins only the records its columns name: not a ledger entry's run with its parameters.
    assert not any("business_assessmentrun" in sql for sql in statements)
    # The record and its six lists are seven read events, appended together by one insert (on PostgreSQL in
    # one statement with the chain head's UPDATE: WITH appended AS (INSERT …) UPDATE …).
    assert sum('INSERT INTO "audit_auditevent"' in sql for sql in statements) == 1
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    request = json.loads(last.payload)["request"]
    reads = [
        event for event in AuditEvent.objects.filter(actor="clerk_hc").order_by("seq")
        if json.loads(event.payload)["request"] == request
    ]  # fmt: skip
    assert [event.action for event in reads] == [
        "read.person", "read.employment_list", "read.person_enrolment_list", "read.base_declaration_list",
        "read.entitlement_list", "read.delegated_query_list", "read.ledger_entry_list",
    ]  # fmt: skip
    assert len(json.loads(reads[-1].payload)["detail"]["shown"]) == 16  # 4 periods × 4 insurances


@pytest.mark.req("R10")
def test_a_view_of_the_rights_record_is_one_audit_event(
    insured: dict[str, Any], huancui_clerk: Any, rushan_clerk: Any, approver: Any, signed_in: Any
) -> None:
    """The rights-record page reads the person through the read door and records one event for the view,
    read.rights_record naming the person and the cut-off; another district's clerk is refused and recorded."""
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    person_no = insured["employee"].person_no
    clerk, other = signed_in(huancui_clerk), signed_in(rushan_clerk)
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    response = clerk.get(f"/persons/{person_no}/rights/", {"cut_off": "2025-03-31"})
    assert response.status_code == 200
    events = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
    assert [(e.action, e.object_type, e.object_id, e.outcome) for e in events] == [
        ("read.rights_record", "person", person_no, "ok")
    ]
    assert json.loads(events[0].payload)["detail"] == {"cut_off": "2025-03-31"}
    refused = other.get(f"/persons/{person_no}/rights/", {"cut_off": "2025-03-31"})
    assert refused.status_code == 404
    denied = AuditEvent.objects.filter(seq__gt=events[-1].seq).get()
    assert (denied.action, denied.object_id, denied.outcome) == ("read.person", person_no, "denied")


@pytest.mark.req("R9.1")
def test_runs_and_arrears_pages(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    clerk = signed_in(huancui_clerk)
    assert (
        clerk.post(
            "/business/runs/", {"action": "apply", "kind": "assessment", "period": "2025-03"}
        ).status_code
        == 302
    )
    run = AssessmentRun.objects.get()
    boss = signed_in(approver)
    boss.post("/business/runs/", {"action": "approve", "run": run.pk})
    clerk.post("/business/runs/", {"action": "execute", "run": run.pk})
    assert AssessmentRun.objects.get().status == "executed"
    page = clerk.get("/business/arrears/", {"cut_off": "2025-05-15"}).content.decode()
    assert "威海港务有限公司" in page and "2025-03" in page


@pytest.mark.req("R9.1")
def test_the_runs_list_pages_fifty_at_a_time_so_the_oldest_run_is_reached(
    insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    from sidms.business.ledger import run_apply

    periods = [f"{y}-{m:02d}" for y in (2021, 2022, 2023, 2024, 2025) for m in range(1, 13)][:55]
    for period in periods:
        run_apply(actor=huancui_clerk, kind="assessment", period=period)
    clerk = signed_in(huancui_clerk)
    with translation.override("zh-hans"):
        first = clerk.get("/business/runs/").content.decode()
        second = clerk.get("/business/runs/", {"page": "2"}).content.decode()
    assert first.count("<td>月度核定</td>") == 50 and "第 1 页，共 2 页" in first and 'rel="next"' in first
    assert (
        second.count("<td>月度核定</td>") == 5
        and "<td>2021-01</td>" in second
        and "<td>2021-01</td>" not in first
    )


@pytest.mark.req("R9.1")
@pytest.mark.req("R9.3")
def test_the_runs_list_shows_the_run_applied_for_last_first_whatever_its_period(
    insured: dict[str, Any], huancui_clerk: Any, signed_in: Any
) -> None:
    """Ordered by period as text, a year-end interest run ("2021") sorted below all of its year's months
    ("2021-01" … "2021-12"), and any run naming an old period (a correction, a transfer, a late assessment)
    sorted among the old runs: the run just applied for, waiting for its approver, was on the last page. The
    list is the run applied for last first; its period is still shown."""
    from sidms.business.ledger import run_apply

    periods = [f"{y}-{m:02d}" for y in (2021, 2022, 2023, 2024, 2025) for m in range(1, 13)][:55]
    for period in periods:
        run_apply(actor=huancui_clerk, kind="assessment", period=period)
    interest = run_apply(actor=huancui_clerk, kind="interest", period="2021")
    late = run_apply(actor=huancui_clerk, kind="payment", period="2021-02", params={"rows": []})
    clerk = signed_in(huancui_clerk)
    with translation.override("zh-hans"):
        first = clerk.get("/business/runs/").content.decode()
        second = clerk.get("/business/runs/", {"page": "2"}).content.decode()
    rows = [row for row in first.split("<tr>") if row.startswith("<td>")]
    assert rows[0].startswith(f"<td>{late.pk}</td>") and rows[1].startswith(f"<td>{interest.pk}</td>")
    assert "<td>2021</td>" in rows[1] and "<td>2021</td>" not in second
    # Then the assessments, the last applied for first: 2025-07 heads them, 2021-01 … 2021-07 are on page 2.
    assert "<td>2025-07</td>" in rows[2] and "<td>2021-01</td>" in second and "<td>2021-08</td>" in first
    stamp = AssessmentRun.objects.get(pk=late.pk).applied_at
    assert timezone.localtime(stamp).strftime("%Y-%m-%d %H:%M") in rows[0]


@pytest.mark.req("R9.1")
def test_the_parameter_pages_mark_examples_and_show_history(city_admin: Any, signed_in: Any) -> None:
    client = signed_in(city_admin)
    with translation.override("zh-hans"):
        table = client.get("/business/parameters/").content.decode()
        assert "示例值（待核对）" in table and "rate.medical.unit" in table
        detail = client.get("/business/parameters/export.approval_rows/").content.decode()
        assert "v1" in detail and "1000" in detail
    answer = client.post("/business/parameters/export.approval_rows/", {
        "value": "500", "effective_from": "2027-01-01", "source": "《威海市社会保险业务数据管理办法》",
        "reason": "收紧导出", "status": "V"})  # fmt: skip
    assert answer.status_code == 302 and "/queues/review/" in answer["Location"]


def parameter_row(page: str, key: str) -> str:
    """The parameter table's row of KEY."""
    [row] = [row for row in page.split("<tr>") if f'<span class="mono small">{key}</span>' in row]
    return row


@pytest.mark.req("R9.1")
@pytest.mark.req("R10")
def test_the_parameter_pages_show_amounts_as_money_and_rates_as_they_are(
    city_admin: Any, signed_in: Any
) -> None:
    """An amount in yuan reads ¥7,000.00 on the parameter pages, as money does on every staff page, in Chinese
    and in English; a rate, a ratio or a count is not money and reads as stored."""
    from django.conf import settings

    client = signed_in(city_admin)
    for language in ("zh-hans", "en"):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        table = client.get("/business/parameters/").content.decode()
        assert '<span class="mono">¥7,000.00</span>' in parameter_row(table, "pension.average_monthly_wage")
        assert '<span class="mono">¥2,200.00</span>' in parameter_row(table, "wage.minimum_monthly")
        assert "¥" in parameter_row(table, "wage.provincial_average_annual")
        assert '<span class="mono">0.16</span>' in parameter_row(
            table, "rate.pension.unit"
        )  # as stored, unquoted
        for not_money in ("rate.pension.unit", "base.floor_ratio", "unemployment.benefit_ratio",
                          "maternity.month_days", "unemployment.min_contribution_months"):  # fmt: skip
            assert "¥" not in parameter_row(table, not_money), not_money
        history = client.get("/business/parameters/wage.minimum_monthly/").content.decode()
        assert '<td class="mono">¥2,200.00' in history
    # The second administrator confirms a new amount on its review page: both values read as money.
    answer = client.post("/business/parameters/wage.minimum_monthly/", {
        "value": "2380", "effective_from": "2027-01-01", "source": "鲁政字〔2026〕1号", "reason": "调整最低工资",
        "status": "V"})  # fmt: skip
    assert answer.status_code == 302
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    review = client.get(answer["Location"]).content.decode()
    assert "¥2,200.00" in review and "¥2,380.00" in review and "2380<" not in review


@pytest.mark.req("R10")
def test_a_long_contribution_history_shows_its_latest_entries_on_the_person_page(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    from sidms.business.models import LedgerEntry

    for month in range(1, 8):
        run_through(huancui_clerk, approver, "assessment", f"2025-{month:02d}")
    employee = insured["employee"]
    entries = LedgerEntry.objects.filter(person=employee).order_by("-period", "-pk")
    assert entries.count() > 24
    shown = {entry.period for entry in entries[:24]}
    with translation.override("zh-hans"):
        page = signed_in(huancui_clerk).get(f"/persons/{employee.person_no}/").content.decode()
    assert "仅显示最近 24 条。" in page
    assert "2025-07" in page and "2025-01" not in page and "2025-01" not in shown


@pytest.mark.req("R10")
def test_money_reads_as_yuan_with_thousands_and_two_decimals_on_the_pages(
    insured: dict[str, Any], huancui_clerk: Any, approver: Any, signed_in: Any
) -> None:
    """Amounts read ¥7,180.00 (notes/ux-conventions.md): on the person page's lists, the records' own lists,
    the arrears and the rights record; before, 7180.00."""
    import re
    from decimal import Decimal

    from sidms.business.bases import declare_base
    from sidms.business.models import BaseDeclaration

    employee = insured["employee"]
    declare_base(actor=huancui_clerk, person=employee, unit=insured["unit"], year=2026, wage=Decimal("7180"))
    assert (
        BaseDeclaration.objects.get(person=employee, year="2026").declared_wage == "7180.00"
    )  # stored as typed
    run_through(huancui_clerk, approver, "assessment", "2025-03")
    client = signed_in(huancui_clerk)
    with translation.override("zh-hans"):
        person = client.get(f"/persons/{employee.person_no}/").content.decode()
        listed = client.get("/base-declarations/").content.decode()
        arrears = client.get("/business/arrears/", {"cut_off": "2025-05-15"}).content.decode()
        rights = client.get(
            f"/persons/{employee.person_no}/rights/", {"cut_off": "2025-12-31"}
        ).content.decode()
    for page in (person, listed):
        assert "<td>¥7,180.00</td>" in page and "7180.00" not in page
        assert "<td>¥6,123.45</td>" in page  # the 2025 base
    assert "<td>¥979.75</td>" in person  # the pension contribution of March, unit part (16 %)
    # Every amount of the arrears table and of the personal account is money, and none is left bare.
    money = re.compile(r"<td>-?¥\d{1,3}(,\d{3})*\.\d{2}</td>")
    for page in (arrears, rights):
        cells = re.findall(r"<td>-?¥?[\d,]+\.\d{2}</td>", page)
        assert cells and all(money.fullmatch(cell) for cell in cells), cells
    assert 'title="¥6,123.45"' in rights  # a month's base on the contribution grid


@pytest.mark.req("R9.2")
def test_a_conflict_shows_a_stored_amount_as_money_only_where_it_differs(
    insured: dict[str, Any],
    huancui_clerk: Any,
    make_staff: Any,
    make_unit: Any,
    make_employment: Any,
    signed_in: Any,
) -> None:
    """The value stored now is shown beside a field only where it differs from what was typed: compared as
    stored (a base of 16346.00 typed is the 16346.00 stored), shown as read (¥16,346.00; a unit by its
    name and number)."""
    from decimal import Decimal

    from sidms.business.bases import declare_base
    from sidms.business.models import BaseDeclaration

    employee, unit = insured["employee"], insured["unit"]
    # Above the year's ceiling: the base is the ceiling, whatever the wage declared above it.
    declare_base(actor=huancui_clerk, person=employee, unit=unit, year=2026, wage=Decimal("50000"))
    row = BaseDeclaration.objects.get(person=employee, year="2026")
    ceiling = Decimal(row.base)
    assert ceiling < Decimal("50000")
    form = {"version": row.version, "person_id": employee.person_no, "unit_id": unit.unit_no, "year": "2026",
            "declared_wage": "50000.00", "base": row.base}  # fmt: skip
    other = signed_in(make_staff("clerk_hc2", posts=("window_clerk",), district="371002"))
    moved = make_unit(unit_no="U3710020002", name="威海海之韵科技有限公司", district="371002")
    make_employment(employee, moved, "2026-02-01")  # also employed there in 2026: it may declare the base
    changed = {**form, "declared_wage": "60000.00", "unit_id": moved.unit_no}
    assert other.post(f"/base-declarations/{row.pk}/edit/", changed).status_code == 302
    assert BaseDeclaration.objects.get(pk=row.pk).base == row.base
    with translation.override("zh-hans"):
        response = signed_in(huancui_clerk).post(f"/base-declarations/{row.pk}/edit/", form)
    page = response.content.decode()
    assert response.status_code == 409 and "当前存储值： ¥60,000.00" in page
    assert "当前存储值： 威海海之韵科技有限公司（U3710020002）" in page  # not its database id
    # The base, the year and the person are as typed: nothing is shown beside them (the person was shown as
    # its database id beside its number).
    assert page.count("当前存储值：") == 2 and f"¥{ceiling:,}" not in page
