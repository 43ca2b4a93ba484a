"""Accept or refuse an uploaded scan (电子档案, R2.4) before a reviewer ever opens it (R7.4).

Archive scans arrive from window clerks, units and kiosks. Every file is a door: a renamed program, an
image that decompresses to gigabytes, a PDF that runs JavaScript in the reviewer's viewer or carries
an attachment. :func:`inspect` lets through exactly four kinds, decided by the *content* (magic
bytes), never by the file name or the browser's content type, both of which the uploader controls:

====  ==================  ================================================
kind  mime                recognised by
====  ==================  ================================================
jpeg  image/jpeg          ``FF D8 FF``
png   image/png           ``89 50 4E 47 0D 0A 1A 0A``
tiff  image/tiff          ``II*\\0`` or ``MM\\0*`` (classic TIFF)
pdf   application/pdf     ``%PDF-`` at offset 0
====  ==================  ================================================

The order of the checks is the order of their cost, so that a hostile file is refused by the
cheapest check that can see it:

1. the size limit, before anything is parsed (``too_large``);
2. the magic bytes (``unsupported_type``; the message names what the content looks like, e.g. a
   Windows program or a ZIP archive, because "不支持的文件类型" alone leaves the clerk guessing);
3. images: the dimensions from the header only (Pillow's ``Image.open`` is lazy), refused above
   ``max_pixels`` (``too_many_pixels``) before any pixel is decoded; then a structural check (PNG chunk
   CRCs via ``verify()``) and a decode of the first frame (JPEG at 1/8 scale, which still reads
   every byte) so that truncated or corrupt files are refused (``corrupt_image``);
4. PDFs (pypdf, lenient parser, every pypdf exception turned into ``corrupt_pdf``): encryption
   (``encrypted_pdf``); the page tree walked with a cycle guard and a cap (``too_many_pages``); then
   every object reachable from the trailer, with a cap on their number (``pdf_too_complex``), for
   JavaScript anywhere (``/JS``, ``/JavaScript`` in the names tree or as an action type in
   ``/OpenAction``, ``/AA`` of the document, pages, annotations and form fields, XFA forms:
   ``pdf_javascript``), launch actions (``pdf_launch``), embedded files (``/EmbeddedFiles``,
   ``/EmbeddedFile``, ``/FileAttachment`` annotations, ``/GoToE``, ``/RichMedia``:
   ``pdf_embedded_file``), other actions that reach outside the document (``/SubmitForm``,
   ``/ImportData``, ``/GoToR`` and ``/Thread`` into another file, a web link opened by itself from
   ``/OpenAction`` or ``/AA`` or their ``/Next`` chains, multimedia, 3D: ``pdf_active_content``) and image XObjects larger than
   ``max_pixels`` (``too_many_pixels``). Walking the objects rather than a list of known places also
   finds an action hidden in an odd spot; PDF names are compared after pypdf has undone ``#xx``
   escapes, so ``/J#61vaScript`` is ``/JavaScript``.

Pillow's own decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``) is process-wide state that other
code relies on, so it is left alone: :func:`inspect` compares the header size with ``max_pixels``
itself and treats Pillow's ``DecompressionBombError`` (and, locally, its warning) as the same refusal.
Above ``2 × Image.MAX_IMAGE_PIXELS`` (≈179 M pixels by default) Pillow refuses first, whatever
``max_pixels`` says.

:func:`thumbnail` renders a small PNG in memory (never a temporary file). For a PDF there is no
renderer here (no poppler/mupdf on the servers, and rendering hostile PDFs server-side is exactly the
attack surface this module keeps small), so: if page 1 carries an image XObject (what a scanner
produces) that image is decoded and shrunk; otherwise a generated placeholder says ``PDF`` and the page
count. It says "N 页" when a CJK font is installed under ``/usr/share/fonts`` (Noto CJK, Source Han,
WenQuanYi, Droid Sans Fallback) and ``N pages`` with Pillow's built-in font otherwise, so it never
draws tofu boxes.

Known limits: a PDF parser can still be slow on a crafted file (pypdf has stream-length and
decompression caps and we cap objects and pages, but there is no wall-clock timeout: run uploads in a
worker with a time limit if that matters); inline images inside content streams are not measured;
only the first frame of a multi-page TIFF is decoded (every frame's size is checked).
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps
from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from sidms.lib.errors import StandardError

__all__ = [
    "ACCEPTED_KINDS",
    "FileRefused",
    "Inspected",
    "inspect",
    "thumbnail",
]


class FileRefused(StandardError):
    """An uploaded file is not an acceptable scan; ``reason`` says why."""


@dataclass(frozen=True)
class Inspected:
    """What :func:`inspect` found in an accepted file.

    ``width``/``height`` are the stored pixel size of the (first) image, before any EXIF rotation;
    ``None`` for PDFs, whose pages have no pixel size. ``pages`` is 1 for JPEG and PNG, the number of
    frames for TIFF and the number of pages for PDF. ``sha256`` (hex) lets the archive prove later
    that the stored scan is the one that was reviewed.
    """

    kind: str
    mime: str
    size: int
    pages: int
    width: int | None
    height: int | None
    sha256: str


# kind -> (mime, Chinese label)
ACCEPTED_KINDS: dict[str, tuple[str, str]] = {
    "jpeg": ("image/jpeg", "JPEG 图片"),
    "png": ("image/png", "PNG 图片"),
    "tiff": ("image/tiff", "TIFF 图片"),
    "pdf": ("application/pdf", "PDF 文件"),
}
_PILLOW_FORMAT = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}

_ACCEPTED_ZH = "只接受 JPEG、PNG、TIFF 格式的图片或 PDF 文件（按文件内容判断，与扩展名无关）"
_ACCEPTED_EN = "only JPEG, PNG and TIFF images and PDF files are accepted (judged by content, not by name)"

# Ceilings that keep a hostile PDF's cost bounded whatever the caller passes.
DEFAULT_MAX_PAGES = 500
_MAX_PDF_OBJECTS = 100_000
# What the object streams and cross-reference streams of one PDF may decompress to, together. A scan's are a
# few hundred kilobytes; pypdf's own caps are per stream (75 MB), and it parses an object stream at about a
# microsecond per byte, so a 341 KB file of five deflated object streams of blanks took three minutes of a
# worker and a 20 MB one would have taken hours (attack round 10).
_MAX_PDF_DECODED = 8_000_000
_DECODE_CAPS = {
    name: _MAX_PDF_DECODED
    for name in (
        "zlib_maximum_output_length",
        "lzw_maximum_output_length",
        "run_length_maximum_output_length",
        "brotli_maximum_output_length",
        "array_based_stream_maximum_output_length",
        "maximum_declared_stream_length",
    )
}


def _magic_kind(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if data.startswith(b"%PDF-"):
        return "pdf"
    return None


# What a refused file looks like: (Chinese, English, what the clerk can do). Checked in order.
_NOT_A_SCAN = "这不是扫描件，请确认选择了正确的文件"
_OTHER_IMAGE = "请用看图或扫描软件另存为 JPEG 或 PNG 后重新上传"
_OFFICE = "请在 Office/WPS 中打印或导出为 PDF 后重新上传"


def _describe_unsupported(data: bytes) -> tuple[str, str, str]:
    head = data[:512]
    if head.startswith(b"MZ"):
        return "Windows 可执行程序（EXE/DLL）", "a Windows executable (MZ)", _NOT_A_SCAN
    if head.startswith(b"\x7fELF"):
        return "Linux 可执行程序（ELF）", "a Linux executable (ELF)", _NOT_A_SCAN
    if head.startswith((b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")):
        return "macOS 程序或 Java 类文件", "a Mach-O executable or Java class file", _NOT_A_SCAN
    if head.startswith(b"#!"):
        return "脚本程序", "a script", _NOT_A_SCAN
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return (
            "ZIP 压缩包（Word/Excel 等 Office 文档也是这种格式）",
            "a ZIP archive (or an Office document)",
            _OFFICE,
        )
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "旧版 Office 文档（.doc/.xls）", "a legacy Office document", _OFFICE
    if head.startswith((b"Rar!", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b")):
        return "压缩包（RAR/7z/gzip）", "a compressed archive", "请解压后上传其中的扫描件"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF 图片", "a GIF image", _OTHER_IMAGE
    if head.startswith(b"BM"):
        return "BMP 图片", "a BMP image", _OTHER_IMAGE
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP 图片", "a WebP image", _OTHER_IMAGE
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"avif"}:
        return (
            "HEIC/AVIF 照片（苹果手机默认格式）",
            "a HEIC/AVIF photo",
            "请在手机“设置—相机—格式”中选择“兼容性最佳”，或转换为 JPEG 后重新上传",
        )
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in text:
        return "SVG 矢量图（可以包含脚本）", "an SVG image (which can carry scripts)", _OTHER_IMAGE
    if text.startswith((b"<!doctype html", b"<html")) or b"<script" in text:
        return "HTML 网页", "an HTML page", _NOT_A_SCAN
    if text.startswith(b"<?xml"):
        return "XML 文件", "an XML file", _NOT_A_SCAN
    if b"%PDF-" in data[:1024]:
        return (
            "PDF 文件头前有多余内容的文件",
            "a file with extra bytes before its PDF header",
            "请重新导出 PDF 后上传",
        )
    return "无法识别的内容", "unrecognised content", _NOT_A_SCAN


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def inspect(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Inspected:
    """Decide from its content whether ``data`` is an acceptable scan; raise :class:`FileRefused` if not.

    Reasons: ``empty``, ``too_large``, ``unsupported_type``, ``too_many_pixels``, ``corrupt_image``,
    ``corrupt_pdf``, ``encrypted_pdf``, ``too_many_pages``, ``pdf_too_complex``, ``pdf_javascript``,
    ``pdf_launch``, ``pdf_embedded_file``, ``pdf_active_content``.
    """
    if not data:
        raise FileRefused("empty", "文件是空的（0 字节），请重新扫描或选择文件", "the file is empty")
    if len(data) > max_bytes:
        raise FileRefused(
            "too_large",
            f"文件大小 {_megabytes(len(data))}，超过上限 {_megabytes(max_bytes)}；"
            "请降低扫描分辨率（300 dpi 即可）或分成几个文件上传",
            f"the file has {len(data)} bytes, more than the limit of {max_bytes}",
        )
    kind = _magic_kind(data)
    if kind is None:
        found, found_en, hint = _describe_unsupported(data)
        raise FileRefused(
            "unsupported_type",
            f"文件内容实际是：{found}，不能作为档案扫描件。{_ACCEPTED_ZH}。{hint}",
            f"the content is {found_en}; {_ACCEPTED_EN}",
        )
    if kind == "pdf":
        pages = _inspect_pdf(data, max_pixels=max_pixels, max_pages=max_pages)
        width = height = None
    else:
        width, height, pages = _inspect_image(data, kind, max_pixels=max_pixels, max_pages=max_pages)
    return Inspected(
        kind=kind,
        mime=ACCEPTED_KINDS[kind][0],
        size=len(data),
        pages=pages,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


# --- images ---------------------------------------------------------------------------------------------


def _too_many_pixels(width: int, height: int, max_pixels: int, what: str = "图片") -> FileRefused:
    return FileRefused(
        "too_many_pixels",
        f"{what}尺寸 {width}×{height} 像素，超过上限 {max_pixels:,} 像素"
        "（可能是异常文件）；请降低扫描分辨率（300 dpi 即可）后重新上传",
        f"the image is {width}x{height} pixels, more than the limit of {max_pixels} pixels",
    )


def _too_many_pixels_unknown(max_pixels: int) -> FileRefused:
    # Pillow refused in Image.open, before the size was known to us; its own ceiling may be the lower one.
    limit = min(max_pixels, 2 * Image.MAX_IMAGE_PIXELS) if Image.MAX_IMAGE_PIXELS else max_pixels
    return FileRefused(
        "too_many_pixels",
        f"图片尺寸超过上限 {limit:,} 像素（可能是异常文件）；请降低扫描分辨率（300 dpi 即可）后重新上传",
        f"the image is larger than the limit of {limit} pixels",
    )


def _corrupt_image(kind: str) -> FileRefused:
    label = ACCEPTED_KINDS[kind][1]
    return FileRefused(
        "corrupt_image",
        f"{label}已损坏或不完整（可能上传中断），无法打开；请重新扫描或重新上传",
        f"the {kind.upper()} image is truncated or corrupt",
    )


# How Pillow signals bad input: OSError (truncated data, decoder errors), SyntaxError (bad PNG chunks),
# ValueError/TypeError/IndexError/KeyError/struct.error (malformed headers, e.g. TIFF tags), EOFError.
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError, struct.error)


def _open_image(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse by size before anything is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (and, above twice its limit, raises) about bombs. Locally the warning is an
            # error too; if another thread's catch_warnings races with this one, the explicit size
            # check below still refuses, so correctness does not depend on the warnings machinery.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels_unknown(max_pixels) from None
    except _PILLOW_ERRORS:
        raise _corrupt_image(kind) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise _corrupt_image(kind)
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)
    return image


def _frames(image: Image.Image, kind: str, max_pixels: int, max_pages: int) -> int:
    """Count TIFF frames (each is a page), checking every frame's size; other kinds have one."""
    if kind != "tiff":
        return 1
    count = 0
    try:
        while True:
            count += 1
            if count > max_pages:
                raise _too_many_pages(count, max_pages)
            width, height = image.size
            if width * height > max_pixels:
                raise _too_many_pixels(width, height, max_pixels, what=f"第 {count} 页图片")
            try:
                image.seek(count)
            except EOFError:
                break
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels_unknown(max_pixels) from None
    except FileRefused:  # a ValueError too: let it through before the clause below
        raise
    except _PILLOW_ERRORS:
        raise _corrupt_image(kind) from None
    image.seek(0)
    return count


