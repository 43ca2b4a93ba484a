"""Import kinds as data (B3): for each kind of file, the entity it fills, which Chinese column header holds
which field, how each cell is repaired (sidms.lib.sheets.REPAIRS), which columns are required, which
values are written in words in the files staff receive (男/女), which field makes two rows the same record,
and which columns name another record (an employment's person and unit).

The headers are those of the templates units and agencies already use: the names of the national social
insurance data dictionary (公民身份号码 AAC002, 姓名 AAC003, 单位名称 AAB004, 统一社会信用代码 …) and
the common variants people type (身份证号码, 身份证号).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from sidms.lib.sheets import TemplateColumn, blank_template


@dataclass(frozen=True)
class Reference:
    """A column that names another record: the value is looked up in ENTITY by FIELD (a plain column, or an
    encrypted one by its blind index) and the record's id becomes TARGET."""

    entity: str
    field: str
    target: str


@dataclass(frozen=True)
class ImportKind:
    name: str
    entity: str
    title: Any
    headers: dict[str, str]  # Chinese header -> field (several headers may name one field)
    types: dict[str, str]  # field -> repair (sheets.REPAIRS), "text" when absent
    required: frozenset[str]
    # Values written in words -> stored codes, per field (compared after trimming).
    words: dict[str, dict[str, str]] = field(default_factory=dict)
    # Fields that make two rows of one file the same record (checked within the file and in the registry).
    same_record: tuple[str, ...] = ()
    # Plain codes that must not already be registered to another record, compared in their stored form
    # (upper case: 91…p is 91…P) within the file and against the registry. A unit's credit code is also
    # declared unique by the entity (registry.Unit: one unit per 统一社会信用代码, whatever its district),
    # so the window, maintenance and the import's execution refuse it too, and the database holds it.
    registered: tuple[str, ...] = ()
    references: dict[str, Reference] = field(default_factory=dict)  # field in the file -> reference
    # The SAME_RECORD fields together must not match a registered record (a death's person; a declaration's
    # person, unit and year): the model's unique constraint, which the execution would otherwise meet.
    registered_together: bool = False
    defaults: dict[str, str] = field(default_factory=dict)  # values of columns a file may leave out
    hints: dict[str, Any] = field(default_factory=dict)  # field -> what the template's instructions say of it

    def label(self, name: str) -> str:
        """The first Chinese header that names NAME (for messages)."""
        return next((header for header, target in self.headers.items() if target == name), name)

    def template_columns(self) -> list[TemplateColumn]:
        """The columns of this kind's blank template: one per field, under its first header, in the order
        the headers are declared, each with what the instructions sheet says of it."""
        fields = list(dict.fromkeys(self.headers.values()))
        columns = []
        for name in fields:
            headers = [header for header, target in self.headers.items() if target == name]
            repair = self.types.get(name, "text")
            words = self.words.get(name, {})
            # One word per stored code (男 rather than both 男 and 男性), in the order declared.
            first: dict[str, str] = {}
            for word, code in words.items():
                first.setdefault(code, word)
            choices = tuple(first.values())
            note = str(self.hints.get(name) or NOTES.get(repair, NOTES["text"]))
            if choices:
                note = str(_("One of: %(words)s.")) % {"words": "、".join(choices)}
            if name in self.references:
                note = str(_("As registered in the system (the record it names must exist)."))
            if name in self.defaults:
                note += str(_(" May be left empty: %(value)s.")) % {
                    "value": next(
                        (w for w, c in words.items() if c == self.defaults[name]), self.defaults[name]
                    )
                }
            columns.append(
                TemplateColumn(
                    header=headers[0], required=name in self.required,
                    kind={"date": "date", "money": "money"}.get(repair, "text"),
                    choices=choices, note=note, aliases=tuple(headers[1:]),
                )
            )  # fmt: skip
        return columns

    def blank(self) -> bytes:
        """This kind's blank template as an XLSX (sidms.lib.sheets.blank_template)."""
        return blank_template(
            self.template_columns(),
            sheet_title=f"{self.title}",
            instructions_title=str(_("Instructions")),
            instructions_headers=(
                str(_("Column")),
                str(_("Required")),
                str(_("What to fill in")),
                str(_("Also accepted as")),
            ),
            required_mark=(str(_("Yes")), ""),
        )


# What each repair accepts, for the template's instructions sheet (sidms.lib.sheets.REPAIRS).
NOTES: dict[str, Any] = {
    "text": _("Text."),
    "code": _("A code, kept as text: the column is formatted as text; do not change it to a number."),
    "idcard_text": _(
        "The 18-digit citizen ID number (GB 11643). The column is formatted as text: if Excel shows "
        "3.71002E+17, the last digits are lost and the row is refused."
    ),
    "date": _("A date written 2024-01-05 (2024/1/5, 2024年1月5日 and 20240105 are also read)."),
    "money": _("An amount in yuan, with at most two decimals."),
}


_SEX = {"男": "1", "女": "2", "未说明": "9", "男性": "1", "女性": "2"}
_STATUS = {"正常": "active", "在册": "active", "暂停": "suspended", "注销": "closed"}

