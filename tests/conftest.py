"""Shared fixtures: a key ring per test session, and named personas per post and district."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sidms.lib.crypto import KeyRing


@pytest.fixture(scope="session", autouse=True)
def _session_keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from django.conf import settings

    from sidms.core.keys import keyring

    path = tmp_path_factory.mktemp("keys") / "sidms.keys"
    KeyRing.generate(suite="sm").save(path)
    settings.SIDMS_KEY_FILE = path
    # Automatic audit checkpoints go to the session's temporary folder, never to ./var.
    settings.SIDMS_CHECKPOINT_DIR = path.parent / "checkpoints"
    # Every commit writes its checkpoint at once: no checkpoint writer thread outlives a test's database.
    settings.SIDMS_CHECKPOINT_INTERVAL = 0.0
    # PBKDF2's deliberate slowness protects real passwords; in tests it only costs minutes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    keyring.cache_clear()
    yield path
    keyring.cache_clear()


@pytest.fixture(autouse=True)
def _checkpoints_per_test(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Each test's audit chain starts afresh with its database, and so does its checkpoint file (and the
    archive's file store: never ./var)."""
    settings.SIDMS_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.SIDMS_ARCHIVE_DIR = tmp_path / "archive-store"
    yield


@pytest.fixture(autouse=True)
def _fresh_code_caches() -> Iterator[None]:
    """Code tables and the security limits read from parameters are cached per process; a test's database is
    rolled back under them, so each test starts and ends with empty caches."""
    try:
        from sidms.parameters.codes import clear_caches
        from sidms.security.limits import clear
    except Exception:
        yield
        return
    clear_caches()
    clear()
    yield
    clear_caches()
    clear()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "req(id): the requirement the test proves")
    config.addinivalue_line(
        "markers",
        "engine_independent: the test builds its own store (a SQLite file, scratch PostgreSQL clusters) in "
        "subprocesses, so the suite's database engine does not change what it proves",
    )
    import os

    from hypothesis import settings as hypothesis_settings

    # In CI every run explores the same examples, so a red build can be reproduced; locally they vary.
    hypothesis_settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI"):
        hypothesis_settings.load_profile("ci")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """CI runs the suite twice, on SQLite and then on PostgreSQL (.ci/run). The second run sets
    SIDMS_TEST_SECOND_ENGINE: a test marked engine_independent proved in the first run all it can, so the
    second skips it and says so (about a third of that run's time: the demo, backup and pgBackRest drills).
    Without the variable every test runs, whatever the engine."""
    import os

    if not os.environ.get("SIDMS_TEST_SECOND_ENGINE"):
        return
    skip = pytest.mark.skip(reason="engine-independent: already run in this CI's first (SQLite) pass")
    for item in items:
        if item.get_closest_marker("engine_independent"):
            item.add_marker(skip)


PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture
def make_staff(db: None) -> Callable[..., object]:
    from sidms.registry.models import Staff
    from sidms.security.accounts import staff_create

    def make(
        username: str,
        *,
        posts: tuple[str, ...],
        district: str = "371002",
        agreement: bool = True,
        full_name: str = "",
    ) -> Staff:
        # Through the governed service, as every account is made (set-up by the system itself).
        return staff_create(
            actor="system:test",
            username=username,
            password=PASSWORD,
            district=district,
            posts=posts,
            full_name=full_name,
            agreement_signed_on=date(2026, 1, 1) if agreement else None,
        )

    return make


@pytest.fixture
def set_parameter(make_staff: Callable[..., object]) -> Callable[[str, object], None]:
    """Change a parameter as the city-level system administrators do: one proposes it, effective today, and a
    second confirms it."""
    from django.utils import timezone

    from sidms.business.parameters import parameter_propose
    from sidms.changes.services import review_decide

    admins: list[object] = []

    def set_(key: str, value: object) -> None:
        if not admins:
            admins.extend(
                make_staff(name, posts=("city_admin",), district="371000")
                for name in ("admin_p1", "admin_p2")
            )
        held = parameter_propose(
            actor=admins[0], key=key, value=value, effective_from=timezone.localdate(),
            source="测试：威海市人社局通知（示例）", reason="测试设定",
        )  # fmt: skip
        review_decide(actor=admins[1], change_request_id=held.pk, approve=True)

    return set_


@pytest.fixture
def huancui_clerk(make_staff: Callable[..., object]) -> object:
    return make_staff("clerk_hc", posts=("window_clerk",), district="371002")


@pytest.fixture
def rushan_clerk(make_staff: Callable[..., object]) -> object:
    return make_staff("clerk_rs", posts=("window_clerk",), district="371083")


@pytest.fixture
def city_reviewer(make_staff: Callable[..., object]) -> object:
    return make_staff("reviewer_city", posts=("reviewer",), district="371000")


@pytest.fixture
def auditor(make_staff: Callable[..., object]) -> object:
    return make_staff("auditor_city", posts=("auditor",), district="371000")


def enrol(staff: object) -> object:
    """Give STAFF a confirmed TOTP device, as the first-login enrolment does."""
    from sidms.security.accounts import staff_enrol_device

    return staff_enrol_device(actor="system:test", staff=staff)


def current_code(device: object) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)  # type: ignore[attr-defined]
    return f"{totp.token():06d}"