def _inspect_image(data: bytes, kind: str, *, max_pixels: int, max_pages: int) -> tuple[int, int, int]:
    image = _open_image(data, kind, max_pixels)
    width, height = image.size
    pages = _frames(image, kind, max_pixels, max_pages)
    try:
        if kind == "png":
            # Walks every chunk and checks its CRC without decompressing: catches truncation and bit rot.
            image.verify()
            image = _open_image(data, kind, max_pixels)
        if kind == "jpeg":
            # Decode at 1/8 scale: the entropy-coded data is still read to the end, so a truncated
            # JPEG fails here, at 1/64 of the memory of a full decode.
            image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels_unknown(max_pixels) from None
    except _PILLOW_ERRORS:
        raise _corrupt_image(kind) from None
    return width, height, pages


def _displayable(image: Image.Image) -> Image.Image:
    if image.mode in {"L", "LA", "RGB", "RGBA"}:
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode in {"P", "PA"}:
        return image.convert("RGBA")
    if image.mode.startswith("I;16") or image.mode in {"I", "F"}:
        # 16/32-bit greyscale (some scanners' TIFFs): scale to 8 bits rather than clip to white.
        return image.convert("F").point(lambda v: v / 256).convert("L")
    return image.convert("RGB")  # CMYK, YCbCr, LAB …


