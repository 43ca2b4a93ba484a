"""A reusable HTTP client for partner registries: timeouts, bounded retries, a circuit breaker.

Every path out of `HttpRegistryClient.request_json` is bounded by the per-check deadline, and every
kind of registry trouble becomes one exception, `RegistryUnavailable`, which adapters turn into an
UNAVAILABLE result ("not verified").
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

logger = logging.getLogger("sidms.crosscheck")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Reason(StrEnum):
    """Why a registry could not answer; kept in `facts["reason"]` of an UNAVAILABLE result."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    SERVER_ERROR = "server_error"
    TRANSPORT = "transport"
    CIRCUIT_OPEN = "circuit_open"
    DEADLINE = "deadline"
    BAD_REPLY = "bad_reply"
    REJECTED = "rejected"


_REASON_ZH = {
    Reason.TIMEOUT: "接口响应超时",
    Reason.CONNECT: "无法连接接口",
    Reason.SERVER_ERROR: "接口服务端错误",
    Reason.TRANSPORT: "网络传输中断",
    Reason.CIRCUIT_OPEN: "接口连续故障，暂停调用（熔断中）",
    Reason.DEADLINE: "超过核查时限",
    Reason.BAD_REPLY: "接口返回内容无法识别",
    Reason.REJECTED: "接口拒绝请求",
}
_REASON_EN = {
    Reason.TIMEOUT: "the registry timed out",
    Reason.CONNECT: "cannot connect to the registry",
    Reason.SERVER_ERROR: "registry server error",
    Reason.TRANSPORT: "the connection broke off",
    Reason.CIRCUIT_OPEN: "circuit open after repeated failures",
    Reason.DEADLINE: "the check deadline passed",
    Reason.BAD_REPLY: "the registry's answer could not be read",
    Reason.REJECTED: "the registry refused the request",
}


