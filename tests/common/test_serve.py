"""services.common.serve: a response's head leaves with its body in one write, through uvicorn's own
httptools protocol; and the launcher serves a factory for real."""

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from services.common.serve import CorkedHttpToolsProtocol, CorkedTransport, parse_args
from tests.gateway.conftest import free_port


class FakeTransport:
    """Records writes; the parts of asyncio.Transport that uvicorn's protocol touches."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.read_paused = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        self.read_paused = True

    def resume_reading(self) -> None:
        self.read_paused = False


async def _turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_a_head_leaves_with_the_next_write_or_alone_on_the_next_turn():
    async def run():
        raw = FakeTransport()
        t = CorkedTransport(raw, asyncio.get_running_loop())
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert raw.writes == [] and t.get_write_buffer_size() == 19  # held: the body may follow at once
        t.write(b"body")
        assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        t.write(b"more")  # anything else goes straight through
        t.write(b"")
        assert raw.writes[1:] == [b"more"]
        t.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")  # a stream whose body is not ready
        await _turns()
        assert raw.writes[2:] == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]
        await _turns()
        assert len(raw.writes) == 3  # the scheduled flush found nothing more

    asyncio.run(run())


def test_close_sends_what_is_held_first_and_a_closed_transport_gets_nothing():
    async def run():
        raw = FakeTransport()
        t = CorkedTransport(raw, asyncio.get_running_loop())
        t.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        t.close()
        assert (raw.writes, raw.closed) == ([b"HTTP/1.1 204 No Content\r\n\r\n"], True)
        await _turns()
        assert len(raw.writes) == 1
        gone = FakeTransport()
        t = CorkedTransport(gone, asyncio.get_running_loop())
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        gone.closed = True  # the peer went away before the next turn
        await _turns()
        assert gone.writes == []
        assert t.get_extra_info("peername") == ("127.0.0.1", 50000)  # the rest is the wrapped transport's

    asyncio.run(run())


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.mark.parametrize(("protocol", "writes"), [(CorkedHttpToolsProtocol, 1), ("plain", 2)])
def test_uvicorns_protocol_answers_a_request_in_one_write(protocol, writes):
    """The same request through uvicorn's own protocol: two writes (head, body) without the cork."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    async def run():
        config = Config(app=_app, access_log=False, log_level="warning")
        config.load()
        cls = HttpToolsProtocol if protocol == "plain" else protocol
        proto = cls(config=config, server_state=ServerState(), app_state={})
        raw = FakeTransport()
        proto.connection_made(raw)
        proto.data_received(b"GET /x HTTP/1.1\r\nHost: example\r\n\r\n")
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(raw.writes) == writes
        response = b"".join(raw.writes)
        assert response.startswith(b"HTTP/1.1 200 OK\r\n") and response.endswith(b"\r\n\r\nhello")
        proto.connection_lost(None)

    asyncio.run(run())


def test_parse_args_defaults_and_options():
    a = parse_args(["gateway.app:create_app"])
    assert (a.factory, a.host, a.port, a.workers, a.access_log, a.timeout_keep_alive) == (
        "gateway.app:create_app",
        "127.0.0.1",
        8000,
        1,
        True,
        5,
    )
    a = parse_args(
        ["x:y", "--port", "9", "--no-access-log", "--timeout-graceful-shutdown", "3", "--log-level", "warning"]
    )
    assert (a.port, a.access_log, a.timeout_graceful_shutdown, a.log_level) == (9, False, 3, "warning")
    with pytest.raises(SystemExit):
        parse_args(["x:y", "--log-level", "loud"])


def test_the_launcher_serves_a_factory(tmp_path):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_LOG_LEVEL": "WARNING"}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.common.serve",
                "gateway.app:create_app",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline, got = time.monotonic() + 30, None
        while time.monotonic() < deadline and got is None:
            assert proc.poll() is None, log.read_text()
            try:
                got = httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
        assert got is not None and got.status_code == 200 and got.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(15)


FROZEN_APP = """
import gc, json


def create_app():
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = json.dumps({"frozen": gc.get_freeze_count()}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app
"""


def test_the_launcher_freezes_what_startup_made_out_of_the_collectors_reach(tmp_path):
    (tmp_path / "frozen_app.py").write_text(FROZEN_APP)
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{Path(__file__).parents[2]}"}
    cmd = [sys.executable, "-m", "services.common.serve", "frozen_app:create_app", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
    try:
        deadline, got = time.monotonic() + 30, None
        while time.monotonic() < deadline and got is None:
            assert proc.poll() is None
            try:
                got = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
        assert got is not None and got.json()["frozen"] > 10_000  # uvicorn's, asyncio's and the app's objects
    finally:
        proc.terminate()
        proc.wait(15)


# serve.py subclasses uvicorn's private HttpToolsProtocol (its connection_made hands the transport
# on) and relies on how RequestResponseCycle writes a response (head, then body, each in one
# transport.write), which CorkedTransport joins. GuardedHttpToolsProtocol reads the protocol's request
# state (scope, cycle and its more_body, response_complete, waiting_for_100_continue, disconnected,
# message_event; flow.read_paused; timeout_keep_alive_task, set only once an answer is out).
# pyproject.toml pins uvicorn to the minor version this was written against; a new uvicorn, or a patch
# release that edits either class, must be read again before it is trusted.
UVICORN_MINOR = "0.55"
PINNED_SOURCE_SHA256 = {
    "HttpToolsProtocol": "ec7f438cf5cec43e89f2636c4521d2937acfcbd11db4cfdc627dad3b9962ff3f",
    "RequestResponseCycle": "e67d470d435dcc1ce6de9773841524a4439a06afd3a7243e458dc7f7c952b310",
}
UVICORN_CHANGED = (
    "uvicorn's HttpToolsProtocol changed: re-check services/common/serve.py (CorkedHttpToolsProtocol."
    "connection_made, and the writes CorkedTransport joins), then update UVICORN_MINOR, "
    "PINNED_SOURCE_SHA256 in tests/common/test_serve.py and the uvicorn pin in pyproject.toml"
)


def test_uvicorn_protocol_is_the_one_serve_extends():
    import hashlib
    import inspect

    import uvicorn
    from uvicorn.protocols.http import httptools_impl

    assert uvicorn.__version__.rsplit(".", 1)[0] == UVICORN_MINOR, f"{UVICORN_CHANGED} (uvicorn {uvicorn.__version__})"
    changed = [
        name
        for name, pinned in PINNED_SOURCE_SHA256.items()
        if hashlib.sha256(inspect.getsource(getattr(httptools_impl, name)).encode()).hexdigest() != pinned
    ]
    assert changed == [], f"{UVICORN_CHANGED} (uvicorn {uvicorn.__version__}: {', '.join(changed)} differ)"
    source = inspect.getsource(httptools_impl.HttpToolsProtocol)
    assert "def connection_made(" in source and "self.transport = transport" in source, UVICORN_CHANGED