def _fit(image: Image.Image, size: tuple[int, int]) -> bytes:
    """Shrink (never enlarge) to fit ``size``, honouring EXIF rotation, and encode as PNG."""
    orientation = image.getexif().get(0x0112, 1)
    swap = orientation in {5, 6, 7, 8}  # rotated by 90°: fit the transposed box, then rotate
    box = (size[1], size[0]) if swap else size
    image.thumbnail(box, Image.Resampling.LANCZOS)  # uses JPEG draft mode itself
    image = ImageOps.exif_transpose(image)
    image = _displayable(image)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- PDFs -----------------------------------------------------------------------------------------------


def _corrupt_pdf() -> FileRefused:
    return FileRefused(
        "corrupt_pdf",
        "PDF 文件已损坏或格式不正确，无法打开；请用扫描软件重新生成 PDF 后上传",
        "the PDF is malformed or truncated",
    )


def _too_many_pages(pages: int, max_pages: int) -> FileRefused:
    more = f"超过 {max_pages} 页" if pages > max_pages else f"共 {pages} 页"
    return FileRefused(
        "too_many_pages",
        f"文件{more}，超过上限 {max_pages} 页；请按材料分成几个文件上传",
        f"the file has more than {max_pages} pages",
    )


_ACTIVE = "请用打印为 PDF 或重新扫描的方式生成不含这些内容的文件后上传"

