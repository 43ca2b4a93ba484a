"""Governed values as a clerk reads them: code names instead of codes, district names, masks by channel,
links between related records, and nothing raw (notes/ux-conventions.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import pgettext

from sidms.access import texts
from sidms.changes.services import field_label
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import EntitySpec
from sidms.lib.money import yuan
from sidms.web.integrity import damaged_mark, report_damaged

EMPTY = texts.EMPTY


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
    return texts.value_text(spec, name, value, channel=channel)


def record_url(spec: EntitySpec, record: Any) -> str:
    if not spec.declaration.slug:
        return ""
    return reverse("web:record_detail", args=[spec.declaration.slug, spec.label(record)])


record_name = texts.record_name
is_reference = texts.is_reference


def _named(target: Any, staff: Any) -> str | SafeString:
    """A record another one points to, as a link if the viewer may see it; otherwise it is not named at all
    (another district's unit stays anonymous)."""
    text, other = texts.reference(target, staff)
    url = record_url(other, target) if other is not None else ""
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
