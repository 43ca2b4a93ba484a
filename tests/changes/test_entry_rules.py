"""Entry rules (R5, R6.1): what the window cannot let in. One person per ID number; sex and birth date agree
with it; record numbers come from the system, never from a keyboard; a person's phone is a phone; and the
data scope of a new record follows its declared path (an employment belongs to its person's district)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation
from stdnum.iso7064 import mod_11_10

from sidms.audit.models import AuditEvent
from sidms.changes.models import ChangeRequest, Channel
from sidms.changes.rules import rule_propose
from sidms.changes.services import review_decide, submit_change
from sidms.core.errors import ChangeRefused, NotPermitted
from sidms.lib import idcard
from sidms.registry.models import Employment, Person, Unit
from tests.archives.conftest import provide_documents
from tests.changes.conftest import WANG_ID, id_number, person_row

pytestmark = pytest.mark.django_db


def new_person(clerk: Any, row: dict[str, Any]) -> Any:
    values = {k: v for k, v in row.items() if k != "person_no"}
    return submit_change(actor=clerk, channel=Channel.WINDOW, entity="person", values=values)


def refusal_of(clerk: Any, row: dict[str, Any]) -> ChangeRefused:
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        new_person(clerk, row)
    return refused.value


# --------------------------------------------------------------------------------------------------------
# One person per ID number


@pytest.mark.req("R6.1")
@pytest.mark.req("R5")
def test_a_second_person_with_a_registered_id_number_is_refused_naming_the_record_in_scope(
    huancui_clerk, wang
) -> None:  # type: ignore[no-untyped-def]
    refusal = refusal_of(huancui_clerk, person_row(1, id_number=WANG_ID, birth_date="1960-01-01", sex="1"))

    assert refusal.code == "duplicate" and set(refusal.errors) == {"id_number"}
    message = refusal.errors["id_number"].localized()
    assert "已登记" in message and wang.person_no in message and "王建国" in message
    assert not ChangeRequest.objects.exists() and Person.objects.count() == 1


@pytest.mark.req("R6.1")
def test_the_fifteen_digit_form_of_a_registered_number_is_refused_too(huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    fifteen = WANG_ID[:6] + WANG_ID[8:17]  # 371002 600101 001: the 1989 form of the same number
    assert idcard.normalise(fifteen) == WANG_ID
    refusal = refusal_of(huancui_clerk, person_row(1, id_number=fifteen, birth_date="1960-01-01", sex="1"))
    assert refusal.code == "duplicate"


@pytest.mark.req("R6.1")
@pytest.mark.req("R10.3")
def test_in_another_district_the_message_names_nothing_and_is_the_same_as_for_any_registered_number(
    rushan_clerk, wang, make_person
) -> None:  # type: ignore[no-untyped-def]
    rushan_id = id_number("37108319850303003")
    make_person(id_number=rushan_id, name="孙乳山", district="371083", birth_date="1985-03-03", sex="1")

    elsewhere = refusal_of(
        rushan_clerk, person_row(1, district="371083", id_number=WANG_ID, birth_date="1960-01-01", sex="1")
    )
    message = elsewhere.errors["id_number"].localized()
    assert wang.person_no not in message and "王建国" not in message and "环翠" not in message

    # What a clerk learns of a number registered in their own district is the record itself; of a number
    # registered elsewhere, exactly what they would learn of any registered number: not where it is.
    assert "已登记" in message
    same_district = refusal_of(
        rushan_clerk, person_row(2, district="371083", id_number=rushan_id, birth_date="1985-03-03", sex="1")
    )
    assert same_district.code == elsewhere.code == "duplicate"


@pytest.mark.req("R6.1")
def test_a_number_waiting_in_another_new_record_is_a_duplicate_too(huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    first = new_person(huancui_clerk, person_row(11))
    assert first.held is not None  # a new person waits whole for review
    refusal = refusal_of(huancui_clerk, person_row(11, name="李重复"))
    assert refusal.code == "duplicate"
    assert ChangeRequest.objects.count() == 1


@pytest.mark.req("R6.1")
@pytest.mark.req("R5")
def test_if_the_rule_says_so_a_duplicate_is_held_for_review_as_suspected(
    make_staff, huancui_clerk, huancui_reviewer, wang
) -> None:  # type: ignore[no-untyped-def]
    admin, second = (make_staff(name, posts=("city_admin",), district="371000") for name in ("adm1", "adm2"))
    held = rule_propose(
        actor=admin, entity="person", field="id_number", required=True, validator="idcard", review_level="manual",
        crosschecks=["public_security", "civil_affairs"], on_duplicate="review", reason="户籍迁移重复建档，转人工核实",
    )  # fmt: skip
    review_decide(actor=second, change_request_id=held.pk, approve=True)

    outcome = new_person(huancui_clerk, person_row(1, id_number=WANG_ID, birth_date="1960-01-01", sex="1"))
    assert outcome.held is not None and outcome.held.note == "suspected_duplicate"
    assert Person.objects.count() == 1  # nothing is created before a reviewer decides


# --------------------------------------------------------------------------------------------------------
# Sex and birth date agree with the ID number


@pytest.mark.req("R6.1")
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("sex", "2", "男"), ("birth_date", "1980-02-01", "1980-01-01")],
)
def test_an_entered_sex_or_birth_date_that_disagrees_with_the_id_number_is_refused(
    huancui_clerk, field, value, expected
) -> None:  # type: ignore[no-untyped-def]
    row = person_row(1)  # 371002 19800101 001x: a man born on 1980-01-01
    row[field] = value
    refusal = refusal_of(huancui_clerk, row)
    assert set(refusal.errors) == {field}
    message = refusal.errors[field].localized()
    assert "公民身份号码" in message and "不符" in message and expected in message


@pytest.mark.req("R6.1")
def test_sex_and_birth_date_left_empty_are_derived_from_the_id_number(
    huancui_clerk, huancui_reviewer
) -> None:  # type: ignore[no-untyped-def]
    row = person_row(2)  # sequence 002: a woman
    del row["sex"], row["birth_date"]
    held = new_person(huancui_clerk, row).held
    provide_documents(held)
    review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
    person = Person.objects.get()
    assert (person.sex, person.birth_date.isoformat()) == ("2", "1980-01-01")


@pytest.mark.req("R6.1")
def test_a_new_id_number_that_disagrees_with_the_stored_sex_is_refused(huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    woman = id_number("37100219600101002")  # the same birth date, an even sequence
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        submit_change(
            actor=huancui_clerk,
            channel=Channel.WINDOW,
            entity="person",
            record=wang,
            values={"id_number": woman},
        )
    assert set(refused.value.errors) == {"sex"}
    assert not ChangeRequest.objects.exists()


# --------------------------------------------------------------------------------------------------------
# Record numbers come from the system


@pytest.mark.req("R6.1")
def test_a_typed_person_number_is_refused(huancui_clerk) -> None:  # type: ignore[no-untyped-def]
    row = person_row(3)
    row["person_no"] = "abc"
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="person", values=row)
    assert refused.value.errors["person_no"].code == "assigned_by_system"
    assert "系统自动分配" in refused.value.errors["person_no"].localized()


@pytest.mark.req("R6.1")
def test_new_records_get_consecutive_numbers_with_a_check_digit(huancui_clerk, huancui_reviewer) -> None:  # type: ignore[no-untyped-def]
    numbers = []
    for n in (4, 5):
        held = new_person(huancui_clerk, person_row(n)).held
        provide_documents(held)
        review_decide(actor=huancui_reviewer, change_request_id=held.pk, approve=True)
        held.refresh_from_db()
        numbers.append(Person.objects.get(pk=held.record_id).person_no)
    for number in numbers:
        assert len(number) == 10 and number.startswith("37") and mod_11_10.is_valid(number)  # the oracle
    assert int(numbers[1][:-1]) == int(numbers[0][:-1]) + 1


@pytest.mark.req("R6.1")
def test_a_person_number_cannot_be_changed(huancui_clerk, wang) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChangeRefused) as refused:
        submit_change(
            actor=huancui_clerk,
            channel=Channel.WINDOW,
            entity="person",
            record=wang,
            values={"person_no": "3700000017"},
        )
    assert refused.value.errors["person_no"].code == "identity"


# --------------------------------------------------------------------------------------------------------
# Phones


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("number", ["110", "12345", "10086", "95588", "4008123123"])
def test_a_persons_phone_is_a_mobile_or_landline_not_a_service_number(huancui_clerk, wang, number) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        submit_change(
            actor=huancui_clerk,
            channel=Channel.WINDOW,
            entity="person",
            record=wang,
            values={"phone": number},
        )
    assert "手机号码" in refused.value.errors["phone"].localized()


@pytest.mark.req("R7.2")
def test_a_units_service_line_may_be_a_service_number(huancui_clerk, make_unit) -> None:  # type: ignore[no-untyped-def]
    unit = make_unit(unit_no="U0001", name="威海市社会保险服务中心", district="371002")
    outcome = submit_change(
        actor=huancui_clerk, channel=Channel.WINDOW, entity="unit", record=unit, values={"phone": "12333"}
    )
    assert outcome.applied == ("phone",) and Unit.objects.get(pk=unit.pk).phone == "12333"


# --------------------------------------------------------------------------------------------------------
# Data scope by the declared path


@pytest.mark.req("R10.3")
@pytest.mark.req("R6.1")
def test_a_district_clerk_creates_an_employment_of_a_person_of_the_district(
    huancui_clerk, rushan_clerk, wang, make_unit
) -> None:  # type: ignore[no-untyped-def]
    unit = make_unit(
        unit_no="U0002", name="乳山市海产品有限公司", district="371083"
    )  # the unit may be anywhere
    values = {"person_id": wang.pk, "unit_id": unit.pk, "start_date": "2024-03-01"}

    with translation.override("zh-hans"), pytest.raises(NotPermitted, match="数据范围"):
        submit_change(actor=rushan_clerk, channel=Channel.WINDOW, entity="employment", values=values)
    assert not Employment.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied", actor="clerk_rs").exists()

    outcome = submit_change(actor=huancui_clerk, channel=Channel.WINDOW, entity="employment", values=values)
    employment = Employment.objects.get()
    assert outcome.record == employment and (employment.person, employment.unit) == (wang, unit)


@pytest.mark.req("R6.1")
def test_an_employment_of_a_person_who_does_not_exist_is_refused(
    huancui_clerk, make_unit, make_staff
) -> None:  # type: ignore[no-untyped-def]
    unit = make_unit(unit_no="U0003", name="环翠区某公司", district="371002")
    city_clerk = make_staff("clerk_city", posts=("window_clerk",), district="371000")
    with pytest.raises(ChangeRefused) as refused:
        submit_change(
            actor=city_clerk, channel=Channel.WINDOW, entity="employment",
            values={"person_id": 999999, "unit_id": unit.pk, "start_date": "2024-03-01"},
        )  # fmt: skip
    assert refused.value.errors["person_id"].code == "not_found"
    # Below the city level, a person that does not exist is simply outside the scope: nothing is revealed.
    with pytest.raises(NotPermitted):
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="employment",
            values={"person_id": 999999, "unit_id": unit.pk, "start_date": "2024-03-01"},
        )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Characters that look like others


@pytest.mark.req("R6.1")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("postcode", "２６４２００"),  # full-width digits, the input method in full-width mode
        ("bank_account", "６２２２０２１８１７４５３３０２０７３"),
        ("postcode", "٢٦٤٢٠٠"),  # Arabic-Indic digits are digits to \d too
    ],
)
def test_digits_not_typed_half_width_are_refused_saying_so(huancui_clerk, wang, field, value) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=wang, values={field: value}
        )
    assert "半角" in refused.value.errors[field].localized()
    assert Person.objects.get(pk=wang.pk).postcode != value


@pytest.mark.req("R6.1")
@pytest.mark.parametrize("mark", ["\u202e", "\u200b", "\x07", "\ufeff"])
def test_invisible_control_characters_are_refused(huancui_clerk, wang, mark) -> None:  # type: ignore[no-untyped-def]
    # A right-to-left override makes "路号21" read as "12号路" in lists and exports.
    with translation.override("zh-hans"), pytest.raises(ChangeRefused) as refused:
        submit_change(
            actor=huancui_clerk, channel=Channel.WINDOW, entity="person", record=wang,
            values={"address": f"威海市环翠区新威路{mark}12号"},
        )  # fmt: skip
    assert "不可见的控制字符" in refused.value.errors["address"].localized()