# Action types (/S) and what they mean for us.
_ACTION_REASONS = {
    "/JavaScript": "pdf_javascript",
    "/Launch": "pdf_launch",
    "/GoToE": "pdf_embedded_file",
    # Opens another file: a UNC path (\\\\host\\share) makes Windows send the reviewer's NTLM credentials to
    # that host (the "BadPDF" leak, CVE-2018-4993). Scanners never write it. (Attack round 10.)
    "/GoToR": "pdf_active_content",
    "/SubmitForm": "pdf_active_content",
    "/ImportData": "pdf_active_content",
    "/Rendition": "pdf_active_content",
    "/Movie": "pdf_active_content",
    "/Sound": "pdf_active_content",
}
_SUBTYPE_REASONS = {
    "/FileAttachment": "pdf_embedded_file",
    "/RichMedia": "pdf_embedded_file",
    "/Movie": "pdf_active_content",
    "/Sound": "pdf_active_content",
    "/Screen": "pdf_active_content",
    "/3D": "pdf_active_content",  # a 3D annotation: a U3D/PRC parser, and scripts run when it is loaded
    "/U3D": "pdf_active_content",  # the 3D streams themselves
    "/PRC": "pdf_active_content",
}
# Keys whose mere presence is the finding.
_KEY_REASONS = {
    "/JS": "pdf_javascript",
    "/JavaScript": "pdf_javascript",  # the document-level names tree
    "/XFA": "pdf_javascript",  # XFA forms carry their own scripts
    "/OnInstantiate": "pdf_javascript",  # the script a 3D stream runs when it is loaded
    "/3DD": "pdf_active_content",  # a 3D stream, wherever it hangs
    "/EmbeddedFiles": "pdf_embedded_file",
    "/EF": "pdf_embedded_file",  # a file specification with the file inside
}
_PDF_MESSAGES = {
    "pdf_javascript": (
        "PDF 文件含有 JavaScript 脚本（打开或点击时会自动运行），存在安全风险，不予接收",
        "the PDF contains JavaScript",
    ),
    "pdf_launch": (
        "PDF 文件含有“启动程序”动作（会在审核人员电脑上运行其他程序），存在安全风险，不予接收",
        "the PDF contains a launch action",
    ),
    "pdf_embedded_file": (
        "PDF 文件内嵌了附件文件（可能夹带程序或未经审核的资料），不予接收",
        "the PDF contains an embedded file",
    ),
    "pdf_active_content": (
        "PDF 文件含有提交表单、导入数据、打开其他文件或网址、多媒体或三维内容等动作，不予接收",
        "the PDF contains actions that reach outside the document (form submission, data import, another"
        " file or a web address opened by itself, media, 3D)",
    ),
}


