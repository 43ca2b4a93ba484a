"""Telephone numbers of persons and units (AAE005), mainland China only.

Validation is delegated to Google's libphonenumber metadata (``phonenumbers``, region CN), which knows
the allocated mobile prefixes and area-code lengths, plus two local rules it lacks:

* Weihai (area code 0631) local numbers have exactly 7 digits and start with 2-9. phonenumbers accepts
  local numbers starting with 0 or 1, which do not exist (0 is the trunk prefix, 1 starts special
  services), so a typo like ``0631-0234567`` would otherwise be stored as valid.
* Short service numbers (12333, 95518 …) are valid contact numbers for our purposes but invalid for
  phonenumbers, so they are whitelisted in :data:`SERVICE_NUMBERS`.

Normalised forms: mobile ``13812345678``; fixed line ``0631-5234567`` (area code with its 0, a dash,
the local number); 400/800 numbers ``4008123123``; service numbers the bare short number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

from sidms.lib.errors import StandardError

__all__ = ["SERVICE_NUMBERS", "InvalidPhone", "PhoneNumber", "parse"]

# Short numbers that people and units legitimately give as a contact number. Deliberately a short,
# curated list (each entry is a nationally assigned number); extend it when a real one is refused.
SERVICE_NUMBERS: frozenset[str] = frozenset(
    {
        # Emergency
        "110",  # 公安报警
        "119",  # 火警
        "120",  # 急救
        "122",  # 交通事故报警
        # Government hotlines (123xx)
        "12315",  # 市场监管投诉
        "12319",  # 城建
        "12320",  # 卫生健康
        "12329",  # 住房公积金
        "12333",  # 人力资源和社会保障
        "12345",  # 政务服务便民热线
        "12348",  # 公共法律服务
        "12351",  # 工会职工服务
        "12366",  # 税务
        "12393",  # 医疗保障
        # Telecom operators
        "10000",  # 中国电信
        "10010",  # 中国联通
        "10086",  # 中国移动
        # Insurers and banks (95xxx) that act for social insurance payments and benefits
        "95500",  # 太平洋保险
        "95511",  # 平安
        "95518",  # 人保财险
        "95519",  # 中国人寿
        "95533",  # 建设银行
        "95555",  # 招商银行
        "95559",  # 交通银行
        "95566",  # 中国银行
        "95580",  # 邮储银行
        "95588",  # 工商银行
        "95599",  # 农业银行
    }
)

WEIHAI_AREA_CODE = "631"  # without the trunk 0

# What a clerk may type: digits, "+", spaces, dashes and brackets. phonenumbers itself is far more
# lenient (letters as in 1-800-FLOWERS, "tel:" URIs, "ext. 12"), which we do not want in stored data.
_ALLOWED = re.compile(r"[0-9+\-() ]+")
_SEPARATORS = re.compile(r"[\-() ]")

_KINDS: dict[int, str] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed",
    PhoneNumberType.TOLL_FREE: "tollfree",  # 800
    # 400 numbers are shared-cost, not toll-free, but both are non-geographic business hotlines and are
    # stored and shown the same way.
    PhoneNumberType.SHARED_COST: "tollfree",
}


class InvalidPhone(StandardError):
    """The text is not a usable mainland-China telephone number."""


@dataclass(frozen=True)
class PhoneNumber:
    number: str  # normalised, see module docstring
    kind: str  # "mobile" | "fixed" | "service" | "tollfree"


def _invalid(detail: str, detail_en: str) -> InvalidPhone:
    return InvalidPhone(
        "invalid",
        f"电话号码无效：{detail}",
        f"the phone number is not valid: {detail_en}",
    )


def parse(text: str) -> PhoneNumber:
    """Validate and normalise a phone number (accepts +86/0086, spaces, dashes, brackets).

    Raises :class:`InvalidPhone` with ``reason`` one of ``empty``, ``format``, ``invalid``,
    ``weihai_local``.
    """
    return _parse(text.strip())


# The result is a frozen value that depends only on the text: an import checks each number in the dry run
# and again at execution, and phonenumbers costs ~0.3 ms a number. Refusals are not kept (they raise
# afresh). 65,536 numbers take ~19 MB (measured with tracemalloc).
@lru_cache(maxsize=65536)
def _parse(raw: str) -> PhoneNumber:
    if not raw:
        raise InvalidPhone("empty", "未填写电话号码", "the phone number is empty")
    if not _ALLOWED.fullmatch(raw):
        raise InvalidPhone(
            "format",
            "电话号码只能包含数字、+、空格、短横线和括号（请使用半角字符，不要填写分机号）",
            "a phone number may contain only digits, +, spaces, dashes and brackets "
            "(half-width, no extension)",
        )

    compact = _SEPARATORS.sub("", raw)
    if compact in SERVICE_NUMBERS:
        return PhoneNumber(number=compact, kind="service")

    if _COMPACT_MOBILE.fullmatch(raw) and not _DIALLING_PREFIX.match(raw):
        # What phonenumbers.parse makes of 11 bare digits starting with 1 in region CN, built directly: the
        # parse was more than half of a mobile number's cost, and imports check one per row. Digits that
        # start like an international or carrier-selection prefix of CN's metadata (00, 12593…, 179xx) are
        # left to the parse, which strips them. The number's type still comes from phonenumbers' metadata
        # (tests/lib/test_phone.py compares the two on generated numbers).
        parsed = phonenumbers.PhoneNumber(country_code=86, national_number=int(raw))
        return _classified(parsed, raw)
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidPhone(
            "format", "无法识别的电话号码格式", "the text is not recognisable as a phone number"
        ) from None
    if parsed.country_code != 86:
        raise _invalid("仅支持中国大陆号码（+86）", "only mainland-China numbers (+86) are accepted")

    return _classified(parsed, raw)


_COMPACT_MOBILE = re.compile(r"1[0-9]{10}")
_CN = phonenumbers.PhoneMetadata.metadata_for_region("CN")
assert _CN is not None  # phonenumbers ships CN's metadata
_DIALLING_PREFIX = re.compile(
    "|".join(f"(?:{p})" for p in (_CN.international_prefix, _CN.national_prefix_for_parsing) if p)
)


def _classified(parsed: phonenumbers.PhoneNumber, raw: str) -> PhoneNumber:
    national = str(parsed.national_number)
    if national.startswith(WEIHAI_AREA_CODE):
        # Area codes are prefix-free and no mobile or 2-digit area code starts with 631, so this is an
        # 0631 fixed line even when phonenumbers cannot classify it.
        local = national[len(WEIHAI_AREA_CODE) :]
        if len(local) != 7 or local[0] not in "23456789":
            raise InvalidPhone(
                "weihai_local",
                f"威海（0631）固定电话号码应为 7 位且首位为 2–9，"
                f"实际为 {len(local)} 位、首位为 {local[:1] or '空'}",
                f"a Weihai (0631) landline has 7 digits starting with 2-9; got {len(local)} digits "
                f"starting with {local[:1] or 'nothing'}",
            )

    # For a +86 number (the only region of 86 is CN) is_valid_number(n) is exactly
    # number_type(n) != UNKNOWN: both run _number_type_helper on the national significant number with CN's
    # metadata. One call instead of two; tests/lib/test_phone.py holds the two to agreeing.
    number_type = phonenumbers.number_type(parsed)
    if number_type == PhoneNumberType.UNKNOWN:
        raise _invalid(
            "号码段不存在或位数不对（手机号 11 位；固定电话须带区号，如 0631-5xxxxxx）",
            "unallocated prefix or wrong length (mobiles have 11 digits; landlines need the area code)",
        )
    kind = _KINDS.get(number_type)
    if kind is None:
        raise _invalid("不支持此类号码", "this kind of number is not accepted")

    if kind == "fixed":
        area_length = phonenumbers.length_of_geographical_area_code(parsed)
        # Every CN landline has a geographic area code; the fallback only guards against odd metadata.
        number = f"0{national[:area_length]}-{national[area_length:]}" if area_length else f"0{national}"
    else:
        number = national
    return PhoneNumber(number=number, kind=kind)