class RegistryUnavailable(Exception):
    """The registry could not be asked or did not answer usably. Never carries personal data."""

    def __init__(self, reason: Reason, note: str = "", *, attempts: int = 0) -> None:
        self.reason = reason
        self.note = note  # e.g. "HTTP 503"; never a URL with personal data, never a request body
        self.attempts = attempts
        super().__init__(self.detail_en)

    @property
    def detail(self) -> str:
        return _REASON_ZH[self.reason] + (f"（{self.note}）" if self.note else "")

    @property
    def detail_en(self) -> str:
        return _REASON_EN[self.reason] + (f" ({self.note})" if self.note else "")


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops calling a registry that keeps failing, then lets one trial call probe it.

    Written here rather than taken from a library: none is installed (pybreaker, circuitbreaker and
    aiobreaker are not dependencies), the ones that exist want their own storage or decorators around
    functions, and what we need — a thread-safe counter, an injectable clock, one trial call — is
    shorter than the glue to adapt them.
    """

    def __init__(self, *, failure_threshold: int = 5, cooloff: float = 30.0, clock: Clock = time.monotonic):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooloff = cooloff
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started_at: float | None = None

    @property
    def state(self) -> CircuitState:
        with self._lock:
            if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self.cooloff:
                return CircuitState.HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """May a call go out now? While half-open only one trial call is let through at a time."""
        with self._lock:
            now = self._clock()
            if self._state is CircuitState.CLOSED:
                return True
            if self._state is CircuitState.OPEN:
                if now - self._opened_at < self.cooloff:
                    return False
                self._state = CircuitState.HALF_OPEN
                self._trial_started_at = None
            # Half-open. A trial whose caller never reported back must not wedge the breaker forever.
            if self._trial_started_at is not None and now - self._trial_started_at < self.cooloff:
                return False
            self._trial_started_at = now
            return True

    def record_success(self) -> None:
        with self._lock:
            self._state = CircuitState.CLOSED
            self._failures = 0
            self._trial_started_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state is CircuitState.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = CircuitState.OPEN
                self._opened_at = self._clock()
                self._trial_started_at = None


@dataclass(frozen=True)
class JsonReply:
    """An HTTP answer other than a 5xx: its status code and its JSON body (None if the body was not JSON)."""

    status_code: int
    data: Any


def redact_url(url: str) -> str:
    """The URL without user information, for `source` strings and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class HttpRegistryClient:
    """Talks JSON to one registry over httpx.

    - `timeout`: seconds for each network operation of one attempt (connect, send, each read).
    - `retries`: extra attempts after a connect error, a timeout or a 5xx (never after a 4xx), with
      exponential backoff `backoff`, 2×`backoff`, 4×`backoff`… seconds.
    - `deadline`: the whole call, retries and backoff included, ends within this many seconds: each
      attempt's timeout is cut to what remains, and no retry starts once the deadline has passed. (A
      server that drips its answer byte by byte can overrun by at most one `timeout`.)
    - The circuit breaker counts one failure per call (after its retries); while it is open, calls fail
      at once without touching the network.
    - `clock` drives the deadline and the breaker, `sleep` the backoff: tests inject both and never sleep.
    - `trust_env=False`: registries live in the private network; a proxy from the environment must not
      silently carry personal data elsewhere.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 3.0,
        retries: int = 2,
        deadline: float = 10.0,
        backoff: float = 0.2,
        token: str | None = None,
        failure_threshold: int = 5,
        cooloff: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        verify: bool | str = True,
        max_response_bytes: int = 1 << 20,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required")
        if timeout <= 0 or deadline <= 0:
            raise ValueError("timeout and deadline must be positive")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.base_url = base_url.rstrip("/")
        self.source = "http:" + redact_url(self.base_url)
        self.timeout = timeout
        self.retries = retries
        self.deadline = deadline
        self.backoff = backoff
        self.max_response_bytes = max_response_bytes
        self.breaker = CircuitBreaker(failure_threshold=failure_threshold, cooloff=cooloff, clock=clock)
        self._clock = clock
        self._sleep = sleep
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            trust_env=False,
            verify=verify,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpRegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        log_path: str | None = None,
    ) -> JsonReply:
        """Send one request (with retries) and return the answer, or raise RegistryUnavailable.

        `log_path` is what logs show instead of `path` (pass a template such as "/v1/x/{code}" when the
        path carries an identifier). Request bodies are never logged.
        """
        shown = log_path or path
        if not self.breaker.allow():
            logger.warning("crosscheck %s %s%s: circuit open, not called", method, self.source, shown)
            raise RegistryUnavailable(Reason.CIRCUIT_OPEN)
        started = self._clock()
        try:
            reply = self._with_retries(method, path, json_body, started, shown)
        except RegistryUnavailable as trouble:
            # A garbled answer counts too: a registry replying with a proxy's error page is not healthy.
            self.breaker.record_failure()
            logger.warning(
                "crosscheck %s %s%s unavailable after %d attempt(s) in %.3fs: %s",
                method,
                self.source,
                shown,
                trouble.attempts,
                self._clock() - started,
                trouble.detail_en,
            )
            raise
        # Any answer short of a 5xx shows the registry is alive, even a 4xx.
        self.breaker.record_success()
        logger.info(
            "crosscheck %s %s%s -> %d in %.3fs",
            method,
            self.source,
            shown,
            reply.status_code,
            self._clock() - started,
        )
        return reply

    def _with_retries(
        self, method: str, path: str, json_body: Mapping[str, Any] | None, started: float, shown: str
    ) -> JsonReply:
        attempt = 0
        while True:
            attempt += 1
            remaining = self.deadline - (self._clock() - started)
            if remaining <= 0:
                raise RegistryUnavailable(Reason.DEADLINE, attempts=attempt - 1)
            try:
                return self._attempt(method, path, json_body, min(self.timeout, remaining), started)
            except RegistryUnavailable as trouble:
                trouble.attempts = attempt
                retriable = trouble.reason in (Reason.TIMEOUT, Reason.CONNECT, Reason.SERVER_ERROR)
                if not retriable or attempt > self.retries:
                    raise
                pause = self.backoff * 2 ** (attempt - 1)
                if self._clock() - started + pause >= self.deadline:
                    raise  # a retry could not even start before the deadline
                logger.info(
                    "crosscheck %s %s%s attempt %d failed (%s), retrying in %.2fs",
                    method,
                    self.source,
                    shown,
                    attempt,
                    trouble.detail_en,
                    pause,
                )
                self._sleep(pause)

    def _attempt(
        self, method: str, path: str, json_body: Mapping[str, Any] | None, timeout: float, started: float
    ) -> JsonReply:
        try:
            with self._http.stream(
                method, path, json=dict(json_body) if json_body is not None else None, timeout=timeout
            ) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_response_bytes:
                        raise RegistryUnavailable(Reason.BAD_REPLY, f"> {self.max_response_bytes} bytes")
                    if self._clock() - started > self.deadline:
                        raise RegistryUnavailable(Reason.DEADLINE)
                status = response.status_code
        except httpx.TimeoutException as error:
            raise RegistryUnavailable(Reason.TIMEOUT) from error
        except httpx.ConnectError as error:
            raise RegistryUnavailable(Reason.CONNECT) from error
        except httpx.HTTPError as error:
            # Exception text may hold the URL; only the class name is kept.
            raise RegistryUnavailable(Reason.TRANSPORT, type(error).__name__) from error
        if status >= 500:
            raise RegistryUnavailable(Reason.SERVER_ERROR, f"HTTP {status}")
        data = _parse_json(bytes(body))
        if 200 <= status < 300 and data is _NOT_JSON:
            raise RegistryUnavailable(Reason.BAD_REPLY, f"HTTP {status}")
        return JsonReply(status, None if data is _NOT_JSON else data)


_NOT_JSON = object()


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        return _NOT_JSON
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # bad text or JSON; absurdly deep nesting within the size cap
        return _NOT_JSON
