"""Validators named by collection rules (R5). A rule names its validator; the names map here onto the
national standards in sidms.lib and onto the code tables, so rules stay data and standards stay code."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils.translation import get_language

from sidms.lib import email as email_lib
from sidms.lib import idcard, phone, uscc
from sidms.lib.errors import StandardError
from sidms.parameters.codes import district_codes, is_code, region_codes


class Invalid(ValueError):
    """A value a rule refuses, with the clerk's message in Chinese and English."""

    def __init__(self, reason: str, message: str, message_en: str) -> None:
        super().__init__(reason, message, message_en)
        self.reason = reason
        self.message = message
        self.message_en = message_en

    @classmethod
    def of(cls, error: StandardError) -> Invalid:
        return cls(error.reason, error.message, error.message_en)

    def __str__(self) -> str:
        return self.localized()

    def localized(self) -> str:
        return self.message_en if (get_language() or "").startswith("en") else self.message


@dataclass(frozen=True)
class Checked:
    value: Any  # the normalised value to store
    warnings: tuple[str, ...] = field(default=())


def _idcard(value: Any) -> Checked:
    try:
        parsed = idcard.parse(str(value), known_address_codes=region_codes())
    except idcard.InvalidIdNumber as error:
        raise Invalid.of(error) from None
    return Checked(parsed.number, parsed.warnings)


def _uscc(value: Any) -> Checked:
    try:
        return Checked(uscc.parse(str(value)).code)
    except uscc.InvalidCreditCode as error:
        raise Invalid.of(error) from None


def _phone(value: Any) -> Checked:
    try:
        return Checked(phone.parse(str(value)).number)
    except phone.InvalidPhone as error:
        raise Invalid.of(error) from None


def _email(value: Any) -> Checked:
    try:
        return Checked(email_lib.parse(str(value)))
    except email_lib.InvalidEmail as error:
        raise Invalid.of(error) from None


_NAME = re.compile(r"^[\u3400-\u9fff\uf900-\ufaffA-Za-z·・\.\- ]{2,50}$")


def _person_name(value: Any) -> Checked:
    text = str(value).strip()
    if not _NAME.match(text):
        raise Invalid(
            "name",
            "姓名应为 2 到 50 个汉字或字母，可含间隔号“·”，不能含数字或其他符号",
            "a name is 2 to 50 Chinese characters or letters, with '·' allowed, and no digits or symbols",
        )
    return Checked(text)


def _postcode(value: Any) -> Checked:
    text = str(value).strip()
    if not re.fullmatch(r"\d{6}", text):
        raise Invalid("postcode", "邮政编码应为 6 位数字", "a postcode has 6 digits")
    return Checked(text)


def _luhn_ok(digits: str) -> bool:
    # Luhn is five lines; a dependency for it would cost more than it saves.
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _bank_account(value: Any) -> Checked:
    digits = re.sub(r"[\s-]", "", str(value))
    if not re.fullmatch(r"\d{16,19}", digits):
        raise Invalid(
            "bank_account", "银行卡号应为 16 到 19 位数字", "a bank card number has 16 to 19 digits"
        )
    if not _luhn_ok(digits):
        raise Invalid(
            "bank_account_check", "银行卡号校验位错误，请核对", "the bank card number's check digit is wrong"
        )
    return Checked(digits)


def _date(value: Any) -> Checked:
    if isinstance(value, date):
        return Checked(value)
    try:
        return Checked(date.fromisoformat(str(value).strip()))
    except ValueError:
        raise Invalid("date", "日期格式应为 YYYY-MM-DD", "a date is written YYYY-MM-DD") from None


def _district(value: Any) -> Checked:
    code = str(value).strip()
    if code not in district_codes():
        raise Invalid("district", f"{code} 不是本市的区市代码", f"{code} is not a district of the city")
    return Checked(code)


def _region(value: Any) -> Checked:
    code = str(value).strip()
    if code not in region_codes():
        raise Invalid("region", f"{code} 不是已知的行政区划代码", f"{code} is not a known division code")
    return Checked(code)


def _code_table(table: str) -> Callable[[Any], Checked]:
    def check(value: Any) -> Checked:
        code = str(value).strip()
        if not is_code(table, code):
            raise Invalid("code", f"“{code}”不在代码表 {table} 中", f"{code!r} is not in code table {table}")
        return Checked(code)

    return check


def _choices(values: tuple[str, ...], what_zh: str, what_en: str) -> Callable[[Any], Checked]:
    def check(value: Any) -> Checked:
        code = str(value).strip()
        if code not in values:
            raise Invalid("code", f"{what_zh}取值无效", f"not a valid {what_en}")
        return Checked(code)

    return check


def _text(value: Any) -> Checked:
    return Checked(str(value).strip())


VALIDATORS: dict[str, Callable[[Any], Checked]] = {
    "": _text,
    "text": _text,
    "idcard": _idcard,
    "uscc": _uscc,
    "phone": _phone,
    "email": _email,
    "person_name": _person_name,
    "postcode": _postcode,
    "bank_account": _bank_account,
    "date": _date,
    "district": _district,
    "region": _region,
    "sex": _choices(("1", "2", "9"), "性别", "sex"),
    "risk_class": _choices(tuple(str(i) for i in range(1, 9)), "行业风险类别", "industry risk class"),
    "status": _choices(("active", "suspended", "closed"), "状态", "status"),
    "agency_level": _choices(("city", "district"), "级别", "level"),
}


def validator(name: str) -> Callable[[Any], Checked]:
    if name.startswith("code:"):
        return _code_table(name.removeprefix("code:"))
    try:
        return VALIDATORS[name]
    except KeyError:
        raise ValueError(f"unknown validator {name!r}") from None


def is_known_validator(name: str) -> bool:
    return name.startswith("code:") or name in VALIDATORS
