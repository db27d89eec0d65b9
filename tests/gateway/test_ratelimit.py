"""Rate limits per token subject and route class, on both backends: memory (one replica) and Redis
(shared by replicas). Redis is expected at TEST_REDIS_URL (default redis://127.0.0.1:6379/15): the
Redis tests skip without it, and fail in CI (CI=true).

Limits here are per day: the sliding-window counter weights the previous window's count and rounds
down, so two hits on either side of a window's end can both pass (limits' documented arithmetic). With
minute windows a test expecting the next hit refused failed about once in a few hundred runs."""

import os
import socket
import uuid
from urllib.parse import urlparse

import pytest

from gateway.ratelimit import route_class
from tests.gateway.conftest import free_port, sample

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_reachable() -> bool:
    parsed = urlparse(REDIS_URL)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _redis() -> dict[str, str]:
    if not _redis_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return {"redis_url": REDIS_URL}


@pytest.fixture(params=["memory", "redis"])
def backend(request) -> dict[str, str]:
    """The settings for one backend; every test's subjects are fresh, so keys never meet."""
    return {} if request.param == "memory" else _redis()


def test_reads_over_limit_429_problem_retry_after(gateway, upstream, auth, backend):
    client = gateway(rate_limit_reads="3/day", **backend)
    headers = auth("staff")
    assert [client.get("/api/v1/customers/1", headers=headers).status_code for _ in range(3)] == [200] * 3
    before = len(upstream.seen)
    r = client.get("/api/v1/customers/1", headers=headers)
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["code"], body["route_class"]) == ("rate_limited", "reads")
    assert 1 <= int(r.headers["retry-after"]) <= 86400
    assert len(upstream.seen) == before
    assert sample(client, "gateway_rate_limited_total", route_class="reads") == 1
    assert sample(client, "http_requests_total", route="/api/v1/customers", status="429") == 1


def test_limit_per_subject_another_caller_unaffected(gateway, auth, backend):
    client = gateway(rate_limit_reads="1/day", **backend)
    first = auth("staff")
    assert client.get("/api/v1/customers/1", headers=first).status_code == 200
    assert client.get("/api/v1/customers/1", headers=first).status_code == 429
    assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 200


def test_limit_per_route_class(gateway, auth, backend):
    client = gateway(rate_limit_reads="1/day", rate_limit_writes="1/day", rate_limit_bulk="1/day", **backend)
    headers = auth("system")
    assert client.get("/api/v1/customers/1", headers=headers).status_code == 200
    assert client.get("/api/v1/customers/1", headers=headers).status_code == 429
    assert client.post("/api/v1/customers", headers=headers, json={}).status_code == 200
    assert client.post("/api/v1/transactions:batch", headers=headers, json={}).status_code == 200
    r = client.post("/api/v1/transactions:batch", headers=headers, json={})
    assert (r.status_code, r.json()["route_class"]) == (429, "bulk")
    assert client.patch("/api/v1/customers/1", headers=headers, json={}).json()["route_class"] == "writes"


def test_redis_limit_shared_by_replicas(gateway, auth):
    backend = _redis()
    one, two = gateway(rate_limit_reads="2/day", **backend), gateway(rate_limit_reads="2/day", **backend)
    headers = auth("staff")
    assert one.get("/api/v1/customers/1", headers=headers).status_code == 200
    assert two.get("/api/v1/customers/1", headers=headers).status_code == 200
    assert one.get("/api/v1/customers/1", headers=headers).status_code == 429
    assert two.get("/api/v1/customers/1", headers=headers).status_code == 429


def test_memory_limit_is_per_replica(gateway, auth):
    one, two = gateway(rate_limit_reads="1/day"), gateway(rate_limit_reads="1/day")
    headers = auth("staff")
    assert one.get("/api/v1/customers/1", headers=headers).status_code == 200
    assert two.get("/api/v1/customers/1", headers=headers).status_code == 200


def test_redis_unreachable_requests_pass_counted_storage_left_alone_for_a_while(gateway, auth):
    client = gateway(rate_limit_reads="1/day", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    headers = auth("staff")
    assert [client.get("/api/v1/customers/1", headers=headers).status_code for _ in range(3)] == [200] * 3
    assert sample(client, "gateway_rate_limit_storage_errors_total") == 1  # then the back-off


def test_rate_limits_off_setting(gateway, auth):
    client = gateway(rate_limit_reads="1/day", rate_limit_enabled=False)
    headers = auth("staff")
    assert [client.get("/api/v1/customers/1", headers=headers).status_code for _ in range(3)] == [200] * 3


def test_bad_token_not_counted_against_anyone(gateway, auth, backend):
    client = gateway(rate_limit_reads="1/day", **backend)
    for _ in range(3):
        assert client.get("/api/v1/customers/1").status_code == 401
    assert client.get("/api/v1/customers/1", headers=auth("staff")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "customers/1", "reads"),
        ("HEAD", "customers/1", "reads"),
        ("POST", "customers", "writes"),
        ("PATCH", "customers/1", "writes"),
        ("DELETE", "x/1", "writes"),
        ("POST", "transactions:batch", "bulk"),
        ("PUT", "loyalty/ledger:batch", "bulk"),
        ("GET", "customers/1:batchy", "reads"),
    ],
)
def test_route_class(method, path, expected):
    assert route_class(method, path) == expected


@pytest.mark.parametrize("field", ["rate_limit_reads", "rate_limit_writes", "rate_limit_bulk"])
def test_settings_bad_limit_refused(field):
    from pydantic import ValidationError

    from tests.gateway.conftest import gateway_settings

    with pytest.raises(ValidationError, match=field):
        gateway_settings(**{field: "lots"})
    assert gateway_settings(**{field: "5/second; 100/day"})


def test_settings_bad_redis_url_refused():
    from pydantic import ValidationError

    from tests.gateway.conftest import gateway_settings

    with pytest.raises(ValidationError, match="redis_url"):
        gateway_settings(redis_url=f"http://{uuid.uuid4().hex}")
