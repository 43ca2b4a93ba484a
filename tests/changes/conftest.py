"""Fixtures of the change-pipeline tests: valid ID numbers, personas for each step, a stored person, and a
public-security registry answering on loopback (a real HTTP server speaking docs/crosscheck.md)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sidms.lib.idcard import check_digit
from tests.conftest import luhn_complete


def id_number(body17: str) -> str:
    """BODY17 (address code, birth date, sequence) completed with its GB 11643 check character."""
    return body17 + check_digit(body17)


# Numbers issued in 环翠区 (371002) and 乳山市 (371083).
WANG_ID = id_number("37100219600101001")
WANG_NEW_ID = id_number("37100219600101003")
LI_ID = id_number("37100219700202002")
RUSHAN_ID = id_number("37108319850303003")

ORIGINAL_PHONE = "13963100000"  # what make_person stores
ORIGINAL_ADDRESS = "威海市环翠区文化西路1号"


def person_row(number: int, *, district: str = "371002", **fields: Any) -> dict[str, Any]:
    """One import row for a valid person; NUMBER makes the person number and ID number unique."""
    sequence = number % 1000
    row: dict[str, Any] = {
        "person_no": f"R{district}{number:05d}",
        "id_number": id_number(f"{district}19800101{sequence:03d}"),
        "name": "赵测试",
        "sex": "1" if sequence % 2 else "2",  # GB 11643: an odd sequence is a man
        "birth_date": "1980-01-01",
        "category": "employee",
        "district_id": district,
        "phone": f"139631{number:05d}",
        "bank_account": luhn_complete("621700000000000000"),
        "status": "active",
    }
    row.update(fields)
    return row


@pytest.fixture
def wang(make_person: Callable[..., Any]) -> Any:
    """王建国 of 环翠区, stored through an approved import."""
    return make_person(id_number=WANG_ID, name="王建国", address=ORIGINAL_ADDRESS)


@pytest.fixture
def huancui_reviewer(make_staff: Callable[..., Any]) -> Any:
    return make_staff("reviewer_hc", posts=("reviewer",), district="371002")


@pytest.fixture
def rushan_reviewer(make_staff: Callable[..., Any]) -> Any:
    return make_staff("reviewer_rs", posts=("reviewer",), district="371083")


# --------------------------------------------------------------------------------------------------------
# A public-security registry on loopback


@dataclass
class PublicSecurityServer:
    """Answers `POST /v1/identity/verify` from KNOWN (ID number → name): match when the name agrees,
    404 for an unknown number. `stop()` closes the port, so connecting is then refused; `start()` answers
    again, on a new port, and points the deployment's settings at it."""

    settings: Any  # pytest-django's settings fixture
    known: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    asked: list[dict[str, Any]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                registry.asked.append({"path": self.path, **body})
                if self.path != "/v1/identity/verify" or body.get("id_number") not in registry.known:
                    status, answer = 404, {"error": "no such person"}
                else:
                    status = 200
                    answer = {
                        "match": registry.known[body["id_number"]] == body.get("name"),
                        "deceased": False,
                    }
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        self.configure()

    def configure(self) -> None:
        """Point the deployment's public-security setting at this server. Short timeouts: a refused
        connection must not slow the suite."""
        from sidms.changes import crosschecks

        config = {
            "mode": "http",
            "base_url": self.base_url,
            "timeout": "1",
            "retries": "1",
            "backoff": "0.05",
        }
        self.settings.SIDMS_CROSSCHECK = {
            **self.settings.SIDMS_CROSSCHECK,
            "public_security": {**config, "deadline": "2"},
        }
        crosschecks.reset()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None


@pytest.fixture
def public_security(settings: Any) -> Iterator[PublicSecurityServer]:
    """The loopback registry, configured as the deployment's public-security interface (the other
    registries stay unconfigured)."""
    from sidms.changes import crosschecks

    server = PublicSecurityServer(settings=settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        crosschecks.reset()
