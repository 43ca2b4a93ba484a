"""The README's first command, as a user runs it: `sidms demo` on a fresh machine.

These tests run the real console script in a subprocess against a SQLite file in a temporary folder
(whatever SIDMS_DATABASE_URL the suite itself uses), serve it through granian, and sign in over HTTP.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sidms.demo.generate import generate

pytestmark = pytest.mark.engine_independent

PERSONS = 300


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SIDMS_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env["SIDMS_DATA_DIR"] = str(data_dir)
    return env


def sidms(data_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidms.cli", *args],
        env=_env(data_dir),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo") / "var"
    done = sidms(data_dir, "demo", "--no-serve", "--persons", str(PERSONS))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "clerk_hc" in done.stdout and "TOTP" in done.stdout
    return data_dir


def _copy(demo_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "var"
    shutil.copytree(demo_dir, target)
    return target


def _sql(data_dir: Path, *statements: str) -> None:
    with sqlite3.connect(data_dir / "sidms.sqlite3") as db:
        for statement in statements:
            db.execute(statement)


@pytest.mark.req("R17")
@pytest.mark.req("R19")
def test_after_the_demo_no_id_number_phone_or_account_is_in_the_database_files_in_plain_text(
    demo_dir: Path,
) -> None:
    people = list(generate(persons=PERSONS).persons)
    blob = b"".join(p.read_bytes() for p in demo_dir.iterdir() if p.name.startswith("sidms.sqlite3"))
    assert len(blob) > 100_000
    for person in people:
        assert person.id_number.encode() not in blob
        assert not person.phone or person.phone.encode() not in blob
        assert not person.bank_account or person.bank_account.encode() not in blob
    assert (demo_dir / "sidms.keys").stat().st_mode & 0o077 == 0


@pytest.mark.req("R20")
def test_a_fresh_demo_store_verifies_intact(demo_dir: Path, tmp_path: Path) -> None:
    data_dir = _copy(demo_dir, tmp_path)
    done = sidms(data_dir, "audit", "verify")
    assert done.returncode == 0, done.stderr
    assert "intact" in done.stdout


@pytest.mark.req("R20")
def test_a_raw_sql_update_of_a_person_row_makes_verify_fail_and_name_it(
    demo_dir: Path, tmp_path: Path
) -> None:
    data_dir = _copy(demo_dir, tmp_path)
    _sql(data_dir, "UPDATE registry_person SET name = '李鬼' WHERE id = 17")
    done = sidms(data_dir, "audit", "verify")
    assert done.returncode == 1
    assert "person #17" in done.stderr


@pytest.mark.req("R20")
def test_an_audit_row_updated_with_its_trigger_dropped_makes_verify_fail_and_name_it(
    demo_dir: Path, tmp_path: Path
) -> None:
    data_dir = _copy(demo_dir, tmp_path)
    _sql(
        data_dir,
        "DROP TRIGGER audit_auditevent_no_update",
        "UPDATE audit_auditevent SET actor = 'nobody' WHERE seq = 9",
    )
    done = sidms(data_dir, "audit", "verify")
    assert done.returncode == 1
    assert "audit event #9" in done.stderr


@pytest.mark.req("R20")
def test_a_deleted_audit_row_makes_verify_fail_and_name_it(demo_dir: Path, tmp_path: Path) -> None:
    data_dir = _copy(demo_dir, tmp_path)
    _sql(data_dir, "DROP TRIGGER audit_auditevent_no_delete", "DELETE FROM audit_auditevent WHERE seq = 12")
    done = sidms(data_dir, "audit", "verify")
    assert done.returncode == 1
    assert "#12" in done.stderr


@pytest.mark.req("R20")
def test_the_database_itself_refuses_to_change_audit_rows(demo_dir: Path, tmp_path: Path) -> None:
    data_dir = _copy(demo_dir, tmp_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        _sql(data_dir, "UPDATE audit_auditevent SET actor = 'nobody' WHERE seq = 9")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        _sql(data_dir, "DELETE FROM changes_revision WHERE id = 1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(demo_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data_dir = _copy(demo_dir, tmp_path)
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "sidms.cli", "serve", "--port", str(port)],
        env=_env(data_dir),
        cwd=data_dir.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            pytest.fail(f"sidms serve did not answer: {(tmp_path / 'serve.log').read_text()[-2000:]}")
        yield base, data_dir
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _csrf(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


@pytest.mark.req("R17")
@pytest.mark.req("R10.3")
def test_a_demo_clerk_signs_in_with_password_and_totp_and_finds_a_person_by_id_number(
    server: tuple[str, Path],
) -> None:
    base, data_dir = server
    password = dict(
        line.split("\t", 1)
        for line in (data_dir / "demo-accounts.txt").read_text(encoding="utf-8").splitlines()
        if "\t" in line
    )["clerk_hc"]
    person = next(p for p in generate(persons=PERSONS).persons if p.district == "371002" and not p.anomalies)

    with httpx.Client(base_url=base, timeout=10, follow_redirects=False) as client:
        login = client.get("/login/")
        assert login.status_code == 200 and "用户名" in login.text and 'lang="zh-hans"' in login.text
        step1 = client.post(
            "/login/",
            data={"username": "clerk_hc", "password": password, "csrfmiddlewaretoken": _csrf(login.text)},
            headers={"Referer": f"{base}/login/"},
        )
        assert step1.status_code == 302 and step1.headers["location"] == "/login/otp/"
        otp_page = client.get("/login/otp/")
        code = sidms(data_dir, "totp", "clerk_hc").stdout.strip()
        assert re.fullmatch(r"\d{6}", code)
        step2 = client.post(
            "/login/otp/",
            data={"token": code, "csrfmiddlewaretoken": _csrf(otp_page.text)},
            headers={"Referer": f"{base}/login/otp/"},
        )
        assert step2.status_code == 302 and step2.headers["location"] == "/"
        search_page = client.get("/persons/")
        found = client.post(
            "/persons/",
            data={"q": person.id_number, "csrfmiddlewaretoken": _csrf(search_page.text)},
            headers={"Referer": f"{base}/persons/"},
        )
        assert found.status_code == 200
        assert person.name in found.text and person.person_no in found.text
        assert "按公民身份号码查询" in found.text and "共 1 条" in found.text  # says how the search was read
        # Masked in the result list, and in no URL: not the request's, not a link's, not a form's.
        assert person.id_number not in str(found.url)
        urls = re.findall(
            r'(?:href|action|value)="([^"]*)"', found.text.replace(f'name="q" value="{person.id_number}"', "")
        )
        assert not [u for u in urls if person.id_number in u]
        assert found.text.count(person.id_number) == 1  # only in the search box the clerk typed it into
        static = client.get("/static/sidms/app.css")
        assert static.status_code == 200 and "font-family" in static.text