def _resolve(value: Any) -> Any:
    return value.get_object() if isinstance(value, IndirectObject) else value


# How many actions of one trigger (an action and its /Next chain) are looked at before the file is refused.
_MAX_CHAINED_ACTIONS = 1_000


def _triggered(obj: DictionaryObject) -> Iterator[DictionaryObject]:
    """The actions OBJ runs by itself, without a click: its /OpenAction and the actions of its /AA (page
    opened or closed, document printed, field focused …), each with the actions chained by /Next."""
    starts: list[Any] = [dict.get(obj, "/OpenAction")]
    additional = _resolve(dict.get(obj, "/AA"))
    if isinstance(additional, DictionaryObject):
        starts.extend(dict.values(additional))
    seen = 0
    while starts:
        action = _resolve(starts.pop())
        if isinstance(action, ArrayObject):
            starts.extend(list.__iter__(action))
            continue
        if not isinstance(action, DictionaryObject):
            continue  # a destination (/OpenAction [page /Fit]): no action
        seen += 1
        if seen > _MAX_CHAINED_ACTIONS:
            raise _corrupt_pdf()
        yield action
        starts.append(dict.get(action, "/Next"))


def _finding(obj: DictionaryObject) -> str | None:
    for key, reason in _KEY_REASONS.items():
        if key in obj:
            return reason
    action = _resolve(dict.get(obj, "/S"))
    if isinstance(action, str) and action in _ACTION_REASONS:
        return _ACTION_REASONS[action]
    if action == "/Thread" and "/F" in obj:  # an article thread in another file: like /GoToR
        return "pdf_active_content"
    for triggered in _triggered(obj):
        # A web link is harmless when clicked (the viewer asks first) but one opened by itself as the
        # document or a page opens tells an outsider who reads the scan, and when (attack round 10).
        if _resolve(dict.get(triggered, "/S")) == "/URI":
            return "pdf_active_content"
    subtype = _resolve(dict.get(obj, "/Subtype"))
    if isinstance(subtype, str) and subtype in _SUBTYPE_REASONS:
        return _SUBTYPE_REASONS[subtype]
    if _resolve(dict.get(obj, "/Type")) == "/EmbeddedFile":
        return "pdf_embedded_file"
    return None


