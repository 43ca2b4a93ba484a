"""Real-browser tests: Debian's Chromium, driven by pytest-playwright, against pytest-django's live server.

Each test signs staff in through the real login pages (password, then the TOTP code) in their own browser
context, and drives the pages as a clerk would: by the Chinese labels, roles and texts they see, never by
CSS structure, because the pages are being refactored while their URLs stay.

Three things differ from the rest of the suite:

- The live server answers from another thread, so the data must be committed: these tests use
  ``transactional_db``, and the database is emptied (flushed) after each of them. The append-only triggers
  refuse that flush, so they are dropped just before it; before the next test the database is put back as
  `migrate` leaves it: the rows the migrations ship (regions, code tables), the triggers, and what the
  post-migrate handler writes (the collection rules with their revisions and audit events on a chain of
  their own, and its head), so that `sidms audit verify` finds the store intact.
- Playwright's synchronous API keeps an asyncio loop marked as running in the main thread, which Django
  takes for async code and refuses the ORM in; the guard is lifted while (and only while) this package's
  Playwright runs, see ``playwright`` below.
- When a test fails, every page it had open is saved as a full-page PNG and as HTML under
  ``test-results/e2e/<test name>/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from tests.conftest import PASSWORD, current_code, enrol

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserType, Playwright

CHROMIUM = Path("/usr/bin/chromium")
# This machine's network is closed: without these flags Chromium waits on connections it cannot make
# (component updates, sync, QUIC probes) and pages stall.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Short enough that a broken page fails the test in seconds, long enough for a 2-core CI machine.
TIMEOUT_MS = 10_000

# --------------------------------------------------------------------------------------------------------
# The browser


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip before any fixture runs (the browser is launched before the function-scoped fixtures)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium fonts-noto-cjk); "
            "Playwright's own browser downloads do not work here"
        )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options, with Debian's Chromium and the flags a closed network needs."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


# pytest-playwright starts Playwright once per session and stops it at the very end. Its synchronous API
# marks an asyncio loop as running in the main thread for as long as it runs, and Django refuses database
# calls from a thread with a running loop. The tests here call the ORM between browser steps (fixtures,
# checks of stored values), never while the live server serves them a page, so Django's guard is lifted,
# but only while this package runs: Playwright and the browser are package-scoped here, so that both stop,
# and the guard is back, before the rest of the suite (pytest-django runs these transactional tests after
# the other database tests, and tests without a database after them).


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    started = sync_playwright().start()
    try:
        yield started
    finally:
        started.stop()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return cast("BrowserType", getattr(playwright, browser_name))


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    launched = launch_browser()
    yield launched
    launched.close()


@pytest.fixture(scope="package")
def browser_context_args() -> dict[str, Any]:
    """A Chinese desktop browser, as at a service window. The live server's address is given per context."""
    return {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "viewport": {"width": 1366, "height": 900}}


@dataclass
class OpenPages:
    """Every page a test opened, named after whoever used it: saved when the test fails."""

    pages: list[tuple[str, Any]] = field(default_factory=list)

    def save(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for number, (name, page) in enumerate(self.pages, start=1):
            if page.is_closed():
                continue
            stem = folder / f"{number}-{name}"
            try:
                page.screenshot(path=str(stem.with_suffix(".png")), full_page=True, timeout=5_000)
                saved.append(stem.with_suffix(".png"))
            except Exception as error:  # a crashed page still lets the HTML of the others be saved
                stem.with_suffix(".png.txt").write_text(f"no screenshot: {error}\n", encoding="utf-8")
            try:
                html = page.content()
            except Exception as error:
                html = f"<!-- no content: {error} -->"
            stem.with_suffix(".html").write_text(f"<!-- {page.url} -->\n{html}", encoding="utf-8")
            saved.append(stem.with_suffix(".html"))
        return saved


OPEN_PAGES = pytest.StashKey[OpenPages]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test leaves a screenshot and the HTML of each page it had open (they are still open: the
    report of the call is made before the fixtures' teardown closes the browser contexts)."""
    report = yield
    pages = item.stash.get(OPEN_PAGES, None)
    if report.failed and report.when == "call" and pages is not None and pages.pages:
        name = re.sub(r"[^\w.-]+", "-", item.name).strip("-")
        saved = pages.save(item.config.rootpath / "test-results" / "e2e" / name)
        report.sections.append(("browser pages", "\n".join(str(path) for path in saved)))
    return report


@pytest.fixture
def live_url(live_server: Any, settings: Any, tmp_path: Path) -> str:
    """The live server's address. Audit checkpoints of the test go to its own temporary folder."""
    settings.SIDMS_CHECKPOINT_DIR = tmp_path / "checkpoints"
    return str(live_server.url)


@pytest.fixture
def new_page(
    new_context: Callable[..., Any], live_url: str, request: pytest.FixtureRequest
) -> Callable[[str], Any]:
    """NEW_PAGE(name): a page in a browser context of its own (own cookies, own session)."""
    pages = OpenPages()
    request.node.stash[OPEN_PAGES] = pages

    def open_page(name: str) -> Any:
        context = new_context(base_url=live_url)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        # No favicon: the request would only add a 404 while the test reads the database.
        context.route("**/favicon.ico", lambda route: route.abort())
        page = context.new_page()
        pages.pages.append((name, page))
        return page

    return open_page


def menu(page: Any) -> Any:
    """The main navigation in the page's header (not the breadcrumbs, which are a navigation too)."""
    return page.get_by_role("banner").get_by_role("navigation")


def click_and_confirm(page: Any, button: Any, consequence: str) -> None:
    """Click BUTTON of a grave act: the page asks first (app.js's data-confirm), naming the consequence; the
    question is checked and accepted. (Without a listener Playwright dismisses every dialog.)"""
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    button.click()
    assert asked, "the button sent its form without asking for confirmation"
    assert consequence in asked[0], asked[0]


def reference_in(locator: Any, prefix: str) -> str:
    """The first reference number (CR12, MO3, BA7) with PREFIX in the text of LOCATOR."""
    found = re.search(rf"{prefix}\d+", locator.inner_text())
    assert found, f"no {prefix} number in {locator.inner_text()!r}"
    return found.group(0)


# --------------------------------------------------------------------------------------------------------
# Named personas: pages show staff by name (环翠窗口 张敏), so the browser tests give them names


@pytest.fixture
def huancui_clerk(make_staff: Callable[..., Any]) -> Any:
    return make_staff("clerk_hc", posts=("window_clerk",), district="371002", full_name="环翠窗口 张敏")


@pytest.fixture
def auditor(make_staff: Callable[..., Any]) -> Any:
    return make_staff("auditor_city", posts=("auditor",), district="371000", full_name="市级审计 吴刚")


# --------------------------------------------------------------------------------------------------------
# Signing in


def device_of(staff: Any) -> Any:
    """STAFF's confirmed TOTP device, enrolled on first use (as the first-login enrolment does)."""
    from sidms.security.models import SealedTOTPDevice

    device = SealedTOTPDevice.objects.devices_for_user(staff, confirmed=True).first()
    return device if device is not None else enrol(staff)


def sign_in(page: Any, staff: Any) -> None:
    """Fill the real login form, then the real TOTP form, and land on the dashboard."""
    from playwright.sync_api import expect

    device = device_of(staff)
    page.goto("/login/")
    page.get_by_label("用户名").fill(staff.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="下一步").click()
    expect(page).to_have_url(re.compile(r"/login/otp/$"))
    page.get_by_label("动态口令").fill(current_code(device))
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"^https?://[^/]+/$"))
    expect(page.get_by_role("heading", name="首页")).to_be_visible()


