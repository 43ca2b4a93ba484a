"""Governed values as plain text, as staff read them: code names instead of codes, district names, money as
¥1,234.56, local times, masks by channel, and a related record by its name and key, or not named at all
outside the reader's data scope (notes/ux-conventions.md). The pages (``sidms.web.display``, which adds links)
and the exports (``sidms.exchange.exports``) show a value by these same rules, so that an exported list reads
as its page does: 在职职工 and 环翠区（371002）, not ``employee`` and a row id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.text import capfirst

from sidms.access.policies import OUT_OF_SCOPE_NAME, mask, visible_related
from sidms.core.kernel import EntitySpec, spec_of_model
from sidms.lib.money import yuan
from sidms.parameters.codes import code_label, region_name

EMPTY = "—"


def value_text(
    spec: EntitySpec, name: str, value: Any, *, channel: str = "window", empty: str = EMPTY
) -> str:
    """A stored or proposed value as text for CHANNEL (masked where the entity declares it); EMPTY for none."""
    if value is None or value == "":
        return empty
    declared = spec.declaration.mask(name, channel)
    if declared != "full":
        return mask(spec, name, value, channel)
    if name == "district_id" or (
        name.endswith("_id") and spec.field(name).related_model and is_region(spec, name)
    ):
        code = str(value)
        return f"{region_name(code)}（{code}）" if region_name(code) else code
    if name in spec.declaration.money:
        # An export keeps the amount as a number with its two decimals (60000.00), which a spreadsheet sums;
        # a page shows it as staff read it (¥60,000.00).
        return str(value) if channel == "export" else yuan(value)
    table = spec.declaration.codes.get(name)
    if table:
        return code_label(table, str(value))
    model_field = spec.field(name)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, datetime):  # the reader's local time (Asia/Shanghai), as every page shows it
        return (timezone.localtime(value) if timezone.is_aware(value) else value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def is_region(spec: EntitySpec, name: str) -> bool:
    related = spec.field(name).related_model
    return related is not None and related._meta.label_lower == "parameters.region"


def is_reference(spec: EntitySpec, name: str) -> bool:
    return name.endswith("_id") and spec.field(name).is_relation and not is_region(spec, name)


def record_name(spec: EntitySpec, record: Any) -> str:
    """How a record is named in headers, links, breadcrumbs and exports: 刘坤（3700000001）."""
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


def reference(target: Any, staff: Any, *, empty: str = EMPTY) -> tuple[str, EntitySpec | None]:
    """A record another one points to, as (text, its entity when named): by name and key if STAFF may see it;
    otherwise not named at all (another district's unit stays anonymous), and no entity is given to link."""
    if target is None:
        return empty, None
    other = spec_of_model(type(target))
    if other is None:
        return str(target), None
    if not visible_related(staff, target):
        return str(OUT_OF_SCOPE_NAME), None
    return record_name(other, target), other
