"""The 社会保险个人权益记录单 (personal rights-record statement) as a PDF, and its verification number.

MOHRSS Order 14 Art. 2 names what a rights record holds; 社会保险法 Art. 74 asks the agency to send it to
every insured person once a year (requirements B4, B5). This module is pure: plain data in, PDF bytes out,
no Django, no database. The business layer's selector builds a :class:`StatementData`; the integrator
stores the issued statement (id, digest, cut-off, agency, masked name) and serves the verification page.

Three parts:

* **Data** — :class:`StatementData` and its parts, frozen dataclasses of plain values. Money is
  ``Decimal`` to the cent; identity numbers arrive already masked (the renderer refuses an unmasked one).
* **Verification** — :func:`statement_digest` (SM3 over canonical JSON), :func:`verification_number`
  (HMAC-SM3 over statement id and digest, 19 Crockford base-32 characters and one Luhn mod 32 check
  character) and :func:`check_number`. See docs/statements.md for the scheme.
* **Rendering** — :func:`render_statement` lays the statement out as a display list (:func:`layout`)
  and writes the PDF directly: one Type0/CIDFontType2 font per face, subset per document, glyphs taken
  from the system's Noto CJK fonts (Debian ``fonts-noto-cjk``) and converted from CFF to TrueType
  outlines once per glyph and process. bench/statements.py measured this writer against reportlab,
  fpdf2 and typst on the same display list; it is the fastest by a wide margin (docs/statements.md).

Why a hand-written PDF writer: the batch must issue 2.9 million statements in one night (≥ 100 per second
on two cores). Library engines spend most of their time subsetting a 20 MB CJK font per document; here the
glyph outlines are converted once and a document's subset is a concatenation of cached bytes.
"""

from __future__ import annotations

import hashlib
import hmac as stdlib_hmac
import io
import json
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from sidms.lib.errors import StandardError

__all__ = [
    "Benefit",
    "FontFace",
    "FontNotFound",
    "Fonts",
    "Identity",
    "Insurance",
    "InsuranceMonths",
    "InsuranceSummary",
    "InvalidStatement",
    "Mark",
    "MonthCell",
    "Page",
    "PensionAccount",
    "StatementData",
    "StatementFonts",
    "YearContributions",
    "canonical_json",
    "check_number",
    "display_number",
    "example_record",
    "find_fonts",
    "layout",
    "load_fonts",
    "mask_id",
    "mask_name",
    "normalise_number",
    "render_statement",
    "statement_digest",
    "verification_number",
    "write_pdf",
]


class InvalidStatement(StandardError):
    """The statement data is not well formed (missing months, unmasked numbers, inconsistent account)."""


class FontNotFound(RuntimeError):
    """No Noto CJK font on this machine: ``apt-get install fonts-noto-cjk``."""


# --- data ---------------------------------------------------------------------------------------------


class Insurance(StrEnum):
    """The four insurances a statement lists (maternity is merged into medical, 国办发〔2019〕10号)."""

    PENSION = "养老"
    UNEMPLOYMENT = "失业"
    WORK_INJURY = "工伤"
    MEDICAL = "医疗"


INSURANCE_ORDER: tuple[Insurance, ...] = tuple(Insurance)


class Mark(StrEnum):
    """The month's status symbol, as on the provinces' statements."""

    PAID = "●"
    ARREARS = "△"
    TRANSFERRED_IN = "○"
    NONE = "-"


MARK_LEGEND: tuple[tuple[Mark, str], ...] = (
    (Mark.PAID, "已缴费"),
    (Mark.ARREARS, "欠费"),
    (Mark.TRANSFERRED_IN, "外地转入"),
    (Mark.NONE, "无缴费计划"),
)

_CENT = Decimal("0.01")


