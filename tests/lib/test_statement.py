"""The 社会保险个人权益记录单 PDF (B4, B5): real CJK text with embedded fonts, a QR code that scans, and a
verification number that fails for a changed number or changed data.

The rendering tests need the Noto CJK fonts (Debian ``fonts-noto-cjk``) and skip without them; the
checks on the output use poppler-utils (pdftotext, pdffonts, pdftoppm) and zbar-tools (zbarimg) and skip,
each with its reason, where those are missing. The verification-number tests need nothing.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidms.lib import statement as stm
from sidms.lib.statement import (
    FontNotFound,
    Identity,
    InsuranceMonths,
    InvalidStatement,
    Mark,
    MonthCell,
    PensionAccount,
    StatementData,
)

KEY = b"test-statement-key-0123456789abc"
STATEMENT_ID = "2025-371000-000000042"
ISSUED = datetime(2026, 1, 15, 10, 23, 45, tzinfo=timezone(timedelta(hours=8)))
CUT_OFF = date(2025, 12, 31)
AGENCY = "威海市社会保险事业中心"
URL = "https://si.weihai.example/v/"


def _fonts_or_skip() -> stm.StatementFonts:
    try:
        return stm.find_fonts()
    except FontNotFound:
        pytest.skip("the Noto CJK fonts are not installed (apt-get install fonts-noto-cjk)")


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return path


def _render(record: StatementData, number: str) -> bytes:
    return stm.render_statement(
        record, number=number, qr_url=URL + number, issued_at=ISSUED, cut_off=CUT_OFF, agency=AGENCY
    )


class Issued:
    def __init__(self, record: StatementData, number: str, pdf: bytes, path: Path) -> None:
        self.record = record
        self.number = number
        self.pdf = pdf
        self.path = path


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    _fonts_or_skip()
    record = stm.example_record(7)
    number = stm.verification_number(KEY, STATEMENT_ID, stm.statement_digest(record))
    pdf = _render(record, number)
    path = tmp_path_factory.mktemp("statement") / "statement.pdf"
    path.write_bytes(pdf)
    return Issued(record, number, pdf, path)


@pytest.fixture(scope="module")
def page_one_png(issued: Issued) -> Path:
    pdftoppm = _tool("pdftoppm", "poppler-utils")
    prefix = issued.path.with_name("page")
    subprocess.run(
        [pdftoppm, "-r", "150", "-png", "-f", "1", "-l", "1", str(issued.path), str(prefix)], check=True
    )
    (png,) = issued.path.parent.glob("page*.png")
    return png


# --- the PDF ------------------------------------------------------------------------------------------------


@pytest.mark.req("B5")
@pytest.mark.req("B4")
def test_the_statement_holds_real_chinese_text(issued: Issued) -> None:
    pdftotext = _tool("pdftotext", "poppler-utils")
    text = subprocess.run(
        [pdftotext, str(issued.path), "-"], capture_output=True, text=True, check=True
    ).stdout
    compact = "".join(text.split())
    for expected in (
        "社会保险个人权益记录单",
        issued.record.identity.name,
        issued.record.identity.unit_name,
        "仅供核对",
        "数据统计截止至：2025年12月31日",
        "打印时间：2026-01-15",
        AGENCY,
        stm.display_number(issued.number),
        "截止上年末累计储存额",
        "养老保险",
        "●已缴费",
        "△欠费",
        "○外地转入",
        "-无缴费计划",
    ):
        assert expected in compact, expected
    assert issued.pdf.startswith(b"%PDF-1.7")


@pytest.mark.req("B4")
def test_the_fonts_are_embedded_as_subsets(issued: Issued) -> None:
    pdffonts = _tool("pdffonts", "poppler-utils")
    listing = subprocess.run([pdffonts, str(issued.path)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    assert len(rows) == 2, listing  # the body face and the heading face
    for row in rows:
        name, (emb, sub, uni) = row[0], row[-5:-2]
        assert "+Noto" in name, listing  # a subset tag: ABCDEF+NotoSerifCJKsc-Regular
        assert (emb, sub, uni) == ("yes", "yes", "yes"), listing


@pytest.mark.req("B5")
def test_page_one_shows_glyphs_not_boxes(issued: Issued, page_one_png: Path) -> None:
    """Missing glyphs render as identical boxes (tofu). Crop every character of the title from the PNG
    that pdftoppm drew: each has ink, and no two different characters look alike."""
    from PIL import Image, ImageChops, ImageStat

    fonts = stm.load_fonts()
    pages = stm.layout(
        issued.record,
        number=issued.number,
        qr_url=URL,
        issued_at=ISSUED,
        cut_off=CUT_OFF,
        agency=AGENCY,
        fonts=fonts,
    )
    (title,) = [op for op in pages[0].ops if op[0] == "t" and op[5] == "社会保险个人权益记录单"]
    _, face, size, x, baseline, text = title
    image = Image.open(page_one_png).convert("L")
    scale = image.width / stm.PAGE_WIDTH
    crops = {}
    for ch in text:
        advance = fonts[face].width(ch, size)
        box = (x * scale, (stm.PAGE_HEIGHT - baseline - 0.9 * size) * scale)
        crop = image.crop(
            (round(box[0]), round(box[1]), round((x + advance) * scale), round(box[1] + size * scale))
        )
        ink = sum(crop.histogram()[:128]) / (crop.width * crop.height)
        assert 0.05 < ink < 0.7, (ch, ink)
        crops[ch] = crop
        x += advance
    distinct = list(crops)
    for i, a in enumerate(distinct):
        for b in distinct[i + 1 :]:
            difference = ImageStat.Stat(ImageChops.difference(crops[a], crops[b])).mean[0]
            assert difference > 10, (a, b, difference)


@pytest.mark.req("B5")
def test_the_qr_code_scans_to_the_verification_url(issued: Issued, page_one_png: Path) -> None:
    zbarimg = _tool("zbarimg", "zbar-tools")
    result = subprocess.run([zbarimg, "--quiet", "--raw", str(page_one_png)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == URL + issued.number


@pytest.mark.req("B4")
def test_the_pdf_parses_and_its_fonts_are_well_formed_truetype(issued: Issued) -> None:
    """A second reader (pypdf, pure Python) finds the text, and every embedded font is valid TrueType:
    table checksums right, and every printed character drawn by a real glyph (not .notdef)."""
    from fontTools.ttLib import TTFont
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(issued.pdf))
    assert len(reader.pages) == 2
    assert "社会保险个人权益记录单" in reader.pages[0].extract_text()
    assert "说" in reader.pages[1].extract_text()
    for font in reader.pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        cid_font = font["/DescendantFonts"][0].get_object()
        data = cid_font["/FontDescriptor"]["/FontFile2"].get_object().get_data()
        count = struct.unpack(">H", data[4:6])[0]
        total = 0
        for i in range(count):
            tag, checksum, offset, length = struct.unpack(">4sIII", data[12 + 16 * i : 28 + 16 * i])
            table = data[offset : offset + length]
            if tag == b"head":
                table = table[:8] + b"\0\0\0\0" + table[12:]
            table += b"\0" * (-len(table) % 4)
            assert checksum == sum(struct.unpack(f">{len(table) // 4}I", table)) & 0xFFFFFFFF, tag
        padded = data + b"\0" * (-len(data) % 4)
        total = sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF
        assert total == 0xB1B0AFBA
        tt = TTFont(io.BytesIO(data))
        to_unicode = font["/ToUnicode"].get_object().get_data().decode("ascii")
        pairs = [line.split() for line in to_unicode.splitlines() if line.startswith("<") and " <" in line]
        glyf = tt["glyf"]
        order = tt.getGlyphOrder()
        for cid_hex, uni_hex in pairs:
            char = bytes.fromhex(uni_hex[1:-1]).decode("utf-16-be")
            glyph = glyf[order[int(cid_hex[1:-1], 16)]]
            if not char.isspace():
                assert glyph.numberOfContours > 0, char


@pytest.mark.req("B5")
def test_the_output_is_deterministic(issued: Issued) -> None:
    assert _render(issued.record, issued.number) == issued.pdf


@pytest.mark.req("B5")
def test_more_years_flow_onto_more_pages_each_with_its_footer() -> None:
    _fonts_or_skip()
    from pypdf import PdfReader

    record = stm.example_record(3, years=6)
    pension = stm.Benefit("基本养老金", date(2020, 1, 1), date(2020, 1, 31), Decimal("3456.78"))
    many = tuple(replace(pension, start=date(2020 + i // 12, i % 12 + 1, 1), end=None) for i in range(60))
    record = replace(record, benefits=many)
    fonts = stm.load_fonts()
    pages = stm.layout(
        record, number="0" * 20, qr_url=URL, issued_at=ISSUED, cut_off=CUT_OFF, agency=AGENCY, fonts=fonts
    )
    footer = ("数据统计截止至", "打印时间", "第", "经办机构", "仅供核对")
    for page in pages:  # nothing but the footer runs into the footer's band
        assert all(op[4] >= stm.BOTTOM for op in page.ops if op[0] == "t" and not op[5].startswith(footer))
    pdf = _render(record, stm.verification_number(KEY, "x", stm.statement_digest(record)))
    reader = PdfReader(io.BytesIO(pdf))
    total = len(reader.pages)
    assert total >= 3
    for index, page in enumerate(reader.pages, 1):
        text = "".join(page.extract_text().split())
        assert f"第{index}页共{total}页" in text
        assert "数据统计截止至" in text
        assert "仅供核对" in text


@pytest.mark.req("B5")
def test_names_beyond_the_basic_plane_and_pdf_syntax_characters_come_through(tmp_path: Path) -> None:
    """A minority name with a middle dot, a character outside the BMP (𠮷), and a unit name full of the
    characters PDF strings escape: all are glyph ids in the file and come back as the same text."""
    _fonts_or_skip()
    pdftotext = _tool("pdftotext", "poppler-utils")
    record = stm.example_record(5)
    name, unit = "买买提·𠮷祥", "A&B（威海）<测试>公司\\(1)"
    record = replace(record, identity=replace(record.identity, name=name, unit_name=unit))
    path = tmp_path / "s.pdf"
    path.write_bytes(_render(record, "0" * 20))
    text = subprocess.run([pdftotext, str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert name in text
    assert unit in text


@pytest.mark.req("B5")
def test_a_long_unit_name_is_shrunk_to_fit_its_cell() -> None:
    _fonts_or_skip()
    fonts = stm.load_fonts()
    long_name = "威海市某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某有限责任公司"
    record = stm.example_record(1)
    record = replace(record, identity=replace(record.identity, unit_name=long_name))
    pages = stm.layout(
        record, number="0" * 20, qr_url=URL, issued_at=ISSUED, cut_off=CUT_OFF, agency=AGENCY, fonts=fonts
    )
    (op,) = [op for op in pages[0].ops if op[0] == "t" and op[5].startswith("威海市某某")]
    right_edge = stm.MARGIN_X + stm.CONTENT_WIDTH
    assert op[3] + fonts["R"].width(op[5], op[2]) <= right_edge
    assert op[2] >= 6


# --- verification numbers ---------------------------------------------------------------------------------


@pytest.mark.req("B5")
def test_the_number_verifies_and_has_twenty_readable_characters() -> None:
    record = stm.example_record(1)
    digest = stm.statement_digest(record)
    number = stm.verification_number(KEY, STATEMENT_ID, digest)
    assert len(number) == 20
    assert set(number) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert stm.check_number(KEY, number, STATEMENT_ID, digest)
    # as printed, and as a person might type it
    assert stm.check_number(KEY, stm.display_number(number), STATEMENT_ID, digest)
    assert stm.check_number(KEY, stm.display_number(number).lower(), STATEMENT_ID, digest)
    assert stm.check_number(KEY, number.replace("0", "O").replace("1", "I"), STATEMENT_ID, digest)


@pytest.mark.req("B5")
def test_a_changed_number_does_not_verify() -> None:
    digest = stm.statement_digest(stm.example_record(1))
    number = stm.verification_number(KEY, STATEMENT_ID, digest)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for i in range(len(number)):
        for ch in alphabet:
            if ch != number[i]:
                changed = number[:i] + ch + number[i + 1 :]
                assert not stm.check_number(KEY, changed, STATEMENT_ID, digest)
                assert stm.normalise_number(changed) is None  # caught by the check character alone
    swapped = number[1] + number[0] + number[2:]
    if swapped != number:
        assert not stm.check_number(KEY, swapped, STATEMENT_ID, digest)


@pytest.mark.req("B5")
def test_a_statement_whose_data_changed_after_printing_does_not_verify() -> None:
    record = stm.example_record(1)
    number = stm.verification_number(KEY, STATEMENT_ID, stm.statement_digest(record))
    year = record.years[0]
    pension = year.insurances[0]
    months = list(pension.months)
    months[11] = MonthCell(months[11].base, Mark.PAID)  # the arrears month shown as paid
    changed_year = replace(year, insurances=(replace(pension, months=tuple(months)), *year.insurances[1:]))
    changed = replace(record, years=(changed_year, *record.years[1:]))
    assert not stm.check_number(KEY, number, STATEMENT_ID, stm.statement_digest(changed))
    renamed = replace(record, identity=replace(record.identity, name=record.identity.name + "某"))
    assert not stm.check_number(KEY, number, STATEMENT_ID, stm.statement_digest(renamed))


@pytest.mark.req("B5")
def test_the_number_is_bound_to_its_statement_and_key() -> None:
    digest = stm.statement_digest(stm.example_record(1))
    number = stm.verification_number(KEY, STATEMENT_ID, digest)
    assert not stm.check_number(KEY, number, "2025-371000-000000043", digest)
    assert not stm.check_number(b"another-key-0123456789abcdefghij", number, STATEMENT_ID, digest)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        stm.verification_number(b"short", STATEMENT_ID, digest)


@pytest.mark.req("B5")
@settings(max_examples=50)
@given(st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=19, max_size=19))
def test_the_check_character_catches_every_single_character_error(body: str) -> None:
    number = body + stm._luhn32(body)
    assert stm.normalise_number(number) == number
    for i in range(20):
        for ch in "0123456789ABCDEFGHJKMNPQRSTVWXYZ":
            if ch != number[i]:
                assert stm.normalise_number(number[:i] + ch + number[i + 1 :]) is None


@pytest.mark.req("B5")
def test_the_digest_is_sm3_of_canonical_data() -> None:
    record = stm.example_record(2)
    digest = stm.statement_digest(record)
    assert len(digest) == 64 and int(digest, 16) >= 0
    # the same amount written with or without cents is the same data
    year = record.years[0]
    pension = year.insurances[0]

    def with_base(base: Decimal) -> StatementData:
        months = (MonthCell(base, Mark.PAID), *pension.months[1:])
        changed = replace(year, insurances=(replace(pension, months=months), *year.insurances[1:]))
        return replace(record, years=(changed, *record.years[1:]))

    assert stm.statement_digest(with_base(Decimal(5449))) == stm.statement_digest(
        with_base(Decimal("5449.00"))
    )
    assert stm.statement_digest(with_base(Decimal(5449))) != stm.statement_digest(
        with_base(Decimal("5449.01"))
    )
    assert stm.statement_digest(stm.example_record(2)) == digest
    assert b'"v":1' in stm.canonical_json(record)
    assert stm.statement_digest(stm.example_record(3)) != digest


# --- the data's own rules -----------------------------------------------------------------------------------


@pytest.mark.req("R10")
def test_an_unmasked_identity_number_is_refused() -> None:
    record = stm.example_record(1)
    with pytest.raises(InvalidStatement) as refused:
        replace(record.identity, id_number="371002199001011234")
    assert refused.value.reason == "unmasked"
    assert stm.mask_id("371002199001011234") == "371002********1234"
    assert stm.mask_name("欧阳娜娜") == "欧***"
    assert stm.mask_name("张") == "张"


@pytest.mark.req("B5")
def test_malformed_data_is_refused() -> None:
    record = stm.example_record(1)
    with pytest.raises(InvalidStatement):
        MonthCell(5449.5, Mark.PAID)  # type: ignore[arg-type]  # a float is not money
    with pytest.raises(InvalidStatement):
        MonthCell(Decimal("5449.555"), Mark.PAID)
    with pytest.raises(InvalidStatement):
        InsuranceMonths(stm.Insurance.PENSION, record.years[0].insurances[0].months[:11])
    with pytest.raises(InvalidStatement) as refused:
        PensionAccount(Decimal("100.00"), Decimal("10.00"), Decimal("1.00"), Decimal("112.00"))
    assert refused.value.reason == "account"
    with pytest.raises(InvalidStatement):
        replace(record, year=2030)  # the years must start with the statement year
    with pytest.raises(InvalidStatement):
        Identity("居民身份证", "3710********1234", "3710********1234", " ", "男", "", None)
    assert MonthCell(Decimal(5449), "●").mark is Mark.PAID  # type: ignore[arg-type]


def test_no_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(stm, "_DEFAULT_FONT_DIRS", (tmp_path,))
    monkeypatch.setenv("SIDMS_CJK_FONT_DIRS", str(tmp_path))
    stm.find_fonts.cache_clear()
    try:
        with pytest.raises(FontNotFound, match="fonts-noto-cjk"):
            stm.find_fonts()
    finally:
        stm.find_fonts.cache_clear()
