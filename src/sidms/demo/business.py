"""The business history of the demo (issue 8 §9), from January 2023 to the last complete month before today, written the way production writes it: the
enrolments, yearly bases, entitlements and deaths through approved import batches (the pipeline), and the
ledger only by runs applied for, approved and executed once — monthly assessments, the tax bureau's payment
extracts (a few units in arrears, one paying late), the year-end interest, pension payments, two pensions
transferred in from other regions (○ on their statements), with deaths
that stop payments and one registered too late (overpayments).

The months run to the last complete month before today (:func:`demo_periods`), so the current year's rights
record has contributions; the year-end interest is settled for the complete years only (a year's rate is
published after it ends).

The history covers at most ``MAX_EMPLOYEES`` current employees (and a share of flexible workers and
retirees): a million persons load their registry in the demo, but 36 months of ledger for all of them is a
benchmark's job (bench/business.py), not the demo's.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from sidms.business import calc
from sidms.business.accounts import outstanding
from sidms.business.benefits import disability_grant_values, maternity_values
from sidms.business.ledger import month_bounds, run_through
from sidms.business.models import LedgerEntry
from sidms.changes.batches import batch_apply_import, batch_decide, batch_execute
from sidms.registry.models import Employment, Person, Staff, Unit

MAX_EMPLOYEES = 1000
FIRST_YEAR = 2023
INSURANCES = ("110", "310", "210", "410")
ADULT_BY = date(2004, 1, 1)  # employees are enrolled from 2020-01-01: at least 16 then (劳动法 Art. 15)


def demo_periods(today: date | None = None) -> list[str]:
    """Every month from January 2023 to the last complete month before TODAY (default: today)."""
    day = today or timezone.localdate()
    last = day.year * 12 + day.month - 2  # the month before TODAY's, as a month index
    return [f"{i // 12}-{i % 12 + 1:02d}" for i in range(FIRST_YEAR * 12, last + 1)]


def load_business(*, progress: Callable[[str], None] = print, seed: int = 14) -> dict[str, int]:
    operator = Staff.objects.get(username="info_city")
    approver = Staff.objects.get(username="approver_city")
    rng = random.Random(seed)  # noqa: S311  (invented demo data)
    counts: dict[str, int] = {}
    periods = demo_periods()
    years = sorted({int(p[:4]) for p in periods})

    def load(entity: str, rows: list[dict[str, Any]], reason: str) -> None:
        if not rows:
            return
        batch = batch_apply_import(actor=operator, entity=entity, rows=iter(rows), reason=reason)
        batch_decide(actor=approver, batch_id=batch.pk, approve=True, reason="演示数据导入")
        counts[entity] = batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: iter(rows)).rows
        progress(f"  {entity}: {counts[entity]} rows")

    current = (
        Employment.objects.filter(end_date__isnull=True, person__birth_date__lte=ADULT_BY)
        .order_by("pk")
        .values_list("person_id", "unit_id", "start_date")[:MAX_EMPLOYEES]
    )
    hired = {p: (u, started) for p, u, started in current}  # one current job each (the last one listed)
    jobs = [(p, u) for p, (u, _started) in hired.items()]
    # Enrolled at the unit from the month the job began, and not before 2020 (社会保险法 Art. 58; the entry
    # rule of sidms.business.enrolment): a job that began in 2025 has no contributions for 2023.
    since = {p: max(date(2020, 1, 1), started.replace(day=1)) for p, (_u, started) in hired.items()}
    units = sorted({u for _p, u in jobs})
    classes = dict(Unit.objects.filter(pk__in=units).values_list("pk", "industry_risk_class"))
    load("unit_enrolment", [
        {"unit_id": str(u), "insurance": ins, "status": "paying", "start_date": "2000-01-01",
         **({"industry_class": classes.get(u) or "3", "tier": rng.choice(("80", "100", "120"))
             if (classes.get(u) or "3") != "1" else "100"} if ins == "410" else {})}
        for u in units for ins in INSURANCES
    ], "演示：单位参保登记")  # fmt: skip
    load("person_enrolment", [
        {"person_id": str(p), "insurance": ins, "kind": "employee", "unit_id": str(u), "status": "paying",
         "start_date": since[p].isoformat()}
        for p, u in jobs for ins in INSURANCES
    ], "演示：职工参保登记")  # fmt: skip
    flexible = list(
        Person.objects.filter(category="flexible").order_by("pk").values_list("pk", flat=True)[:100]
    )
    load("person_enrolment", [
        {"person_id": str(p), "insurance": "110", "kind": "flexible", "status": "paying", "start_date": "2021-01-01"}
        for p in flexible
    ], "演示：灵活就业人员参保登记")  # fmt: skip
    bases = []
    for year in years:
        for p, u in jobs:
            # Drawn for every job, before the year is skipped, so that the other jobs' wages stay as they were.
            wage = Decimal(rng.randint(2800, 19000))
            if since[p].year > year:
                continue  # no declaration for a year before the job
            bases.append({"person_id": str(p), "unit_id": str(u), "year": str(year),
                          "declared_wage": f"{wage:.2f}", "base": f"{calc.clamp(wage, year).base:.2f}"})  # fmt: skip
        for p in flexible:
            base = calc.limits_for(year).floor
            bases.append({"person_id": str(p), "year": str(year), "declared_wage": f"{base:.2f}",
                          "base": f"{base:.2f}"})  # fmt: skip
    load("base_declaration", bases, "演示：年度缴费基数申报")

    retirees = list(
        Person.objects.filter(category="retiree").order_by("pk").values_list("pk", flat=True)[:20]
    )
    pension = calc.pension(
        index=Decimal("1.0"), months=360, balance=Decimal("60000"), age=60, at=date(2025, 1, 1)
    )
    load("entitlement", [
        {"person_id": str(p), "kind": "pension", "start_date": "2025-01-01",
         "monthly_amount": f"{pension.total:.2f}", "basis": "演示：按计发基数、平均缴费指数 1.0、缴费 30 年核定",
         "status": "active", "certified_on": "2026-01-05" if i % 7 else "2023-06-01"}
        for i, p in enumerate(retirees)
    ], "演示：养老金待遇核定")  # fmt: skip
    # One-time benefits, computed from the parameter table as at the window: a work-injury disability grant
    # and a maternity allowance (paid by the monthly benefit run of their month).
    employees = [p for p, _u in jobs if since[p] <= date(2024, 1, 1)]  # insured well before the events below
    injured = Person.objects.filter(pk__in=employees, sex="1").order_by("pk").first()
    mother = Person.objects.filter(pk__in=employees, sex="2").order_by("pk").first()
    others = []
    if injured is not None:
        # Injured in March 2025, insured against work injury (410) since 2020: the fund pays (条例 Art. 62).
        others.append(disability_grant_values(person=injured, on=date(2025, 11, 20), grade=8,
                                              own_wage=Decimal("6500.00"), injured=date(2025, 3, 14)))  # fmt: skip
    if mother is not None and periods[-1] >= "2026-03":
        others.append(
            maternity_values(person=mother, birth=date(2026, 3, 10), unit_average_wage=Decimal("7200.00"))
        )
    load("entitlement", others, "演示：工伤、生育待遇核定")
    if retirees:  # registered in time: no payment after the month of death
        load("death", [{"person_id": str(retirees[0]), "date_of_death": "2025-05-20", "source": "公安户籍注销"}],
             "演示：死亡登记")  # fmt: skip

    arrears_units = set(units[::17])
    late_unit = units[1] if len(units) > 1 else None
    part_unit = units[2] if len(units) > 2 else None  # pays 60 % of each month from 2026: the rest is arrears
    for period in periods:
        year, month = int(period[:4]), int(period[5:7])
        run_through(operator, approver, "assessment", period, reason="演示：月度核定")
        if year >= 2025:
            run_through(operator, approver, "pension", period, reason="演示：养老金发放")
        rows = _payments(period, skip=arrears_units if (year, month) >= (2025, 10) else set(), late=late_unit,
                         part=part_unit if year >= 2026 else None)  # fmt: skip
        if rows:
            run_through(
                operator, approver, "payment", period, params={"rows": rows}, reason="演示：税务缴费明细"
            )
        if period == TRANSFER_PERIOD:
            _transfers(operator, approver, employees[3:5])
        if month == 12:
            run_through(operator, approver, "interest", str(year), reason="演示：年终结息")
            progress(f"  ledger {year}: assessed, paid, interest settled")
    progress(f"  ledger to {periods[-1]}: assessed and paid")
    if len(retirees) > 1:  # registered after the payments: they are overpayments to recover
        load("death", [{"person_id": str(retirees[1]), "date_of_death": "2025-08-03", "source": "民政殡葬信息"}],
             "演示：死亡登记（迟报）")  # fmt: skip
    counts["ledger_entry"] = LedgerEntry.objects.count()
    progress(f"  ledger entries: {counts['ledger_entry']}")
    return counts


# Two employees' pensions transferred in from Jinan and Beijing in June 2024 (国办发〔2009〕66号): 2022, before
# the demo's ledger begins, contributed there; shown ○ on the statements of 2022–2024.
TRANSFER_PERIOD = "2024-06"


def _transfers(operator: Any, approver: Any, persons: list[int]) -> None:
    rows = [
        {"person_id": p, "insurance": "110", "region": region, "received_on": f"{TRANSFER_PERIOD}-14",
         "balance": balance, "months": [{"period": f"2022-{m:02d}", "base": base} for m in range(1, 13)]}
        for p, (region, base, balance) in zip(
            persons, (("370102", "5200.00", "18650.40"), ("110105", "9800.00", "31277.15")), strict=False
        )
    ]  # fmt: skip
    if rows:
        run_through(operator, approver, "transfer_in", TRANSFER_PERIOD, params={"rows": rows},
                    reason="演示：养老保险关系外地转入")  # fmt: skip


def _payments(
    period: str, *, skip: set[int], late: int | None, part: int | None = None
) -> list[dict[str, Any]]:
    last = month_bounds(period)[1]
    due = outstanding(period)
    rows = []
    for unit_id, total in _sums(due.filter(unit__isnull=False).values("unit_id")):
        if unit_id in skip:
            continue
        paid_on = last if unit_id != late or period != "2025-09" else date(2025, 11, 14)
        if unit_id == part:
            total = (total * Decimal("0.6")).quantize(Decimal("0.01"))
        rows.append(
            {"unit_id": unit_id, "period": period, "amount": f"{total:.2f}", "paid_on": paid_on.isoformat()}
        )
    for person_id, total in _sums(due.filter(unit__isnull=True).values("person_id")):
        rows.append(
            {"person_id": person_id, "period": period, "amount": f"{total:.2f}", "paid_on": last.isoformat()}
        )
    return rows


def _sums(grouped: Any) -> Iterator[tuple[int, Decimal]]:
    for row in grouped.annotate(u=Sum("unit_amount"), i=Sum("individual_amount")).order_by():
        key = row.get("unit_id") or row.get("person_id")
        yield int(key), (row["u"] or Decimal(0)) + (row["i"] or Decimal(0))