def _money(value: object, what: str) -> Decimal:
    """A Decimal to the cent. Ints are accepted; floats are refused (binary fractions are not money)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidStatement("money", f"{what}必须是金额（Decimal）", f"{what} must be a Decimal amount")
    amount = Decimal(value)
    try:
        cents = amount.quantize(_CENT)
    except InvalidOperation as exc:
        raise InvalidStatement("money", f"{what}不是有效金额", f"{what} is not a valid amount") from exc
    if cents != amount:
        raise InvalidStatement("money", f"{what}精确到分", f"{what} has more than two decimals")
    return cents


def _text(value: object, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise InvalidStatement("text", f"{what}不能为空", f"{what} must be a non-empty string")
    return value


def _is_masked(number: str) -> bool:
    return number.count("*") >= 4


def mask_id(number: str) -> str:
    """An identity or social-security number with the middle hidden: ``371002********0011``.

    Keeps the first six (the issuing region) and the last four characters, as idcard.IdNumber.masked does.
    """
    text = number.strip()
    if len(text) <= 10:
        return text[:2] + "*" * max(len(text) - 4, 4) + text[-2:]
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_name(name: str) -> str:
    """A name for the public verification page: the first character, then one ``*`` per further one."""
    text = name.strip()
    return text[:1] + "*" * (len(text) - 1) if len(text) > 1 else text


@dataclass(frozen=True)
class Identity:
    """登记信息: who the statement is for. ``id_number`` and ``ssn`` arrive masked (see :func:`mask_id`)."""

    id_type: str  # 证件类型, e.g. 居民身份证
    id_number: str  # 证件号码, masked
    ssn: str  # 社会保障号码, masked
    name: str  # 姓名
    sex: str  # 性别: 男 / 女
    unit_name: str  # 单位名称 (the pension unit for persons with several employers); "" for none
    work_start: date | None  # 参加工作时间

    def __post_init__(self) -> None:
        for what, value in (("证件类型", self.id_type), ("姓名", self.name), ("性别", self.sex)):
            _text(value, what)
        _text(self.unit_name, "单位名称", empty=True)
        for what, value in (("证件号码", self.id_number), ("社会保障号码", self.ssn)):
            if not _is_masked(_text(value, what)):
                raise InvalidStatement(
                    "unmasked", f"{what}必须脱敏后打印", f"{what} must be masked before it is printed"
                )
        if self.work_start is not None and not isinstance(self.work_start, date):
            raise InvalidStatement("date", "参加工作时间必须是日期", "work_start must be a date")


@dataclass(frozen=True)
class MonthCell:
    """One month of one insurance: the contribution base (None when there is none) and its mark."""

    base: Decimal | None
    mark: Mark

    def __post_init__(self) -> None:
        if not isinstance(self.mark, Mark):
            object.__setattr__(self, "mark", Mark(self.mark))
        if self.base is not None:
            object.__setattr__(self, "base", _money(self.base, "缴费基数"))


@dataclass(frozen=True)
class InsuranceMonths:
    """The twelve months (January first) of one insurance in one year."""

    insurance: Insurance
    months: tuple[MonthCell, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "insurance", Insurance(self.insurance))
        object.__setattr__(self, "months", tuple(self.months))
        if len(self.months) != 12 or not all(isinstance(m, MonthCell) for m in self.months):
            raise InvalidStatement(
                "months", "每个险种每年须有12个月的记录", "each insurance has exactly 12 MonthCell per year"
            )


@dataclass(frozen=True)
class YearContributions:
    """参保缴费情况 of one year: one row of twelve months per insurance (an insurance may be absent)."""

    year: int
    insurances: tuple[InsuranceMonths, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "insurances", tuple(self.insurances))
        seen = [i.insurance for i in self.insurances]
        if len(set(seen)) != len(seen):
            raise InvalidStatement("duplicate", "同一年度险种重复", "an insurance appears twice in a year")
        if not 1900 <= self.year <= 2200:
            raise InvalidStatement("year", "年度不合理", "year out of range")

    def row(self, insurance: Insurance) -> InsuranceMonths | None:
        for entry in self.insurances:
            if entry.insurance is insurance:
                return entry
        return None


@dataclass(frozen=True)
class InsuranceSummary:
    """Enrolment and contribution years of one insurance: 参保时间, 缴费状态, 累计缴费月数."""

    insurance: Insurance
    enrolled_since: date | None
    status: str  # 参保缴费 / 暂停缴费 / 终止缴费 / 未参保
    months_total: int  # 累计缴费月数 (contribution years, to the month)

    def __post_init__(self) -> None:
        object.__setattr__(self, "insurance", Insurance(self.insurance))
        _text(self.status, "缴费状态")
        if (
            isinstance(self.months_total, bool)
            or not isinstance(self.months_total, int)
            or self.months_total < 0
        ):
            raise InvalidStatement("months", "累计缴费月数须为非负整数", "months_total is a non-negative int")


@dataclass(frozen=True)
class PensionAccount:
    """养老保险个人账户 for the statement year. ``balance`` must equal prior + principal + interest − payout."""

    balance_prior: Decimal  # 截止上年末累计储存额
    principal: Decimal  # 本年记入本金
    interest: Decimal  # 本年记入利息
    balance: Decimal  # 累计储存额 (at the cut-off)
    payout: Decimal = Decimal("0.00")  # 本年账户支出额 (retirees, refunds)
    months: int = 0  # 本年记账月数

    def __post_init__(self) -> None:
        for name, what in (
            ("balance_prior", "截止上年末累计储存额"),
            ("principal", "本年记入本金"),
            ("interest", "本年记入利息"),
            ("balance", "累计储存额"),
            ("payout", "本年账户支出额"),
        ):
            object.__setattr__(self, name, _money(getattr(self, name), what))
        if self.balance_prior + self.principal + self.interest - self.payout != self.balance:
            raise InvalidStatement(
                "account",
                "累计储存额与上年末储存额、本年本金、利息、支出不符",
                "balance != balance_prior + principal + interest - payout",
            )
        if not 0 <= self.months <= 12:
            raise InvalidStatement("months", "本年记账月数应在0至12之间", "months is 0..12")


@dataclass(frozen=True)
class Benefit:
    """A benefit received (待遇享受情况): kind, the period it covers, the amount paid in that period."""

    kind: str  # e.g. 基本养老金, 失业保险金, 一次性伤残补助金, 生育津贴
    start: date
    end: date | None
    amount: Decimal
    note: str = ""

    def __post_init__(self) -> None:
        _text(self.kind, "待遇项目")
        _text(self.note, "备注", empty=True)
        object.__setattr__(self, "amount", _money(self.amount, "待遇金额"))
        if self.end is not None and self.end < self.start:
            raise InvalidStatement("period", "待遇期间结束早于开始", "benefit end before start")


@dataclass(frozen=True)
class StatementData:
    """Everything a 社会保险个人权益记录单 shows (Order 14 Art. 2's five categories), as plain data.

    ``years`` lists the statement year first (the year ``year``), then earlier years if the statement
    shows them. ``summaries`` gives each insurance's enrolment and contribution years.
    """

    year: int
    identity: Identity
    summaries: tuple[InsuranceSummary, ...]
    years: tuple[YearContributions, ...]
    account: PensionAccount | None
    benefits: tuple[Benefit, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "summaries", tuple(self.summaries))
        object.__setattr__(self, "years", tuple(self.years))
        object.__setattr__(self, "benefits", tuple(self.benefits))
        if not isinstance(self.identity, Identity):
            raise InvalidStatement("identity", "缺少登记信息", "identity must be an Identity")
        if not self.years or self.years[0].year != self.year:
            raise InvalidStatement(
                "years", "缴费记录须以记录年度开头", "years must start with the statement year"
            )
        years = [y.year for y in self.years]
        if len(set(years)) != len(years):
            raise InvalidStatement("years", "年度重复", "a year appears twice")


# --- canonical digest and verification numbers -------------------------------------------------------

DIGEST_VERSION = 1
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
_NUMBER_VALUE = {ch: i for i, ch in enumerate(_NUMBER_ALPHABET)}
_NUMBER_LENGTH = 20
_MAC_CHARS = _NUMBER_LENGTH - 1  # 19 characters = 95 bits of HMAC-SM3
_MAC_DOMAIN = b"sidms/statement-number/1\x00"
_MIN_KEY_BYTES = 16


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _cents(amount: Decimal | None) -> str | None:
    return None if amount is None else format(amount, "f")


def canonical_json(data: StatementData) -> bytes:
    """The statement's data as canonical JSON: sorted keys, no spaces, UTF-8, money as "1234.50"."""
    ident = data.identity
    doc: dict[str, Any] = {
        "v": DIGEST_VERSION,
        "year": data.year,
        "identity": {
            "id_type": ident.id_type,
            "id_number": ident.id_number,
            "ssn": ident.ssn,
            "name": ident.name,
            "sex": ident.sex,
            "unit_name": ident.unit_name,
            "work_start": _iso(ident.work_start),
        },
        "summaries": [
            [s.insurance.value, _iso(s.enrolled_since), s.status, s.months_total] for s in data.summaries
        ],
        "years": [
            {
                "year": y.year,
                "insurances": [
                    [i.insurance.value, [[_cents(m.base), m.mark.value] for m in i.months]]
                    for i in y.insurances
                ],
            }
            for y in data.years
        ],
        "account": None
        if data.account is None
        else {
            "balance_prior": _cents(data.account.balance_prior),
            "principal": _cents(data.account.principal),
            "interest": _cents(data.account.interest),
            "payout": _cents(data.account.payout),
            "balance": _cents(data.account.balance),
            "months": data.account.months,
        },
        "benefits": [[b.kind, _iso(b.start), _iso(b.end), _cents(b.amount), b.note] for b in data.benefits],
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def statement_digest(data: StatementData) -> str:
    """SM3 (GB/T 32905) of the canonical JSON, as 64 lower-case hex digits.

    Any change to any printed value of the record (a month's mark, a base, a balance, the name) changes
    the digest. The print time, the cut-off and the agency are not part of it: they belong to the issue,
    which the integrator stores under the statement id.
    """
    return _sm3(canonical_json(data)).hex()


def _luhn32(body: str) -> str:
    """The Luhn mod 32 check character of a base-32 string (catches every single-character error)."""
    factor = 2
    total = 0
    for ch in reversed(body):
        addend = factor * _NUMBER_VALUE[ch]
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return _NUMBER_ALPHABET[(32 - total % 32) % 32]


def _mac(key: bytes, statement_id: str, digest: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) < _MIN_KEY_BYTES:
        raise ValueError(f"the statement key must be at least {_MIN_KEY_BYTES} bytes")
    mac = crypto_hmac.HMAC(bytes(key), hashes.SM3())
    mac.update(_MAC_DOMAIN)  # a key used elsewhere by mistake cannot yield statement numbers
    # Length-prefixed fields, so that ("ab", "c") and ("a", "bc") cannot collide.
    for part in (statement_id.encode("utf-8"), digest.encode("ascii")):
        mac.update(struct.pack(">I", len(part)))
        mac.update(part)
    return mac.finalize()


def verification_number(key: bytes, statement_id: str, digest: str) -> str:
    """The statement's 20-character verification number (表单验证号码).

    19 characters of Crockford base 32 carry the first 95 bits of HMAC-SM3(key, statement id, digest);
    the 20th is a Luhn mod 32 check character, so that a mistyped number is told apart from a forged one
    without asking the key. Print it with :func:`display_number`.
    """
    _text(statement_id, "记录单编号")
    mac = int.from_bytes(_mac(key, statement_id, digest)[:12], "big") >> (96 - 5 * _MAC_CHARS)
    body = "".join(_NUMBER_ALPHABET[(mac >> (5 * (_MAC_CHARS - 1 - i))) & 31] for i in range(_MAC_CHARS))
    return body + _luhn32(body)


def normalise_number(text: str) -> str | None:
    """A typed or scanned number as its 20 canonical characters, or None if it cannot be one.

    Case, spaces and hyphens do not matter; I and L read as 1, O as 0 (Crockford's decoding rules). A
    number whose check character does not match is None: a typing error, not a forgery.
    """
    cleaned = "".join(ch for ch in text.upper() if ch not in " -\t")
    cleaned = cleaned.translate(str.maketrans("ILO", "110"))
    if len(cleaned) != _NUMBER_LENGTH or any(ch not in _NUMBER_VALUE for ch in cleaned):
        return None
    return cleaned if _luhn32(cleaned[:-1]) == cleaned[-1] else None


def display_number(number: str) -> str:
    """``7K3QD9XH2MPQ4RTZW8N5`` → ``7K3QD-9XH2M-PQ4RT-ZW8N5`` (as printed)."""
    return "-".join(number[i : i + 5] for i in range(0, len(number), 5))


def check_number(key: bytes, number: str, statement_id: str, digest: str) -> bool:
    """True if ``number`` is the verification number of this statement id and data digest.

    Constant-time comparison. A number for another statement, a changed number, or the right number for
    data that changed since printing (another digest) all give False.
    """
    canonical = normalise_number(number)
    if canonical is None:
        return False
    return stdlib_hmac.compare_digest(canonical, verification_number(key, statement_id, digest))


# --- fonts ---------------------------------------------------------------------------------------------

_FONT_DIRS_ENV = "SIDMS_CJK_FONT_DIRS"  # extra directories, os.pathsep-separated, searched first
_DEFAULT_FONT_DIRS = (
    Path(__file__).parent / "fonts",
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
)
# Body text in a Song (宋体) style, headings in a Hei (黑体) bold, as on printed government forms.
_BODY_FAMILIES = ("Noto Serif CJK SC", "Noto Serif SC", "Noto Sans CJK SC", "Noto Sans SC")
_HEADING_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC")
_BODY_FILES = (
    "NotoSerifCJK-Regular.ttc",
    "NotoSerifCJKsc-Regular.otf",
    "NotoSerifSC-Regular.otf",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansSC-Regular.otf",
)
_HEADING_FILES = ("NotoSansCJK-Bold.ttc", "NotoSansCJKsc-Bold.otf", "NotoSansSC-Bold.otf")


@dataclass(frozen=True)
class FontFace:
    """One face: a font file and, for a collection (.ttc), the index of the face in it."""

    path: Path
    index: int = 0


@dataclass(frozen=True)
class StatementFonts:
    body: FontFace
    heading: FontFace


def _face_in(path: Path, families: Sequence[str]) -> FontFace | None:
    from fontTools.ttLib import TTCollection, TTFont

    if path.suffix.lower() == ".ttc":
        collection = TTCollection(str(path), lazy=True)
        names = [font["name"].getDebugName(1) for font in collection.fonts]
        collection.close()
        for family in families:
            if family in names:
                return FontFace(path, names.index(family))
        return None
    font = TTFont(str(path), lazy=True)
    family = font["name"].getDebugName(1)
    font.close()
    return FontFace(path) if family in families else None


def _search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(_FONT_DIRS_ENV, "").split(os.pathsep) if p]
    return [*extra, *_DEFAULT_FONT_DIRS]


def _find_face(files: Sequence[str], families: Sequence[str]) -> FontFace | None:
    for name in files:
        for root in _search_dirs():
            if not root.is_dir():
                continue
            for path in sorted(root.rglob(name)):
                face = _face_in(path, families)
                if face is not None:
                    return face
    return None


@lru_cache(maxsize=1)
def find_fonts() -> StatementFonts:
    """The Noto CJK faces for body and headings, from ``$SIDMS_CJK_FONT_DIRS`` or the system font dirs.

    Debian's ``fonts-noto-cjk`` puts them in /usr/share/fonts/opentype/noto (SIL Open Font License).
    """
    body = _find_face(_BODY_FILES, _BODY_FAMILIES)
    heading = _find_face(_HEADING_FILES, _HEADING_FAMILIES)
    if body is None or heading is None:
        raise FontNotFound(
            "no Noto CJK font found for the statement (apt-get install fonts-noto-cjk, "
            f"or point {_FONT_DIRS_ENV} at a directory holding NotoSansCJK/NotoSerifCJK)"
        )
    return StatementFonts(body=body, heading=heading)


@dataclass(frozen=True)
class _Glyph:
    data: bytes  # TrueType glyf record, padded to 4 bytes
    advance: int
    lsb: int
    bbox: tuple[int, int, int, int]
    points: int
    contours: int
    hmtx: bytes  # the glyph's hmtx entry (advance, lsb)
    checksum: int  # sum of ``data`` as big-endian 32-bit words (the glyf table's checksum is their sum)


_WIDTH_CACHE_LIMIT = 200_000


class _FontProgram:
    """One loaded face: metrics for layout and TrueType glyphs for embedding, converted on first use.

    The file is read into memory, so that worker processes forked after loading never share a file
    offset. CFF outlines (Noto CJK) become quadratic TrueType outlines through fontTools' cu2qu with a
    tolerance of one font unit (1/1000 em: invisible at any print size).
    """

    def __init__(self, face: FontFace) -> None:
        from fontTools.ttLib import TTFont

        font = TTFont(io.BytesIO(face.path.read_bytes()), fontNumber=face.index, lazy=True)
        self._font = font
        self.cmap: dict[int, str] = font.getBestCmap()
        self.glyph_ids: dict[str, int] = {name: i for i, name in enumerate(font.getGlyphOrder())}
        self._hmtx = font["hmtx"]
        self.units = font["head"].unitsPerEm
        self._scale = 1000 / self.units
        self.ps_name: str = font["name"].getDebugName(6) or "NotoCJK"
        os2 = font["OS/2"]
        head = font["head"]
        self.ascent = round(os2.sTypoAscender * self._scale)
        self.descent = round(os2.sTypoDescender * self._scale)
        self.cap_height = round(getattr(os2, "sCapHeight", os2.sTypoAscender) * self._scale)
        self.bbox = tuple(round(v * self._scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax))
        self.bold = "Bold" in self.ps_name
        self._cff = "CFF " in font
        self._glyphset = font.getGlyphSet()
        self._advances: dict[str, float] = {}
        self._widths: dict[str, float] = {}
        self._glyphs: dict[int, _Glyph] = {}
        self._templates: dict[str, _Template] = {}

    def gid(self, char: str) -> int:
        name = self.cmap.get(ord(char))
        return 0 if name is None else self.glyph_ids[name]

    def advance(self, char: str) -> float:
        """Advance width in 1/1000 em."""
        width = self._advances.get(char)
        if width is None:
            name = self.cmap.get(ord(char)) or ".notdef"
            width = self._hmtx[name][0] * self._scale
            self._advances[char] = width
        return width

    def width(self, text: str, size: float) -> float:
        units = self._widths.get(text)
        if units is None:
            advance = self.advance
            units = sum([advance(ch) for ch in text])
            if len(self._widths) >= _WIDTH_CACHE_LIMIT:
                self._widths.clear()
            self._widths[text] = units
        return units * size / 1000

    def glyph(self, gid: int) -> _Glyph:
        glyph = self._glyphs.get(gid)
        if glyph is None:
            glyph = self._convert(gid)
            self._glyphs[gid] = glyph
        return glyph

    def template(self, chars: str) -> _Template:
        """The pre-compressed glyph block for the characters every statement prints (see _Template)."""
        template = self._templates.get(chars)
        if template is None:
            template = _Template(self, chars)
            self._templates[chars] = template
        return template

    def _convert(self, gid: int) -> _Glyph:
        from fontTools.pens.cu2quPen import Cu2QuPen
        from fontTools.pens.recordingPen import DecomposingRecordingPen
        from fontTools.pens.transformPen import TransformPen
        from fontTools.pens.ttGlyphPen import TTGlyphPen

        name = self._font.getGlyphName(gid)
        recording = DecomposingRecordingPen(self._glyphset)
        self._glyphset[name].draw(recording)
        pen = TTGlyphPen(None)
        target: Any = Cu2QuPen(pen, max_err=1.0, reverse_direction=self._cff)
        if self.units != 1000:
            target = TransformPen(target, (self._scale, 0, 0, self._scale, 0, 0))
        recording.replay(target)
        glyph = pen.glyph()
        data = glyph.compile(None)
        data += b"\0" * (-len(data) % 4)
        advance = round(self._hmtx[name][0] * self._scale)
        if glyph.numberOfContours > 0:
            bbox = (glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax)
            points = len(glyph.coordinates)
        else:
            bbox, points = (0, 0, 0, 0), 0
        return _Glyph(
            data=data,
            advance=advance,
            lsb=bbox[0],
            bbox=bbox,
            points=points,
            contours=max(glyph.numberOfContours, 0),
            hmtx=struct.pack(">Hh", advance, bbox[0]),
            checksum=_checksum(data),
        )


@lru_cache(maxsize=4)
def _program(face: FontFace) -> _FontProgram:
    return _FontProgram(face)


@dataclass
class Fonts:
    """The two loaded faces a layout measures with (``"R"`` body, ``"B"`` headings)."""

    body: _FontProgram
    heading: _FontProgram

    def __getitem__(self, key: str) -> _FontProgram:
        return self.heading if key == "B" else self.body


def load_fonts(fonts: StatementFonts | None = None) -> Fonts:
    chosen = fonts or find_fonts()
    return Fonts(body=_program(chosen.body), heading=_program(chosen.heading))


# --- layout: a display list per page -----------------------------------------------------------------

PAGE_WIDTH = 595.28  # A4, points
PAGE_HEIGHT = 841.89
MARGIN_X = 42.5  # 15 mm
TOP = PAGE_HEIGHT - 34
BOTTOM = 62  # the footer sits below
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X

# Display-list operations (tuples, for speed; every backend replays the same list):
#   ("t", font, size, x, y, text)        text with its left end at x, baseline y; font "R" or "B"
#   ("l", x1, y1, x2, y2, width)          a line
#   ("f", x, y, w, h, gray)               a filled rectangle (gray 0 black … 1 white)
#   ("q", x, y, size, matrix)             a QR code (matrix: rows of booleans, top row first)
Op = tuple[Any, ...]


@dataclass
class Page:
    ops: list[Op] = field(default_factory=list)


class _Pen:
    """Draws onto one page's display list, measuring text with the loaded fonts."""

    def __init__(self, fonts: Fonts, page: Page) -> None:
        self.fonts = fonts
        self.ops = page.ops

    def text(self, x: float, y: float, text: str, size: float = 9, font: str = "R", align: str = "l") -> None:
        if not text:
            return
        if align != "l":
            width = self.fonts[font].width(text, size)
            x -= width if align == "r" else width / 2
        self.ops.append(("t", font, size, x, y, text))

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        self.ops.append(("l", x1, y1, x2, y2, width))

    def fill(self, x: float, y: float, w: float, h: float, gray: float) -> None:
        self.ops.append(("f", x, y, w, h, gray))

    def cell(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        text: str,
        size: float = 8.5,
        font: str = "R",
        align: str = "c",
        pad: float = 3.5,
    ) -> None:
        """Text in a box (x, y bottom-left), vertically centred, shrunk (down to 6 pt) to fit its width."""
        if not text:
            return
        room = w - 2 * pad
        width = self.fonts[font].width(text, size)
        if width > room:
            smaller = max(6.0, size * room / width)
            width = width * smaller / size
            size = smaller
            while width > room and len(text) > 1:
                text = text[:-2] + "…"
                width = self.fonts[font].width(text, size)
        baseline = y + h / 2 - 0.36 * size
        if align == "l":
            tx = x + pad
        elif align == "r":
            tx = x + w - pad - width
        else:
            tx = x + (w - width) / 2
        self.ops.append(("t", font, size, tx, baseline, text))


# Table cell styles: (font, size, align, shaded)
_STYLE = {
    "head": ("B", 8.5, "c", 0.90),
    "label": ("R", 8.5, "c", 0.95),
    "value": ("R", 8.5, "l", None),
    "center": ("R", 8.5, "c", None),
    "num": ("R", 8.5, "r", None),
    "mark": ("R", 7.5, "c", None),
}
Cell = tuple[str | None, str, int]  # (text or None for "the cell above continues", style, column span)


def _table(
    pen: _Pen, top: float, widths: Sequence[float], rows: Sequence[Sequence[Cell]], row_h: float
) -> float:
    """A ruled table: thin inner rules, a heavier frame. Returns the table's height.

    A cell whose text is None continues the cell above it (a row span): no rule between them, and the
    text of the first is centred over both.
    """
    edges = [MARGIN_X]
    for w in widths:
        edges.append(edges[-1] + w)
    height = row_h * len(rows)
    placed: list[dict[int, tuple[str | None, str, int]]] = []
    for row in rows:
        col = 0
        cells: dict[int, tuple[str | None, str, int]] = {}
        for text, style, span in row:
            cells[col] = (text, style, span)
            col += span
        placed.append(cells)
    for r, cells in enumerate(placed):
        y = top - row_h * (r + 1)
        for col, (text, style, span) in cells.items():
            left, right = edges[col], edges[col + span]
            if col:
                pen.line(left, y, left, y + row_h, 0.5)
            if text is None:
                continue
            down = 1
            while r + down < len(placed) and placed[r + down].get(col, ("", "", 0))[0] is None:
                down += 1
            bottom = top - row_h * (r + down)
            font, size, align, shade = _STYLE[style]
            if shade is not None:
                pen.fill(left, bottom, right - left, row_h * down, shade)
            pen.cell(left, bottom, right - left, row_h * down, text, size=size, font=font, align=align)
            if r:
                pen.line(left, y + row_h, right, y + row_h, 0.5)
    pen.line(edges[0], top, edges[-1], top, 1.0)
    pen.line(edges[0], top - height, edges[-1], top - height, 1.0)
    pen.line(edges[0], top, edges[0], top - height, 1.0)
    pen.line(edges[-1], top, edges[-1], top - height, 1.0)
    return height


def _ym(day: date | None) -> str:
    return "" if day is None else f"{day.year}年{day.month:02d}月"


def _ymd(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def _yuan(amount: Decimal | None) -> str:
    return "" if amount is None else format(amount.quantize(_CENT, ROUND_HALF_UP), "f")


def _years_months(months: int) -> str:
    years, rest = divmod(months, 12)
    return f"{years}年{rest}个月" if years else f"{rest}个月"


@dataclass
class _Block:
    """A vertical piece of the statement; ``draw(pen, top)`` paints it from ``top`` down."""

    height: float
    draw: Callable[[_Pen, float], None]
    keep_with_next: bool = False
    # For a block that may break across pages: given the room left, the part that fits and the rest.
    split: Callable[[float], tuple[_Block, _Block] | None] | None = None


_HEADING_H = 22.0
_ROW_H = 17.0
_MONTH_ROW_H = 14.5


def _heading_block(title: str, right: str = "") -> _Block:
    def draw(pen: _Pen, top: float) -> None:
        pen.text(MARGIN_X, top - 15, title, size=10.5, font="B")
        if right:
            pen.text(MARGIN_X + CONTENT_WIDTH, top - 15, right, size=7.5, align="r")

    return _Block(_HEADING_H, draw, keep_with_next=True)


def _table_block(
    widths: Sequence[float], rows: Sequence[Sequence[Cell]], row_h: float, gap: float = 4
) -> _Block:
    def draw(pen: _Pen, top: float) -> None:
        _table(pen, top, widths, rows, row_h)

    return _Block(row_h * len(rows) + gap, draw)


def _breakable_table_block(
    widths: Sequence[float],
    header: Sequence[Cell],
    body: Sequence[Sequence[Cell]],
    row_h: float,
    gap: float = 4,
) -> _Block:
    """A table that may continue on the next page, its header row repeated (at least 3 rows a part)."""
    block = _table_block(widths, [header, *body], row_h, gap)

    def split(room: float) -> tuple[_Block, _Block] | None:
        fits = int((room - gap) // row_h) - 1
        if fits < 3 or fits >= len(body):
            return None
        return (
            _breakable_table_block(widths, header, body[:fits], row_h, gap),
            _breakable_table_block(widths, header, body[fits:], row_h, gap),
        )

    block.split = split
    return block


def _identity_rows(ident: Identity) -> list[list[Cell]]:
    return [
        [
            ("证件类型", "label", 1),
            (ident.id_type, "value", 1),
            ("证件号码", "label", 1),
            (ident.id_number, "value", 1),
        ],
        [
            ("姓　　名", "label", 1),
            (ident.name, "value", 1),
            ("性　　别", "label", 1),
            (ident.sex, "value", 1),
        ],
        [
            ("社会保障号码", "label", 1),
            (ident.ssn, "value", 1),
            ("参加工作时间", "label", 1),
            (_ym(ident.work_start), "value", 1),
        ],
        [("单位名称", "label", 1), (ident.unit_name or "—", "value", 3)],
    ]


def _account_rows(account: PensionAccount | None) -> list[list[Cell]]:
    head: list[Cell] = [
        ("截止上年末累计储存额", "head", 1),
        ("本年记入本金", "head", 1),
        ("本年记入利息", "head", 1),
        ("本年账户支出额", "head", 1),
        ("本年记账月数", "head", 1),
        ("累计储存额", "head", 1),
    ]
    if account is None:
        return [head, [("未建立养老保险个人账户", "center", 6)]]
    return [
        head,
        [
            (_yuan(account.balance_prior), "num", 1),
            (_yuan(account.principal), "num", 1),
            (_yuan(account.interest), "num", 1),
            (_yuan(account.payout), "num", 1),
            (str(account.months), "center", 1),
            (_yuan(account.balance), "num", 1),
        ],
    ]


def _summary_rows(data: StatementData) -> list[list[Cell]]:
    rows: list[list[Cell]] = [
        [
            ("险　　种", "head", 1),
            ("参保时间", "head", 1),
            ("缴费状态", "head", 1),
            ("累计缴费年限", "head", 1),
            ("本年缴费月数", "head", 1),
        ]
    ]
    by_kind = {s.insurance: s for s in data.summaries}
    current = data.years[0]
    for kind in INSURANCE_ORDER:
        summary = by_kind.get(kind)
        months = current.row(kind)
        paid = sum(1 for m in months.months if m.mark in (Mark.PAID, Mark.TRANSFERRED_IN)) if months else 0
        if summary is None:
            rows.append([(f"{kind.value}保险", "label", 1), ("未参保", "center", 4)])
            continue
        rows.append(
            [
                (f"{kind.value}保险", "label", 1),
                (_ym(summary.enrolled_since), "center", 1),
                (summary.status, "center", 1),
                (_years_months(summary.months_total), "center", 1),
                (str(paid), "center", 1),
            ]
        )
    return rows


_MONTH_WIDTHS = (46.0, *([79.0, 37.0] * 4))  # 月份, then 缴费基数 and 标志 per insurance


def _month_rows(year: YearContributions) -> list[list[Cell]]:
    first: list[Cell] = [("月份", "head", 1)]
    first += [(f"{kind.value}保险", "head", 2) for kind in INSURANCE_ORDER]
    second: list[Cell] = [(None, "head", 1)]  # 月份 spans both header rows
    for _ in INSURANCE_ORDER:
        second += [("缴费基数", "head", 1), ("标志", "head", 1)]
    rows = [first, second]
    lines = [year.row(kind) for kind in INSURANCE_ORDER]
    for month in range(12):
        row: list[Cell] = [(f"{month + 1:02d}", "center", 1)]
        for entry in lines:
            if entry is None:
                row += [("", "num", 1), (Mark.NONE.value, "mark", 1)]
            else:
                cell = entry.months[month]
                row += [(_yuan(cell.base), "num", 1), (cell.mark.value, "mark", 1)]
        rows.append(row)
    return rows


def _benefit_block(benefits: Sequence[Benefit]) -> _Block:
    widths = (140, 140, 90, 140)
    header: list[Cell] = [
        ("待遇项目", "head", 1),
        ("起止时间", "head", 1),
        ("金额", "head", 1),
        ("备注", "head", 1),
    ]
    if not benefits:
        return _table_block(widths, [header, [("无待遇享受记录", "center", 4)]], _ROW_H, gap=6)
    body: list[list[Cell]] = []
    for b in benefits:
        end = _ym(b.end) if b.end else "至今"
        body.append(
            [
                (b.kind, "value", 1),
                (f"{_ym(b.start)}至{end}", "center", 1),
                (_yuan(b.amount), "num", 1),
                (b.note, "value", 1),
            ]
        )
    return _breakable_table_block(widths, header, body, _ROW_H, gap=6)


_LEGEND = "　".join(f"{mark.value} {text}" for mark, text in MARK_LEGEND)

_NOTES = (
    "本记录单仅供参保人员核对个人权益记录使用，不作为其他证明材料。",
    f"标志说明：{_LEGEND}。",
    "工伤保险由单位缴费，个人不缴费；在多个单位参保的，单位名称显示养老保险参保单位。",
    "账户储存额为养老保险个人账户金额（单位：元），利息按国家公布的当年记账利率计算。",
    "如对记录有异议，请持本人有效身份证件到参保地社会保险经办机构书面申请核查。",
    "扫描二维码或在验证页面输入表单验证号码，可核验本记录单是否真实、未经改动。",
)


# The characters every statement prints, per face: they get fixed CIDs and a pre-compressed glyph block
# (_Template). Anything else a document prints (a name, a unit) is added to its own subset as usual, so a
# character missing here costs a few bytes of compression, never a wrong glyph.
_DIGITS = "0123456789.-:/ *　．" + _NUMBER_ALPHABET
_TEMPLATE_BODY = "".join(
    (
        _DIGITS,
        "证件类型居民身份证号码姓名性别男女社会保障参加工作时间单位名称年月日元：（）—…",
        "养老失业工伤医疗保险参保缴费未至今个天",
        "表单验证号码可扫描右侧二维码或登录验证页面输入号码核验扫码验证真伪度本记录单仅供核对",
        "数据统计截止至打印时间第页共经办机构不作证明",
        _LEGEND,
        *_NOTES,
    )
)
_TEMPLATE_HEADING = "".join(
    (
        _DIGITS,
        "社会保险个人权益记录单登记信息（）、年度说明",
        "一二三四五六七八九十养老保险个人账户情况参保及缴费年限待遇享受参保缴费明细",
        "截止上年末累计储存额本年记入本金利息账户支出额记账月数险种参保时间缴费状态累计缴费年限本年缴费月数",
        "月份失业工伤医疗缴费基数标志待遇项目起止时间金额备注",
    )
)


def _notes_block() -> _Block:
    line_h = 13.0

    def draw(pen: _Pen, top: float) -> None:
        pen.text(MARGIN_X, top - 14, "说　明", size=10.5, font="B")
        y = top - 14
        for i, note in enumerate(_NOTES, 1):
            y -= line_h
            pen.text(MARGIN_X + 4, y, f"{i}．{note}", size=8)

    return _Block(22 + line_h * len(_NOTES), draw)


def _qr_matrix(url: str) -> list[list[bool]]:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    # A fixed mask: any of the eight masks is a valid QR code, and choosing the best by the penalty rules
    # costs 8 trial encodings (10 ms against 2 ms per statement, measured).
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=2)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


_NUMERALS = "〇一二三四五六七八九十"


def _numeral(n: int) -> str:
    if n <= 10:
        return _NUMERALS[n]
    tens, ones = divmod(n, 10)
    return (_NUMERALS[tens] if tens > 1 else "") + "十" + (_NUMERALS[ones] if ones else "")


def layout(
    record: StatementData,
    *,
    number: str,
    qr_url: str,
    issued_at: datetime,
    cut_off: date,
    agency: str,
    fonts: Fonts,
) -> list[Page]:
    """The statement as a display list per page (see ``Op``). Backends replay it; the PDF writer below
    is the production one, bench/statements.py holds the others it was measured against."""
    shown_number = display_number(number) if len(number) == _NUMBER_LENGTH else number
    blocks: list[_Block] = [
        _table_block((78, 177, 78, 177), _identity_rows(record.identity), _ROW_H, gap=6),
        _heading_block("一、养老保险个人账户情况", "单位：元"),
        _table_block((100, 80, 80, 85, 70, 95), _account_rows(record.account), _ROW_H, gap=6),
        _heading_block("二、参保及缴费年限情况"),
        _table_block((100, 100, 100, 110, 100), _summary_rows(record), _ROW_H - 1, gap=6),
        _heading_block("三、待遇享受情况", "单位：元"),
    ]
    blocks.append(_benefit_block(record.benefits))
    section = 4
    for year in record.years:
        blocks.append(
            _heading_block(f"{_numeral(section)}、{year.year}年度参保缴费明细", f"单位：元　　{_LEGEND}")
        )
        blocks.append(_table_block(_MONTH_WIDTHS, _month_rows(year), _MONTH_ROW_H, gap=6))
        section += 1
    blocks.append(_notes_block())

    # Paginate: blocks flow down; a heading stays with the block after it.
    first_top = TOP - 112  # below the title area of page 1
    next_top = TOP - 30
    pages: list[list[tuple[_Block, float]]] = [[]]
    y = first_top
    i = 0
    while i < len(blocks):
        block = blocks[i]
        room = y - BOTTOM
        if block.height > room and block.split is not None:
            parts = block.split(room)
            if parts is not None:
                blocks[i : i + 1] = parts
                block = parts[0]
        need = block.height
        if block.keep_with_next and i + 1 < len(blocks):
            # A heading goes with the block after it, or with that block's first part.
            after = blocks[i + 1]
            parts = (
                after.split(room - block.height)
                if after.split and after.height > room - block.height
                else None
            )
            need += (parts[0] if parts else after).height
        if need > room and pages[-1]:
            pages.append([])
            y = next_top
            continue
        pages[-1].append((block, y))
        y -= block.height
        i += 1

    result: list[Page] = []
    total = len(pages)
    for index, placed in enumerate(pages):
        page = Page()
        pen = _Pen(fonts, page)
        if index == 0:
            _first_page_header(pen, record, shown_number, qr_url)
        else:
            _continuation_header(pen, record, shown_number)
        for block, top in placed:
            block.draw(pen, top)
        _footer(pen, index + 1, total, cut_off, issued_at, agency)
        result.append(page)
    return result


def _first_page_header(pen: _Pen, record: StatementData, number: str, qr_url: str) -> None:
    qr_size = 64.0
    qr_x = MARGIN_X + CONTENT_WIDTH - qr_size
    qr_y = TOP - qr_size + 6
    pen.ops.append(("q", qr_x, qr_y, qr_size, _qr_matrix(qr_url)))
    # The label stays four modules clear of the code (the quiet zone scanners need).
    pen.text(qr_x + qr_size / 2, qr_y - 14, "扫码验证真伪", size=6.5, align="c")
    pen.text(MARGIN_X, TOP - 4, "表单验证号码：", size=8.5)
    pen.text(MARGIN_X + pen.fonts["R"].width("表单验证号码：", 8.5), TOP - 4, number, size=8.5, font="B")
    pen.text(MARGIN_X, TOP - 17, "可扫描右侧二维码或登录验证页面输入号码核验", size=7)
    pen.text(PAGE_WIDTH / 2, TOP - 44, "社会保险个人权益记录单", size=20, font="B", align="c")
    pen.text(PAGE_WIDTH / 2, TOP - 63, f"（{record.year}年度）", size=11, align="c")
    pen.text(PAGE_WIDTH / 2, TOP - 80, "本记录单仅供核对", size=8.5, align="c")
    pen.text(MARGIN_X, TOP - 104, "登记信息", size=10.5, font="B")


def _continuation_header(pen: _Pen, record: StatementData, number: str) -> None:
    pen.text(MARGIN_X, TOP - 4, f"社会保险个人权益记录单（{record.year}年度）", size=9, font="B")
    right = f"姓名：{record.identity.name}　　表单验证号码：{number}"
    pen.text(MARGIN_X + CONTENT_WIDTH, TOP - 4, right, size=8, align="r")
    pen.line(MARGIN_X, TOP - 10, MARGIN_X + CONTENT_WIDTH, TOP - 10, 0.75)


def _footer(pen: _Pen, page: int, total: int, cut_off: date, issued_at: datetime, agency: str) -> None:
    y = BOTTOM - 22
    pen.line(MARGIN_X, y + 12, MARGIN_X + CONTENT_WIDTH, y + 12, 0.75)
    pen.text(MARGIN_X, y, f"数据统计截止至：{_ymd(cut_off)}", size=8)
    pen.text(MARGIN_X + 150, y, f"打印时间：{issued_at:%Y-%m-%d %H:%M:%S}", size=8)
    pen.text(MARGIN_X + CONTENT_WIDTH, y, f"第{page}页　共{total}页", size=8, align="r")
    pen.text(MARGIN_X, y - 13, f"经办机构：{agency}", size=8)
    pen.text(MARGIN_X + CONTENT_WIDTH, y - 13, "仅供核对　不作证明", size=8, align="r")


# --- the PDF writer --------------------------------------------------------------------------------------


class _Template:
    """The glyphs of one face that every statement prints (labels, notes, digits), prepared once.

    They take CIDs 1…K in a fixed order, so a document's subset is this block followed by the few glyphs
    its own data adds (a name, a unit name). The block's glyf bytes are deflated once per process and
    ended with a sync flush; a document's font stream is that block spliced between two small deflate
    pieces of its own (RFC 1951 blocks concatenate), which saves compressing ~50 KB of outlines per
    statement.
    """

    def __init__(self, program: _FontProgram, chars: str) -> None:
        seen: dict[str, None] = {}
        for ch in chars:
            if ch not in seen and program.gid(ch):
                seen[ch] = None
        self.chars: tuple[str, ...] = tuple(seen)
        self.hex: dict[str, str] = {ch: f"{i:04X}" for i, ch in enumerate(self.chars, 1)}
        self.glyphs: tuple[_Glyph, ...] = (
            program.glyph(0),
            *(program.glyph(program.gid(ch)) for ch in self.chars),
        )
        self.glyf = b"".join(g.data for g in self.glyphs)
        self.glyf_checksum = sum(g.checksum for g in self.glyphs) & 0xFFFFFFFF
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.glyf_deflated = compressor.compress(self.glyf) + compressor.flush(zlib.Z_SYNC_FLUSH)
        self.widths = " ".join(str(round(program.advance(ch))) for ch in self.chars)
        self.to_unicode = [
            f"<{i:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for i, ch in enumerate(self.chars, 1)
        ]


class _Subset:
    """The glyphs one document uses from one face: the template's, then its own in order of first use.

    CID = glyph index in the embedded font (CIDToGIDMap /Identity).
    """

    def __init__(self, program: _FontProgram, template: _Template) -> None:
        self.program = program
        self.template = template
        self.hex: dict[str, str] = dict(template.hex)
        self.extra: list[str] = []

    @property
    def chars(self) -> tuple[str, ...]:
        return self.template.chars + tuple(self.extra)

    def encode(self, text: str) -> str:
        table = self.hex
        try:
            return "".join([table[ch] for ch in text])
        except KeyError:
            base = len(self.template.chars)
            for ch in text:
                if ch not in table:
                    self.extra.append(ch)
                    table[ch] = f"{base + len(self.extra):04X}"
            return "".join([table[ch] for ch in text])

    def tag(self) -> str:
        digest = hashlib.sha256("".join(self.chars).encode("utf-8")).digest()
        return "".join(chr(65 + b % 26) for b in digest[:6])

    def font_stream(self) -> tuple[bytes, int]:
        """The embedded TrueType font, zlib-compressed, and its uncompressed length (/Length1).

        Tables: cmap glyf head hhea hmtx loca maxp post (sorted by tag, as the directory wants).
        """
        program = self.program
        template = self.template
        extra = [program.glyph(program.gid(ch)) for ch in self.extra]
        glyphs = (*template.glyphs, *extra)
        n = len(glyphs)
        extra_glyf = b"".join(g.data for g in extra)
        glyf_len = len(template.glyf) + len(extra_glyf)
        glyf_checksum = (template.glyf_checksum + sum(g.checksum for g in extra)) & 0xFFFFFFFF
        offsets = [0]
        position = 0
        for g in glyphs:
            position += len(g.data)
            offsets.append(position)
        loca = struct.pack(f">{n + 1}I", *offsets)
        hmtx = b"".join([g.hmtx for g in glyphs])
        drawn = [g for g in glyphs if g.points]
        x_min = min((g.bbox[0] for g in drawn), default=0)
        y_min = min((g.bbox[1] for g in drawn), default=0)
        x_max = max((g.bbox[2] for g in drawn), default=0)
        y_max = max((g.bbox[3] for g in drawn), default=0)
        head = struct.pack(
            ">IIIIHHqqhhhhHHhhh",
            0x00010000,  # version
            0x00010000,  # fontRevision
            0,  # checkSumAdjustment: patched below
            0x5F0F3CF5,  # magic
            0x000B,  # flags: baseline and left sidebearing at 0, integer scaling
            1000,  # unitsPerEm
            0,  # created
            0,  # modified
            x_min,
            y_min,
            x_max,
            y_max,
            1 if program.bold else 0,  # macStyle
            8,  # lowestRecPPEM
            2,  # fontDirectionHint
            1,  # indexToLocFormat: long offsets
            0,  # glyphDataFormat
        )
        hhea = struct.pack(
            ">IhhhHhhhhhhhhhhhH",
            0x00010000,
            program.ascent,
            program.descent,
            0,  # lineGap
            max(g.advance for g in glyphs),
            min((g.lsb for g in drawn), default=0),
            min((g.advance - g.bbox[2] for g in drawn), default=0),
            x_max,
            1,  # caretSlopeRise
            0,
            0,
            0,
            0,
            0,
            0,
            0,  # metricDataFormat
            n,  # numberOfHMetrics
        )
        maxp = struct.pack(
            ">IHHHHHHHHHHHHHH",
            0x00010000,
            n,
            max(g.points for g in glyphs),
            max(g.contours for g in glyphs),
            0,  # maxCompositePoints
            0,  # maxCompositeContours
            2,  # maxZones
            *([0] * 8),  # no hinting: no twilight points, storage, functions, stack, instructions, components
        )
        post = struct.pack(">IIhhIIIII", 0x00030000, 0, -100, 50, 0, 0, 0, 0, 0)
        tail = {b"head": head, b"hhea": hhea, b"hmtx": hmtx, b"loca": loca, b"maxp": maxp, b"post": post}
        count = 2 + len(tail)
        directory_len = 12 + 16 * count
        entries = [(b"cmap", _checksum(_EMPTY_CMAP), len(_EMPTY_CMAP)), (b"glyf", glyf_checksum, glyf_len)]
        entries += [(tag, _checksum(data), len(data)) for tag, data in tail.items()]
        directory = [struct.pack(">IHHHH", 0x00010000, count, 128, 3, count * 16 - 128)]
        offset = directory_len
        head_offset = 0
        for tag, checksum, length in entries:
            directory.append(struct.pack(">4sIII", tag, checksum, offset, length))
            if tag == b"head":
                head_offset = offset
            offset += length + (-length % 4)
        prefix = b"".join(directory)
        total = (_checksum(prefix) + sum(checksum for _, checksum, _ in entries)) & 0xFFFFFFFF
        adjustment = (0xB1B0AFBA - total) & 0xFFFFFFFF
        tail_bytes = b"".join(data + b"\0" * (-len(data) % 4) for data in tail.values())
        head_at = head_offset - directory_len - len(_EMPTY_CMAP) - glyf_len  # head is the first tail table
        tail_bytes = tail_bytes[: head_at + 8] + struct.pack(">I", adjustment) + tail_bytes[head_at + 12 :]
        prefix += _EMPTY_CMAP
        length = len(prefix) + glyf_len + len(tail_bytes)

        first = zlib.compressobj(6, zlib.DEFLATED, -15)
        last = zlib.compressobj(6, zlib.DEFLATED, -15)
        adler = zlib.adler32(prefix)
        adler = zlib.adler32(template.glyf, adler)
        adler = zlib.adler32(extra_glyf, adler)
        adler = zlib.adler32(tail_bytes, adler)
        stream = b"".join(
            (
                b"\x78\x9c",  # zlib header: deflate, 32 KB window
                first.compress(prefix),
                first.flush(zlib.Z_SYNC_FLUSH),
                template.glyf_deflated,
                last.compress(extra_glyf),
                last.compress(tail_bytes),
                last.flush(zlib.Z_FINISH),
                struct.pack(">I", adler),
            )
        )
        return stream, length

    def widths(self) -> str:
        own = " ".join(str(round(self.program.advance(ch))) for ch in self.extra)
        return f"{self.template.widths} {own}" if own else self.template.widths

    def to_unicode(self) -> bytes:
        base = len(self.template.chars)
        entries = self.template.to_unicode + [
            f"<{i:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for i, ch in enumerate(self.extra, base + 1)
        ]
        lines = [
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange",
        ]
        for start in range(0, len(entries), 100):
            chunk = entries[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            lines.extend(chunk)
            lines.append("endbfchar")
        lines.append("endcmap CMapName currentdict /CMap defineresource pop end end")
        return "\n".join(lines).encode("ascii")


# A cmap with one format 4 subtable holding only the final 0xFFFF segment: the PDF maps CIDs to glyphs
# (CIDToGIDMap /Identity), but some readers insist that the table exists.
_EMPTY_CMAP = struct.pack(">HHHHI", 0, 1, 3, 1, 12) + struct.pack(
    ">HHHHHHHHHHHH", 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0
)


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


def _pdf_string(text: str) -> bytes:
    """A PDF text string: UTF-16BE with BOM, hex-encoded."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _qr_ops(x: float, y: float, size: float, matrix: list[list[bool]]) -> list[str]:
    """The QR code as filled rectangles, one per horizontal run of dark modules (vector)."""
    count = len(matrix)
    module = size / count
    out = ["0 g"]
    for r, row in enumerate(matrix):
        top = y + size - (r + 1) * module
        c = 0
        while c < count:
            if row[c]:
                start = c
                while c < count and row[c]:
                    c += 1
                out.append(f"{x + start * module:.3f} {top:.3f} {(c - start) * module:.3f} {module:.3f} re")
            else:
                c += 1
    out.append("f")
    return out


def _content(ops: Sequence[Op], subsets: dict[str, _Subset]) -> bytes:
    out: list[str] = []
    lines: dict[float, list[str]] = {}
    texts: list[Op] = []
    for op in ops:
        kind = op[0]
        if kind == "t":
            texts.append(op)
        elif kind == "l":
            lines.setdefault(op[5], []).append(f"{op[1]:.2f} {op[2]:.2f} m {op[3]:.2f} {op[4]:.2f} l")
        elif kind == "f":
            out.append(f"{op[5]:.3f} g {op[1]:.2f} {op[2]:.2f} {op[3]:.2f} {op[4]:.2f} re f")
        elif kind == "q":
            out.extend(_qr_ops(op[1], op[2], op[3], op[4]))
    out.append("0 G")
    for width, segments in lines.items():
        out.append(f"{width:.2f} w")
        out.extend(segments)
        out.append("S")
    out.append("0 g BT")
    current: tuple[str, float] | None = None
    for _, font, size, x, y, text in texts:
        if current != (font, size):
            out.append(f"/F{font} {size:.2f} Tf")
            current = (font, size)
        out.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm <{subsets[font].encode(text)}> Tj")
    out.append("ET")
    return "\n".join(out).encode("ascii")


class _PdfWriter:
    def __init__(self) -> None:
        self.objects: list[bytes] = []

    def reserve(self) -> int:
        self.objects.append(b"")
        return len(self.objects)

    def set(self, ref: int, body: bytes) -> None:
        self.objects[ref - 1] = body

    def add(self, body: bytes) -> int:
        self.objects.append(body)
        return len(self.objects)

    def stream(self, data: bytes, level: int = 6) -> int:
        return self.raw_stream(zlib.compress(data, level), " /Filter /FlateDecode")

    def raw_stream(self, data: bytes, extra: str) -> int:
        return self.add(f"<< /Length {len(data)}{extra} >>\nstream\n".encode("ascii") + data + b"\nendstream")

    def finish(self, root: int, info: int, file_id: bytes) -> bytes:
        out = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"]
        offsets = []
        position = len(out[0])
        for number, body in enumerate(self.objects, 1):
            chunk = f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
            offsets.append(position)
            out.append(chunk)
            position += len(chunk)
        xref = [f"xref\n0 {len(self.objects) + 1}\n0000000000 65535 f \n"]
        xref.extend(f"{offset:010d} 00000 n \n" for offset in offsets)
        ident = file_id.hex().upper()
        xref.append(
            f"trailer\n<< /Size {len(self.objects) + 1} /Root {root} 0 R /Info {info} 0 R "
            f"/ID [<{ident}> <{ident}>] >>\nstartxref\n{position}\n%%EOF\n"
        )
        out.append("".join(xref).encode("ascii"))
        return b"".join(out)


def _font_objects(writer: _PdfWriter, subset: _Subset) -> int:
    program = subset.program
    name = f"{subset.tag()}+{program.ps_name}"
    font_file, length = subset.font_stream()
    file_ref = writer.raw_stream(font_file, f" /Length1 {length} /Filter /FlateDecode")
    descriptor = writer.add(
        (
            f"<< /Type /FontDescriptor /FontName /{name} /Flags 4 "
            f"/FontBBox [{' '.join(str(v) for v in program.bbox)}] /ItalicAngle 0 "
            f"/Ascent {program.ascent} /Descent {program.descent} /CapHeight {program.cap_height} "
            f"/StemV {120 if program.bold else 80} /FontFile2 {file_ref} 0 R >>"
        ).encode("ascii")
    )
    cid_font = writer.add(
        (
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            f"/FontDescriptor {descriptor} 0 R /DW 1000 /W [1 [{subset.widths()}]] /CIDToGIDMap /Identity >>"
        ).encode("ascii")
    )
    to_unicode = writer.stream(subset.to_unicode())
    return writer.add(
        (
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
            f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
        ).encode("ascii")
    )


def write_pdf(pages: Sequence[Page], fonts: Fonts, *, title: str, subject: str, created: datetime) -> bytes:
    """Serialise display-list pages as a PDF 1.7 file with the two faces embedded as subsets."""
    subsets = {
        "R": _Subset(fonts.body, fonts.body.template(_TEMPLATE_BODY)),
        "B": _Subset(fonts.heading, fonts.heading.template(_TEMPLATE_HEADING)),
    }
    writer = _PdfWriter()
    catalog = writer.reserve()
    pages_ref = writer.reserve()
    contents = [writer.stream(_content(page.ops, subsets)) for page in pages]
    font_refs = {key: _font_objects(writer, subset) for key, subset in subsets.items() if subset.chars}
    resources = " ".join(f"/F{key} {ref} 0 R" for key, ref in font_refs.items())
    kids = []
    for content in contents:
        kids.append(
            writer.add(
                (
                    f"<< /Type /Page /Parent {pages_ref} 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
                    f"/Resources << /Font << {resources} >> >> /Contents {content} 0 R >>"
                ).encode("ascii")
            )
        )
    writer.set(
        pages_ref,
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode("ascii"),
    )
    writer.set(catalog, f"<< /Type /Catalog /Pages {pages_ref} 0 R /Lang (zh-CN) >>".encode("ascii"))
    stamp = created.strftime("D:%Y%m%d%H%M%S")
    offset = created.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        stamp += f"{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
    info = writer.add(
        b"<< /Title "
        + _pdf_string(title)
        + b" /Subject "
        + _pdf_string(subject)
        + b" /Producer (sidms) /CreationDate ("
        + stamp.encode("ascii")
        + b") >>"
    )
    file_id = hashlib.sha256(f"{subject}\0{stamp}".encode()).digest()[:16]
    return writer.finish(catalog, info, file_id)


def render_statement(
    record: StatementData,
    *,
    number: str,
    qr_url: str,
    issued_at: datetime,
    cut_off: date,
    agency: str,
    fonts: StatementFonts | None = None,
) -> bytes:
    """The 社会保险个人权益记录单 of ``record`` as PDF bytes (A4, usually two pages).

    ``number`` is the verification number (:func:`verification_number`), printed grouped by five;
    ``qr_url`` is what the QR code holds (the public verification page for this number). The output is
    deterministic: the same arguments give the same bytes.
    """
    if not isinstance(record, StatementData):
        raise InvalidStatement("record", "记录单数据类型错误", "record must be a StatementData")
    _text(number, "表单验证号码")
    _text(qr_url, "二维码地址")
    _text(agency, "经办机构")
    loaded = load_fonts(fonts)
    pages = layout(
        record,
        number=number,
        qr_url=qr_url,
        issued_at=issued_at,
        cut_off=cut_off,
        agency=agency,
        fonts=loaded,
    )
    return write_pdf(
        pages,
        loaded,
        title=f"社会保险个人权益记录单（{record.year}年度）",
        subject=f"表单验证号码 {display_number(number) if len(number) == _NUMBER_LENGTH else number}",
        created=issued_at,
    )


def example_record(seed: int = 0, *, year: int = 2025, years: int = 3) -> StatementData:
    """A realistic statement for benchmarks, tests and previews: an employee with ``years`` years of
    contributions (one month in arrears, two months transferred in), a pension account and one benefit.
    The values are invented; the structure is what the business selector returns."""
    import random

    rng = random.Random(seed)  # noqa: S311  (invented sample data, not secrets)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    given = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红梅鑫波斌宇浩凯健俊帆帅旭宁龙林欣佳琪雪晨阳瑞博文昊天思远子轩梓涵一诺浩然雨桐"
    name = rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
    units = (
        "威海市环翠区海滨机械制造有限公司",
        "威海华东数控股份有限公司",
        "文登区天润轮胎销售有限责任公司",
        "荣成市石岛渔港水产品加工厂",
        "乳山市银滩旅游开发有限公司",
        "山东威海经济技术开发区物业管理服务中心",
    )
    start_year = rng.randint(1995, 2015)
    base = Decimal(rng.randint(3500, 14000))
    records = []
    for offset in range(years):
        y = year - offset
        rows = []
        for kind in INSURANCE_ORDER:
            cells = []
            for month in range(1, 13):
                mark = Mark.PAID
                if offset == 0 and month == 12:
                    mark = Mark.ARREARS
                if offset == years - 1 and month <= 2:
                    mark = Mark.TRANSFERRED_IN
                cells.append(MonthCell(base, mark))
            rows.append(InsuranceMonths(kind, tuple(cells)))
        records.append(YearContributions(y, tuple(rows)))
        base = (base * Decimal("0.95")).quantize(Decimal(1))
    principal = (Decimal(records[0].insurances[0].months[0].base or 0) * Decimal("0.08")).quantize(_CENT) * 11
    prior = Decimal(rng.randint(20000, 150000)) + Decimal(rng.randint(0, 99)) / 100
    interest = (prior * Decimal("0.015")).quantize(_CENT)
    account = PensionAccount(prior, principal, interest, prior + principal + interest, months=11)
    enrolled = date(start_year, rng.randint(1, 12), 1)
    months_total = (year - start_year) * 12 + rng.randint(0, 11)
    summaries = tuple(
        InsuranceSummary(
            kind, enrolled, "参保缴费", months_total if kind is not Insurance.MEDICAL else months_total - 6
        )
        for kind in INSURANCE_ORDER
    )
    benefits = (
        (Benefit("生育津贴", date(year, 3, 1), date(year, 6, 7), Decimal("21345.60"), "98天"),)
        if seed % 3 == 0
        else ()
    )
    number = "".join(rng.choice("0123456789") for _ in range(10))
    return StatementData(
        year=year,
        identity=Identity(
            id_type="居民身份证",
            id_number=mask_id("371002" + str(rng.randint(1965, 2000)) + "0101" + number[:4]),
            ssn=mask_id("371002" + str(rng.randint(1965, 2000)) + "0101" + number[4:8]),
            name=name,
            sex=rng.choice("男女"),
            unit_name=rng.choice(units),
            work_start=date(start_year, enrolled.month, 1),
        ),
        summaries=summaries,
        years=tuple(records),
        account=account,
        benefits=benefits,
    )
