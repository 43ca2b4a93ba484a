"""Sign-in in a real browser (R17): the password, then the TOTP code; a wrong code is refused in Chinese."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, current_code
from tests.e2e.conftest import device_of, menu


@pytest.mark.req("R17")
def test_password_then_totp_reaches_the_dashboard_and_a_wrong_code_is_refused(
    huancui_clerk: Any, new_page: Callable[[str], Any]
) -> None:
    device = device_of(huancui_clerk)
    page = new_page("clerk_hc")

    # Every page asks for sign-in first, and keeps the page that was asked for.
    page.goto("/persons/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/persons/$"))
    expect(page.get_by_role("heading", name="登录")).to_be_visible()

    page.get_by_label("用户名").fill("clerk_hc")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="下一步").click()

    # The password alone opens nothing: the second step asks for the code.
    expect(page).to_have_url(re.compile(r"/login/otp/$"))
    code = current_code(device)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.get_by_label("动态口令").fill(wrong)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_text("动态口令错误或已过期")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login/otp/$"))

    # django-otp throttles the device for a second after a wrong code.
    time.sleep(1.2)
    page.get_by_label("动态口令").fill(current_code(device))
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"/persons/$"))

    menu(page).get_by_role("link", name="首页").click()
    expect(page.get_by_role("heading", name="首页")).to_be_visible()
    expect(page.get_by_text("您好")).to_be_visible()
    expect(page.get_by_role("button", name="退出")).to_be_visible()

    from sidms.audit.models import AuditEvent

    actions = list(AuditEvent.objects.filter(actor="clerk_hc").values_list("action", flat=True))
    assert "auth.password_ok" in actions and "auth.otp_failed" in actions and "auth.otp_ok" in actions
