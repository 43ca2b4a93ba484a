"""System-assigned record numbers: ISO 7064 MOD 11-10, checked against python-stdnum as an oracle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_11_10

from sidms.lib import recordno


@pytest.mark.req("R6.1")
@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_the_check_digit_agrees_with_stdnum(body: str) -> None:
    assert mod_11_10.is_valid(body + recordno.check_digit(body))
    assert recordno.check_digit(body) == mod_11_10.calc_check_digit(body)


@pytest.mark.req("R6.1")
@given(st.integers(min_value=1, max_value=9_999_999))
def test_every_single_digit_error_is_caught(serial: int) -> None:
    number = recordno.compose("37", serial, 7)
    assert recordno.is_valid(number, "37", 7)
    for i in range(len(number)):
        for d in "0123456789":
            if d != number[i]:
                assert not recordno.is_valid(number[:i] + d + number[i + 1 :], "37", 7)


@pytest.mark.req("R6.1")
def test_nearly_every_adjacent_transposition_is_caught() -> None:
    total = caught = 0
    for serial in range(1, 200_000, 37):
        number = recordno.compose("37", serial, 7)
        for i in range(len(number) - 1):
            if number[i] != number[i + 1]:
                swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
                total += 1
                caught += not recordno.is_valid(swapped, "37", 7)
    assert caught / total > 0.97


@pytest.mark.req("R6.1")
def test_a_number_of_another_format_has_no_serial() -> None:
    assert recordno.serial_of("abc", "37", 7) is None
    assert recordno.serial_of("P000000001", "37", 7) is None
    assert recordno.serial_of(recordno.compose("37", 42, 7), "37", 7) == 42
    with pytest.raises(recordno.InvalidRecordNumber):
        recordno.compose("37", 10_000_000, 7)
