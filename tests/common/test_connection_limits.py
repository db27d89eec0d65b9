"""services.common.connection_limits with serve's protocol, in one process on fake transports: which
connection the limit evicts and when a new one is refused, what each state counts as when the guard
sweeps, what a timeout answers; the settings and the metrics. tests/e2e/test_connection_limits_e2e.py
shows the same on real processes."""

import asyncio
import json

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from uvicorn.config import Config
from uvicorn.server import ServerState

from services.common import connection_limits, serve
from services.common.config import BaseServiceSettings
from services.common.connection_limits import (
    COUNTS,
    ConnectionGuard,
    ConnectionLimits,
    default_connection_limit,
    install_connection_limits,
)
from services.common.serve import GuardedHttpToolsProtocol
from tests.common.test_serve import FakeTransport

HALF_HEAD = b"GET /x HTTP/1.1\r\nHost: example\r\n"
WHOLE_GET = HALF_HEAD + b"\r\n"
HALF_POST = b"POST /x HTTP/1.1\r\nHost: example\r\nContent-Length: 10\r\n\r\n12345"


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    message = await receive()
    while message.get("more_body"):
        message = await receive()
    if message["type"] == "http.disconnect":
        scope["state"]["seen"].append("disconnect")
        return
    body = b"ok"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": body})


class Server:
    """Protocols as uvicorn's server makes them, sharing one guard with the given limits."""

    def __init__(self, limit: int, timeout: float = 10.0):
        self.config = Config(app=_app, access_log=False, log_level="warning")
        self.config.load()
        self.state = ServerState()
        self.seen: list[str] = []
        self.guard = serve._GUARDS[self.state] = ConnectionGuard(
            ConnectionLimits(timeout, limit), asyncio.get_running_loop()
        )

    def connect(self, data: bytes = b"") -> tuple[GuardedHttpToolsProtocol, FakeTransport]:
        proto = GuardedHttpToolsProtocol(config=self.config, server_state=self.state, app_state={"seen": self.seen})
        raw = FakeTransport()
        proto.connection_made(raw)  # type: ignore[arg-type]
        if data:
            proto.data_received(data)
        return proto, raw


async def _turns(n: int = 10) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def _answer(raw: FakeTransport) -> tuple[int, dict]:
    head, _, body = b"".join(raw.writes).partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_at_the_limit_the_oldest_idle_connection_goes_and_busy_ones_stay():
    async def run():
        server = Server(limit=3)
        _, busy = server.connect(HALF_HEAD)  # a head begun: in flight
        _, silent = server.connect()
        kept, kept_raw = server.connect(WHOLE_GET)
        await _turns()
        assert b"".join(kept_raw.writes).startswith(b"HTTP/1.1 200 ")  # answered, kept alive: idle now
        evicted = COUNTS.closed["evicted"]
        server.connect()
        assert (busy.closed, silent.closed, kept_raw.closed) == (False, True, False)  # the oldest idle
        server.connect()
        assert (busy.closed, kept_raw.closed) == (False, True)
        assert COUNTS.closed["evicted"] == evicted + 2
        for proto in list(server.guard.open):
            proto.connection_lost(None)
        assert (server.guard.open, server.guard.idle, COUNTS.open) == ({}, {}, 0)

    asyncio.run(run())


def test_at_the_limit_with_every_connection_busy_the_new_one_is_answered_503_and_not_counted_in():
    async def run():
        server = Server(limit=2)
        first, _ = server.connect(HALF_HEAD)
        server.connect(HALF_POST)
        refused = COUNTS.closed["refused"]
        proto, raw = server.connect()
        proto.data_received(WHOLE_GET)  # read and dropped: the app never sees it
        await _turns()
        status, body = _answer(raw)
        assert (status, body["code"]) == (503, "too_many_connections")
        assert b"retry-after: 1\r\n" in b"".join(raw.writes) and not raw.closed  # closed by the client or later
        assert server.seen == [] and proto not in server.guard.open
        assert COUNTS.closed["refused"] == refused + 1
        first.connection_lost(None)  # a slot opens
        _, admitted = server.connect()
        assert admitted.writes == []

    asyncio.run(run())