def _reachable(reader: PdfReader) -> Iterator[DictionaryObject]:
    """Every dictionary (and stream dictionary) reachable from the trailer, each indirect object once."""
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [reader.trailer]
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            if len(seen) > _MAX_PDF_OBJECTS:
                raise _too_complex(
                    f"超过 {_MAX_PDF_OBJECTS:,} 个对象", f"more than {_MAX_PDF_OBJECTS} objects"
                )
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            yield obj
            stack.extend(dict.values(obj))
        elif isinstance(obj, ArrayObject):
            stack.extend(list.__iter__(obj))


def _count_pages(reader: PdfReader, max_pages: int) -> int:
    """Count leaves of the page tree ourselves: /Count can lie and the tree can loop."""
    root = _resolve(reader.trailer["/Root"])
    stack: list[Any] = [dict.get(root, "/Pages")]
    seen: set[tuple[int, int]] = set()
    pages = 0
    while stack:
        ref = stack.pop()
        if isinstance(ref, IndirectObject):
            key = (ref.idnum, ref.generation)
            if key in seen:
                raise _corrupt_pdf()  # a loop in the page tree
            seen.add(key)
        node = _resolve(ref)
        if not isinstance(node, DictionaryObject):
            raise _corrupt_pdf()
        kids = _resolve(dict.get(node, "/Kids"))
        if kids is None:
            pages += 1
            if pages > max_pages:
                raise _too_many_pages(pages, max_pages)
        elif isinstance(kids, ArrayObject):
            stack.extend(list(list.__iter__(kids))[::-1])
        else:
            raise _corrupt_pdf()
    if pages == 0:
        raise FileRefused("corrupt_pdf", "PDF 文件没有任何页面，请重新生成后上传", "the PDF has no pages")
    return pages


