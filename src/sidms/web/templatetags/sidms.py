"""Small template helpers of the staff pages: paging and sorting links that keep the filters, and money."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def page_query(params: dict[str, str], page: int) -> str:
    return urlencode({**params, "page": str(page)})


@register.simple_tag
def list_query(params: dict[str, str]) -> str:
    """The list's own parameters as a query (the export link's): what the page itself searched and filtered by,
    never the address as typed (an ID number typed into it is not searched, and is not carried on)."""
    return urlencode(params)


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


@register.filter(name="money")
def money_filter(value: Any) -> str:
    """An amount in yuan as ¥1,234.56 (sidms.web.display.money)."""
    from sidms.web.display import money

    return money(value)


@register.filter(name="joined")
def joined_filter(items: Any) -> str:
    from sidms.web.display import joined

    return joined(items or [])


# The navigation's links as HTML, per (posts, city level, language, URL prefix, URLconf): the same for every
# page of everyone with those posts, so rendered once per process rather than on every page (its dozen
# permission tests and URL reversals were a tenth of a simple page's time, bench/business.py).
_NAV: dict[tuple[Any, ...], SafeString] = {}


@register.simple_tag(takes_context=True)
def staff_nav(context: Any) -> SafeString:
    """The links of the navigation bar that the signed-in staff member's posts allow (templates/nav_links)."""
    from sidms.web.context import allowed

    user = context["user"]
    request = context.get("request")
    key = (
        user.posts,
        user.is_city_level,
        get_language(),
        get_script_prefix(),
        getattr(request, "urlconf", None),
    )
    html = _NAV.get(key)
    if html is None:
        can, record_nav = allowed(user.posts)
        html = mark_safe(  # noqa: S308  (a template's output, escaped by the template)
            get_template("nav_links.html").render(
                {"can": can, "record_nav": record_nav, "is_city_level": user.is_city_level}
            )
        )
        if len(_NAV) >= 256:  # a handful of keys in practice; never unbounded
            _NAV.clear()
        _NAV[key] = html
    return html


# What the base template shows the same on every page of a process: the stylesheet's and script's static URLs
# (by the static files storage), and the header's forms around this request's values (by the language, script
# prefix and URLconf: the URLs they post to, the language menu, the buttons). Built once per key rather than on
# every page (the header's two dozen nodes and the static tags were ~8 % of the rights-record page's processor
# time, bench/README.md); forgotten when a test changes the settings they depend on. Nothing of the request or
# its user is kept.
_FIXED: dict[tuple[Any, ...], str] = {}
_FIXED_PARTS: dict[tuple[Any, ...], tuple[str, ...]] = {}
_FIXED_SETTINGS = frozenset(
    {
        "STATIC_URL",
        "STORAGES",
        "STATICFILES_STORAGE",
        "ROOT_URLCONF",
        "LANGUAGES",
        "LANGUAGE_CODE",
        "USE_I18N",
    }
)


def _fixed(key: tuple[Any, ...], build: Any) -> str:
    text = _FIXED.get(key)
    if text is None:
        text = build()
        if len(_FIXED) >= 256:  # a handful of keys in practice; never unbounded
            _FIXED.clear()
        _FIXED[key] = text
    return text


@receiver(setting_changed)
def _forget_fixed(*, setting: str, **kwargs: Any) -> None:
    if setting in _FIXED_SETTINGS:
        _FIXED.clear()
        _FIXED_PARTS.clear()


@register.simple_tag
def static_url(path: str) -> str:
    """``{% static PATH %}``, once per process."""
    return _fixed(("static", path), lambda: static(path))


def _language_options(current: str | None) -> str:
    """The language menu's options, each language in its own name, the active one selected."""
    options = []
    for code, _name in settings.LANGUAGES:
        info = get_language_info(code)
        selected = mark_safe(" selected" if code == current else "")  # noqa: S308  (a constant)
        options.append(format_html('<option value="{}" lang="{}"{}>{}</option>', info["code"], info["code"],
                                   selected, info["name_local"]))  # fmt: skip
    return "".join(options)


def _csrf_input(context: Any) -> str:
    """``{% csrf_token %}``'s output (Django's CsrfTokenNode)."""
    token = context.get("csrf_token")
    if not token or token == "NOTPROVIDED":  # noqa: S105  (Django's marker, not a secret)
        return ""
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated)


@register.simple_tag(takes_context=True)
def header_nav(context: Any) -> SafeString:
    """The header's navigation links, for a staff member signed in with both factors (else nothing)."""
    user = context.get("user")
    if not _signed_in(user):
        return mark_safe("")
    verified = getattr(user, "is_verified", False)
    if not (verified() if callable(verified) else verified):
        return mark_safe("")
    return mark_safe(f"\n      {staff_nav(context)}\n    ")  # noqa: S308  (staff_nav's HTML)


@register.simple_tag(takes_context=True)
def header_who(context: Any) -> SafeString:
    """The header's right-hand side: the language menu, posting back to this page (NEXT_PATH, else the
    request's path), and for a signed-in staff member the name and district with the log-out button. Its
    fixed parts are built once per language, script prefix and URLconf; the token, path, name and district
    are this request's, escaped as the template escaped them."""
    request = context.get("request")
    urlconf = getattr(request, "urlconf", None)
    language = get_language()

    def build() -> tuple[str, ...]:
        language_url = reverse("set_language", urlconf=urlconf)
        logout_url = reverse("security:logout", urlconf=urlconf)
        return (
            format_html('<form action="{}" method="post" class="inline language">', language_url),
            format_html('">\n      \n      <select name="language" aria-label="{}" data-autosubmit>\n        \n'
                        "        {}\n      </select>\n"
                        '      <button type="submit" class="js-hidden">{}</button>\n    </form>\n    ',
                        _("Language"), mark_safe(_language_options(language)), _("Switch")),  # noqa: S308
            format_html('<form action="{}" method="post" class="inline">', logout_url),
            format_html('<button type="submit">{}</button></form>\n    ', _("Log out")),
        )  # fmt: skip

    key = ("who", language, get_script_prefix(), urlconf)
    parts = _FIXED_PARTS.get(key)
    if parts is None:
        parts = build()
        if len(_FIXED_PARTS) >= 256:
            _FIXED_PARTS.clear()
        _FIXED_PARTS[key] = parts
    language_form, menu, logout_form, logout_button = parts
    csrf = _csrf_input(context)
    next_path = context.get("next_path") or (request.path if request is not None else "")
    out = [
        language_form,
        csrf,
        '\n      <input type="hidden" name="next" value="',
        conditional_escape(next_path),
        menu,
    ]
    user = context.get("user")
    if _signed_in(user):
        district = user.district
        shown = conditional_escape(user.get_full_name() or user.username)
        where = format_html(" · {}", district.name) if district else ""
        out += ["\n      <span>", shown, where, "</span>\n      ", logout_form, csrf, logout_button]
    return mark_safe("".join(out))  # noqa: S308  (every value escaped)
