"""Phone numbers (sidms.lib.phone): phonenumbers for CN plus the Weihai and service-number rules."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidms.lib import phone
from sidms.lib.phone import InvalidPhone, PhoneNumber


def reason_of(text: str) -> str:
    with pytest.raises(InvalidPhone) as info:
        phone.parse(text)
    return info.value.reason


def phonenumbers_accepts(text: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, "CN"))
    except phonenumbers.NumberParseException:  # e.g. "123…" read as an unknown country code
        return False


@pytest.mark.req("R7.2")
@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        " 13812345678 ",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "+8613812345678",
        "008613812345678",
    ],
)
def test_mobile_numbers_in_common_forms_normalise_to_11_digits(text: str) -> None:
    assert phone.parse(text) == PhoneNumber(number="13812345678", kind="mobile")


@pytest.mark.req("R7.2")
@pytest.mark.parametrize(
    "text",
    [
        "0631-5234567",
        "06315234567",
        "0631 523 4567",
        "(0631)5234567",
        "(0631) 523-4567",
        "+86 631 5234567",
        "+86 (0631) 5234567",
        "+86-631-5234567",
    ],
)
def test_weihai_landlines_normalise_to_area_dash_local(text: str) -> None:
    assert phone.parse(text) == PhoneNumber(number="0631-5234567", kind="fixed")


@pytest.mark.req("R7.2")
def test_landlines_elsewhere_keep_their_own_area_code_length() -> None:
    assert phone.parse("010-12345678").number == "010-12345678"
    assert phone.parse("0535-6123456").number == "0535-6123456"


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("text", ["0631-02345678", "0631-52345678"])
def test_a_weihai_landline_with_8_local_digits_is_refused(text: str) -> None:
    assert reason_of(text) == "weihai_local"


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("text", ["0631-523456", "0631-52345"])
def test_a_weihai_landline_with_too_few_local_digits_is_refused(text: str) -> None:
    assert reason_of(text) == "weihai_local"


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("text", ["0631-0234567", "0631-1234567"])
def test_a_weihai_local_number_starting_with_0_or_1_is_refused_although_phonenumbers_accepts_it(
    text: str,
) -> None:
    assert phonenumbers_accepts(text)  # the reason our own rule exists
    assert reason_of(text) == "weihai_local"


@pytest.mark.req("R7.2")
def test_the_weihai_message_says_what_a_local_number_looks_like() -> None:
    with pytest.raises(InvalidPhone) as info:
        phone.parse("0631-1234567")
    assert "7 位且首位为 2–9" in info.value.message
    assert "首位为 1" in info.value.message


@pytest.mark.req("R7.2")
@given(st.integers(0, 9_999_999).map(lambda n: f"{n:07d}"))
def test_any_7_digit_weihai_local_number_is_valid_exactly_when_it_starts_with_2_to_9(local: str) -> None:
    text = "0631-" + local
    if local[0] in "23456789":
        assert phone.parse(text) == PhoneNumber(number=text, kind="fixed")
    else:
        assert reason_of(text) == "weihai_local"


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("text", ["5234567", "52345678"])
def test_a_bare_local_number_without_area_code_is_refused(text: str) -> None:
    assert reason_of(text) == "invalid"


@pytest.mark.req("R7.2")
def test_the_149_prefix_follows_phonenumbers() -> None:
    # phonenumbers 9.0.x does not list 149 as a mobile range (Faker still produces it). If an upgrade
    # of its metadata allocates 149, this test fails on purpose so the change is noticed.
    assert phonenumbers_accepts("14912345678") is False
    assert reason_of("14912345678") == "invalid"
    assert phone.parse("14512345678").kind == "mobile"


@pytest.mark.req("R7.2")
@given(st.integers(10_000_000_000, 19_999_999_999).map(str))
def test_our_verdict_on_11_digit_mobiles_equals_phonenumbers(number: str) -> None:
    if phonenumbers_accepts(number):
        assert phone.parse(number) == PhoneNumber(number=number, kind="mobile")
    else:
        with pytest.raises(InvalidPhone):  # refused; the reason may be more precise than "invalid"
            phone.parse(number)


@pytest.mark.req("R7.2")
@settings(max_examples=2000)
@given(
    st.one_of(
        st.integers(10_000_000_000, 19_999_999_999).map(str),
        st.sampled_from(["12347001000", "17951138001", "12593138001"]),
    )
)
def test_the_compact_mobile_short_cut_builds_what_phonenumbers_parses(number: str) -> None:
    """parse() skips phonenumbers.parse for 11 bare digits starting with 1 and builds the number itself: the
    object it builds must be exactly what phonenumbers.parse returns, field for field."""
    phone._parse.cache_clear()
    try:
        slow = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        slow = None
    if phone._COMPACT_MOBILE.fullmatch(number) and not phone._DIALLING_PREFIX.match(number):
        assert slow == phonenumbers.PhoneNumber(country_code=86, national_number=int(number))
    assert _outcome(number) == _outcome_without_short_cut(number)


def _outcome_without_short_cut(text: str) -> PhoneNumber | tuple[str, str, str]:
    """parse() with the short cut switched off (its pattern matching nothing)."""
    saved = phone._COMPACT_MOBILE
    phone._COMPACT_MOBILE = re.compile(r"(?!)")
    phone._parse.cache_clear()
    try:
        return _outcome(text)
    finally:
        phone._COMPACT_MOBILE = saved
        phone._parse.cache_clear()


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("text", ["12333", "12345", "95518", "95519", "95588", "12366", "110", "120"])
def test_whitelisted_service_numbers_are_accepted(text: str) -> None:
    assert text in phone.SERVICE_NUMBERS
    assert not phonenumbers_accepts(text)  # why the whitelist is needed
    assert phone.parse(text) == PhoneNumber(number=text, kind="service")


@pytest.mark.req("R7.2")
def test_a_service_number_typed_with_a_space_is_recognised() -> None:
    assert phone.parse("123 33") == PhoneNumber(number="12333", kind="service")


@pytest.mark.req("R7.2")
def test_a_short_number_outside_the_whitelist_is_refused() -> None:
    assert "12399" not in phone.SERVICE_NUMBERS
    assert reason_of("12399") == "invalid"


@pytest.mark.req("R7.2")
def test_the_service_whitelist_is_an_immutable_set_of_short_digit_strings() -> None:
    assert isinstance(phone.SERVICE_NUMBERS, frozenset)
    assert all(n.isdigit() and 3 <= len(n) <= 5 for n in phone.SERVICE_NUMBERS)


@pytest.mark.req("R7.2")
@pytest.mark.parametrize(("text", "number"), [("400-812-3123", "4008123123"), ("800 810 1234", "8008101234")])
def test_400_and_800_hotlines_are_tollfree(text: str, number: str) -> None:
    assert phone.parse(text) == PhoneNumber(number=number, kind="tollfree")


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_phone_number_is_refused_as_empty(text: str) -> None:
    assert reason_of(text) == "empty"


@pytest.mark.req("R7.2")
@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "1-800-FLOWERS",  # phonenumbers would read the letters as digits
        "138 1234 5678 ext 12",
        "tel:+86-138-1234-5678",
        "１３８１２３４５６７８",  # full-width digits
        "138.1234.5678",
    ],
)
def test_text_with_anything_but_digits_plus_spaces_dashes_and_brackets_is_refused(text: str) -> None:
    assert reason_of(text) == "format"


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("text", ["+", "+-", "()"])
def test_punctuation_without_digits_is_refused_as_format(text: str) -> None:
    assert reason_of(text) == "format"


@pytest.mark.req("R7.2")
def test_a_foreign_number_is_refused() -> None:
    assert phonenumbers_accepts("+1 650 253 0000")
    assert reason_of("+1 650 253 0000") == "invalid"


@pytest.mark.req("R7.2")
def test_the_error_message_is_chinese_with_an_english_twin() -> None:
    with pytest.raises(InvalidPhone) as info:
        phone.parse("5234567")
    assert str(info.value).startswith("电话号码无效")
    assert info.value.message_en.startswith("the phone number is not valid")


_DIALLED = st.one_of(
    st.text(alphabet="0123456789", min_size=3, max_size=13),
    st.builds(lambda p, d: p + d, st.sampled_from(["1", "13", "15", "18", "0631", "010", "0535", "400", "800"]),
              st.text(alphabet="0123456789", min_size=4, max_size=9)),
)  # fmt: skip


@pytest.mark.req("R7.2")
@given(_DIALLED, st.sampled_from(["", "+86 ", "0086", "+1 "]))
def test_number_type_unknown_is_exactly_what_is_valid_number_refuses(digits: str, prefix: str) -> None:
    """parse() asks phonenumbers for the number type once and reads UNKNOWN as invalid, instead of calling
    is_valid_number and then number_type: the two must agree on every +86 number."""
    try:
        parsed = phonenumbers.parse(prefix + digits, "CN")
    except phonenumbers.NumberParseException:
        return
    if parsed.country_code != 86:
        return
    unknown = phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.UNKNOWN
    assert phonenumbers.is_valid_number(parsed) is not unknown


def _outcome(text: str) -> PhoneNumber | tuple[str, str, str]:
    try:
        return phone.parse(text)
    except InvalidPhone as error:
        return error.reason, error.message, error.message_en


@pytest.mark.req("R7.2")
@given(_DIALLED, st.sampled_from(["", " ", "+86 ", "(0631)"]))
def test_a_number_checked_again_gets_the_same_answer_as_the_first_time(digits: str, prefix: str) -> None:
    """An import checks each number in the dry run and again at execution; the second answer (kept from the
    first) is the same acceptance, the same normal form or the same refusal and message."""
    text = prefix + digits
    phone._parse.cache_clear()
    first = _outcome(text)
    assert _outcome(text) == first
    assert _outcome(" " + text + " ") == first
