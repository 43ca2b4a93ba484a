"""GB 11643-1999 citizen identity numbers (sidms.lib.idcard) and the shared error type."""

from __future__ import annotations

import copy
import pickle
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric as stdnum_ric
from stdnum.exceptions import ValidationError as StdnumValidationError

from sidms.lib import idcard
from sidms.lib.errors import StandardError
from sidms.lib.idcard import InvalidIdNumber

TODAY = date(2025, 6, 30)


def with_check(body17: str) -> str:
    """A number whose only possible defect is in its first 17 digits (the check digit is right)."""
    return body17 + idcard.check_digit(body17)


def reason_of(text: str) -> str:
    with pytest.raises(InvalidIdNumber) as info:
        idcard.parse(text, today=TODAY)
    return info.value.reason


# --- strategies -------------------------------------------------------------------------------------

provinces = st.sampled_from(sorted(idcard.PROVINCE_CODES))
four_digits = st.integers(0, 9999).map(lambda n: f"{n:04d}")
sequences = st.integers(0, 999).map(lambda n: f"{n:03d}")


@st.composite
def valid_bodies(draw: st.DrawFn) -> str:
    birth = draw(st.dates(min_value=date(1880, 1, 1), max_value=TODAY))
    return draw(provinces) + draw(four_digits) + birth.strftime("%Y%m%d") + draw(sequences)


@st.composite
def valid_legacy15(draw: st.DrawFn) -> str:
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)))
    sequence = draw(st.integers(0, 995).map(lambda n: f"{n:03d}"))
    return draw(provinces) + draw(four_digits) + birth.strftime("%y%m%d") + sequence


# --- accepting valid numbers ------------------------------------------------------------------------


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(
    ("text", "birth", "sex"),
    [
        ("11010519491231002X", date(1949, 12, 31), "2"),  # the standard's example
        ("440524188001010014", date(1880, 1, 1), "1"),  # the standard's example, born 1880
        ("371002196001010011", date(1960, 1, 1), "1"),  # 环翠区 resident born before 环翠区 existed
    ],
)
def test_valid_numbers_are_accepted_with_birth_date_and_sex(text: str, birth: date, sex: str) -> None:
    parsed = idcard.parse(text, today=TODAY)
    assert parsed.number == text
    assert parsed.birth_date == birth
    assert parsed.sex == sex
    assert parsed.address_code == text[:6]
    assert parsed.legacy15 is False
    assert parsed.warnings == ()
    assert parsed.warning_codes == ()


@pytest.mark.req("R7.3")
def test_stdnum_rejects_a_weihai_pensioner_whom_we_accept() -> None:
    # stdnum refuses address codes that did not exist in the birth year; the code records the place
    # of issue, so this is a valid number (环翠区 dates from 1987, the holder was born in 1960).
    with pytest.raises(StdnumValidationError):
        stdnum_ric.validate("371002196001010011")
    assert idcard.parse("371002196001010011", today=TODAY).number == "371002196001010011"


@pytest.mark.req("R7.3")
def test_lower_case_x_and_surrounding_whitespace_are_accepted() -> None:
    assert idcard.parse("  11010519491231002x\t\n", today=TODAY).number == "11010519491231002X"


@pytest.mark.req("R7.3")
def test_sex_follows_the_parity_of_the_sequence_code() -> None:
    odd = idcard.parse(with_check("37100219600101001"), today=TODAY)
    even = idcard.parse(with_check("37100219600101002"), today=TODAY)
    assert (odd.sex, even.sex) == ("1", "2")
    assert odd.sequence == "001"


@pytest.mark.req("R7.3")
def test_a_15_digit_number_is_upgraded_to_18_digits_with_a_warning() -> None:
    parsed = idcard.parse("441900890101221", today=TODAY)
    assert parsed.number == "441900198901012219"
    assert parsed.birth_date == date(1989, 1, 1)
    assert parsed.sex == "1"
    assert parsed.legacy15 is True
    assert parsed.warning_codes == ("legacy_15",)
    assert "升位" in parsed.warnings[0]


