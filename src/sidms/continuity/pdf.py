"""Formal documents of this app as PDF (B4): the media register (R19) and rectification orders (R4.1).

fpdf2 lays them out and embeds a subset of the Debian Noto CJK font (``fonts-noto-cjk``), so the files
read the same on any machine, with nothing fetched from outside. reportlab cannot embed that font (its
outlines are CFF: "postscript outlines are not supported"), fpdf2 can. ``SIDMS_PDF_FONT`` names another
font file (TTF/OTF/TTC) where Noto CJK is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from fontTools.ttLib import TTCollection
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from sidms.continuity.models import MediaDisposal, RectificationOrder, StorageMedium
from sidms.core.errors import ChangeRefused

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
FAMILY = "cjk"


@cache
def cjk_font() -> tuple[str, int]:
    """The font file and, in a collection, the index of its Simplified Chinese face."""
    configured = os.environ.get("SIDMS_PDF_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        path = Path(candidate)
        if not path.is_file():
            continue
        if path.suffix.lower() != ".ttc":
            return str(path), 0
        faces = TTCollection(str(path), lazy=True).fonts
        for index, face in enumerate(faces):
            if str(face["name"].getDebugName(1)).endswith("CJK SC"):
                return str(path), index
        return str(path), 0
    raise ChangeRefused(
        _(
            "No Chinese font is installed for PDF documents: apt-get install fonts-noto-cjk (or set SIDMS_PDF_FONT)."
        ),
        code="font",
    )


class _Document(FPDF):
    def __init__(self, title: str, *, landscape: bool = False) -> None:
        super().__init__(orientation="L" if landscape else "P", unit="mm", format="A4")
        path, index = cjk_font()
        self.add_font(FAMILY, fname=path, collection_font_number=index)
        bold = path.replace("-Regular.", "-Bold.")
        self.has_bold = bold != path and Path(bold).is_file()
        if self.has_bold:
            self.add_font(FAMILY, style="B", fname=bold, collection_font_number=index)
        self.set_font(FAMILY, size=10)
        self.set_title(title)
        self.set_creator("sidms")
        self.set_auto_page_break(auto=True, margin=15)
        self.doc_title = title
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        self.cell(
            0,
            6,
            f"{self.doc_title} · 生成于 {stamp} · 第 {self.page_no()}/{{nb}} 页 · 内部资料，注意保密",
            align="C",
        )
        self.set_font(FAMILY, size=10)

    def heading(self, text: str, size: int = 16) -> None:
        self.set_font(FAMILY, size=size)
        self.cell(0, 12, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, size=10)

    def para(self, text: str, *, size: int = 11, height: float = 7) -> None:
        self.set_font(FAMILY, size=size)
        self.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, size=10)

    def grid(self, headings: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int]) -> None:
        self.set_font(FAMILY, size=8.5)
        headings_style = FontFace(emphasis="BOLD" if self.has_bold else None, fill_color=(238, 242, 246))
        with self.table(
            col_widths=widths, text_align="LEFT", line_height=5.5, padding=1, headings_style=headings_style
        ) as table:
            head = table.row()
            for text in headings:
                head.cell(text)
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(_text(value))
        self.set_font(FAMILY, size=10)


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _name(staff: Any) -> str:
    return "" if staff is None else str(getattr(staff, "display_name", staff))


def media_register_pdf() -> bytes:
    """The register of storage media and computers that hold data, with every disposal and its wipe record."""
    with translation.override("zh-hans"):
        return _media_register()


def _media_register() -> bytes:
    doc = _Document("存储介质及计算机登记簿", landscape=True)
    doc.add_page()
    doc.heading("存储介质及存储数据的计算机登记簿")
    doc.para(
        "依据《威海市社会保险业务数据管理办法》第十九条：存储介质妥善保管；送修或报废的计算机须先清除数据并登记。",
        size=9,
    )
    media = StorageMedium.objects.select_related("custodian").order_by("asset_no")
    doc.grid(
        ["资产编号", "类型", "说明", "序列号", "存有数据", "存放地点", "保管人", "状态", "登记时间"],
        (
            [m.asset_no, m.get_kind_display(), m.description, m.serial_no, m.holds_data, m.location,
             _name(m.custodian), m.get_status_display(), m.registered_at]
            for m in media
        ),
        [22, 24, 50, 26, 14, 40, 22, 36, 26],
    )  # fmt: skip
    doc.ln(6)
    doc.heading("送修与报废的数据清除记录", size=13)
    disposals = MediaDisposal.objects.select_related("medium", "operator", "witness").order_by("opened_at")
    doc.grid(
        ["编号", "资产编号", "去向", "清除方式", "操作人", "见证人", "清除日期", "证书（档案号）", "状态"],
        (
            [f"MD{d.pk}", d.medium.asset_no, d.get_reason_display(), d.get_wipe_method_display(), _name(d.operator),
             _name(d.witness), d.wiped_on, d.certificate_ref, d.get_status_display()]
            for d in disposals
        ),
        [16, 22, 20, 58, 22, 22, 22, 34, 44],
    )  # fmt: skip
    return bytes(doc.output())


def order_pdf(order: RectificationOrder) -> bytes:
    """A rectification order (责令改正通知书) as issued, with its tracking so far."""
    with translation.override("zh-hans"):
        return _order(order)


def _order(order: RectificationOrder) -> bytes:
    doc = _Document(f"责令改正通知书 {order.number}")
    doc.add_page()
    doc.heading("责令改正通知书")
    doc.set_font(FAMILY, size=11)
    doc.cell(0, 8, f"编号：{order.number}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.para(f"{order.agency.name}：")
    doc.para(
        "经检查，你单位在社会保险业务数据管理中存在下列问题，违反了《威海市社会保险业务数据管理办法》的有关规定。"
        "现责令你单位按下列要求改正，并于期限届满前将改正情况书面报告本部门。"
    )
    doc.ln(2)
    doc.para("一、存在的问题", size=12)
    doc.para(order.problems)
    doc.para("二、改正要求", size=12)
    doc.para(order.requirements)
    doc.para(f"三、改正期限：{order.deadline.isoformat()} 前", size=12)
    if order.alert_id is not None:
        doc.para(f"（本通知依据告警 AL{order.alert_id} 发出）", size=9)
    doc.ln(8)
    doc.para(f"监督部门：威海市人力资源和社会保障局　经办人：{_name(order.issued_by)}", size=11)
    doc.para(f"签发日期：{timezone.localtime(order.issued_at).date().isoformat()}", size=11)
    doc.ln(6)
    doc.heading("整改跟踪", size=13)
    doc.grid(
        ["状态", "整改报告", "报告人", "报告时间", "结论", "办结人", "办结时间"],
        [[order.get_status_display(), order.response, _name(order.responded_by), order.responded_at,
          order.closing_note, _name(order.closed_by), order.closed_at]],
        [22, 50, 18, 24, 40, 18, 24],
    )  # fmt: skip
    if order.overdue():
        doc.para("该通知已逾期未办结。", size=11)
    return bytes(doc.output())
