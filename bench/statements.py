"""Statements per second: the PDF engines for the 社会保险个人权益记录单, one process and two.

The yearly batch issues a statement to every insured person (社会保险法 Art. 74): 2.9 million in one night
on two cores, so the goal is ≥ 100 statements/s with 2 worker processes. Every engine draws the same
display list (sidms.lib.statement.layout: the same two A4 pages, tables, QR code and CJK text in Noto
Serif/Sans CJK SC), so the figures compare the PDF engines and nothing else:

    direct     sidms.lib.statement.render_statement: the project's own writer (pre-converted glyphs,
               a pre-compressed block for the template's glyphs, one CIDFontType2 subset per face)
    reportlab  reportlab's canvas with TTF fonts (Noto CJK converted to TrueType outlines first:
               reportlab cannot embed CFF fonts), subset by reportlab per document
    fpdf2      fpdf2 with the same TrueType fonts as reportlab, subset by fontTools per document (with
               the Noto CJK collections themselves it parses 20 MB per document: 1.7 s a statement)
    typst      the typst package (Rust compiler), one compile per statement with the display list as
               JSON input, fonts subset by typst

Each statement's time includes building its verification number (SM3 digest, HMAC-SM3) and the layout,
as the batch would. Data is generated before timing (sidms.lib.statement.example_record: 3 years of 4
insurances, an account, a benefit). Each worker loads its fonts and renders a few warm-up statements
before the clock starts. Every engine's output is checked: pdftotext must find the title and the
person's name (real CJK text, not boxes), and pdffonts must list every font as embedded.

    uv run --group bench python bench/statements.py                # 400 statements per engine and mode
    uv run --group bench python bench/statements.py --quick        # 60 per engine and mode
    uv run --group bench python bench/statements.py --engines direct --count 2000 --keep /tmp/out
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sidms.lib import statement as st

GOAL = 100.0  # statements per second on two cores
KEY = b"bench-statement-key-0123456789ab"
CUT_OFF = date(2025, 12, 31)
ISSUED = datetime(2026, 1, 15, 2, 0, 0, tzinfo=timezone(timedelta(hours=8)))
AGENCY = "威海市社会保险事业中心"
URL = "https://si.weihai.example/v/"
ENGINES = ("direct", "reportlab", "fpdf2", "typst")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, help="statements per engine and mode (default 400)")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"comma-separated, of {', '.join(ENGINES)}"
    )
    parser.add_argument("--processes", default="1,2", help="worker counts to measure (default 1,2)")
    parser.add_argument("--quick", action="store_true", help="60 statements per engine and mode")
    parser.add_argument("--keep", type=Path, help="write one sample PDF per engine into this directory")
    args = parser.parse_args(argv)
    args.count = args.count or (60 if args.quick else 400)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(args.engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    args.processes = [int(p) for p in args.processes.split(",")]
    return args


def say(text: str = "") -> None:
    print(text, flush=True)


# --- data ------------------------------------------------------------------------------------------------


def job(seed: int) -> tuple[st.StatementData, str, str]:
    record = st.example_record(seed)
    return record, f"2025-371000-{seed:09d}", st.statement_digest(record)


def issue(engine: Engine, record: st.StatementData, statement_id: str) -> bytes:
    """What the batch does per person: digest, number, render."""
    digest = st.statement_digest(record)
    number = st.verification_number(KEY, statement_id, digest)
    return engine.render(record, number)


# --- engines ---------------------------------------------------------------------------------------------


class Engine:
    name = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.fonts = st.load_fonts()

    def pages(self, record: st.StatementData, number: str) -> list[st.Page]:
        return st.layout(
            record,
            number=number,
            qr_url=URL + number,
            issued_at=ISSUED,
            cut_off=CUT_OFF,
            agency=AGENCY,
            fonts=self.fonts,
        )

    def render(self, record: st.StatementData, number: str) -> bytes:
        raise NotImplementedError


class Direct(Engine):
    name = "direct"

    def render(self, record: st.StatementData, number: str) -> bytes:
        return st.render_statement(
            record, number=number, qr_url=URL + number, issued_at=ISSUED, cut_off=CUT_OFF, agency=AGENCY
        )


def _qr_runs(
    x: float, y: float, size: float, matrix: list[list[bool]]
) -> list[tuple[float, float, float, float]]:
    """The QR code as rectangles (x, y bottom-left, w, h), one per horizontal run of dark modules."""
    module = size / len(matrix)
    runs = []
    for r, row in enumerate(matrix):
        top = y + size - (r + 1) * module
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                runs.append((x + start * module, top, (c - start) * module, module))
            else:
                c += 1
    return runs


def _all_chars() -> str:
    """Every character the bench's statements print, for the reportlab TrueType fonts."""
    fonts = st.load_fonts()
    chars: dict[str, set[str]] = {"R": set(), "B": set()}
    for seed in range(2000):
        record = st.example_record(seed)
        for page in st.layout(
            record, number="0" * 20, qr_url=URL, issued_at=ISSUED, cut_off=CUT_OFF, agency=AGENCY, fonts=fonts
        ):
            for op in page.ops:
                if op[0] == "t":
                    chars[op[1]].update(op[5])
    return json.dumps({k: "".join(sorted(v | set(st._DIGITS))) for k, v in chars.items()})


