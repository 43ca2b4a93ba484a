"""Unified social credit codes (统一社会信用代码), GB 32100-2015, with the embedded GB 11714 code.

Layout of the 18-character code::

    9 1 371082 77526004 3 P
    ^ ^ ^      ^        ^ ^ check character (MOD 31 over the 31-character alphabet)
    | | |      ^ organisation code body (GB 11714) and its own check character
    | | registering authority's GB/T 2260 division
    | entity category (depends on the authority)
    registration authority

Why not just ``stdnum.cn.uscc``: it checks only the alphabet and the final check character. It does not
check the authority/category combination, the division, or the embedded GB 11714 check character, and
a unit code whose embedded organisation code is broken is one of the data-quality problems we must
detect. stdnum stays a test oracle (its 200 real codes and its check character).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sidms.lib.errors import StandardError
from sidms.lib.idcard import PROVINCE_CODES

__all__ = [
    "ALPHABET",
    "AUTHORITIES",
    "CreditCode",
    "InvalidCreditCode",
    "check_char",
    "org_check_char",
    "parse",
]

# GB 32100-2015: digits and upper-case letters without I, O, Z, S, V (easily confused with 1, 0, 2, 5, U).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_EXCLUDED_LETTERS = frozenset("IOZSV")
# W_i = 3^(i-1) mod 31.
_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))

# GB 11714-1997 organisation code: weights for the 8 body characters; letters count A=10 ... Z=35.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Central (national-level) registration authorities such as 民政部 use the division code 100000,
# e.g. 53100000500021676K, 12100000400009127B; it is not a GB/T 2260 province but is legitimate here.
NATIONAL_DIVISION = "100000"

# Registration authority -> (name, {category: name}), GB 32100-2015 Annex (with its amendments).
# 1, 5, 9, N and Y as in shared/notes/standards-and-codes.md §2; the categories of 2, 3, 4, 6, 7, 8 and A
# are from several secondary sources that agree with each other [S].
AUTHORITIES: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "群团", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {
            "1": "外国旅游部门常驻代表机构",
            "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
            "9": "其他",
        },
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("军委编办", {"1": "军队事业单位", "9": "其他"}),
    "N": (
        "农业",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他", {"1": "其他"}),
}


class InvalidCreditCode(StandardError):
    """The text is not a valid GB 32100-2015 unified social credit code."""


@dataclass(frozen=True)
class CreditCode:
    """A parsed, valid credit code; ``code`` is the normalised 18-character form."""

    code: str
    authority: str
    authority_name: str
    category: str
    category_name: str
    division_code: str
    org_code: str  # the 9-character GB 11714 organisation code (positions 9-17)


def check_char(body17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters."""
    if len(body17) != 17 or any(c not in _VALUE for c in body17):
        raise InvalidCreditCode(
            "characters",
            "计算校验码需要 17 位有效字符",
            "the check character is computed from exactly 17 valid characters",
        )
    total = sum(_VALUE[c] * w for c, w in zip(body17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_check_char(body8: str) -> str:
    """Return the GB 11714 check character ("0"-"9" or "X") for an 8-character organisation code body."""
    if len(body8) != 8 or any(c not in _ORG_BODY_CHARS for c in body8):
        raise InvalidCreditCode(
            "characters",
            "计算组织机构代码校验码需要 8 位数字或大写字母",
            "the organisation code check character is computed from 8 digits or upper-case letters",
        )
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def _check_characters(code: str) -> None:
    for position, char in enumerate(code, start=1):
        if char in _VALUE:
            continue
        if char in _EXCLUDED_LETTERS:
            why, why_en = "统一社会信用代码不使用字母 I、O、Z、S、V", "credit codes never use I, O, Z, S or V"
        else:
            why, why_en = (
                "只能是数字和大写字母（请使用半角字符）",
                "only digits and upper-case letters are allowed (use half-width characters)",
            )
        shown = "空格" if char.isspace() else f"“{char}”"
        shown_en = "a space" if char.isspace() else repr(char)
        raise InvalidCreditCode(
            "characters",
            f"统一社会信用代码第 {position} 位字符 {shown} 无效：{why}",
            f"credit code character {position} ({shown_en}) is invalid: {why_en}",
        )


def parse(text: str) -> CreditCode:
    """Validate a unified social credit code and return its parts.

    Strips surrounding whitespace and upper-cases. Raises :class:`InvalidCreditCode` with ``reason`` one
    of ``length``, ``characters``, ``authority``, ``category``, ``division``, ``check_char``,
    ``org_check``.

    The overall check character is tested before the embedded organisation code: a typo anywhere
    breaks the overall check (so the clerk hears "check character wrong", the likely cause), while a
    code whose overall check holds but whose organisation check fails was *issued* that way - the
    specific data-quality finding ``org_check``.
    """
    code = text.strip().upper()
    if not code:
        raise InvalidCreditCode("length", "未填写统一社会信用代码", "the credit code is empty")
    _check_characters(code)
    if len(code) != 18:
        raise InvalidCreditCode(
            "length",
            f"统一社会信用代码应为 18 位，实际为 {len(code)} 位",
            f"a credit code has 18 characters, got {len(code)}",
        )
    for position in range(3, 9):
        char = code[position - 1]
        if not char.isdigit():
            raise InvalidCreditCode(
                "characters",
                f"统一社会信用代码第 3–8 位是行政区划码，只能是数字，第 {position} 位却是“{char}”",
                f"credit code characters 3-8 are a division code and must be digits, "
                f"character {position} is {char!r}",
            )

    authority, category, division = code[0], code[1], code[2:8]
    if authority not in AUTHORITIES:
        raise InvalidCreditCode(
            "authority",
            f"统一社会信用代码第 1 位“{authority}”不是有效的登记管理部门代码",
            f"credit code character 1 ({authority!r}) is not a registration authority code",
        )
    authority_name, categories = AUTHORITIES[authority]
    if category not in categories:
        allowed = "、".join(f"{k} {v}" for k, v in categories.items())
        raise InvalidCreditCode(
            "category",
            f"登记管理部门“{authority_name}”（{authority}）下没有机构类别“{category}”，应为：{allowed}",
            f"registration authority {authority!r} has no entity category {category!r} "
            f"(allowed: {', '.join(categories)})",
        )
    if division[:2] not in PROVINCE_CODES and division != NATIONAL_DIVISION:
        raise InvalidCreditCode(
            "division",
            f"统一社会信用代码第 3–8 位 {division} 不是有效的行政区划码"
            f"（前两位 {division[:2]} 不是省级代码）",
            f"credit code characters 3-8 ({division}) are not a division code "
            f"({division[:2]} is not a province-level code)",
        )

    expected = check_char(code[:17])
    if code[17] != expected:
        raise InvalidCreditCode(
            "check_char",
            f"统一社会信用代码校验码错误：应为 {expected}，实际为 {code[17]}",
            f"credit code check character is wrong: expected {expected}, got {code[17]}",
        )

    org_code = code[8:17]
    org_expected = org_check_char(org_code[:8])
    if org_code[8] != org_expected:
        raise InvalidCreditCode(
            "org_check",
            f"统一社会信用代码中的组织机构代码 {org_code} 校验码错误："
            f"应为 {org_expected}，实际为 {org_code[8]}",
            f"the organisation code {org_code} inside the credit code has a wrong check character: "
            f"expected {org_expected}, got {org_code[8]}",
        )

    return CreditCode(
        code=code,
        authority=authority,
        authority_name=authority_name,
        category=category,
        category_name=categories[category],
        division_code=division,
        org_code=org_code,
    )
