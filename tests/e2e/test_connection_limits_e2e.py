"""Connection limits in every process (services.common.connection_limits), on real processes started as
the suite starts them: profile, and the gateway in front of it, each twice: with a header timeout of
1 s (the timeouts), and with a limit of 20 connections and a long timeout (eviction and refusal).
Sockets are raw, so that a test can send half a request and read exactly what comes back."""

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Process, profile_database, profile_gateway, profile_process, running

pytestmark = pytest.mark.e2e
LIMIT = 20
SAFETY_SECONDS = 30.0  # only so that a broken server fails a test instead of hanging it
PROCESSES = ("profile", "gateway")


@dataclass
class Pair:
    profile: Process
    gateway: Process

    def get(self, name: str) -> Process:
        return self.profile if name == "profile" else self.gateway


def _pair(tag: str, database_url: str, tmp_path, **limits: str) -> Pair:
    profile = profile_process(
        database_url, tmp_path / f"profile-{tag}.log", **{f"PROFILE_{name}": value for name, value in limits.items()}
    )
    gateway = profile_gateway(  # the suite-wide names here
        profile, tmp_path / f"gateway-{tag}.log", **{f"SUITE_{name}": value for name, value in limits.items()}
    )
    return Pair(profile, gateway)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pairs(request, tmp_path_factory) -> Iterator[dict[str, Pair]]:
    tmp_path = tmp_path_factory.mktemp("limits")
    database_url = profile_database(request.param, tmp_path, "test_e2e_limits")
    found = {
        "timeouts": _pair("timeouts", database_url, tmp_path, HEADER_TIMEOUT_SECONDS="1"),
        "limit": _pair("limit", database_url, tmp_path, CONNECTION_LIMIT=str(LIMIT), HEADER_TIMEOUT_SECONDS="120"),
    }
    with running(*(p for pair in found.values() for p in (pair.profile, pair.gateway))):
        yield found


def connect(proc: Process) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proc.port), timeout=SAFETY_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def parse(answer: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def assert_problem(answer: bytes, status: int, code: str) -> dict[str, str]:
    got, headers, body = parse(answer)
    assert (got, body["code"], body["status"]) == (status, code, status), answer
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert body["request_id"] == headers["x-request-id"]
    return headers


def metric(proc: Process, name: str, **labels: str) -> float:
    """The sum of the samples with these labels on the process's /metrics (fetched on a connection of
    its own, then closed)."""
    text = httpx.get(f"{proc.url}/metrics", timeout=SAFETY_SECONDS).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def closed(reason: str) -> Callable[[Process], float]:
    return lambda proc: metric(proc, "http_connections_closed_total", reason=reason)


def settle(proc: Process) -> None:
    """Waits until the process counts no connection but the one asking (earlier tests' are gone)."""
    for _ in range(300):
        if metric(proc, "http_connections_open") <= 1:
            return
        time.sleep(0.05)
    raise AssertionError("the process still counts connections no one holds")


def customers(name: str) -> str:
    """Profile's customers, on profile itself or through the gateway: POST reads a body, GET answers
    from the database."""
    return "/v1/customers" if name == "profile" else "/api/v1/customers"


def read_customers(proc: Process, name: str, auth) -> None:
    r = httpx.get(proc.url + customers(name) + "?limit=1", headers=auth("staff"), timeout=SAFETY_SECONDS)
    assert r.status_code == 200, r.text


def post_head(path: str, auth) -> bytes:
    """A staff POST's head announcing a 200-byte JSON body."""
    token = auth("staff")["Authorization"]
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    ).encode()


UPSTREAM_POSTS = {"method": "POST", "route": "/v1/customers"}  # profile's count of them, by status


# -- timeouts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROCESSES)
def test_silent_connection_closed_after_the_header_timeout_without_an_answer(pairs, name):
    proc = pairs["timeouts"].get(name)
    before = closed("silent")(proc)
    with connect(proc) as sock:
        assert read_to_end(sock) == b""
    assert closed("silent")(proc) > before


@pytest.mark.parametrize("name", PROCESSES)
@pytest.mark.parametrize("kept_alive", [False, True], ids=["new", "kept-alive"])
def test_half_sent_head_answered_408_request_head_timeout_and_closed(pairs, name, kept_alive):
    proc = pairs["timeouts"].get(name)
    before = closed("head_timeout")(proc)
    with connect(proc) as sock:
        if kept_alive:  # a whole request and its answer first: the timeout runs from the answer on
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")
            first = sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200 "), first
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\n")
        answer = read_to_end(sock)
    assert_problem(answer, 408, "request_head_timeout")
    assert closed("head_timeout")(proc) > before


@pytest.mark.parametrize("name", PROCESSES)
def test_stalled_body_answered_408_request_body_timeout_and_closed(pairs, name, auth):
    pair = pairs["timeouts"]
    proc = pair.get(name)
    reached = metric(pair.profile, "http_requests_total", **UPSTREAM_POSTS)
    before = closed("body_timeout")(proc)
    with connect(proc) as sock:
        sock.sendall(post_head(customers(name), auth) + b'{"type": "individual", "name": "')
        answer = read_to_end(sock)
    assert_problem(answer, 408, "request_body_timeout")
    assert closed("body_timeout")(proc) > before
    if name == "gateway":  # the half body was not sent on to profile
        assert metric(pair.profile, "http_requests_total", **UPSTREAM_POSTS) == reached


def test_gateway_client_leaving_mid_body_sends_nothing_upstream(pairs, auth):
    pair = pairs["timeouts"]
    reached = metric(pair.profile, "http_requests_total", **UPSTREAM_POSTS)
    with connect(pair.gateway) as sock:
        sock.sendall(post_head("/api/v1/customers", auth) + b'{"type": "individual"}')
        sock.shutdown(socket.SHUT_WR)
        assert read_to_end(sock) == b""
    # A later request through the same gateway reaches profile; the half body never did.
    read_customers(pair.gateway, "gateway", auth)
    assert metric(pair.profile, "http_requests_total", **UPSTREAM_POSTS) == reached


# -- the connection limit -------------------------------------------------------------------------------


@contextmanager
def held(proc: Process, first: bytes = b"") -> Iterator[list[socket.socket]]:
    """LIMIT connections to `proc`, opened once it counts none of earlier tests', each sending
    `first`; closed at the end."""
    settle(proc)
    socks = [connect(proc) for _ in range(LIMIT)]
    try:
        for sock in socks:
            if first:
                sock.sendall(first)
        yield socks
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("name", PROCESSES)
def test_at_the_limit_oldest_idle_connection_evicted_and_a_real_request_succeeds(pairs, name, auth):
    proc = pairs["limit"].get(name)
    evicted = closed("evicted")(proc)
    with held(proc) as idle:
        read_customers(proc, name, auth)
        assert read_to_end(idle[0]) == b""  # the oldest went
        for sock in idle[1:]:  # the others stay
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    assert closed("evicted")(proc) > evicted


@pytest.mark.parametrize("name", PROCESSES)
def test_at_the_limit_with_every_connection_busy_a_new_one_gets_503_too_many_connections(pairs, name, auth):
    proc = pairs["limit"].get(name)
    refused = closed("refused")(proc)
    half_head = b"GET /health/live HTTP/1.1\r\nHost: t\r\n"  # each held connection in flight: never evicted
    with held(proc, half_head), connect(proc) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")
        answer = read_to_end(sock)
    headers = assert_problem(answer, 503, "too_many_connections")
    assert headers["retry-after"] == "1"
    assert closed("refused")(proc) > refused
    settle(proc)
    read_customers(proc, name, auth)