def _open_pdf(data: bytes) -> PdfReader:
    # strict=False: real scanners write slightly broken PDFs (bad xref offsets) that viewers open.
    return PdfReader(io.BytesIO(data), strict=False)


def _too_complex(what: str, what_en: str) -> FileRefused:
    return FileRefused(
        "pdf_too_complex",
        f"PDF 文件结构过于复杂（{what}），不像扫描件；请重新生成 PDF",
        f"the PDF has {what_en}",
    )


def _decode_object_streams(reader: PdfReader) -> None:
    """Decompress every object stream once, within one budget for the whole file, before anything is parsed
    from them (pypdf keeps the decoded data, so nothing is decompressed twice)."""
    total = 0
    for number in sorted({int(stream) for stream, _index in reader.xref_objStm.values()}):
        stream = reader.get_object(number)
        if not isinstance(stream, DictionaryObject) or not hasattr(stream, "get_data"):
            raise _corrupt_pdf()
        total += len(stream.get_data())
        if total > _MAX_PDF_DECODED:
            raise _too_complex(
                f"压缩对象流解压后超过 {_MAX_PDF_DECODED:,} 字节",
                f"object streams that decompress to more than {_MAX_PDF_DECODED} bytes",
            )


def _inspect_pdf(data: bytes, *, max_pixels: int, max_pages: int) -> int:
    with apply_configuration(None, **_DECODE_CAPS):
        return _inspect_pdf_capped(data, max_pixels=max_pixels, max_pages=max_pages)


def _inspect_pdf_capped(data: bytes, *, max_pixels: int, max_pages: int) -> int:
    try:
        reader = _open_pdf(data)
        if reader.is_encrypted:
            raise FileRefused(
                "encrypted_pdf",
                "PDF 文件已加密（设置了打开密码或权限限制），审核人员无法查看；"
                "请取消密码或打印为未加密的 PDF 后重新上传",
                "the PDF is encrypted",
            )
        _decode_object_streams(reader)
        pages = _count_pages(reader, max_pages)
        for obj in _reachable(reader):
            reason = _finding(obj)
            if reason is not None:
                message, message_en = _PDF_MESSAGES[reason]
                raise FileRefused(reason, f"{message}。{_ACTIVE}", message_en)
            if _resolve(dict.get(obj, "/Subtype")) == "/Image":
                width, height = _resolve(dict.get(obj, "/Width")), _resolve(dict.get(obj, "/Height"))
                if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
                    raise _corrupt_pdf()
                if width * height > max_pixels:
                    raise _too_many_pixels(width, height, max_pixels, what="PDF 中的图片")
    except FileRefused:
        raise
    except LimitReachedError:  # one stream past the caps of _DECODE_CAPS
        raise _too_complex(
            f"单个数据流解压后超过 {_MAX_PDF_DECODED:,} 字节",
            f"a stream that decompresses to more than {_MAX_PDF_DECODED} bytes",
        ) from None
    except Exception:  # pypdf raises many types (PdfReadError, KeyError, RecursionError …) on hostile input
        raise _corrupt_pdf() from None
    return pages


def _is_dct(stream: DictionaryObject) -> bool:
    filters = _resolve(dict.get(stream, "/Filter"))
    if isinstance(filters, ArrayObject):
        filters = _resolve(filters[0]) if len(filters) == 1 else None
    return filters == "/DCTDecode"


