"""GB 32100-2015 unified social credit codes with the embedded GB 11714 code (sidms.lib.uscc)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from sidms.lib import uscc
from sidms.lib.uscc import InvalidCreditCode

VECTORS_FILE = Path(__file__).parent / "data" / "stdnum_uscc_vectors.txt"
WEIHAI = "91371082775260043P"  # 荣成, from stdnum's vectors


def load_vectors() -> list[str]:
    lines = (line.strip() for line in VECTORS_FILE.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def make_code(authority: str, category: str, division: str, org_body8: str) -> str:
    """A code that is correct in both check characters; tests then break exactly one thing."""
    body = authority + category + division + org_body8 + uscc.org_check_char(org_body8)
    return body + uscc.check_char(body)


def with_check(body17: str) -> str:
    return body17 + uscc.check_char(body17)


def reason_of(text: str) -> str:
    with pytest.raises(InvalidCreditCode) as info:
        uscc.parse(text)
    return info.value.reason


# --- real codes -------------------------------------------------------------------------------------


@pytest.mark.req("R7.3")
def test_all_200_real_codes_from_stdnum_pass_every_check() -> None:
    vectors = load_vectors()
    assert len(vectors) == 200
    refused = {}
    for code in vectors:
        try:
            uscc.parse(code)
        except InvalidCreditCode as exc:
            refused[code] = exc.reason
    assert refused == {}


@pytest.mark.req("R7.3")
def test_the_vector_file_agrees_with_stdnum() -> None:
    # Guards the copied data file itself: if it were garbled, the test above would prove little.
    assert all(stdnum_uscc.is_valid(code) for code in load_vectors())


@pytest.mark.req("R7.3")
def test_the_weihai_code_is_split_into_its_parts() -> None:
    parsed = uscc.parse(WEIHAI)
    assert parsed == uscc.CreditCode(
        code=WEIHAI,
        authority="9",
        authority_name="工商",
        category="1",
        category_name="企业",
        division_code="371082",
        org_code="775260043",
    )


@pytest.mark.req("R7.3")
def test_codes_registered_by_central_authorities_use_division_100000() -> None:
    # 北京理工大学教育基金会 (民政部) and 北京理工大学 (中央编办): real codes with division 100000.
    assert uscc.parse("53100000500021676K").category_name == "基金会"
    assert uscc.parse("12100000400009127B").division_code == "100000"


@pytest.mark.req("R7.3")
def test_surrounding_whitespace_and_lower_case_are_accepted() -> None:
    assert uscc.parse("  91371082775260043p \n").code == WEIHAI


@pytest.mark.req("R7.3")
def test_every_authority_and_category_in_the_table_is_accepted() -> None:
    for authority, (authority_name, categories) in uscc.AUTHORITIES.items():
        for category, category_name in categories.items():
            parsed = uscc.parse(make_code(authority, category, "371002", "MA3C4D5E"))
            assert (parsed.authority_name, parsed.category_name) == (authority_name, category_name)


@pytest.mark.req("R7.3")
def test_the_authority_table_matches_the_research_notes() -> None:
    table = {a: (name, dict(categories)) for a, (name, categories) in uscc.AUTHORITIES.items()}
    assert table["1"] == ("机构编制", {"1": "机关", "2": "事业单位", "3": "群团", "9": "其他"})
    assert table["5"] == ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"})
    assert table["9"] == ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"})
    assert set(table["N"][1]) == {"1", "2", "3", "9"}
    assert set(table["Y"][1]) == {"1"}
    assert set(table) == set("123456789ANY")
    for authority in "234678A":
        assert {"1", "9"} <= set(table[authority][1])


# --- check characters -------------------------------------------------------------------------------


@pytest.mark.req("R7.3")
def test_check_char_of_the_worked_example_is_3() -> None:
    assert uscc.check_char("91350100M000100Y4") == "3"


@pytest.mark.req("R7.3")
@pytest.mark.parametrize(
    ("body8", "expected"),
    [
        ("77526004", "3"),  # Weihai code
        ("MA2PBM9H", "X"),  # letters count A=10 ... Z=35; 11 - S mod 11 = 10 -> "X"
        ("07838201", "0"),  # 11 - S mod 11 = 11 -> "0"
        ("M000100Y", "4"),  # worked example in the notes
    ],
)
def test_org_check_char_follows_gb_11714(body8: str, expected: str) -> None:
    assert uscc.org_check_char(body8) == expected


@pytest.mark.req("R7.3")
@given(st.text(alphabet=uscc.ALPHABET, min_size=17, max_size=17))
def test_our_check_char_equals_stdnum_for_any_17_characters(body: str) -> None:
    assert uscc.check_char(body) == stdnum_uscc.calc_check_digit(body)


@pytest.mark.req("R7.3")
@given(st.sampled_from(load_vectors()), st.integers(0, 17), st.integers(1, 30))
def test_changing_any_single_character_of_a_real_code_is_detected(
    code: str, position: int, shift: int
) -> None:
    alphabet = "0123456789" if 2 <= position <= 7 else uscc.ALPHABET
    assume(code[position] in alphabet)  # keep the change inside the characters allowed there
    changed_char = alphabet[(alphabet.index(code[position]) + shift) % len(alphabet)]
    assume(changed_char != code[position])
    with pytest.raises(InvalidCreditCode):
        uscc.parse(code[:position] + changed_char + code[position + 1 :])


@pytest.mark.req("R6.1")
@pytest.mark.parametrize("body", ["9137108277526004", "91371082775260043P", "9137108277526004I"])
def test_check_char_refuses_anything_but_17_alphabet_characters(body: str) -> None:
    with pytest.raises(InvalidCreditCode):
        uscc.check_char(body)


@pytest.mark.req("R6.1")
@pytest.mark.parametrize("body", ["7752600", "775260043", "7752600-", "7752600a"])
def test_org_check_char_refuses_anything_but_8_digits_or_capitals(body: str) -> None:
    with pytest.raises(InvalidCreditCode):
        uscc.org_check_char(body)


# --- refusals ---------------------------------------------------------------------------------------


@pytest.mark.req("R6.1")
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "length"),
        ("  ", "length"),
        ("12345", "length"),
        ("91371082775260043", "length"),
        ("91371082775260043PP", "length"),
        ("91371082775260O43P", "characters"),  # O is excluded
        ("9137108277526004IP", "characters"),  # I is excluded
        ("913710827752600４3P", "characters"),  # full-width digit
        ("91 371082 775260043P", "characters"),  # stdnum strips inner spaces, we do not
        ("91371082-775260043P", "characters"),
        (with_check("9137A082775260043"), "characters"),  # letter inside the division code
        (make_code("B", "1", "371082", "77526004"), "authority"),
        (make_code("9", "4", "371082", "77526004"), "category"),
        (make_code("9", "9", "371082", "77526004"), "category"),  # 工商 has no "other" category
        (make_code("Y", "2", "371082", "77526004"), "category"),
        (make_code("1", "A", "371082", "77526004"), "category"),
        (make_code("9", "1", "991082", "77526004"), "division"),
        (make_code("9", "1", "001082", "77526004"), "division"),
        (make_code("9", "1", "101082", "77526004"), "division"),  # only exactly 100000 is national
        ("91371082775260043A", "check_char"),
        (with_check("91371082775260044"), "org_check"),
    ],
)
def test_malformed_codes_are_refused_with_a_reason(text: str, reason: str) -> None:
    assert reason_of(text) == reason


@pytest.mark.req("R6.1")
@pytest.mark.parametrize("letter", list("IOZSV"))
def test_each_excluded_letter_is_named_in_the_message(letter: str) -> None:
    with pytest.raises(InvalidCreditCode) as info:
        uscc.parse("91371082775260043" + letter)
    assert info.value.reason == "characters"
    assert "I、O、Z、S、V" in info.value.message
    assert "第 18 位" in info.value.message


@pytest.mark.req("R6.1")
def test_the_check_char_message_tells_the_clerk_what_was_expected() -> None:
    with pytest.raises(InvalidCreditCode) as info:
        uscc.parse("91371082775260043A")
    assert info.value.message == "统一社会信用代码校验码错误：应为 P，实际为 A"
    assert info.value.message_en == "credit code check character is wrong: expected P, got A"
    assert str(info.value) == info.value.message


@pytest.mark.req("R6.1")
def test_a_code_issued_with_a_broken_organisation_code_is_refused_as_org_check() -> None:
    # The overall check character is right, so stdnum accepts it; the embedded GB 11714 check is not.
    code = with_check("91371082775260044")
    assert stdnum_uscc.is_valid(code)
    with pytest.raises(InvalidCreditCode) as info:
        uscc.parse(code)
    assert info.value.reason == "org_check"
    assert "应为 3，实际为 4" in info.value.message


@pytest.mark.req("R6.1")
def test_the_category_message_lists_the_allowed_categories() -> None:
    with pytest.raises(InvalidCreditCode) as info:
        uscc.parse(make_code("9", "4", "371082", "77526004"))
    assert "1 企业、2 个体工商户、3 农民专业合作社" in info.value.message
