"""`python -m services.common.serve <module:factory> [--host H] [--port P] ...`: uvicorn, serving an
app factory, with one change: what a response writes in one turn of the event loop leaves in one
write.

uvicorn writes a response's status line and headers as soon as the app sends them and the body in a
second write, so every small answer costs two sends and the client wakes twice. CorkedTransport
holds the head until the body's first write and sends them together (or sends the head alone on the
loop's next turn, when the body is not ready yet). Measured on a proxied read, the gateway's
throughput rose by about 6 %. GuardedHttpToolsProtocol adds the process's connection limits
(services.common.connection_limits: header and body timeouts, a cap on open connections), which
uvicorn does not have. Nothing else about uvicorn changes; the options below are the ones this suite's
processes use, with uvicorn's meanings."""

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import socket
import sys
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, cast

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from services.common.connection_limits import (
    REFUSAL_RETRY_AFTER_SECONDS,
    ConnectionGuard,
    configured_limits,
    problem_answer,
)
from services.common.feed_wait import release_waiters
from services.common.middleware import new_request_id


class CorkedTransport:
    """An asyncio transport that holds a response's head (what starts with "HTTP/") until the next
    write, which then carries both, or until the loop's next turn, whichever comes first; everything
    else goes to the transport it wraps. Closing sends what is held first. A body that happens to
    start with "HTTP/" is only held as briefly: what goes out, and in what order, never changes."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data[:5] == b"HTTP/":
            self._held = data
            self._loop.call_soon(self.flush)
        elif data:
            self._transport.write(data)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for data in chunks:
            self.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def is_closing(self) -> bool:  # asked after every response: not through __getattr__
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a CorkedTransport; at shutdown, held feed long polls answer at
    once (uvicorn would otherwise wait for each for up to its `wait`)."""

    def shutdown(self) -> None:
        release_waiters()
        super().shutdown()

    # uvicorn narrows asyncio.Protocol's BaseTransport to Transport here (with its own ignore), so must we.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # CorkedTransport is an asyncio.Transport by duck typing: what it does not define it forwards.
        super().connection_made(cast(asyncio.Transport, CorkedTransport(transport, self.loop)))


_GUARDS: "weakref.WeakKeyDictionary[ServerState, ConnectionGuard]" = weakref.WeakKeyDictionary()
REFUSAL_LINGER_SECONDS = 1.0  # a refused connection stays open this long at most, so the 503 is read