def _page1_image(data: bytes, size: tuple[int, int]) -> bytes | None:
    """The largest image XObject on page 1, shrunk; None if there is none or it cannot be decoded."""
    try:
        page = _open_pdf(data).pages[0]
        resources = _resolve(dict.get(page, "/Resources"))
        xobjects = (
            _resolve(dict.get(resources, "/XObject")) if isinstance(resources, DictionaryObject) else None
        )
        if not isinstance(xobjects, DictionaryObject):
            return None
        images: dict[str, Any] = {
            name: x
            for name, x in ((name, _resolve(v)) for name, v in dict.items(xobjects))
            if isinstance(x, DictionaryObject) and _resolve(dict.get(x, "/Subtype")) == "/Image"
        }
        if not images:
            return None
        name, best = max(images.items(), key=lambda item: int(item[1]["/Width"]) * int(item[1]["/Height"]))
        declared = (int(best["/Width"]), int(best["/Height"]))
        image: Image.Image | None
        if _is_dct(best):
            # A scanner's JPEG, stored as is: hand the raw bytes to Pillow, which decodes it at a
            # reduced scale. Its header must agree with the size that inspect() checked.
            image = Image.open(io.BytesIO(best.get_data()), formats=["JPEG"])
        else:
            # Flate, CCITT, JBIG2 …: pypdf decodes with its own output caps (75 MB by default).
            image = page.images[name].image
        if image is None or image.size != declared:
            return None
        return _fit(image, size)
    except Exception:  # any failure here just means "use the placeholder"
        return None


# Where a CJK font may be; the first match wins.
_CJK_FONT_PATTERNS = ("*NotoSansCJK*", "*NotoSerifCJK*", "*SourceHan*", "wqy-*", "*DroidSansFallback*")


@functools.cache
def _cjk_font_path() -> Path | None:
    root = Path("/usr/share/fonts")
    if not root.is_dir():
        return None
    for pattern in _CJK_FONT_PATTERNS:
        # Regular weight first (NotoSansCJK-Bold.ttc sorts before NotoSansCJK-Regular.ttc).
        for path in sorted(root.rglob(pattern), key=lambda p: ("Regular" not in p.name, p.name)):
            if path.suffix.lower() in {".ttc", ".ttf", ".otf"}:
                return path
    return None


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def _caption(pages: int, size: int) -> tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont]:
    """ "N 页" in a CJK font when one is installed; otherwise ASCII in Pillow's font, never tofu boxes."""
    cjk = _cjk_font_path()
    if cjk is not None:
        return f"{pages} 页", ImageFont.truetype(str(cjk), size)
    return (f"{pages} page" if pages == 1 else f"{pages} pages"), _font(size)


def _centred(draw: ImageDraw.ImageDraw, text: str, font: Any, centre: tuple[float, float], fill: Any) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = centre
    draw.text((x - (right - left) / 2 - left, y - (bottom - top) / 2 - top), text, fill=fill, font=font)


def _placeholder(pages: int, size: tuple[int, int]) -> bytes:
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(160, 160, 160), width=2)
    caption, font = _caption(pages, max(10, height // 14))
    _centred(draw, "PDF", _font(max(12, height // 6)), (width / 2, height * 0.42), (176, 32, 32))
    _centred(draw, caption, font, (width / 2, height * 0.62), (64, 64, 64))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def thumbnail(data: bytes, inspected: Inspected, *, size: tuple[int, int] = (240, 320)) -> bytes:
    """A PNG that fits in ``size`` (aspect kept, never enlarged), rendered in memory.

    ``inspected`` must be what :func:`inspect` returned for these bytes: its checks (pixel limits,
    no active PDF content) are what make decoding safe here. For a PDF it is the first page's scanned
    image when there is one, otherwise a placeholder of exactly ``size`` saying "PDF" and the page
    count (see the module docstring). Raises :class:`FileRefused` (``corrupt_image``) if an image
    that passed inspection cannot be decoded after all.
    """
    if inspected.kind == "pdf":
        return _page1_image(data, size) or _placeholder(inspected.pages, size)
    image = _open_image(data, inspected.kind, max_pixels=(inspected.width or 1) * (inspected.height or 1))
    try:
        return _fit(image, size)
    except _PILLOW_ERRORS:
        raise _corrupt_image(inspected.kind) from None