@pytest.mark.req("R7.3")
@pytest.mark.parametrize("sequence", ["996", "997", "998", "999"])
def test_a_15_digit_centenarian_sequence_means_born_in_the_1800s(sequence: str) -> None:
    parsed = idcard.parse("110105800101" + sequence, today=TODAY)
    assert parsed.birth_date == date(1880, 1, 1)
    assert parsed.number == with_check("11010518800101" + sequence)
    assert parsed.warning_codes == ("legacy_15", "legacy_centenarian")
    assert len(parsed.warnings) == 2


@pytest.mark.req("R7.3")
def test_a_15_digit_sequence_below_996_means_born_in_the_1900s() -> None:
    assert idcard.parse("110105800101995", today=TODAY).birth_date == date(1980, 1, 1)


@pytest.mark.req("R7.3")
@pytest.mark.parametrize("province", ["71", "81", "82", "83"])
def test_taiwan_and_residence_permit_codes_are_province_codes(province: str) -> None:
    number = with_check(province + "000019900101001")
    assert idcard.parse(number, today=TODAY).address_code == province + "0000"


@pytest.mark.req("R7.3")
def test_someone_born_today_is_accepted() -> None:
    number = with_check("371002" + TODAY.strftime("%Y%m%d") + "001")
    assert idcard.parse(number, today=TODAY).birth_date == TODAY


@pytest.mark.req("R7.3")
def test_29_february_of_a_leap_year_is_a_real_birth_date() -> None:
    assert idcard.parse(with_check("37100220000229001"), today=TODAY).birth_date == date(2000, 2, 29)


@pytest.mark.req("R7.3")
def test_an_unknown_address_code_is_a_warning_not_an_error() -> None:
    parsed = idcard.parse("371002196001010011", today=TODAY, known_address_codes={"371003", "371082"})
    assert parsed.number == "371002196001010011"
    assert parsed.warning_codes == ("unknown_address_code",)
    assert "371002" in parsed.warnings[0]


@pytest.mark.req("R7.3")
def test_a_known_address_code_gives_no_warning() -> None:
    parsed = idcard.parse("371002196001010011", today=TODAY, known_address_codes={"371002"})
    assert parsed.warning_codes == ()


@pytest.mark.req("R7.3")
def test_today_defaults_to_the_real_date() -> None:
    next_year = date.today().year + 1
    with pytest.raises(InvalidIdNumber) as info:
        idcard.parse(with_check(f"371002{next_year}0101001"))
    assert info.value.reason == "future_birth_date"


@pytest.mark.req("R19")
def test_repr_masks_the_birth_date_so_logs_do_not_carry_full_id_numbers() -> None:
    parsed = idcard.parse("371002196001010011", today=TODAY)
    assert "371002196001010011" not in repr(parsed)
    assert parsed.masked == "371002********0011"


# --- refusing invalid numbers -----------------------------------------------------------------------


@pytest.mark.req("R6.1")
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "length"),
        ("   ", "length"),
        ("37100219600101001", "length"),  # 17 digits
        ("3710021960010100111", "length"),  # 19 digits
        ("3710021960010100", "length"),  # 16 digits
        ("37100219600101001A", "characters"),
        ("3710021960010X0011", "characters"),  # X not in the last position
        ("37100219600101001１", "characters"),  # full-width digit
        ("371002 196001010011", "characters"),  # inner space
        ("37100260010100X", "characters"),  # 15-digit numbers have no check character
        ("371002196001010015", "check_digit"),
        ("991002196001010011", "province"),
        ("101002196001010011", "province"),
        ("99100260010100X", "characters"),
        ("991002600101001", "province"),  # 15-digit with a bad province
        ("371002601301001", "birth_date"),  # 15-digit, month 13
    ],
)
def test_malformed_numbers_are_refused_with_a_reason(text: str, reason: str) -> None:
    assert reason_of(text) == reason


