"""Real upstreams for the gateway's tests: a small echo app served by uvicorn on a free port in this
process, a TCP server that drops connections, and gateway clients wired to them through settings."""

import asyncio
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.config import SERVICES, GatewaySettings
from services.common.config import DEV_JWT_SECRET
from tests.gateway.standins import StandIn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_settings(**overrides) -> GatewaySettings:
    """Every service URL given explicitly, so a developer's GATEWAY_* environment cannot leak in."""
    values = {
        "environment": "test",
        "log_level": "WARNING",
        "jwt_secret": DEV_JWT_SECRET,
        "profile_url": "",
        "segmentation_url": "",
        "feedback_url": "",
        "loyalty_url": "",
        **overrides,
    }
    return GatewaySettings(**values)


class EchoUpstream:
    """Answers every /v1 request with what it received. Query parameters steer it: `status`, `sleep`
    (seconds), `chunks` (a streamed body), `set_cookie`, `location`. Records each request in `seen`."""

    def __init__(self):
        self.seen: list[dict] = []
        self.ready_status = 200
        self.ready_delay = 0.0
        self.ready_called = threading.Event()
        self.ready_waits_for: threading.Event | None = None  # another upstream's ready_called
        self.app = Starlette(
            routes=[
                Route("/health/ready", self.ready),
                Route(
                    "/v1/{rest:path}", self.echo, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                ),
            ]
        )

    async def ready(self, _request: Request) -> Response:
        self.ready_called.set()
        await asyncio.sleep(self.ready_delay)
        for _ in range(1000):
            if self.ready_waits_for is None or self.ready_waits_for.is_set():
                break
            await asyncio.sleep(0.01)
        return JSONResponse(
            {"status": "ok" if self.ready_status == 200 else "unavailable"}, status_code=self.ready_status
        )

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        seen = {
            "method": request.method,
            "path": request.url.path,
            "query": request.scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.scope["headers"]],
            "body": body.decode("utf-8", "replace"),
        }
        self.seen.append(seen)
        q = request.query_params
        if "sleep" in q:
            await asyncio.sleep(float(q["sleep"]))
        headers = {"ETag": '"7"', "X-Upstream": "echo", "X-Request-ID": request.headers.get("x-request-id", "none")}
        if "chunks" in q:
            parts = [f"part-{i};".encode() for i in range(int(q["chunks"]))]
            return StreamingResponse(iter(parts), media_type="text/plain", headers=headers)
        if "location" in q:
            headers["Location"] = q["location"]
        response = JSONResponse(seen, status_code=int(q.get("status", 200)), headers=headers)
        if "set_cookie" in q:
            response.set_cookie("session", "secret-of-one-caller")
        return response


class ServedApp:
    """An ASGI app served by a real uvicorn on a free port, in a background thread."""

    def __init__(self, app, lifespan: str = "off"):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_config=None, log_level="warning", lifespan=lifespan, timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True)

    def __enter__(self) -> "ServedApp":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the upstream did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


OK_EMPTY_JSON = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"


class RawUpstream(socketserver.ThreadingTCPServer):
    """Speaks raw HTTP to misbehave: closes its first `drop` connections without answering (what a
    keep-alive race looks like to the client), then sends `answer` and closes. Counts connections."""

    daemon_threads = True

    def __init__(self, drop: int = 0, answer: bytes = OK_EMPTY_JSON, drop_numbers: frozenset[int] = frozenset()):
        self.drop = drop
        self.drop_numbers = drop_numbers  # these connections (counted from 1) are dropped too
        self.answer = answer
        self.connections = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _DropHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> "RawUpstream":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.shutdown()
        self.server_close()


class _DropHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with self.server.lock:
            self.server.connections += 1
            number = self.server.connections
        if number <= self.server.drop or number in self.server.drop_numbers:
            return
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        self.request.sendall(self.server.answer)


@pytest.fixture(scope="session")
def upstream() -> Iterator[EchoUpstream]:
    echo = EchoUpstream()
    with ServedApp(echo.app) as served:
        echo.url = served.url
        yield echo


@pytest.fixture
def serve() -> Iterator[Callable[[], EchoUpstream]]:
    """serve() -> a fresh EchoUpstream on its own port, stopped at teardown."""
    with ExitStack() as stack:

        def _serve() -> EchoUpstream:
            echo = EchoUpstream()
            echo.url = stack.enter_context(ServedApp(echo.app)).url
            return echo

        yield _serve


@pytest.fixture
def dead_url() -> str:
    """A URL nothing listens on: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def gateway(upstream) -> Iterator[Callable[..., TestClient]]:
    """gateway(**settings) -> a started gateway TestClient; profile is the echo upstream by default."""
    with ExitStack() as stack:

        def _gateway(**overrides) -> TestClient:
            settings = gateway_settings(**{"profile_url": upstream.url, **overrides})
            return stack.enter_context(TestClient(create_app(settings), raise_server_exceptions=False))

        yield _gateway


def samples(client: TestClient, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample called `name` on the gateway's /metrics."""
    text = client.get("/metrics").text
    return [
        (s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples if s.name == name
    ]


def sample(client: TestClient, name: str, **labels: str) -> float:
    return sum(v for got, v in samples(client, name) if all(got.get(k) == x for k, x in labels.items()))


def echoed(response) -> dict:
    """What the echo upstream received, from its answer."""
    return json.loads(response.content)


def received_headers(seen: dict) -> dict[str, list[str]]:
    """The headers in an echo record, by lower-case name."""
    out: dict[str, list[str]] = {}
    for name, value in seen["headers"]:
        out.setdefault(name, []).append(value)
    return out


@pytest.fixture
def standins() -> Iterator[dict[str, StandIn]]:
    """A stand-in for every service (profile included), each on its own port, fresh per test."""
    with ExitStack() as stack:
        found = {}
        for service in SERVICES:
            stand_in = StandIn(service)
            stand_in.url = stack.enter_context(ServedApp(stand_in.app)).url
            found[service] = stand_in
        yield found


@pytest.fixture
def suite_gateway(standins) -> Iterator[Callable[..., TestClient]]:
    """suite_gateway(**settings) -> a started gateway TestClient with every stand-in configured."""
    with ExitStack() as stack:

        def _gateway(**overrides) -> TestClient:
            urls = {f"{service}_url": stand_in.url for service, stand_in in standins.items()}
            settings = gateway_settings(**{**urls, **overrides})
            return stack.enter_context(TestClient(create_app(settings), raise_server_exceptions=False))

        yield _gateway
