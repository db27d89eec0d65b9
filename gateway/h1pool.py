"""The proxy's upstream connections: HTTP/1.1 keep-alive connections, one pool per upstream origin,
on asyncio protocols with httptools' parser (the parser uvicorn itself uses).

Chosen by measurement (README, gateway section): a proxied read through httpx's Request and Response
models over aiohttp's client cost about 1.7 million instructions in the gateway, three times the
profile service's own read, so the gateway, not the service, set the pace. The gateway's own calls
(health checks, the OpenAPI merge) go over these pools too, through gateway.upstream.

A request goes out in one write. Its answer arrives as a status and headers, then body chunks as they
come (backpressure: reading pauses while a megabyte waits). A connection goes back to the pool only
after a complete answer that allows keep-alive; anything else (an error, a cancelled caller, a HEAD,
an unfinished body) closes it, so a connection never carries a previous answer's leftovers."""

import asyncio
import json
import ssl
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httptools

from gateway.deadlines import Deadlines

_HIGH_WATER = 1_048_576  # bytes of body waiting for the caller before reading pauses


class UpstreamError(Exception):
    """No usable answer: connection refused, reset, closed early, or an answer that is not HTTP."""

    kind = "refused"


class UpstreamTimeoutError(UpstreamError):
    kind = "timeout"


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    read: float  # between two reads of the answer
    pool: float  # waiting for a free connection when the pool is full
    keepalive: float  # an idle connection older than this is not reused


class Answer:
    """One upstream answer. `status_code` and `headers` (lower-cased names, raw bytes) are set when
    the caller gets it; the body comes from `chunks()` or `read()`; `close()` always, at the end."""

    __slots__ = (
        "_conn",
        "_chunks",
        "_buffered",
        "_done",
        "_error",
        "_waiter",
        "_head",
        "headers",
        "status_code",
        "keep_alive",
        "head_only",
        "body",
    )

    def __init__(self, conn: "Connection", head_only: bool):
        self._conn = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._head: asyncio.Future[None] = conn.loop.create_future()
        self.headers: list[tuple[bytes, bytes]] = []
        self.status_code = 0
        self.keep_alive = False
        self.head_only = head_only
        self.body = b""  # what read() gathered

    # -- fed by the connection --------------------------------------------------------------------

    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > _HIGH_WATER:
            self._conn.transport.pause_reading()
        self._wake()

    def _finish(self, keep_alive: bool) -> None:
        self._done = True
        self.keep_alive = keep_alive and not self.head_only
        if not self._head.done():
            self._head.set_result(None)
        self._wake()

    def _fail(self, error: UpstreamError) -> None:
        if self._done or self._error is not None:
            return
        self._error = error
        if not self._head.done():
            self._head.set_exception(error)
            self._head.exception()  # retrieved: a caller already gone must not log "never retrieved"
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- read by the caller -----------------------------------------------------------------------

    def take(self) -> tuple[bytes, bool]:
        """What has arrived so far, joined, and whether that is the whole body (no waiting)."""
        chunks = self._chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._resume()
        return data, self._done

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                data, _ = self.take()
                yield data
            elif self._done:
                return
            elif self._error is not None:
                raise self._error
            else:
                self._waiter = self._conn.loop.create_future()
                await self._conn.wait(self._waiter)
                self._waiter = None

    async def read(self) -> bytes:
        """The whole body, kept in `body` too."""
        parts = [chunk async for chunk in self.chunks()]
        self.body = b"".join(parts)
        return self.body

    def json(self) -> Any:
        """The body read() gathered, parsed (ValueError when it is not JSON)."""
        return json.loads(self.body)

    def close(self) -> None:
        self._conn.finished(self, reusable=self._done and self.keep_alive and self._error is None)

    def _resume(self) -> None:
        if self._buffered > _HIGH_WATER and not self._done:
            self._conn.transport.resume_reading()
        self._buffered = 0


class Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time; httptools calls the on_* methods."""

    transport: asyncio.Transport  # set by connection_made, before the pool hands the connection out

    def __init__(self, pool: "Pool"):
        self.pool = pool
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpResponseParser(self)
        self.answer: Answer | None = None
        self.closed = False
        self.counted = False
        self.idle_since = 0.0

    # -- asyncio ------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # create_connection makes a stream transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.fail(UpstreamError("the upstream's answer is not valid HTTP/1.1"))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(UpstreamError("the upstream closed the connection before answering in full"))
        self.pool.lost(self)

    # -- httptools ----------------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.answer is not None:
            self.answer.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        answer = self.answer
        if answer is None:
            return
        status = self.parser.get_status_code()
        if status < 200:  # an interim answer (103 Early Hints): the real one follows
            answer.headers.clear()
            return
        answer.status_code = status
        if answer.head_only:
            answer._finish(keep_alive=False)  # no body follows a HEAD; the parser cannot know that
        elif not answer._head.done():
            answer._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.answer is not None and not self.answer._done:
            self.answer._feed(body)

    def on_message_complete(self) -> None:
        answer = self.answer
        if answer is not None and answer.status_code and not answer._done:
            answer._finish(keep_alive=self.parser.should_keep_alive())

    # -- used by Pool and Answer -----------------------------------------------------------------------

    def fail(self, error: UpstreamError) -> None:
        if self.answer is not None:
            self.answer._fail(error)

    async def wait(self, future: asyncio.Future[None]) -> None:
        """Awaits data for `future`, at most the read timeout; a timeout spoils the connection."""
        reads = self.pool.reads
        key = reads.start(self._expire)
        try:
            await future
        finally:
            reads.stop(key)

    def _expire(self) -> None:
        self.fail(UpstreamTimeoutError("the upstream did not answer in time"))
        self.transport.close()

    def finished(self, answer: Answer, *, reusable: bool) -> None:
        if self.answer is not answer:
            return
        self.answer = None
        if reusable and not self.closed and not self.transport.is_closing():
            self.pool.release(self)
        else:
            self.transport.close()


class Pool:
    """Connections to one upstream origin (host and port), at most `limit` at a time."""

    def __init__(self, host: str, port: int, limit: int, timeouts: Timeouts, tls: ssl.SSLContext | None = None):
        self.host, self.port, self.limit, self.timeouts, self.tls = host, port, limit, timeouts, tls
        self.host_header = f"{host}:{port}".encode()
        self.reads = Deadlines(timeouts.read)  # every wait for the upstream's next bytes
        self._idle: list[Connection] = []
        self._count = 0  # open or opening
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()  # a connection, or a free slot

    async def request(self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Answer:
        """Sends one request and returns once the answer's status and headers are in. Raises
        UpstreamError or UpstreamTimeoutError (connect, pool or read timeout)."""
        conn = await self._acquire()
        head_only = method == "HEAD"
        answer = conn.answer = Answer(conn, head_only)
        lines = [method.encode(), b" ", target.encode("latin-1"), b" HTTP/1.1\r\nhost: ", self.host_header, b"\r\n"]
        for name, value in headers:
            lines += (name, b": ", value, b"\r\n")
        if body or method in ("POST", "PUT", "PATCH"):
            lines += (b"content-length: ", str(len(body)).encode(), b"\r\n")
        lines += (b"\r\n", body)
        try:
            conn.transport.write(b"".join(lines))
            await conn.wait(answer._head)
        except BaseException:
            answer.close()  # unfinished: the connection is closed, never reused
            raise
        return answer

    async def _acquire(self) -> Connection:
        conn: Connection | None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.timeouts.keepalive:
                return conn
            self._drop(conn)
        while self._count >= self.limit:
            waiter: asyncio.Future[Connection | None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(self.timeouts.pool):
                    conn = await waiter
            except BaseException as err:
                handed = waiter.done() and not waiter.cancelled()
                given = waiter.result() if handed else None
                if given is not None:
                    self.release(given)  # handed over just as we gave up: pass it on
                elif handed:
                    self._wake_one()  # a slot opened just as we gave up: pass it on
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
                if isinstance(err, TimeoutError):
                    raise UpstreamTimeoutError("no upstream connection became free in time") from None
                raise
            if conn is not None:
                return conn
        self._count += 1
        try:
            async with asyncio.timeout(self.timeouts.connect):
                _, conn = await loop.create_connection(
                    lambda: Connection(self),
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                )
            conn.counted = True  # from here on, `lost` frees the slot
        except TimeoutError:
            self._count -= 1
            self._wake_one()
            raise UpstreamTimeoutError("connecting to the upstream timed out") from None
        except OSError as err:
            self._count -= 1
            self._wake_one()
            raise UpstreamError(f"cannot connect to the upstream ({err.strerror or type(err).__name__})") from None
        except BaseException:
            self._count -= 1
            self._wake_one()
            raise
        return conn

    def release(self, conn: Connection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        conn.idle_since = conn.loop.time()
        self._idle.append(conn)

    def lost(self, conn: Connection) -> None:
        """Every connection ends here once closed, whoever closed it: its slot opens."""
        if conn in self._idle:
            self._idle.remove(conn)
        if conn.counted:
            conn.counted = False
            self._count -= 1
            self._wake_one()

    def _drop(self, conn: Connection) -> None:
        conn.transport.close()  # `lost` follows and frees the slot

    def _wake_one(self) -> None:
        """A slot opened: the first waiter (if any) opens a connection of its own."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for conn in self._idle:
            conn.transport.close()
        self._idle.clear()
        self.reads.close()