@pytest.fixture
def as_staff(new_page: Callable[[str], Any]) -> Callable[[Any], Any]:
    """AS_STAFF(staff): a page of STAFF's own browser context, signed in with both factors."""

    def open_as(staff: Any) -> Any:
        page = new_page(staff.username)
        sign_in(page, staff)
        return page

    return open_as


# --------------------------------------------------------------------------------------------------------
# The database between tests


# The rows post-migrate handlers make rather than migrations: content types and permissions (Django's own),
# and everything written into the audit chain (the collection rules with their revisions and audit events,
# and the chain head), which sidms.changes.rules.seed_declared_rules writes afresh with a chain of its own.
_MADE_AFTER_MIGRATE = {"contenttypes", "auth"}


def _shipped_by_migrations(model: Any) -> bool:
    from sidms.audit.models import ChainHead

    return not (
        model._meta.app_label in _MADE_AFTER_MIGRATE
        or getattr(model, "append_only", False)
        or model is ChainHead
    )


_SHIPPED: dict[str, str] = {}


@pytest.fixture(scope="session")
def _shipped_rows(django_db_setup: None, django_db_blocker: Any) -> dict[str, str]:
    """The rows the migrations ship (regions, code tables), serialised once before any test here has
    changed them. Once per run, wherever this fixture is used from (tests/attack14/races uses it too): a
    second package's session fixture would otherwise serialise the tables after this one's flush emptied
    them."""
    from django.apps import apps
    from django.core import serializers

    if not _SHIPPED:
        with django_db_blocker.unblock():
            _SHIPPED.update(
                {
                    model._meta.label: serializers.serialize("json", model._base_manager.order_by("pk"))
                    for model in apps.get_models()
                    if _shipped_by_migrations(model) and model._base_manager.exists()
                }
            )
    return _SHIPPED


@pytest.fixture(autouse=True)
def _transactional_database(transactional_db: None, _shipped_rows: dict[str, str]) -> Iterator[None]:
    """Before the test, the database as a fresh `migrate` leaves it: the shipped rows that the previous test's
    flush removed, the collection rules seeded with their revisions and audit events on a new chain (what the
    post-migrate handler does; nothing if it has run already), and the append-only triggers. After it: the
    triggers dropped, so that the flush pytest-django runs next can empty their tables."""
    from django.apps import apps
    from django.core import serializers
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from sidms.changes.reference import record_after_migrate
    from sidms.changes.rules import seed_declared_rules
    from sidms.core.guards import append_only_sql, append_only_tables, install_append_only
    from sidms.parameters.codes import clear_caches

    with connection.constraint_checks_disabled():
        for label, rows in _shipped_rows.items():
            if not apps.get_model(label)._base_manager.exists():
                for row in serializers.deserialize("json", rows):
                    row.save()
    clear_caches()
    install_append_only(connection)
    seed_declared_rules()
    # The flush emitted post_migrate over empty tables, so the reference data was vouched for as empty; the
    # shipped rows are back now, as their migrations would have put them, so vouch as after those migrations.
    loader = MigrationLoader(connection)
    record_after_migrate(
        [(loader.graph.nodes[key], False) for key in loader.graph.leaf_nodes() if key[0] == "parameters"]
    )
    yield
    with connection.cursor() as cursor:
        for table in append_only_tables():
            for statement in append_only_sql(connection.vendor, table, create=False):
                cursor.execute(statement)
