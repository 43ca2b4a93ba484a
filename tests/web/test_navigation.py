"""The navigation bar shows what the signed-in staff member's posts allow. Its links are rendered once per
process for each set of posts, city level and language (web.templatetags.sidms.staff_nav): one member's
bar must never show on another's pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _links(html: str) -> set[str]:
    bar = html.split("<nav>", 1)[1].split("</nav>", 1)[0]
    return {part.split('"', 1)[0] for part in bar.split('href="')[1:]}


@pytest.mark.req("R4")
def test_each_staff_member_sees_the_links_of_their_own_posts_in_either_language(
    make_staff: Any, signed_in: Any
) -> None:
    clerk = make_staff("nav_clerk", posts=("window_clerk",), district="371002")
    auditor = make_staff("nav_auditor", posts=("auditor",), district="371000")
    city_security = make_staff("nav_security", posts=("security_admin",), district="371000")
    district_security = make_staff("nav_security_hc", posts=("security_admin",), district="371002")
    audit, staff_list = reverse("gov:audit"), reverse("web:staff:list")
    persons = reverse("web:record_list", args=["persons"])
    clients = {who: signed_in(who) for who in (clerk, auditor, city_security, district_security)}
    for language, word in (("zh-hans", "审计日志"), ("en", "Audit log")):
        pages = {}
        for who, client in clients.items():
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
            pages[who] = client.get("/").content.decode()
        links = {who: _links(page) for who, page in pages.items()}
        assert persons in links[clerk] and audit not in links[clerk]
        assert audit in links[auditor] and persons not in links[auditor]
        assert word in pages[auditor].split("</nav>", 1)[0] and word not in pages[clerk].split("</nav>", 1)[0]
        # The same posts, another level: staff accounts are the city level's only.
        assert staff_list in links[city_security] and staff_list not in links[district_security]


@pytest.mark.req("R4")
def test_the_language_menu_names_each_language_in_its_own_name(make_staff: Any, signed_in: Any) -> None:
    """ux-conventions: 简体中文 / English whatever the page's language (the menu read 英语 on a Chinese page)."""
    client = signed_in(make_staff("nav_lang", posts=("window_clerk",), district="371002"))
    for language in ("zh-hans", "en"):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        menu = client.get("/").content.decode().split('name="language"', 1)[1].split("</select>", 1)[0]
        assert ">简体中文</option>" in menu and ">English</option>" in menu, menu
        assert "英语" not in menu and "Simplified Chinese" not in menu