def test_what_each_state_counts_as_when_the_guard_sweeps():
    async def run():
        server = Server(limit=10, timeout=10.0)
        now = asyncio.get_running_loop().time()
        later = now + 11
        silent, _ = server.connect()
        half, _ = server.connect(HALF_HEAD)
        body, _ = server.connect(HALF_POST)
        answered, _ = server.connect(WHOLE_GET)
        await _turns()
        assert silent.stalled(now + 5, 10.0) is None
        assert silent.stalled(later, 10.0) == "silent"
        assert half.stalled(later, 10.0) == "head_timeout"
        assert body.stalled(later, 10.0) == "body_timeout"
        assert answered.stalled(later, 10.0) is None  # kept alive: uvicorn's keep-alive timeout closes it
        body.flow.pause_reading()  # the app has not taken what came: the wait is not the client's
        assert body.stalled(later, 10.0) is None
        whole, _ = server.connect(b"POST /x HTTP/1.1\r\nHost: e\r\nContent-Length: 2\r\n\r\nab")
        assert whole.stalled(later, 10.0) is None  # the whole request is the app's (not answered yet)

    asyncio.run(run())


@pytest.mark.parametrize(
    ("data", "reason", "code"),
    [(HALF_HEAD, "head_timeout", "request_head_timeout"), (HALF_POST, "body_timeout", "request_body_timeout")],
)
def test_a_timeout_answers_408_and_the_app_reading_the_body_sees_a_disconnect(data, reason, code):
    async def run():
        server = Server(limit=10)
        proto, raw = server.connect(data)
        await _turns()
        proto.close_for(reason)
        await _turns()
        status, body = _answer(raw)
        assert (status, body["code"], raw.closed) == (408, code, True)
        assert body["request_id"] and f"x-request-id: {body['request_id']}".encode() in raw.writes[0]
        assert server.seen == (["disconnect"] if reason == "body_timeout" else [])

    asyncio.run(run())


def test_a_silent_connection_is_closed_without_an_answer():
    async def run():
        server = Server(limit=10)
        proto, raw = server.connect()
        proto.close_for("silent")
        await _turns()
        assert (raw.writes, raw.closed) == ([], True)

    asyncio.run(run())


class DemoSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)


def test_suite_wide_connection_settings_apply_and_a_process_own_wins(monkeypatch):
    assert (DemoSettings().header_timeout_seconds, DemoSettings().connection_limit) == (10.0, 0)
    monkeypatch.setenv("SUITE_HEADER_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("SUITE_CONNECTION_LIMIT", "50")
    monkeypatch.setenv("DEMO_CONNECTION_LIMIT", "70")
    assert (DemoSettings().header_timeout_seconds, DemoSettings().connection_limit) == (3.0, 70)
    monkeypatch.setenv("DEMO_HEADER_TIMEOUT_SECONDS", "0")
    with pytest.raises(ValidationError):
        DemoSettings()


@pytest.mark.parametrize(("soft", "limit"), [(1024, 512), (65536, 10_000), (1, 1)])
def test_default_limit_is_half_the_soft_open_files_limit_at_most_10000(monkeypatch, soft, limit):
    monkeypatch.setattr(connection_limits.resource, "getrlimit", lambda _which: (soft, 1 << 20))
    assert default_connection_limit() == limit
    assert ConnectionLimits(10.0, 0).limit == limit and ConnectionLimits(10.0, 7).limit == 7


def test_the_app_registry_exports_the_counts_and_the_limit_from_the_start(monkeypatch):
    monkeypatch.setattr(connection_limits, "_configured", connection_limits._configured)
    monkeypatch.setattr(COUNTS, "limits", COUNTS.limits)
    registry = CollectorRegistry(auto_describe=True)
    install_connection_limits(registry, DemoSettings(header_timeout_seconds=2, connection_limit=33))
    assert connection_limits.configured_limits() == ConnectionLimits(2.0, 33)
    text = generate_latest(registry).decode()
    for reason in connection_limits.REASONS:
        assert f'http_connections_closed_total{{reason="{reason}"}}' in text
    assert "http_connections_limit 33.0" in text and "http_connections_open " in text
