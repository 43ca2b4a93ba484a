"""Policy, business-handling and system parameters are versioned data (issue 8 §1, R2.3, R9.1): seeded from
the documented values with their sources, uncertain ones marked as examples, changed only by one city-level
system administrator with a second one's confirmation, readable as of any day and as known at any instant,
and vouched for by the audit chain."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from sidms.business.models import ParameterVersion
from sidms.business.parameters import (
    EXAMPLE_MARK,
    history,
    is_example,
    parameter_propose,
    value_at,
    version_at,
)
from sidms.changes.services import review_decide
from sidms.core.errors import ChangeRefused, NotPermitted, SeparationOfDuties
from sidms.lib.contributions import ROUND_HALF_UP, Rounding
from tests.audit.test_tampering import _raw, _unguarded, broken_at

pytestmark = pytest.mark.django_db


@pytest.mark.req("R2.3")
def test_seeded_values_carry_their_source_and_uncertain_ones_are_examples() -> None:
    assert value_at("rate.pension.unit", date(2025, 3, 1)) == Decimal("0.16")
    assert version_at("rate.pension.unit", date(2019, 4, 30)) is None  # not in force before 2019-05-01
    assert value_at("rounding.amount") == Rounding(Decimal("0.01"), ROUND_HALF_UP)
    assert value_at("work_injury.base_rates")[3] == Decimal("0.007")
    assert value_at("export.approval_rows") == 1000
    assert value_at("enrolment.exclusive_groups") == [["110", "120", "170"], ["310", "390"]]
    pension = version_at("rate.pension.unit")
    assert pension is not None and "国办发〔2019〕13号" in pension.source and not is_example(pension)
    medical = version_at("rate.medical.unit")
    assert medical is not None and medical.status == "U" and is_example(medical)
    assert EXAMPLE_MARK == "示例值（待核对）"


@pytest.mark.req("R2.3")
def test_a_yearly_parameter_is_read_as_of_the_day_asked() -> None:
    assert value_at("account.interest_rate", date(2023, 12, 31)) == Decimal("0.0397")
    assert value_at("account.interest_rate", date(2024, 1, 1)) == Decimal("0.0262")
    assert value_at("account.interest_rate", date(2025, 6, 30)) == Decimal("0.0150")


@pytest.mark.req("R9.1")
def test_a_change_takes_effect_only_when_a_second_city_administrator_confirms_it(
    city_admin: Any, second_admin: Any
) -> None:
    before = timezone.now()
    held = parameter_propose(
        actor=city_admin, key="export.approval_rows", value=500, effective_from=date(2026, 1, 1),
        source="《威海市社会保险业务数据管理办法》第二十条", reason="收紧批量导出",
    )  # fmt: skip
    assert value_at("export.approval_rows", date(2026, 6, 1)) == 1000  # proposed, not in force
    with pytest.raises(SeparationOfDuties):
        review_decide(actor=city_admin, change_request_id=held.pk, approve=True)
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
    assert value_at("export.approval_rows", date(2026, 6, 1)) == 500
    assert value_at("export.approval_rows", date(2025, 12, 31)) == 1000  # earlier days keep their value
    # As the table stood before the confirmation, the new version did not exist.
    assert value_at("export.approval_rows", date(2026, 6, 1), known_at=before) == 1000
    assert [v.version for v in history("export.approval_rows")] == [1, 2]


@pytest.mark.req("R9.1")
def test_only_a_city_level_system_administrator_proposes(make_staff: Any, city_admin: Any) -> None:
    clerk = make_staff("clerk_param", posts=("window_clerk",), district="371002")
    with pytest.raises(NotPermitted):
        parameter_propose(
            actor=clerk, key="late_fee.daily_rate", value="0.001", effective_from=date(2027, 1, 1),
            source="x", reason="y",
        )  # fmt: skip
    with pytest.raises(ChangeRefused) as refused:
        parameter_propose(
            actor=city_admin, key="late_fee.daily_rate", value="1.5", effective_from=date(2027, 1, 1),
            source="x", reason="y",
        )  # fmt: skip
    assert refused.value.code == "parameter_value"


@pytest.mark.req("R2.3")
def test_a_region_of_its_own_overrides_the_city_value(city_admin: Any, second_admin: Any) -> None:
    held = parameter_propose(
        actor=city_admin, key="rate.medical.unit", region="371083", value="0.09", effective_from=date(2020, 1, 1),
        source="乳山市医保局通知（示例）", reason="乳山费率", status="U",
    )  # fmt: skip
    review_decide(actor=second_admin, change_request_id=held.pk, approve=True)
    assert value_at("rate.medical.unit", date(2025, 1, 1), "371083") == Decimal("0.09")
    assert value_at("rate.medical.unit", date(2025, 1, 1), "371002") == Decimal("0.08")


@pytest.mark.req("R20")
def test_an_altered_parameter_version_is_named_by_verify() -> None:
    row = version_at("late_fee.daily_rate")
    assert row is not None
    restore = _unguarded("business_parameterversion")
    _raw("UPDATE business_parameterversion SET value = %s WHERE id = %s", ['"0.0001"', row.pk])
    restore()
    problem = broken_at()
    assert problem.kind == "parameter" and "late_fee.daily_rate" in problem.where


@pytest.mark.req("R20")
def test_a_deleted_parameter_version_is_named_by_verify() -> None:
    row = version_at("rate.pension.unit")
    assert row is not None
    restore = _unguarded("business_parameterversion")
    _raw("DELETE FROM business_parameterversion WHERE id = %s", [row.pk])
    restore()
    problem = broken_at()
    assert problem.kind == "parameter" and f"#{row.pk}" in problem.where
    assert not ParameterVersion.objects.filter(pk=row.pk).exists()
