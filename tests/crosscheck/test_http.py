"""HttpRegistryClient against a real loopback server: retries, deadlines, the circuit breaker."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sidms.crosscheck import CircuitBreaker, CircuitState, HttpRegistryClient, Reason, RegistryUnavailable

from .conftest import FakeClock, Reply, ScriptedRegistry

PATH = "/v1/entities/91371000MA3C000001"


@pytest.fixture
def make_client() -> Iterator:
    clients: list[HttpRegistryClient] = []

    def make(base_url: str, **options) -> HttpRegistryClient:
        options.setdefault("timeout", 1.0)
        client = HttpRegistryClient(base_url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.mark.req("R7.3")
def test_a_json_answer_comes_back_with_its_status_code(registry_server: ScriptedRegistry, make_client):
    registry_server.script("GET", PATH, Reply(200, {"name": "威海甲公司"}))
    client = make_client(registry_server.base_url)

    reply = client.request_json("GET", PATH)

    assert (reply.status_code, reply.data) == (200, {"name": "威海甲公司"})
    assert client.source == f"http:{registry_server.base_url}"


@pytest.mark.req("R7.3")
def test_the_bearer_token_is_sent_only_when_configured(registry_server: ScriptedRegistry, make_client):
    registry_server.script("GET", PATH, Reply(200, {}))

    make_client(registry_server.base_url, token="s3cret").request_json("GET", PATH)
    make_client(registry_server.base_url).request_json("GET", PATH)

    with_token, without_token = registry_server.requests
    assert with_token.headers["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in without_token.headers


@pytest.mark.req("R7.3")
def test_a_server_error_is_retried_and_the_retry_succeeds(
    registry_server: ScriptedRegistry, make_client, clock: FakeClock
):
    registry_server.script("GET", PATH, Reply(500, {"error": "busy"}), Reply(200, {"ok": True}))
    client = make_client(registry_server.base_url, retries=2, backoff=0.25, clock=clock, sleep=clock.sleep)

    reply = client.request_json("GET", PATH)

    assert reply.data == {"ok": True}
    assert registry_server.hits == 2
    assert clock.sleeps == [0.25]


@pytest.mark.req("R7.3")
def test_retries_back_off_exponentially_and_then_give_up(
    registry_server: ScriptedRegistry, make_client, clock: FakeClock
):
    registry_server.script("GET", PATH, Reply(503, {"error": "down"}))
    client = make_client(registry_server.base_url, retries=3, backoff=0.1, clock=clock, sleep=clock.sleep)

    with pytest.raises(RegistryUnavailable) as raised:
        client.request_json("GET", PATH)

    assert raised.value.reason is Reason.SERVER_ERROR
    assert raised.value.attempts == 4
    assert "HTTP 503" in raised.value.detail
    assert registry_server.hits == 4
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4])


@pytest.mark.req("R7.3")
def test_a_client_error_is_returned_without_a_retry(registry_server: ScriptedRegistry, make_client):
    registry_server.script("GET", PATH, Reply(400, {"error": "bad code"}))
    client = make_client(registry_server.base_url, retries=3, backoff=0.0)

    reply = client.request_json("GET", PATH)

    assert (reply.status_code, reply.data) == (400, {"error": "bad code"})
    assert registry_server.hits == 1


@pytest.mark.req("R7.3")
def test_a_slow_answer_beyond_the_timeout_is_unavailable_within_the_deadline(
    registry_server: ScriptedRegistry, make_client
):
    registry_server.script("GET", PATH, Reply(200, {"ok": True}, delay=3.0))
    client = make_client(registry_server.base_url, timeout=0.3, retries=0, deadline=2.0)

    started = time.monotonic()
    with pytest.raises(RegistryUnavailable) as raised:
        client.request_json("GET", PATH)
    elapsed = time.monotonic() - started

    assert raised.value.reason is Reason.TIMEOUT
    assert 0.25 <= elapsed < 0.8


@pytest.mark.req("R7.3")
def test_retries_of_a_slow_registry_never_run_past_the_overall_deadline(
    registry_server: ScriptedRegistry, make_client
):
    registry_server.script("GET", PATH, Reply(200, {"ok": True}, delay=3.0))
    client = make_client(registry_server.base_url, timeout=0.3, retries=10, backoff=0.05, deadline=0.8)

    started = time.monotonic()
    with pytest.raises(RegistryUnavailable):
        client.request_json("GET", PATH)
    elapsed = time.monotonic() - started

    assert elapsed < 0.8 + 0.25  # the deadline plus scheduling slack, far below 11 timeouts
    assert 2 <= registry_server.hits <= 3


@pytest.mark.req("R7.3")
def test_a_refused_connection_is_unavailable_at_once(closed_port_url: str, make_client, clock: FakeClock):
    client = make_client(closed_port_url, retries=2, backoff=0.1, clock=clock, sleep=clock.sleep)

    started = time.monotonic()
    with pytest.raises(RegistryUnavailable) as raised:
        client.request_json("GET", PATH)

    assert raised.value.reason is Reason.CONNECT
    assert raised.value.attempts == 3  # connect errors are retried
    assert time.monotonic() - started < 1.0


@pytest.mark.req("R7.3")
def test_an_answer_that_is_not_json_is_unavailable(registry_server: ScriptedRegistry, make_client):
    registry_server.script("GET", PATH, Reply(200, raw=b"<html>proxy error</html>"))
    client = make_client(registry_server.base_url)

    with pytest.raises(RegistryUnavailable) as raised:
        client.request_json("GET", PATH)

    assert raised.value.reason is Reason.BAD_REPLY


@pytest.mark.req("R7.3")
def test_an_oversized_answer_is_refused(registry_server: ScriptedRegistry, make_client):
    registry_server.script("GET", PATH, Reply(200, raw=b'"' + b"x" * 5000 + b'"'))
    client = make_client(registry_server.base_url, max_response_bytes=1000)

    with pytest.raises(RegistryUnavailable) as raised:
        client.request_json("GET", PATH)

    assert raised.value.reason is Reason.BAD_REPLY


@pytest.mark.req("R7.3")
def test_repeated_failures_open_the_circuit_and_then_no_request_reaches_the_server(
    registry_server: ScriptedRegistry, make_client, clock: FakeClock
):
    registry_server.script("GET", PATH, Reply(500, {"error": "down"}))
    client = make_client(
        registry_server.base_url, retries=0, failure_threshold=3, cooloff=30.0, clock=clock, sleep=clock.sleep
    )

    for _ in range(3):
        with pytest.raises(RegistryUnavailable):
            client.request_json("GET", PATH)
    assert registry_server.hits == 3
    assert client.breaker.state is CircuitState.OPEN

    for _ in range(5):
        with pytest.raises(RegistryUnavailable) as raised:
            client.request_json("GET", PATH)
        assert raised.value.reason is Reason.CIRCUIT_OPEN
    assert registry_server.hits == 3


@pytest.mark.req("R7.3")
def test_after_the_cool_off_one_trial_call_half_opens_the_circuit_and_its_success_closes_it(
    registry_server: ScriptedRegistry, make_client, clock: FakeClock
):
    registry_server.script("GET", PATH, Reply(500, {}), Reply(500, {}), Reply(200, {"ok": True}))
    client = make_client(
        registry_server.base_url, retries=0, failure_threshold=2, cooloff=30.0, clock=clock, sleep=clock.sleep
    )
    for _ in range(2):
        with pytest.raises(RegistryUnavailable):
            client.request_json("GET", PATH)

    clock.advance(29.9)
    with pytest.raises(RegistryUnavailable):
        client.request_json("GET", PATH)
    assert registry_server.hits == 2

    clock.advance(0.1)
    assert client.breaker.state is CircuitState.HALF_OPEN
    assert client.request_json("GET", PATH).data == {"ok": True}
    assert client.breaker.state is CircuitState.CLOSED
    client.request_json("GET", PATH)
    assert registry_server.hits == 4


@pytest.mark.req("R7.3")
def test_a_failed_trial_call_opens_the_circuit_for_another_cool_off(
    registry_server: ScriptedRegistry, make_client, clock: FakeClock
):
    registry_server.script("GET", PATH, Reply(500, {}))
    client = make_client(
        registry_server.base_url, retries=0, failure_threshold=2, cooloff=10.0, clock=clock, sleep=clock.sleep
    )
    for _ in range(2):
        with pytest.raises(RegistryUnavailable):
            client.request_json("GET", PATH)

    clock.advance(10.0)
    with pytest.raises(RegistryUnavailable) as trial:
        client.request_json("GET", PATH)
    assert trial.value.reason is Reason.SERVER_ERROR
    assert registry_server.hits == 3

    clock.advance(9.0)
    with pytest.raises(RegistryUnavailable) as blocked:
        client.request_json("GET", PATH)
    assert blocked.value.reason is Reason.CIRCUIT_OPEN
    assert registry_server.hits == 3


@pytest.mark.req("R7.3")
def test_a_success_resets_the_count_of_consecutive_failures(
    registry_server: ScriptedRegistry, make_client, clock: FakeClock
):
    registry_server.script(
        "GET", PATH, Reply(500, {}), Reply(500, {}), Reply(404, {}), Reply(500, {}), Reply(500, {})
    )
    client = make_client(
        registry_server.base_url, retries=0, failure_threshold=3, clock=clock, sleep=clock.sleep
    )

    outcomes = []
    for _ in range(5):
        try:
            outcomes.append(client.request_json("GET", PATH).status_code)
        except RegistryUnavailable as trouble:
            outcomes.append(str(trouble.reason))

    assert outcomes == ["server_error", "server_error", 404, "server_error", "server_error"]
    assert client.breaker.state is CircuitState.CLOSED


@pytest.mark.req("R7.3")
def test_while_half_open_only_one_trial_call_is_let_through(clock: FakeClock):
    breaker = CircuitBreaker(failure_threshold=1, cooloff=5.0, clock=clock)
    breaker.record_failure()
    assert not breaker.allow()

    clock.advance(5.0)
    assert breaker.allow()
    assert not breaker.allow()  # a second caller waits for the trial's outcome

    breaker.record_success()
    assert breaker.allow() and breaker.allow()


@pytest.mark.req("R7.3")
def test_a_trial_call_that_never_reports_back_does_not_wedge_the_circuit(clock: FakeClock):
    breaker = CircuitBreaker(failure_threshold=1, cooloff=5.0, clock=clock)
    breaker.record_failure()
    clock.advance(5.0)
    assert breaker.allow()

    clock.advance(5.0)
    assert breaker.allow()
