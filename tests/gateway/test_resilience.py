"""The circuit breaker per upstream (closed, open, half-open) and the retry budget: as units with a
fake clock, and through the gateway against real upstreams."""

import time

import pytest

from gateway.resilience import CircuitBreaker, CircuitState, RetryBudget
from tests.gateway.conftest import OK_EMPTY_JSON, RawUpstream, sample

UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
    b"connection: close\r\n\r\n{}"
)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_failures_in_a_row():
    changes = []
    breaker = CircuitBreaker(3, 10, on_change=changes.append, clock=Clock())
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    breaker.success()  # a success in between starts the count again
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is CircuitState.OPEN and changes == [CircuitState.OPEN]
    assert not breaker.allow()


def test_breaker_half_open_one_probe_success_closes():
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock=clock)
    breaker.failure()
    clock.now += 9
    assert not breaker.allow() and breaker.retry_after() == 1
    clock.now += 1
    assert breaker.allow() and breaker.state is CircuitState.HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.success()
    assert breaker.state is CircuitState.CLOSED and breaker.allow() and breaker.allow()


def test_breaker_half_open_probe_failure_reopens_for_another_cool_down():
    clock = Clock()
    breaker = CircuitBreaker(2, 10, clock=clock)
    breaker.failure()
    breaker.failure()
    clock.now += 10
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is CircuitState.OPEN and not breaker.allow()
    assert breaker.retry_after() == 10


def test_breaker_probe_without_verdict_released():
    clock = Clock()
    breaker = CircuitBreaker(1, 1, clock=clock)
    breaker.failure()
    clock.now += 1
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


def test_retry_budget_bounded_by_ratio_after_reserve():
    budget = RetryBudget(0.1, 2)
    assert budget.withdraw() and budget.withdraw() and not budget.withdraw()
    for _ in range(10):
        budget.deposit()
    assert budget.withdraw() and not budget.withdraw()
    for _ in range(1000):
        budget.deposit()
    assert sum(budget.withdraw() for _ in range(100)) == 4  # capped at twice the reserve


def test_gateway_breaker_opens_answers_503_at_once_then_closes_after_probe(gateway, auth):
    with RawUpstream(answer=UNAVAILABLE) as failing:
        client = gateway(profile_url=failing.url, breaker_failure_threshold=2, breaker_reset_seconds=0.5)
        for _ in range(2):
            assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 503
        assert sample(client, "gateway_upstream_circuit_state", service="profile") == 2
        r = client.get("/api/v1/customers/1", headers=auth("staff"))
        assert r.status_code == 503
        assert (r.json()["code"], r.json()["service"]) == ("circuit_open", "profile")
        assert int(r.headers["retry-after"]) >= 1
        assert failing.connections == 2  # answered without calling the upstream
        assert sample(client, "gateway_upstream_circuit_rejections_total", service="profile") == 1
        assert client.get("/health").json()["services"]["profile"]["circuit"] == "open"

        failing.answer = OK_EMPTY_JSON
        time.sleep(0.6)  # the cool-down; the next request is the probe
        assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 200
        assert sample(client, "gateway_upstream_circuit_state", service="profile") == 0
        assert client.get("/health").json()["services"]["profile"]["circuit"] == "closed"


def test_gateway_breaker_probe_failure_reopens(gateway, auth):
    with RawUpstream(answer=UNAVAILABLE) as failing:
        client = gateway(profile_url=failing.url, breaker_failure_threshold=1, breaker_reset_seconds=0.3)
        assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 503
        time.sleep(0.4)
        probe = client.get("/api/v1/customers/1", headers=auth("staff"))
        assert (probe.status_code, probe.json()) == (503, {})  # the upstream's own answer, relayed
        assert client.get("/api/v1/customers/1", headers=auth("staff")).json()["code"] == "circuit_open"
        assert failing.connections == 2


def test_gateway_breaker_ignores_500_and_4xx(gateway, auth):
    client = gateway(breaker_failure_threshold=1)
    for status in (500, 404, 400):
        client.get(f"/api/v1/customers/1?status={status}", headers=auth("staff"))
    assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 200
    assert sample(client, "gateway_upstream_circuit_state", service="profile") == 0


def test_gateway_breakers_per_upstream(gateway, serve, dead_url, auth):
    client = gateway(loyalty_url=dead_url, breaker_failure_threshold=1)
    client.get("/api/v1/loyalty/accounts/1", headers=auth("staff"))
    assert client.get("/api/v1/loyalty/accounts/1", headers=auth("staff")).json()["code"] == "circuit_open"
    assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 200
    states = {s: sample(client, "gateway_upstream_circuit_state", service=s) for s in ("profile", "loyalty")}
    assert states == {"profile": 0, "loyalty": 2}


def test_retry_budget_spent_no_more_retries(gateway, auth):
    # Connections 1 and 3 are dropped: the first GET is retried (reserve 1), the second is not.
    with RawUpstream(drop_numbers=frozenset({1, 3})) as flaky:
        client = gateway(profile_url=flaky.url, retry_budget_ratio=0, retry_budget_reserve=1)
        assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 200
        assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 503
        assert flaky.connections == 3
        assert sample(client, "gateway_upstream_retries_total", service="profile") == 1
        assert sample(client, "gateway_upstream_retries_refused_total", service="profile") == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_write_with_idempotency_key_retried(gateway, auth, method):
    with RawUpstream(drop=1) as flaky:
        client = gateway(profile_url=flaky.url)
        r = client.request(
            method, "/api/v1/customers", headers={**auth("staff"), "Idempotency-Key": "k-7"}, json={"a": 1}
        )
        assert r.status_code == 200
        assert flaky.connections == 2


def test_timeout_never_retried(gateway, upstream, auth):
    before = len(upstream.seen)
    r = gateway(read_timeout_seconds=0.2).get("/api/v1/customers/1?sleep=1", headers=auth("staff"))
    assert r.status_code == 504
    assert len(upstream.seen) == before + 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"retry_budget_ratio": 1.5},
        {"retry_budget_ratio": -0.1},
        {"retry_budget_reserve": -1},
        {"breaker_failure_threshold": 0},
        {"breaker_reset_seconds": 0},
        {"overview_budget_seconds": 0},
        {"max_header_bytes": 0},
        {"request_timeout_seconds": -1},
    ],
)
def test_settings_bad_protection_values_refused(overrides):
    from pydantic import ValidationError

    from tests.gateway.conftest import gateway_settings

    with pytest.raises(ValidationError):
        gateway_settings(**overrides)


def test_settings_cors_origins_listed():
    from tests.gateway.conftest import gateway_settings

    settings = gateway_settings(cors_origins=" https://a.example.cn/, https://b.example.cn ,")
    assert settings.cors_origin_list == ["https://a.example.cn", "https://b.example.cn"]
