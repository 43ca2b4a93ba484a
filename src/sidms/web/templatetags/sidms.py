"""Small template helpers of the staff pages: paging and sorting links that keep the filters."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.http import urlencode

register = template.Library()


@register.simple_tag
def page_query(params: dict[str, str], page: int) -> str:
    return urlencode({**params, "page": str(page)})


@register.simple_tag
def sort_query(params: dict[str, str], name: str, current: str) -> str:
    """Sort by NAME ascending, or descending when it is already sorted ascending by it."""
    order = f"-{name}" if current == name else name
    return urlencode({**{k: v for k, v in params.items() if k != "sort"}, "sort": order})


@register.filter
def page_window(paginator: Any, number: int) -> list[int | None]:
    """Page numbers around NUMBER, with the first and last, and None for a gap: 1 … 4 5 6 … 20."""
    last = paginator.num_pages
    shown = sorted({1, last, *range(max(1, number - 2), min(last, number + 2) + 1)})
    out: list[int | None] = []
    for page in shown:
        if out and page - (out[-1] or 0) > 1:
            out.append(None)
        out.append(page)
    return out


@register.filter
def verbose_name(model: Any) -> str:
    return str(model._meta.verbose_name)


@register.filter
def minutes(duration: Any) -> int:
    """A duration (timedelta) in whole minutes, for sentences like 30 分钟后再试 (not PT30M)."""
    seconds = getattr(duration, "total_seconds", None)
    return max(1, round(seconds() / 60)) if seconds else 0


@register.filter(name="joined")
def joined_filter(items: Any) -> str:
    from sidms.web.display import joined

    return joined(items or [])
