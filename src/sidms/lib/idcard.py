"""Citizen identity numbers (公民身份号码), GB 11643-1999.

Layout of the 18-character number::

    371002 19600101 001 1
    ^addr  ^birth   ^seq ^check (ISO 7064 MOD 11-2, "X" stands for 10)

Why this module exists instead of ``stdnum.cn.ric``:

* stdnum rejects a number when its address code did not exist *in the birth year*. But the address
  code records where the number was *issued*, which for most pensioners is decades after birth:
  ``371002196001010011`` (环翠区, created 1987, holder born 1960) and even the standard's own example
  ``440524188001010014`` are refused. For pension data that would reject most of the population.
* It raises ``KeyError`` (not a validation error) on some codes, has no future-date check and no
  15-digit support.
* Its birth-place lookup costs ~57 µs of its ~75 µs per number; bulk import needs the lean path.

We keep stdnum as a *test* oracle for the check digit only.

An unknown address code is therefore only a warning here, never an error.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

from sidms.lib.errors import StandardError

__all__ = [
    "PROVINCE_CODES",
    "IdNumber",
    "InvalidIdNumber",
    "check_digit",
    "normalise",
    "parse",
]

# ISO 7064 MOD 11-2: W_i = 2^(i-1) mod 11 counted from the right, i.e. 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
_WEIGHTS: tuple[int, ...] = tuple(pow(2, 17 - i, 11) for i in range(17))
# S mod 11 = 0..10 maps to these check characters.
_CHECK_CHARS = "10X98765432"

# First two digits of a GB/T 2260 code: the provincial-level divisions, plus 81/82/83, which the
# 2018 residence permits for Hong Kong, Macau and Taiwan residents use (810000/820000/830000).
PROVINCE_CODES: frozenset[str] = frozenset(
    {
        *("11", "12", "13", "14", "15"),
        *("21", "22", "23"),
        *("31", "32", "33", "34", "35", "36", "37"),
        *("41", "42", "43", "44", "45", "46"),
        *("50", "51", "52", "53", "54"),
        *("61", "62", "63", "64", "65"),
        *("71", "81", "82", "83"),
    }
)

# Nobody alive was born before this; the standard's own example is from 1880.
_EARLIEST_BIRTH = date(1880, 1, 1)

# GB 11643-1989 reserved sequence codes 996-999 for centenarians; the 1999 revision dropped them, so a
# 15-digit number with such a sequence belongs to someone born in the 1800s.
_CENTENARIAN_SEQUENCES = frozenset({"996", "997", "998", "999"})

_DIGITS = frozenset("0123456789")


class InvalidIdNumber(StandardError):
    """The text is not a valid GB 11643-1999 citizen identity number."""


@dataclass(frozen=True)
class IdNumber:
    """A parsed, valid identity number.

    ``number`` is always the normalised 18-character form (upper-case ``X``), also for 15-digit
    input, so it is what you store and index. ``warnings`` are Chinese sentences for the clerk and
    ``warning_codes`` the matching machine codes (same order).
    """

    number: str
    birth_date: date
    sex: str  # GB/T 2261.1: "1" male, "2" female
    address_code: str
    legacy15: bool = False
    warnings: tuple[str, ...] = ()
    warning_codes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Keep full ID numbers out of logs, tracebacks and debug output (no plaintext IDs in logs).
        return (
            f"IdNumber(number={self.masked!r}, legacy15={self.legacy15!r}, "
            f"warning_codes={self.warning_codes!r})"
        )

    @property
    def masked(self) -> str:
        """The number with the birth date hidden (the usual display form), e.g. ``371002********0011``."""
        return self.number[:6] + "*" * 8 + self.number[14:]

    @property
    def sequence(self) -> str:
        """The three-digit sequence code (positions 15-17)."""
        return self.number[14:17]

    @property
    def province_code(self) -> str:
        return self.number[:2]


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() would also accept full-width and other Unicode digits ("３", "٣", "²").
    return bool(text) and all(c in _DIGITS for c in text)


def check_digit(body17: str) -> str:
    """Return the MOD 11-2 check character ("0"-"9" or "X") for the first 17 digits."""
    if len(body17) != 17 or not _is_ascii_digits(body17):
        raise InvalidIdNumber(
            "characters",
            "计算校验码需要 17 位数字",
            "the check digit is computed from exactly 17 digits",
        )
    total = sum(int(c) * w for c, w in zip(body17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _upgrade15(number15: str) -> str | None:
    """Convert a structurally valid 15-digit number to 18 digits; None if its date is impossible."""
    if len(number15) != 15 or not _is_ascii_digits(number15):
        return None
    century = "18" if number15[12:15] in _CENTENARIAN_SEQUENCES else "19"
    body = number15[:6] + century + number15[6:]
    try:
        date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return None
    return body + check_digit(body)


def normalise(text: str) -> str:
    """Best-effort canonical form for a blind index; never raises.

    Strips and upper-cases; a 15-digit number with a real date is upgraded to 18 digits, so a person
    recorded once under the old and once under the new number gets the same index. Anything else is
    returned stripped and upper-cased, so that garbage still indexes consistently with itself.
    """
    cleaned = text.strip().upper()
    return _upgrade15(cleaned) or cleaned


def _check_characters(number: str) -> None:
    for position, char in enumerate(number, start=1):
        last = position == len(number)
        if char in _DIGITS or (char == "X" and last and len(number) == 18):
            continue
        shown = "空格" if char.isspace() else f"“{char}”"
        shown_en = "a space" if char.isspace() else repr(char)
        raise InvalidIdNumber(
            "characters",
            f"身份证号码第 {position} 位字符 {shown} 无效："
            "只能是数字，18 位号码的末位可以是 X（请使用半角字符）",
            f"ID number character {position} ({shown_en}) is invalid: only digits are allowed, "
            "and X as the last of 18 characters (use half-width characters)",
        )


def parse(
    text: str,
    *,
    today: date | None = None,
    known_address_codes: Container[str] | None = None,
) -> IdNumber:
    """Validate an identity number and return its parts.

    Accepts surrounding whitespace, a lower-case ``x`` and 15-digit numbers (GB 11643-1989, converted).
    Raises :class:`InvalidIdNumber` with ``reason`` one of ``length``, ``characters``, ``province``,
    ``birth_date``, ``future_birth_date``, ``check_digit``.

    ``known_address_codes`` (e.g. the region table, including superseded codes) turns an unknown
    address code into a *warning* ``unknown_address_code``; it is never an error because the code
    records where the number was issued and old codes legitimately persist.
    """
    parsed = _parse(text.strip().upper(), today or date.today())
    address_code = parsed.address_code
    if known_address_codes is not None and address_code not in known_address_codes:
        return replace(
            parsed,
            warnings=(
                *parsed.warnings,
                f"地址码 {address_code} 不在行政区划代码表中"
                "（地址码记录的是发证时的户籍地，可能是已撤销的旧代码），请核对",
            ),
            warning_codes=(*parsed.warning_codes, "unknown_address_code"),
        )
    return parsed


# An import meets each number three times per pass (the cell repair, the rule's check, the derivation of sex
# and birth date) and twice over (the dry run, then the execution): the result, a frozen value that depends
# only on the number and the day, is kept. Refusals are not kept (they are rare and raise afresh). 65,536
# numbers take ~30 MB (measured with tracemalloc).
@lru_cache(maxsize=65536)
def _parse(number: str, today: date) -> IdNumber:
    """parse() without the address-code check, on the stripped, upper-cased text."""
    if not number:
        raise InvalidIdNumber("length", "未填写身份证号码", "the ID number is empty")
    _check_characters(number)
    if len(number) not in (15, 18):
        raise InvalidIdNumber(
            "length",
            f"身份证号码应为 18 位（旧号码为 15 位），实际为 {len(number)} 位",
            f"an ID number has 18 characters (15 for old numbers), got {len(number)}",
        )

    warnings: list[str] = []
    codes: list[str] = []
    legacy15 = len(number) == 15

    if number[:2] not in PROVINCE_CODES:
        raise InvalidIdNumber(
            "province",
            f"身份证号码前两位 {number[:2]} 不是有效的省级行政区划代码",
            f"the ID number starts with {number[:2]}, which is not a province-level division code",
        )

    centenarian = legacy15 and number[12:15] in _CENTENARIAN_SEQUENCES
    body = number[:6] + ("18" if centenarian else "19") + number[6:] if legacy15 else number[:17]

    raw_date = body[6:14]
    try:
        birth = date(int(raw_date[:4]), int(raw_date[4:6]), int(raw_date[6:8]))
    except ValueError:
        raise InvalidIdNumber(
            "birth_date",
            f"身份证号码中的出生日期 {raw_date} 不是有效日期",
            f"the birth date {raw_date} in the ID number is not a real date",
        ) from None
    if birth < _EARLIEST_BIRTH:
        raise InvalidIdNumber(
            "birth_date",
            f"身份证号码中的出生日期 {birth.isoformat()} 早于 1880 年，不可能正确",
            f"the birth date {birth.isoformat()} in the ID number is before 1880",
        )
    if birth > today:
        raise InvalidIdNumber(
            "future_birth_date",
            f"身份证号码中的出生日期 {birth.isoformat()} 晚于今天（{today.isoformat()}）",
            f"the birth date {birth.isoformat()} in the ID number is after today ({today.isoformat()})",
        )

    expected = check_digit(body)
    if legacy15:
        number = body + expected
        warnings.append("15 位旧身份证号码，已按 GB 11643-1999 升位为 18 位")
        codes.append("legacy_15")
        if centenarian:
            warnings.append(
                f"旧号码顺序码 {number[14:17]} 为百岁老人专用，出生年份按 18{number[8:10]} 年推定，请核对"
            )
            codes.append("legacy_centenarian")
    elif number[17] != expected:
        raise InvalidIdNumber(
            "check_digit",
            f"身份证号码校验码错误：应为 {expected}，实际为 {number[17]}",
            f"ID number check digit is wrong: expected {expected}, got {number[17]}",
        )

    return IdNumber(
        number=number,
        birth_date=birth,
        sex="1" if int(number[16]) % 2 == 1 else "2",
        address_code=number[:6],
        legacy15=legacy15,
        warnings=tuple(warnings),
        warning_codes=tuple(codes),
    )
