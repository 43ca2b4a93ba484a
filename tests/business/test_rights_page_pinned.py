"""The rights-record page's HTML pinned, byte for byte, for two seeded persons in both languages: the page is
built for speed (the grid and the record outside the template engine, bench/README.md), and what it shows must
not move with that. The CSRF tokens (new on every request) are the only parts masked.

When the page is meant to change, write the pinned pages anew and read the difference before committing it:

    SIDMS_PIN_WRITE=1 uv run pytest tests/business/test_rights_page_pinned.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from sidms.business.ledger import run_through
from tests.business.test_transfers import mover, transfer

pytestmark = pytest.mark.django_db
PINNED = Path(__file__).parent / "data"
__all__ = ["mover"]  # the fixture, imported for pytest


def _masked(html: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value="…"', html)
    assert "csrfmiddlewaretoken" in html
    return html


@pytest.mark.req("R10")
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_rights_page_shows_what_it_showed(
    language: str,
    insured: dict[str, Any],
    mover: Any,
    make_person: Any,
    huancui_clerk: Any,
    approver: Any,
    signed_in: Any,
) -> None:
    """王建国 (four insurances: January and February paid ●, March in arrears △), 孙迁入 (pension, 18 months
    transferred in ○ with his balance) and a person never enrolled, as of the end of 2025: the enrolments,
    the three years' grids, the personal account, the statement form; the navigation bar and the header as a
    window clerk sees them."""
    from tests.changes.conftest import id_number

    run_through(huancui_clerk, approver, "transfer_in", "2025-03", params=transfer(mover))
    nobody = make_person(id_number=id_number("37100219900303011"), name="钱未保", birth_date="1990-03-03")
    client = signed_in(huancui_clerk)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # as the header's language form sets it
    for name, person in (("employee", insured["employee"]), ("mover", mover), ("nobody", nobody)):
        response = client.get(f"/persons/{person.person_no}/rights/", {"cut_off": "2025-12-31"})
        assert response.status_code == 200
        page = _masked(response.content.decode())
        path = PINNED / f"rights_page.{name}.{language}.html"
        if os.environ.get("SIDMS_PIN_WRITE"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(page, encoding="utf-8")
        assert {"employee": "●" in page and "△" in page, "mover": "○" in page, "nobody": 'class="muted">None.<' in page
                or 'class="muted">无<' in page}[name], name  # fmt: skip
        assert page == path.read_text(encoding="utf-8"), f"{path.name} differs"


@pytest.mark.req("R10")
@pytest.mark.parametrize("key", ["P000000001", "王 建国", "a%b?c#d&e=f", "x'y\"z<>", "~:@!$()*+,;"])
def test_the_statement_url_is_the_one_reverse_gives(key: str, rf: Any) -> None:
    """The page's statement URL is put together around its key once per process: the same URL as reverse()."""
    from django.urls import reverse

    from sidms.web.business.views import _statement_url

    assert _statement_url(rf.get("/"), key) == reverse("web:statement_pdf", args=[key])


@pytest.mark.req("R10")
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_sign_in_page_shows_what_it_showed(language: str, client: Any) -> None:
    """The base template's header as an anonymous visitor gets it (no navigation, no name, no log-out)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get("/login/")
    assert response.status_code == 200
    page = _masked(response.content.decode())
    path = PINNED / f"sign_in_page.{language}.html"
    if os.environ.get("SIDMS_PIN_WRITE"):
        path.write_text(page, encoding="utf-8")
    assert page == path.read_text(encoding="utf-8"), f"{path.name} differs"