class GuardedHttpToolsProtocol(CorkedHttpToolsProtocol):
    """The corked protocol under the process's connection limits: it tells its server's
    ConnectionGuard when it rests (an answer is out, or nothing came yet) and when it is busy (bytes
    arrived), and says, when the guard sweeps, whether it has run out of time. The hot path costs a
    clock read and a dict removal per read, and a dict lookup and insertion per answer."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        guard = _GUARDS.get(server_state)
        if guard is None:  # the app is loaded by now: its settings are the ones configured
            guard = _GUARDS[server_state] = ConnectionGuard(configured_limits(), self.loop)
        self.guard = guard
        self.idle = guard.idle  # written on every read and answer: a method call less each time
        self.head_from = 0.0  # when the request head now awaited could first begin
        self.last_data = 0.0
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_from = self.last_data = self.loop.time()
        if not self.guard.admit(self):
            self.refused = True
            detail = f"All {self.guard.limit} connections this process keeps are busy; try again shortly"
            answer = problem_answer(
                503, "too_many_connections", detail, new_request_id(), retry_after=REFUSAL_RETRY_AFTER_SECONDS
            )
            self.transport.write(answer)
            # Closed when the client has read it and closes (eof_received), or after the linger.
            self.loop.call_later(REFUSAL_LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # read and dropped, so that closing sends no reset before the client reads the 503
        now = self.loop.time()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and cycle.scope is self.scope:
            self.head_from = now  # the last answer is out: a new request head may begin here
        self.last_data = now
        self.idle.pop(self, None)  # busy: not evicted at the limit
        HttpToolsProtocol.data_received(self, data)  # (no class between overrides it; super() costs more)

    def on_response_complete(self) -> None:
        HttpToolsProtocol.on_response_complete(self)
        if self.timeout_keep_alive_task is not None and self in self.guard.open:
            self.idle[self] = None  # kept alive, waiting for the next request: evicted first at the limit

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        super().connection_lost(exc)

    def stalled(self, now: float, timeout: float) -> str | None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if (
                cycle.scope is not self.scope  # a pipelined request waits behind this one
                or not cycle.more_body
                or self.flow.read_paused  # the app has not taken what came: not the client's delay
                or cycle.waiting_for_100_continue
            ):
                return None  # the request is the app's now
            return "body_timeout" if now - self.last_data > timeout else None
        if self.scope is None:  # nothing received since the connection opened
            return "silent" if now - self.head_from > timeout else None
        if cycle is not None and cycle.scope is self.scope:  # answered, and nothing new begun
            if self.timeout_keep_alive_task is not None:
                return None  # uvicorn's keep-alive timeout closes it sooner
            return "silent" if now - self.last_data > timeout else None
        return "head_timeout" if now - self.head_from > timeout else None

    def close_for(self, reason: str) -> None:
        cycle = self.cycle
        answer = reason in ("head_timeout", "body_timeout")
        if cycle is not None and not cycle.response_complete:
            answer = answer and not cycle.response_started
            cycle.disconnected = True  # the app's receive() now says http.disconnect; what it sends is dropped
            cycle.message_event.set()
        if answer:
            part = "request head" if reason == "head_timeout" else "request body"
            detail = f"The {part} did not arrive within {self.guard.timeout:g} s"
            self.transport.write(problem_answer(408, f"request_{reason}", detail, new_request_id()))
        self.transport.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m services.common.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("factory", help="module:function returning the ASGI app, e.g. gateway.app:create_app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug", "trace"])
    p.add_argument("--no-access-log", dest="access_log", action="store_false")
    p.add_argument("--timeout-graceful-shutdown", type=int, default=None)
    p.add_argument("--timeout-keep-alive", type=int, default=5)
    return p.parse_args(argv)


M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """glibc gives each thread that allocates its own malloc arena, up to 8 per CPU, and an arena's
    freed memory rarely goes back to the system; sync endpoints run on a pool of up to 40 threads,
    so a process's memory grew with how many threads ever served it. Two arenas are what
    MALLOC_ARENA_MAX=2 would give, set here because the supervisor's environment is not ours to
    change. With the imports kept out of serving processes (tests/common/test_process_footprint.py),
    profile after bench.memory_bench's load went from 166 MB to 137 MB. The threads mostly wait on
    the database, so they rarely contend for an arena. False where there is no glibc (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None or not hasattr(ctypes.CDLL(name), "mallopt"):
        return False
    return bool(ctypes.CDLL(name).mallopt(M_ARENA_MAX, arenas))


class FreezingServer(uvicorn.Server):
    """uvicorn's server, which once the app has started (its lifespan included) moves every object
    then alive out of the cyclic collector's reach (`gc.freeze`). A process holds about 150,000
    objects from its imports, routes and schemas that live as long as it does, and every full
    collection walked them all: with batches of 1,000 transactions (thousands of short-lived objects a
    call) one came every seventh call or so and took 80 ms on a shared 2-core machine, a fifth of
    profile's time (docs/architecture.md, trap 8). What is frozen is still freed by reference counting;
    only a reference cycle among those objects would outlive its use, and they are the process's own."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        gc.collect()
        gc.freeze()


STARTUP_FAILURE = 3  # uvicorn's exit status when the app did not start


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    limit_malloc_arenas()
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "log_level": args.log_level,
        "access_log": args.access_log,
        "http": GuardedHttpToolsProtocol,
        "timeout_graceful_shutdown": args.timeout_graceful_shutdown,
        "timeout_keep_alive": args.timeout_keep_alive,
    }
    if args.workers > 1:  # uvicorn's own process manager (the suite runs one process a replica)
        uvicorn.run(args.factory, **options)
        return
    server = FreezingServer(uvicorn.Config(args.factory, **options))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:  # as uvicorn.run: the supervisor tells a failed start by the status
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
