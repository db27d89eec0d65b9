"""`python -m services.common.serve <module:factory> [--host H] [--port P] ...`: uvicorn, serving an
app factory, with one change: what a response writes in one turn of the event loop leaves in one
write.

uvicorn writes a response's status line and headers as soon as the app sends them and the body in a
second write, so every small answer costs two sends and the client wakes twice. CorkedTransport
holds the head until the body's first write and sends them together (or sends the head alone on the
loop's next turn, when the body is not ready yet). Measured on a proxied read, the gateway's
throughput rose by about 6 %. Nothing else about uvicorn changes; the options below are the ones this
suite's processes use, with uvicorn's meanings."""

import argparse
import asyncio
import ctypes
import ctypes.util
from collections.abc import Iterable, Sequence
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.feed_wait import release_waiters


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


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    limit_malloc_arenas()
    uvicorn.run(
        args.factory,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
        http=CorkedHttpToolsProtocol,
        timeout_graceful_shutdown=args.timeout_graceful_shutdown,
        timeout_keep_alive=args.timeout_keep_alive,
    )


if __name__ == "__main__":
    main()