@pytest.mark.req("R6.1")
@pytest.mark.parametrize(
    "body",
    [
        "37100219601301001",  # month 13
        "37100219600001001",  # month 0
        "37100219600132001",  # 32 January
        "37100219610229001",  # 29 February of a common year
        "37100218791231001",  # before 1880
    ],
)
def test_impossible_birth_dates_are_refused_even_with_a_correct_check_digit(body: str) -> None:
    assert reason_of(with_check(body)) == "birth_date"


@pytest.mark.req("R6.1")
def test_a_birth_date_after_today_is_refused() -> None:
    tomorrow = TODAY + timedelta(days=1)
    assert reason_of(with_check("371002" + tomorrow.strftime("%Y%m%d") + "001")) == "future_birth_date"


@pytest.mark.req("R6.1")
def test_the_check_digit_message_tells_the_clerk_what_was_expected() -> None:
    with pytest.raises(InvalidIdNumber) as info:
        idcard.parse("110105194912310025", today=TODAY)
    error = info.value
    assert error.reason == "check_digit"
    assert error.message == "身份证号码校验码错误：应为 X，实际为 5"
    assert error.message_en == "ID number check digit is wrong: expected X, got 5"
    assert str(error) == error.message


@pytest.mark.req("R6.1")
def test_the_characters_message_names_the_position_of_the_bad_character() -> None:
    with pytest.raises(InvalidIdNumber) as info:
        idcard.parse("3710021960O1010011", today=TODAY)
    assert "第 11 位" in info.value.message
    assert "character 11" in info.value.message_en


@pytest.mark.req("R6.1")
@pytest.mark.parametrize(
    "number", ["371002196001010015", "371002197002290011", "991002196001010011", "3710021960010100"]
)
def test_error_messages_never_repeat_the_full_number(number: str) -> None:
    with pytest.raises(InvalidIdNumber) as info:
        idcard.parse(number, today=TODAY)
    assert number not in info.value.message
    assert number not in info.value.message_en


@pytest.mark.req("R6.1")
def test_the_error_is_a_value_error_with_reason_and_two_messages_that_survives_pickling() -> None:
    with pytest.raises(ValueError) as info:
        idcard.parse("371002196001010015", today=TODAY)
    error = info.value
    assert isinstance(error, InvalidIdNumber)
    assert isinstance(error, StandardError)
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):  # noqa: S301 - our own bytes
        assert type(clone) is InvalidIdNumber
        assert (clone.reason, clone.message, clone.message_en) == (
            error.reason,
            error.message,
            error.message_en,
        )
        assert str(clone) == error.message


@pytest.mark.req("R6.1")
@pytest.mark.parametrize("body", ["3710021960010100", "371002196001010011", "3710021960010100X", "３" * 17])
def test_check_digit_refuses_anything_but_17_ascii_digits(body: str) -> None:
    with pytest.raises(InvalidIdNumber):
        idcard.check_digit(body)


# --- check digit against python-stdnum and round trips ----------------------------------------------


@pytest.mark.req("R7.3")
def test_check_digit_of_the_standard_examples() -> None:
    assert idcard.check_digit("11010519491231002") == "X"
    assert idcard.check_digit("44052418800101001") == "4"
    assert idcard.check_digit("44190019890101221") == "9"


@pytest.mark.req("R7.3")
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_our_check_digit_equals_stdnum_for_any_17_digits(body: str) -> None:
    # stdnum's calc_check_digit expects the whole number and ignores its last character.
    assert idcard.check_digit(body) == stdnum_ric.calc_check_digit(body + "0")


