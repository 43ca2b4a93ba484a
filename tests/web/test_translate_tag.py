"""Every page's fixed texts ({% translate "…" %}) are rendered once per language by the i18n library that
sidms's templates load (``{% load sidms_i18n %}``, web.templatetags.sidms_i18n): a page must still come out in the language each
staff member chose, alternately in one process, and the tag's other forms must still work."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.template import Context, Engine, engines
from django.utils import translation

pytestmark = pytest.mark.django_db


@pytest.mark.req("R17")
def test_a_page_is_in_the_language_each_member_chose_whichever_was_rendered_first(
    make_staff: Any, signed_in: Any
) -> None:
    chinese = signed_in(make_staff("lang_zh", posts=("window_clerk",), district="371002"))
    english = signed_in(make_staff("lang_en", posts=("window_clerk",), district="371002"))
    english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    chinese.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    for _ in range(2):
        for client, shown, not_shown in ((english, "Log out", "退出"), (chinese, "退出", "Log out")):
            page = client.get("/").content.decode()
            footer = page.split("<footer>", 1)[1]
            assert shown in page and not_shown not in page
            assert ("Every access is recorded" in footer) == (client is english)


@pytest.mark.req("R17")
def test_the_tag_renders_what_djangos_own_renders_in_every_form_and_language() -> None:
    text = (
        "{% translate 'Log out' %}|{% translate 'Log out' as out %}[{{ out }}]|"
        "{% translate 'Log out' noop %}|{% translate 'Log out'|upper %}|{% translate greeting %}|"
        "{% translate 'Switch' context 'verb' %}|{% translate \"50%% done\" %}|"
        "{% autoescape off %}{% translate '<b>&' %}{% translate greeting %}{% endautoescape %}|"
        "{% translate '<b>&' %}{% translate greeting %}"
    )
    ours = engines["django"].from_string("{% load sidms_i18n %}" + text)
    djangos = Engine(libraries={"i18n": "django.templatetags.i18n"}).from_string("{% load i18n %}" + text)
    assert "sidms_i18n" in type(ours.template.nodelist[1]).__module__
    rendered = {}
    for language in ("en", "zh-hans", "en", "zh-hans"):  # alternately: nothing of one kept for the other
        for greeting in ("Switch", "<i>"):
            with translation.override(language):
                expected = djangos.render(Context({"greeting": greeting}))
                assert ours.render({"greeting": greeting}) == expected
                rendered[language, greeting] = expected
    assert rendered["en", "Switch"].startswith("Log out|[Log out]|Log out|LOG OUT|Switch|")
    assert rendered["zh-hans", "Switch"].startswith("退出|[退出]|Log out|退出|切换|")
    assert rendered["zh-hans", "<i>"].endswith("<i>|<b>&&lt;i&gt;")
