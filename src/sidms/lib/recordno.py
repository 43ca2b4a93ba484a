"""Record numbers assigned by the system (个人编号 AAC001, 单位编号 AAB001): a prefix, a serial and one
check digit by ISO 7064 MOD 11-10 (the hybrid system for numeric strings: one decimal check digit that
catches every single-digit error and about 98 % of adjacent transpositions — a typed number is refused, and
a misread one almost always).

    3700000017  =  "37" + serial 0000001 + check digit 7     (prefix "37", 7 serial digits)

Why not python-stdnum's `iso7064.mod_11_10`: stdnum is LGPL and serves this project as a test oracle
(tests/lib/test_recordno.py compares the two); the algorithm is six lines.
"""

from __future__ import annotations

from sidms.lib.errors import StandardError

__all__ = ["InvalidRecordNumber", "check_digit", "compose", "is_valid", "serial_of"]


class InvalidRecordNumber(StandardError):
    pass


def check_digit(body: str) -> str:
    """The MOD 11-10 check digit of a string of digits."""
    if not body.isdigit() or not body.isascii():
        raise InvalidRecordNumber("format", "编号只能由数字组成", "a record number has digits only")
    product = 10
    for ch in body:
        total = (int(ch) + product) % 10 or 10
        product = (total * 2) % 11
    return str((11 - product) % 10)


def compose(prefix: str, serial: int, serial_digits: int) -> str:
    if serial < 1 or serial >= 10**serial_digits:
        raise InvalidRecordNumber(
            "exhausted", "编号序列已用尽，请通知信息机构", "the number sequence is exhausted"
        )
    body = f"{prefix}{serial:0{serial_digits}d}"
    return body + check_digit(body)


def is_valid(number: str, prefix: str, serial_digits: int) -> bool:
    text = number.strip()
    return (
        len(text) == len(prefix) + serial_digits + 1
        and text.startswith(prefix)
        and text.isdigit()
        and text.isascii()
        and check_digit(text[:-1]) == text[-1]
    )


def serial_of(number: str, prefix: str, serial_digits: int) -> int | None:
    """The serial of a number in this format, or None for a number of another format (legacy)."""
    return int(number[len(prefix) : -1]) if is_valid(number, prefix, serial_digits) else None
