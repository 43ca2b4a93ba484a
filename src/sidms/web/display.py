"""Governed values as a clerk reads them: code names instead of codes, district names, masks by channel,
links between related records, and nothing raw (notes/ux-conventions.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import pgettext

from sidms.access.policies import OUT_OF_SCOPE_NAME, mask, visible_related
from sidms.changes.services import field_label
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import EntitySpec, spec_of_model
from sidms.lib.money import yuan
from sidms.parameters.codes import code_label, region_name
from sidms.web.integrity import damaged_mark, report_damaged

EMPTY = "—"


def money(value: Any) -> str:
    """An amount in yuan as staff read it (notes/ux-conventions.md): ¥7,180.00 (sidms.lib.money.yuan, the one
    formatter of money on the pages: the fields a declaration names as money, the ``money`` template filter
    and the texts built in views all call it), and — where there is none."""
    if value is None or value == "":
        return EMPTY
    return yuan(value)


def joined(items: Iterable[Any]) -> str:
    """Items named in a sentence: 电话、地址 in Chinese, "phone, address" in English."""
    return pgettext("list separator", ", ").join(str(item) for item in items)


def label(spec: EntitySpec, name: str) -> str:
    """The name of a field, or of a list's column apart (an entitlement's 一次性待遇金额)."""
    apart = spec.declaration.column_label(name)
    return capfirst(str(apart) if apart is not None else field_label(spec, name))


def label_for(spec: EntitySpec, record: Any, name: str) -> str:
    """The name of field NAME on RECORD's page: a one-time grant's amount is not called a monthly amount."""
    apart = spec.declaration.field_label_for(record, name)
    return capfirst(str(apart)) if apart is not None else label(spec, name)


def value_text(spec: EntitySpec, name: str, value: Any, *, channel: str = "window") -> str:
    """A stored or proposed value as text for CHANNEL (masked where the entity declares it)."""
    if value is None or value == "":
        return EMPTY
    declared = spec.declaration.mask(name, channel)
    if declared != "full":
        return mask(spec, name, value, channel)
    if name == "district_id" or (
        name.endswith("_id") and spec.field(name).related_model and _is_region(spec, name)
    ):
        code = str(value)
        return f"{region_name(code)}（{code}）" if region_name(code) else code
    if name in spec.declaration.money:
        return money(value)
    table = spec.declaration.codes.get(name)
    if table:
        return code_label(table, str(value))
    model_field = spec.field(name)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _is_region(spec: EntitySpec, name: str) -> bool:
    related = spec.field(name).related_model
    return related is not None and related._meta.label_lower == "parameters.region"


def record_url(spec: EntitySpec, record: Any) -> str:
    if not spec.declaration.slug:
        return ""
    return reverse("web:record_detail", args=[spec.declaration.slug, spec.label(record)])


def record_name(spec: EntitySpec, record: Any) -> str:
    """How a record is named in headers, links and breadcrumbs: 刘坤（3700000001）."""
    title = spec.declaration.title
    key = spec.label(record)
    if title:
        return f"{getattr(record, title)}（{key}）"
    own = f"{capfirst(spec.model._meta.verbose_name)} {key}"
    # A record without a name of its own (an employment) is named with the record that decides its data
    # scope (its person), whom every viewer of it may see.
    first_hop = (spec.declaration.district or "").split("__")[0]
    owner_field = f"{first_hop}_id"
    if "__" in (spec.declaration.district or "") and owner_field in spec.fields:
        owner = getattr(record, first_hop, None)
        other = spec_of_model(type(owner)) if owner is not None else None
        if other is not None and other.declaration.title:
            return f"{own} · {record_name(other, owner)}"
    return own


def is_reference(spec: EntitySpec, name: str) -> bool:
    return name.endswith("_id") and spec.field(name).is_relation and not _is_region(spec, name)


def _named(target: Any, staff: Any) -> str | SafeString:
    """A record another one points to, as a link if the viewer may see it; otherwise it is not named at all
    (another district's unit stays anonymous)."""
    if target is None:
        return EMPTY
    other = spec_of_model(type(target))
    if other is None:
        return str(target)
    if not visible_related(staff, target):
        return str(OUT_OF_SCOPE_NAME)
    url = record_url(other, target)
    text = record_name(other, target)
    return format_html('<a href="{}">{}</a>', url, text) if url else text


def cell(
    spec: EntitySpec, record: Any, name: str, staff: Any, *, channel: str = "window"
) -> str | SafeString:
    """One field of a stored record for a page; a reference to another record names that record."""
    if is_reference(spec, name):
        return _named(getattr(record, name[:-3], None), staff)
    try:
        value = getattr(record, name)
    except IntegrityAlert as alert:  # a damaged value: the rest of the page or list is still shown
        report_damaged(alert, staff)
        return damaged_mark()
    return value_text(spec, name, value, channel=channel)


def column_cell(spec: EntitySpec, record: Any, name: str, staff: Any) -> str | SafeString:
    """Column NAME of a list for RECORD: the field it shows for the record (a field shown apart for some
    records, Declaration.apart, is shown in its own column for those), or — where it shows none."""
    shown_field = spec.declaration.column(record, name)
    return EMPTY if shown_field is None else cell(spec, record, shown_field, staff)


def shown(
    spec: EntitySpec, name: str, value: Any, staff: Any, *, channel: str = "window"
) -> str | SafeString:
    """A value held apart from its record (in history, a review request, a maintenance order): a reference
    is the other record's id there, and is named like a cell, never shown as a bare database id."""
    if is_reference(spec, name) and value not in (None, ""):
        related = spec.field(name).related_model
        assert related is not None
        return _named(related._default_manager.filter(pk=value).first(), staff)
    return value_text(spec, name, value, channel=channel)