KINDS: dict[str, ImportKind] = {
    "persons": ImportKind(
        name="persons",
        entity="person",
        title=_("Insured persons"),
        headers={
            "个人编号": "person_no",
            "公民身份号码": "id_number",
            "身份证号码": "id_number",
            "身份证号": "id_number",
            "姓名": "name",
            "性别": "sex",
            "出生日期": "birth_date",
            "人员类别": "category",
            "行政区划代码": "district_id",
            "行政区划": "district_id",
            "所属区县": "district_id",
            "联系电话": "phone",
            "手机号码": "phone",
            "电子邮箱": "email",
            "通讯地址": "address",
            "地址": "address",
            "邮政编码": "postcode",
            "银行账号": "bank_account",
            "状态": "status",
        },
        types={
            "person_no": "code",
            "id_number": "idcard_text",
            "birth_date": "date",
            "category": "code",
            "district_id": "code",
            "phone": "code",
            "email": "code",
            "postcode": "code",
            "bank_account": "code",
        },
        required=frozenset({"id_number", "name", "category", "district_id"}),
        words={"sex": _SEX, "status": _STATUS},
        same_record=("id_number",),
        defaults={"status": "active"},
    ),
    "units": ImportKind(
        name="units",
        entity="unit",
        title=_("Insured units"),
        headers={
            "单位编号": "unit_no",
            "单位名称": "name",
            "统一社会信用代码": "credit_code",
            "组织机构代码": "org_code",
            "单位类型": "unit_type",
            "行政区划代码": "district_id",
            "行政区划": "district_id",
            "所属区县": "district_id",
            "单位地址": "address",
            "地址": "address",
            "邮政编码": "postcode",
            "联系人": "contact_person",
            "联系电话": "phone",
            "电子邮箱": "email",
            "行业风险类别": "industry_risk_class",
            "状态": "status",
        },
        types={
            "unit_no": "code",
            "credit_code": "code",
            "org_code": "code",
            "unit_type": "code",
            "district_id": "code",
            "postcode": "code",
            "phone": "code",
            "email": "code",
            "industry_risk_class": "code",
        },
        required=frozenset({"name", "credit_code", "unit_type", "district_id"}),
        words={"status": _STATUS},
        same_record=("credit_code",),
        registered=("credit_code",),
        defaults={"status": "active"},
    ),
    "employments": ImportKind(
        name="employments",
        entity="employment",
        title=_("Employments"),
        headers={
            "个人编号": "person_no",
            "单位编号": "unit_no",
            "参保日期": "start_date",
            "开始日期": "start_date",
            "起始日期": "start_date",
            "终止日期": "end_date",
            "结束日期": "end_date",
        },
        types={"person_no": "code", "unit_no": "code", "start_date": "date", "end_date": "date"},
        required=frozenset({"person_no", "unit_no", "start_date"}),
        same_record=("person_no", "unit_no", "start_date"),
        references={
            "person_no": Reference("person", "person_no", "person_id"),
            "unit_no": Reference("unit", "unit_no", "unit_id"),
        },
    ),
    # Business kinds (issue 8 §3): their rows pass the entity's entry rules in the dry run as at execution
    # (changes.services.entry_check_errors) — a base that is not the clamp of the declared wage, a death in
    # the future or before the birth is reported per row before anything is applied.
    "base_declarations": ImportKind(
        name="base_declarations",
        entity="base_declaration",
        title=_("Contribution base declarations"),
        headers={
            "个人编号": "person_no",
            "单位编号": "unit_no",
            "申报年度": "year",
            "年度": "year",
            "上年度月平均工资": "declared_wage",
            "月平均工资": "declared_wage",
            "申报工资": "declared_wage",
            "缴费基数": "base",
            "申报基数": "base",
        },
        types={
            "person_no": "code",
            "unit_no": "code",
            "year": "code",
            "declared_wage": "money",
            "base": "money",
        },
        required=frozenset({"person_no", "year", "declared_wage", "base"}),
        # One declaration per person, unit and year (the model's unique constraint).
        same_record=("person_no", "unit_no", "year"),
        registered_together=True,
        references={
            "person_no": Reference("person", "person_no", "person_id"),
            "unit_no": Reference("unit", "unit_no", "unit_id"),
        },
        hints={
            "year": _("The year the base applies to, four digits (2025)."),
            "base": _(
                "The declared wage clamped to the year's base limits (60 % to 300 % of the provincial "
                "average wage), in yuan."
            ),
        },
    ),
    "deaths": ImportKind(
        name="deaths",
        entity="death",
        title=_("Death lists"),
        headers={
            "个人编号": "person_no",
            "死亡日期": "date_of_death",
            "信息来源": "source",
            "来源": "source",
        },
        types={"person_no": "code", "date_of_death": "date"},
        required=frozenset({"person_no", "date_of_death"}),
        # A person dies once: the same person twice in a list, or a death already registered, is refused.
        same_record=("person_no",),
        registered_together=True,
        references={"person_no": Reference("person", "person_no", "person_id")},
        defaults={"source": "民政部门死亡名单"},
    ),
}


def kind_of(name: str) -> ImportKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown import kind {name!r}; known: {', '.join(KINDS)}") from None