@pytest.mark.req("R7.3")
@given(valid_bodies())
def test_any_valid_number_round_trips_through_parse(body: str) -> None:
    number = with_check(body)
    parsed = idcard.parse(number, today=TODAY)
    assert parsed.number == number
    assert parsed.birth_date.strftime("%Y%m%d") == body[6:14]
    assert idcard.normalise(number.lower()) == number


@pytest.mark.req("R7.3")
@given(valid_bodies(), st.integers(0, 17), st.integers(1, 9))
def test_changing_any_single_digit_of_a_valid_number_is_detected(
    body: str, position: int, delta: int
) -> None:
    number = with_check(body)
    digits = "0123456789X" if position == 17 else "0123456789"
    original = digits.index(number[position])
    changed = number[:position] + digits[(original + delta) % len(digits)] + number[position + 1 :]
    with pytest.raises(InvalidIdNumber):
        idcard.parse(changed, today=TODAY)


@pytest.mark.req("R7.3")
@given(valid_legacy15())
def test_old_and_new_forms_of_a_number_normalise_to_the_same_value(number15: str) -> None:
    parsed = idcard.parse(number15, today=TODAY)
    upgraded = number15[:6] + "19" + number15[6:]
    assert parsed.number == with_check(upgraded)
    assert idcard.normalise(number15) == idcard.normalise(parsed.number) == parsed.number
    assert idcard.parse(parsed.number, today=TODAY).birth_date == parsed.birth_date


# --- normalise --------------------------------------------------------------------------------------


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("441900890101221", "441900198901012219"),
        ("110105800101996", "11010518800101996X"),  # centenarian sequence: born 1880
        (" 11010519491231002x ", "11010519491231002X"),
        ("371002196001010015", "371002196001010015"),  # wrong check digit: left alone
        ("371002601301001", "371002601301001"),  # 15 digits, impossible date: left alone
        (" abc ", "ABC"),
        ("", ""),
    ],
)
def test_normalise_upgrades_valid_15_digit_numbers_and_leaves_the_rest(text: str, expected: str) -> None:
    assert idcard.normalise(text) == expected


@pytest.mark.req("R7.3")
@given(st.text())
def test_normalise_never_raises(text: str) -> None:
    assert isinstance(idcard.normalise(text), str)


def _outcome(text: str, **kwargs: object) -> idcard.IdNumber | tuple[str, str, str]:
    try:
        return idcard.parse(text, **kwargs)  # type: ignore[arg-type]
    except InvalidIdNumber as error:
        return error.reason, error.message, error.message_en


@pytest.mark.req("R7.3")
@given(
    st.one_of(valid_bodies(), st.text(alphabet="0123456789Xx ", min_size=0, max_size=20)),
    st.sampled_from([None, frozenset({"371002"}), frozenset()]),
)
def test_a_number_parsed_again_gets_the_same_answer_as_the_first_time(
    text: str, known: frozenset[str] | None
) -> None:
    """An import parses each number in the cell repair, the rule's check and the derivation, in the dry run
    and again at execution; the later answers (kept from the first) are the same, warnings included."""
    idcard._parse.cache_clear()
    first = _outcome(text, today=TODAY, known_address_codes=known)
    assert _outcome(text, today=TODAY, known_address_codes=known) == first
    assert _outcome(f" {text.lower()} ", today=TODAY, known_address_codes=known) == first


@pytest.mark.req("R7.3")
def test_a_kept_answer_does_not_outlive_its_day_or_its_address_codes() -> None:
    number = with_check("37100220300101001")
    assert idcard.parse(number, today=date(2030, 1, 1)).birth_date == date(2030, 1, 1)
    with pytest.raises(InvalidIdNumber) as info:
        idcard.parse(number, today=date(2029, 12, 31))
    assert info.value.reason == "future_birth_date"
    assert idcard.parse(number, today=date(2030, 1, 1), known_address_codes=set()).warning_codes == (
        "unknown_address_code",
    )
    assert idcard.parse(number, today=date(2030, 1, 1), known_address_codes={"371002"}).warning_codes == ()
