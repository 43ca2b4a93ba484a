"""Django's ``i18n`` template library, with ``{% translate "literal" %}`` rendered once per language.

Loaded by ``{% load sidms_i18n %}`` in every template of sidms, in place of ``{% load i18n %}``. Django's
``TranslateNode`` looks the message up on every render: ~12 µs a tag here (the active language through
asgiref's ``Local``, the catalogue, the value localised and escaped), and a page carries two dozen of them
(the rights-record page's 25 were 0.3 ms of its ~4 ms). A tag with a constant message and nothing else (no
``as``, ``noop``, ``context`` or filter) renders the same text for a given language and escaping, so its
node keeps that text per (language, autoescape). Everything else, and every other tag of the library, is
Django's own.
"""

from __future__ import annotations

from typing import Any

from django.template import Library
from django.templatetags import i18n as django_i18n
from django.utils import translation

register = Library()
register.tags.update(django_i18n.register.tags)
register.filters.update(django_i18n.register.filters)

# A node's renderings: one per language and escaping in use, a handful at most; never unbounded.
_KEEP = 16


class CachedTranslateNode(django_i18n.TranslateNode):
    def __init__(
        self, filter_expression: Any, noop: bool, asvar: str | None = None, message_context: Any = None
    ) -> None:
        super().__init__(filter_expression, noop, asvar, message_context)
        var = self.filter_expression.var
        self.constant = (
            not noop
            and asvar is None
            and message_context is None
            and not self.filter_expression.filters
            and isinstance(getattr(var, "literal", None), str)
        )
        self.rendered: dict[tuple[str | None, bool], str] = {}

    def render(self, context: Any) -> str:
        if not self.constant:
            return super().render(context)
        key = (translation.get_language(), bool(context.autoescape))
        text = self.rendered.get(key)
        if text is None:
            text = super().render(context)
            if len(self.rendered) < _KEEP:
                self.rendered[key] = text
        return text


def do_translate(parser: Any, token: Any) -> CachedTranslateNode:
    node = django_i18n.do_translate(parser, token)
    return CachedTranslateNode(node.filter_expression, node.noop, node.asvar, node.message_context)


register.tag("translate", do_translate)
register.tag("trans", do_translate)
