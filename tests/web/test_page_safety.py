"""Every page carries a Content-Security-Policy that lets no inline script run, and pages that can show personal
data are never cached (a shared agency PC keeps nothing); the templates themselves hold no inline script, no
event-handler attribute and no inline style, so the policy costs the pages nothing (R17, R19)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

import sidms

pytestmark = [pytest.mark.django_db]

HUANCUI_1960 = "371002196001010011"
ROOT = Path(sidms.__file__).parent
TEMPLATE_DIRS = [ROOT / "web" / "templates", ROOT / "security" / "templates"]


def csp(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def assert_no_inline_script_allowed(response, where: str) -> None:  # type: ignore[no-untyped-def]
    policy = csp(response)
    script = policy.get("script-src", policy.get("default-src", ""))
    assert script, where
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, where
    assert "'unsafe-inline'" not in policy.get("style-src", policy.get("default-src", "")), where
    assert policy.get("object-src") == "object-src 'none'", where
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"], where


@pytest.mark.req("R17")
def test_every_page_forbids_inline_script_and_pages_with_personal_data_are_not_cached(  # type: ignore[no-untyped-def]
    huancui_clerk, auditor, signed_in, make_person
) -> None:
    person = make_person(id_number=HUANCUI_1960, name="王建国")
    anonymous = Client()
    for path in ("/login/", "/persons/"):
        assert_no_inline_script_allowed(anonymous.get(path), path)
    clerk = signed_in(huancui_clerk)
    personal = [
        "/",
        "/persons/",
        f"/persons/{person.person_no}/",
        f"/persons/{person.person_no}/edit/",
        f"/persons/{person.person_no}/maintain/",
        f"/persons/{person.person_no}/history/",
        "/units/",
        "/queues/",
        "/batches/",
        "/rules/",
        "/persons/?page=abc",  # a refusal too
        "/persons/no-such-person/",  # and a page that is not found
    ]
    for path in personal:
        response = clerk.get(path)
        assert_no_inline_script_allowed(response, path)
        assert "no-store" in response["Cache-Control"], path
    search = clerk.post("/persons/", {"q": HUANCUI_1960})
    assert "no-store" in search["Cache-Control"]
    log = signed_in(auditor).get("/audit/")
    assert_no_inline_script_allowed(log, "/audit/")
    assert "no-store" in log["Cache-Control"]


@pytest.mark.req("R17")
def test_no_template_holds_an_inline_script_an_event_handler_or_an_inline_style() -> None:
    templates = [path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html")]
    assert len(templates) > 20
    found = []
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b[^>]*>", text, re.I):
            if "src=" not in match.group(0):
                found.append(f"{path.name}: inline <script>")
        for match in re.finditer(r"<script\b[^>]*>(.*?)</script>", text, re.I | re.S):
            if match.group(1).strip():
                found.append(f"{path.name}: script body")
        if re.search(r"<[^>]*\son[a-z]+\s*=", text, re.I):
            found.append(f"{path.name}: on…= handler")
        if re.search(r"<[^>]*\sstyle\s*=", text, re.I):
            found.append(f"{path.name}: style= attribute")
        if re.search(r"javascript:", text, re.I):
            found.append(f"{path.name}: javascript: URL")
    assert found == []


@pytest.mark.req("R17")
def test_the_only_script_and_stylesheet_come_from_this_origin(huancui_clerk, signed_in) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(huancui_clerk).get("/").content.decode()
    sources = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/static/") for source in sources)