def build_truetype(program: Any, chars: str, path: Path, family: str) -> None:
    """A TrueType (glyf) font with ``chars`` drawn from a Noto CJK face, for reportlab."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    order = [".notdef"]
    cmap = {}
    glyphs = {}
    metrics = {}
    for name, ch in [(".notdef", None), *((f"u{ord(c):04X}", c) for c in chars)]:
        gid = 0 if ch is None else program.gid(ch)
        source = program._font.getGlyphName(gid)
        pen = TTGlyphPen(None)
        program._glyphset[source].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
        metrics[name] = (program._hmtx[source][0], 0)
        if ch is not None:
            order.append(name)
            cmap[ord(ch)] = name
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(cmap)
    builder.setupGlyf(glyphs)
    glyf = builder.font["glyf"]
    builder.setupHorizontalMetrics({n: (metrics[n][0], getattr(glyf[n], "xMin", 0)) for n in order})
    builder.setupHorizontalHeader(ascent=program.ascent, descent=program.descent)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(
        sTypoAscender=program.ascent, sTypoDescender=program.descent, usWinAscent=1160, usWinDescent=288
    )
    builder.setupPost()
    builder.save(str(path))


class ReportLab(Engine):
    name = "reportlab"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        for key in ("R", "B"):
            pdfmetrics.registerFont(TTFont(f"Bench{key}", str(workdir / f"bench-{key}.ttf")))

    def render(self, record: st.StatementData, number: str) -> bytes:
        from reportlab.pdfgen.canvas import Canvas

        out = io.BytesIO()
        canvas = Canvas(
            out,
            pagesize=(st.PAGE_WIDTH, st.PAGE_HEIGHT),
            invariant=1,
            pageCompression=1,
            initialFontName="BenchR",  # else every page names Helvetica, a font not embedded
        )
        for page in self.pages(record, number):
            for op in page.ops:
                kind = op[0]
                if kind == "t":
                    canvas.setFont(f"Bench{op[1]}", op[2])
                    canvas.drawString(op[3], op[4], op[5])
                elif kind == "l":
                    canvas.setLineWidth(op[5])
                    canvas.line(op[1], op[2], op[3], op[4])
                elif kind == "f":
                    canvas.setFillGray(op[5])
                    canvas.rect(op[1], op[2], op[3], op[4], stroke=0, fill=1)
                    canvas.setFillGray(0)
                elif kind == "q":
                    for x, y, w, h in _qr_runs(op[1], op[2], op[3], op[4]):
                        canvas.rect(x, y, w, h, stroke=0, fill=1)
            canvas.showPage()
        canvas.save()
        return out.getvalue()


class Fpdf2(Engine):
    name = "fpdf2"

    def render(self, record: st.StatementData, number: str) -> bytes:
        from fpdf import FPDF

        pdf = FPDF(unit="pt", format=(st.PAGE_WIDTH, st.PAGE_HEIGHT))
        pdf.set_auto_page_break(False)
        # The TrueType fonts built for reportlab: with the 20 MB Noto CJK collections themselves, fpdf2
        # parses and subsets the whole CFF font per document (1.7 s per statement, measured).
        pdf.add_font("R", fname=str(self.workdir / "bench-R.ttf"))
        pdf.add_font("B", fname=str(self.workdir / "bench-B.ttf"))
        height = st.PAGE_HEIGHT
        for page in self.pages(record, number):
            pdf.add_page()
            for op in page.ops:
                kind = op[0]
                if kind == "t":
                    pdf.set_font(op[1], size=op[2])
                    pdf.text(op[3], height - op[4], op[5])
                elif kind == "l":
                    pdf.set_line_width(op[5])
                    pdf.line(op[1], height - op[2], op[3], height - op[4])
                elif kind == "f":
                    pdf.set_fill_color(round(op[5] * 255))
                    pdf.rect(op[1], height - op[2] - op[4], op[3], op[4], style="F")
                elif kind == "q":
                    pdf.set_fill_color(0)
                    for x, y, w, h in _qr_runs(op[1], op[2], op[3], op[4]):
                        pdf.rect(x, height - y - h, w, h, style="F")
        return bytes(pdf.output())


_TYPST_SOURCE = r"""
#let doc = json(bytes(sys.inputs.doc))
#set page(width: doc.width * 1pt, height: doc.height * 1pt, margin: 0pt)
#set text(top-edge: "baseline", bottom-edge: "baseline")
#let fonts = (R: (font: "Noto Serif CJK SC", weight: "regular"), B: (font: "Noto Sans CJK SC", weight: "bold"))
#for (i, page) in doc.pages.enumerate() {
  if i > 0 { pagebreak() }
  for op in page {
    let kind = op.at(0)
    if kind == "t" {
      let f = fonts.at(op.at(1))
      place(top + left, dx: op.at(3) * 1pt, dy: (doc.height - op.at(4)) * 1pt,
        text(font: f.font, weight: f.weight, size: op.at(2) * 1pt, op.at(5)))
    } else if kind == "l" {
      place(top + left, line(start: (op.at(1) * 1pt, (doc.height - op.at(2)) * 1pt),
        end: (op.at(3) * 1pt, (doc.height - op.at(4)) * 1pt), stroke: op.at(5) * 1pt))
    } else if kind == "f" {
      place(top + left, dx: op.at(1) * 1pt, dy: (doc.height - op.at(2) - op.at(4)) * 1pt,
        rect(width: op.at(3) * 1pt, height: op.at(4) * 1pt, fill: luma(op.at(5) * 100%), stroke: none))
    } else if kind == "r" {
      place(top + left, dx: op.at(1) * 1pt, dy: (doc.height - op.at(2) - op.at(4)) * 1pt,
        rect(width: op.at(3) * 1pt, height: op.at(4) * 1pt, fill: black, stroke: none))
    }
  }
}
"""


class Typst(Engine):
    name = "typst"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        import typst

        source = workdir / "statement.typ"
        source.write_text(_TYPST_SOURCE, encoding="utf-8")
        fonts = st.find_fonts()
        dirs = sorted({str(fonts.body.path.parent), str(fonts.heading.path.parent)})
        self.compiler = typst.Compiler(str(source), font_paths=dirs, ignore_system_fonts=True)

    def render(self, record: st.StatementData, number: str) -> bytes:
        pages = []
        for page in self.pages(record, number):
            ops: list[Any] = []
            for op in page.ops:
                if op[0] == "q":
                    ops.extend(["r", *run] for run in _qr_runs(op[1], op[2], op[3], op[4]))
                else:
                    ops.append(list(op))
            pages.append(ops)
        doc = json.dumps(
            {"width": st.PAGE_WIDTH, "height": st.PAGE_HEIGHT, "pages": pages}, ensure_ascii=False
        )
        result = self.compiler.compile(format="pdf", sys_inputs={"doc": doc})
        assert isinstance(result, bytes)
        return result


ENGINE_CLASSES: dict[str, Callable[[Path], Engine]] = {
    "direct": Direct,
    "reportlab": ReportLab,
    "fpdf2": Fpdf2,
    "typst": Typst,
}

# --- measurement ------------------------------------------------------------------------------------------

_worker_engine: Engine | None = None
_WARM_UP = 8


def _init_worker(name: str, workdir: str, barrier: Any) -> None:
    global _worker_engine
    engine = ENGINE_CLASSES[name](Path(workdir))
    for seed in range(_WARM_UP):
        record, statement_id, _ = job(10_000_000 + seed)
        issue(engine, record, statement_id)
    _worker_engine = engine
    barrier.wait()


def _work(seed: int) -> tuple[int, float]:
    """One statement in a worker: its size and the CPU seconds the worker spent on it."""
    assert _worker_engine is not None
    cpu = time.process_time()
    record, statement_id, _ = job(seed)
    size = len(issue(_worker_engine, record, statement_id))
    return size, time.process_time() - cpu


def measure(name: str, workdir: Path, processes: int, count: int) -> tuple[float, float, float]:
    """(statements per second by the wall clock, CPU seconds per statement, mean PDF bytes).

    The CPU time is the workers' own (time.process_time), so it holds when other programs share the
    cores; the wall-clock rate is the one that counts on a machine of one's own."""
    # spawn, not fork: typst runs Rust threads, and a child forked from a process that has compiled a
    # document inherits their locks and hangs. Every engine gets fresh workers the same way.
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    with ctx.Pool(processes, initializer=_init_worker, initargs=(name, str(workdir), barrier)) as pool:
        barrier.wait()
        started = time.perf_counter()
        results = pool.map(_work, range(count), chunksize=max(1, count // (processes * 20)))
        elapsed = time.perf_counter() - started
    return count / elapsed, sum(r[1] for r in results) / count, sum(r[0] for r in results) / count


def generation_cost(count: int) -> float:
    started = time.perf_counter()
    for seed in range(count):
        job(seed)
    return (time.perf_counter() - started) / count


def check_output(pdf: bytes, record: st.StatementData, path: Path) -> str:
    """'ok' if the PDF holds real CJK text and embeds every font, else what is wrong."""
    path.write_bytes(pdf)
    if not shutil.which("pdftotext") or not shutil.which("pdffonts"):
        return "unchecked (no poppler-utils)"
    pdftotext, pdffonts = shutil.which("pdftotext"), shutil.which("pdffonts")
    assert pdftotext and pdffonts
    text = subprocess.run([pdftotext, str(path), "-"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    compact = "".join(text.split())
    missing = [w for w in ("社会保险个人权益记录单", record.identity.name, "仅供核对") if w not in compact]
    fonts = subprocess.run([pdffonts, str(path)], capture_output=True, text=True, check=True).stdout  # noqa: S603
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    not_embedded = [row[0] for row in rows if row[-5] != "yes"]  # columns: … emb sub uni object ID
    problems = []
    if missing:
        problems.append("text missing: " + ", ".join(missing))
    if not_embedded or not rows:
        problems.append("not embedded: " + ", ".join(not_embedded or ["no fonts"]))
    return "; ".join(problems) or f"ok ({len(rows)} fonts embedded)"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    say(
        f"statements: {args.count} per engine and mode, processes {args.processes}, goal ≥ {GOAL:.0f}/s on 2 cores"
    )
    say(f"python {sys.version.split()[0]}, {multiprocessing.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="sidms-bench-statements-") as tmp:
        workdir = Path(tmp)
        if {"reportlab", "fpdf2"} & set(args.engines):
            started = time.perf_counter()
            chars = json.loads(_all_chars())
            fonts = st.load_fonts()
            build_truetype(fonts.body, chars["R"], workdir / "bench-R.ttf", "BenchSerif")
            build_truetype(fonts.heading, chars["B"], workdir / "bench-B.ttf", "BenchSans")
            say(
                f"  (reportlab fonts: {len(chars['R'])}+{len(chars['B'])} glyphs converted to TrueType "
                f"in {time.perf_counter() - started:.1f} s, not timed)"
            )
        per_job = generation_cost(200)
        say(
            f"  (test-data generation: {per_job * 1000:.2f} ms per statement, included in every engine's time)"
        )
        say()
        say(f"  load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        say(
            f"  {'engine':<10} {'procs':>5} {'statements/s':>13} {'× goal':>7} {'CPU ms':>7} "
            f"{'2-core cap.':>11} {'KB':>6}  output"
        )
        results: dict[str, dict[int, float]] = {}
        cpu_ms: dict[str, float] = {}
        for name in args.engines:
            engine = ENGINE_CLASSES[name](workdir)
            record, statement_id, _ = job(424242)
            sample = issue(engine, record, statement_id)
            verdict = check_output(sample, record, workdir / f"sample-{name}.pdf")
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"statement-{name}.pdf").write_bytes(sample)
            del engine
            for processes in args.processes:
                rate, cpu, size = measure(name, workdir, processes, args.count)
                results.setdefault(name, {})[processes] = rate
                cpu_ms[name] = min(cpu_ms.get(name, cpu * 1000), cpu * 1000)
                goal = GOAL * processes / 2
                say(
                    f"  {name:<10} {processes:>5} {rate:>13.1f} {rate / goal:>7.2f} {cpu * 1000:>7.2f} "
                    f"{2 / cpu:>11.0f} {size / 1024:>6.1f}  {verdict}"
                )
        say()
        say(f"  load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        say()
        say("statements/s: by the wall clock, generation of the test data included (see above).")
        say(
            "× goal: statements/s against the goal's share for that many processes (100/s for 2, 50/s for 1)."
        )
        say("CPU ms: the workers' CPU time per statement; 2-core cap.: 2 / CPU time, the rate two cores of")
        say("their own would give. Where the load average exceeds the core count, other programs shared the")
        say("cores and the wall-clock figures understate the engine; the CPU figures do not.")
        if results:
            best = min(cpu_ms, key=cpu_ms.__getitem__)
            two = results[best].get(2)
            say()
            say(
                f"fastest: {best}, {cpu_ms[best]:.2f} CPU ms per statement: {2000 / cpu_ms[best]:.0f} statements/s "
                f"on two cores of its own = {2000 / cpu_ms[best] / GOAL:.2f} × goal"
                + (f"; measured here with 2 processes: {two:.0f}/s = {two / GOAL:.2f} × goal" if two else "")
            )
            say(f"2.9 million statements take {2_900_000 * cpu_ms[best] / 2000 / 3600:.1f} h on two cores")


if __name__ == "__main__":
    main()
