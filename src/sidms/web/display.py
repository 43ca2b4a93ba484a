"""Governed values as a clerk reads them: code names instead of codes, district names, masks by channel,
links between related records, and nothing raw (notes/ux-conventions.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from sidms.access.policies import mask, visible_related
from sidms.changes.services import field_label
from sidms.core.kernel import EntitySpec, spec_of_model
from sidms.parameters.codes import code_label, region_name

EMPTY = "—"


def label(spec: EntitySpec, name: str) -> str:
    return capfirst(field_label(spec, name))


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
    return f"{spec.model._meta.verbose_name} {key}"


def cell(
    spec: EntitySpec, record: Any, name: str, staff: Any, *, channel: str = "window"
) -> str | SafeString:
    """One field of a stored record for a page: a reference to another record is a link to it if the viewer
    may see it, and otherwise not named at all (another district's unit stays anonymous)."""
    model_field = spec.field(name)
    if name.endswith("_id") and model_field.is_relation and not _is_region(spec, name):
        target = getattr(record, name[:-3], None)
        if target is None:
            return EMPTY
        other = spec_of_model(type(target))
        if other is None:
            return str(target)
        if not visible_related(staff, target):
            return _("a record outside your data scope")
        url = record_url(other, target)
        text = record_name(other, target)
        return format_html('<a href="{}">{}</a>', url, text) if url else text
    return value_text(spec, name, getattr(record, name), channel=channel)