@pytest.fixture
def signed_in() -> Callable[..., object]:
    """A test client signed in with both factors, by the real login pages."""
    from django.test import Client

    def sign_in(staff: object) -> Client:
        device = enrol(staff)
        client = Client()
        response = client.post("/login/", {"username": staff.username, "password": PASSWORD})  # type: ignore[attr-defined]
        assert response.status_code == 302, response.content.decode()[:2000]
        response = client.post("/login/otp/", {"token": current_code(device)})
        assert response.status_code == 302 and response["Location"] == "/", response
        return client

    return sign_in


def luhn_complete(body: str) -> str:
    """BODY plus its Luhn check digit (bank card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


@pytest.fixture
def importers(make_staff: Callable[..., object]) -> tuple[object, object]:
    """An information-centre operator who applies for and executes imports, and a city-level approver."""
    return (
        make_staff("info_import", posts=("info_centre",), district="371000"),
        make_staff("approver_import", posts=("approver",), district="371000"),
    )


@pytest.fixture
def load(importers: tuple[object, object]) -> Callable[..., list[object]]:
    """Store records the way every record is stored: an import through an approved batch (the pipeline)."""
    from sidms.changes.batches import batch_apply_import, batch_decide, batch_execute
    from sidms.core.kernel import spec_for

    operator, approver = importers

    def load_rows(entity: str, rows: list[dict[str, object]], *, legacy: bool = False) -> list[object]:
        batch = batch_apply_import(actor=operator, entity=entity, rows=rows, reason="测试数据", legacy=legacy)
        batch_decide(actor=approver, batch_id=batch.pk, approve=True)
        done = batch_execute(actor=operator, batch_id=batch.pk, rows=lambda: rows)
        model = spec_for(entity).model
        from sidms.changes.models import Revision

        ids = Revision.objects.filter(pk__gte=done.first_revision, pk__lte=done.last_revision).values_list(
            "record_id", flat=True
        )
        return list(model.objects.filter(pk__in=list(ids)).order_by("pk"))

    return load_rows


@pytest.fixture
def make_person(load: Callable[..., list[object]]) -> Callable[..., object]:
    counter = iter(range(1, 10_000))

    def make(
        *,
        id_number: str,
        name: str = "张三",
        district: str = "371002",
        legacy: bool = False,
        **fields: object,
    ):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "person_no": f"P{next(counter):09d}",
            "id_number": id_number,
            "name": name,
            "sex": "1",
            "birth_date": "1960-01-01",
            "category": "employee",
            "district_id": district,
            "phone": "13963100000",
            "bank_account": luhn_complete("621700000000000000"),
            "status": "active",
        }
        values.update(fields)
        return load("person", [values], legacy=legacy)[0]

    return make


FIRST_UNIT_CODE = "91371082775260043P"


def credit_code_for(seed: str) -> str:
    """A valid 统一社会信用代码 (GB 32100, with a valid embedded GB 11714 organisation code) made from SEED."""
    import hashlib

    from sidms.lib import uscc

    body8 = f"{int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 10**8:08d}"
    body17 = "91371002" + body8 + uscc.org_check_char(body8)
    return body17 + uscc.check_char(body17)


def unit_credit_codes() -> Callable[[str], str]:
    """The credit codes a test's units get when it names none: one unit per credit code (registry.Unit), so
    the first unit has FIRST_UNIT_CODE and each later one a code of its own, made from its SEED."""
    made: list[str] = []

    def code(seed: str) -> str:
        made.append(seed)
        return FIRST_UNIT_CODE if len(made) == 1 else credit_code_for(seed)

    return code


@pytest.fixture
def make_unit(load: Callable[..., list[object]]) -> Callable[..., object]:
    codes = unit_credit_codes()

    def make(*, unit_no: str, name: str, district: str, credit_code: str = "", **fields: object):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "unit_no": unit_no,
            "name": name,
            "credit_code": credit_code or codes(unit_no),
            "unit_type": "enterprise",
            "district_id": district,
            "phone": "0631-5221234",
            "status": "active",
        }
        values.update(fields)
        return load("unit", [values])[0]

    return make


@pytest.fixture
def make_employment(load: Callable[..., list[object]]) -> Callable[..., object]:
    """PERSON employed at UNIT from START (open-ended unless END), stored through an approved import batch: what
    an employee's enrolment at the unit needs first (社会保险法 Art. 58, sidms.business.enrolment)."""

    def make(person: object, unit: object, start: str = "2000-01-01", end: str = ""):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "person_id": str(person.pk),  # type: ignore[attr-defined]
            "unit_id": str(unit.pk),  # type: ignore[attr-defined]
            "start_date": start,
        }
        if end:
            values["end_date"] = end
        return load("employment", [values])[0]

    return make


@pytest.fixture
def idle_threads_fork_safe() -> Iterator[None]:
    """Mark the threads the test session left running (the end-to-end tests' live server, idle between its
    requests) fork-safe for one test, so that it forks import workers as ``sidms import`` does; a test
    session is otherwise a process that sidms.core.workers would not fork from."""
    import threading

    me = threading.current_thread()
    marked = [t for t in threading.enumerate() if t is not me and not getattr(t, "sidms_fork_safe", False)]
    for thread in marked:
        thread.sidms_fork_safe = True  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for thread in marked:
            del thread.sidms_fork_safe  # type: ignore[attr-defined]


def last_integrity_alert() -> tuple[object, dict[str, object]]:
    """The latest `integrity.alert` audit event and its hashed payload (the detail is only in the payload)."""
    import json

    from sidms.audit.models import AuditEvent

    event = AuditEvent.objects.filter(action="integrity.alert").order_by("-seq").first()
    assert event is not None, "no integrity alert was recorded"
    return event, json.loads(event.payload)
